"""The words labelport shares across layers: media types, workflow statuses, splits, task states.

A leaf module (it imports nothing of labelport's). The stored forms are the Labelbox *export*
spellings (``TO_LABEL``, ``TRAINING``); sources spell them in other ways (the Labelbox filter's
``InReview``, the legacy exports' ``training``, any letter case), and :func:`workflow_status` and
:func:`split` read every such spelling. What a source wrote is exported back as written (see
``labelport.imports.shape``); the stored form is what filters, counts and formats compare.
"""

from __future__ import annotations

from enum import StrEnum


class MediaType(StrEnum):
    IMAGE = "IMAGE"
    VIDEO = "VIDEO"
    TEXT = "TEXT"
    PDF = "PDF"
    TMS_GEO = "TMS_GEO"
    AUDIO = "AUDIO"
    DICOM = "DICOM"
    HTML = "HTML"
    CONVERSATIONAL = "CONVERSATIONAL"
    LLM = "LLM"


class WorkflowStatus(StrEnum):
    TO_LABEL = "TO_LABEL"
    IN_REVIEW = "IN_REVIEW"
    IN_REWORK = "IN_REWORK"
    DONE = "DONE"


class Split(StrEnum):
    TRAINING = "TRAINING"
    VALIDATION = "VALIDATION"
    TEST = "TEST"
    UNASSIGNED = "UNASSIGNED"


class TaskStatus(StrEnum):
    QUEUED = "QUEUED"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETE = "COMPLETE"
    FAILED = "FAILED"
    CANCELED = "CANCELED"


# Plain strings (not enum members): they go into JSON keys, SQL and messages as they are.
MEDIA_TYPES: tuple[str, ...] = tuple(m.value for m in MediaType)
WORKFLOW_STATUSES: tuple[str, ...] = tuple(s.value for s in WorkflowStatus)
SPLITS: tuple[str, ...] = tuple(s.value for s in Split)
TASK_STATUSES: tuple[str, ...] = tuple(s.value for s in TaskStatus)
FINISHED_TASK_STATES: tuple[str, ...] = (
    TaskStatus.COMPLETE.value,
    TaskStatus.FAILED.value,
    TaskStatus.CANCELED.value,
)

# How counts name a membership whose workflow status the catalog does not know (its source
# carried none, or a value that is no workflow status).
UNKNOWN = "UNKNOWN"

# The Labelbox SDK's filter spellings, by stored form.
FILTER_SPELLINGS: dict[str, str] = {
    "TO_LABEL": "ToLabel",
    "IN_REVIEW": "InReview",
    "IN_REWORK": "InRework",
    "DONE": "Done",
}


def _folded(text: str) -> str:
    return text.replace("_", "").replace("-", "").replace(" ", "").upper()


_STATUS_BY_FOLD = {_folded(s): s for s in WORKFLOW_STATUSES}
_SPLIT_BY_FOLD = {_folded(s): s for s in SPLITS}


def workflow_status(text: object) -> str | None:
    """The stored form of a workflow status in any known spelling and letter case (``DONE``,
    ``Done``, ``done``, ``InReview``, ``in_review``), or None when it is none of them."""
    if not isinstance(text, str):
        return None
    return _STATUS_BY_FOLD.get(_folded(text))


def split(text: object) -> str | None:
    """The stored form of a split in any letter case (``TRAINING``, ``training``,
    ``Training``, ``UNASSIGNED``), or None when it is none of them."""
    if not isinstance(text, str):
        return None
    return _SPLIT_BY_FOLD.get(_folded(text))


def status_label(stored: str | None) -> str:
    """How counts name a stored workflow status (None: :data:`UNKNOWN`)."""
    return UNKNOWN if stored is None else stored
