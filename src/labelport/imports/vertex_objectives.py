"""The eleven Vertex AI objectives and how a JSON Lines file reveals which one it holds. Pure.

Rules (also in ``docs/vertex.md``, "Objectives"):

* The media key gives the kind: ``imageGcsUri`` image, ``textGcsUri`` or ``textContent`` text,
  ``videoGcsUri`` video. A record with no media key, or with keys of two kinds, fits nothing.
* Every annotation key belongs to the objectives whose import format has it (:data:`KEYS`). A
  record fits the objectives that all of its annotation keys share; a record with no annotation
  key (an item not labeled yet) fits every objective of its kind.
* ``timeSegmentAnnotations`` belongs to both ``video_classification`` and
  ``video_action_recognition`` (Google's own action-recognition example lines have nothing
  else). Action recognition alone has ``timeSegments`` (the fully annotated spans) and key
  frames: a time segment annotation whose ``startTime`` equals its ``endTime``.
* The output-only annotation label ``aiplatform.googleapis.com/payload_schema`` (the annotation
  schema's title, or its URI) narrows a record to the objectives of that schema.
* A file fits the objectives that all of its records fit (a record that fits nothing, or nothing
  the others fit, is left out: it is an error of its own once the objective is known). When one
  objective is left, it is the file's. When several are left at the end of the file, or after
  :data:`WINDOW_RECORDS` records, the file is refused: the message names them and
  ``--objective``.

Keys may be spelled camelCase or snake_case (:func:`canon`), and the object-tracking list also
``TemporalBoundingBoxAnnotations``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

from labelport.vertex_vocab import (
    ACTION_RECOGNITION,
    ANNOTATION_KEYS,
    KEYS,
    MEDIA_KEYS,
    OBJECTIVES,
    PAYLOAD_SCHEMA_LABEL,
    VIDEO_CLASSIFICATION,
    media_kind,
    objective_keys,
    of_kind,
)

__all__ = [
    "ACTION_RECOGNITION",
    "ANNOTATION_KEYS",
    "KEYS",
    "MEDIA_KEYS",
    "OBJECTIVES",
    "PAYLOAD_SCHEMA_LABEL",
    "VIDEO_CLASSIFICATION",
    "media_kind",
    "objective_keys",
    "of_kind",
]

# A file whose objective is still open is held in memory while it is read: at most this many
# records (and about this many bytes of them), then it is refused as ambiguous.
WINDOW_RECORDS = 1000
WINDOW_BYTES = 32 * 2**20


def _of(*objectives: str) -> frozenset[str]:
    return frozenset(objectives)


# the annotation schemas (``…/schema/dataset/annotation/<schema>_1.0.0.yaml``), letters only
_SCHEMAS: dict[str, frozenset[str]] = {
    "imageclassification": _of(
        "image_classification_single_label", "image_classification_multi_label"
    ),
    "imageboundingbox": _of("image_bounding_box"),
    "imagesegmentation": _of("image_segmentation"),
    "textclassification": _of(
        "text_classification_single_label", "text_classification_multi_label"
    ),
    "textextraction": _of("text_extraction"),
    "textsentiment": _of("text_sentiment"),
    "videoclassification": _of(VIDEO_CLASSIFICATION),
    "videoobjecttracking": _of("video_object_tracking"),
    "videoactionrecognition": _of(ACTION_RECOGNITION),
}
_KEY_ALIASES = {"TemporalBoundingBoxAnnotations": "temporalBoundingBoxAnnotations"}
_DURATION = re.compile(r"^\d+(\.\d+)?s$")
_NOT_LETTERS = re.compile(r"[^a-z]")


def canon(key: str) -> str:
    """camelCase name of a key given in camelCase, snake_case or a documented variant."""
    if key in _KEY_ALIASES:
        return _KEY_ALIASES[key]
    head, *rest = key.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def listing(names: Iterable[str]) -> str:
    return ", ".join(sorted(names))


# ---------------------------------------------------------------------------------------------
# one record


@dataclass(frozen=True, slots=True)
class Fit:
    """The objectives one record fits; when none, ``reason`` says why."""

    objectives: frozenset[str]
    reason: str = ""
    media: str | None = None


def fit(record: Mapping[str, Any]) -> Fit:
    """The objectives a record fits (see the module's rules)."""
    given = {canon(key): key for key in record}
    kinds = sorted({MEDIA_KEYS[key] for key in given if key in MEDIA_KEYS})
    if len(kinds) != 1:
        which = "no media key" if not kinds else f"media keys of {' and '.join(kinds)} records"
        return Fit(frozenset(), f"{which}; expected one of {listing(MEDIA_KEYS)}")
    media = kinds[0]
    table = KEYS[media]
    present = [key for key in given if key in table]
    fits = of_kind(media)
    for key in present:
        fits &= table[key]
    if not fits:
        named = {o for key in present for o in table[key]}
        reason = f"cannot tell the objective: keys of {listing(named)} records are mixed"
        return Fit(frozenset(), reason, media)
    segments = given.get("timeSegmentAnnotations")
    if ACTION_RECOGNITION in fits and segments and _has_key_frame(record[segments]):
        fits &= _of(ACTION_RECOGNITION)
    schemas = _payload_schemas(record[given[key]] for key in present)
    if schemas and fits & schemas:
        fits &= schemas
    return Fit(fits, media=media)


def detect_objective(record: Mapping[str, Any]) -> str | None:
    """The one objective a record fits, or None if it fits none or several."""
    found = fit(record).objectives
    return next(iter(found)) if len(found) == 1 else None


def _has_key_frame(segments: Any) -> bool:
    """True if a ``timeSegmentAnnotations`` list holds an annotation with startTime == endTime."""
    if not isinstance(segments, list):
        return False
    for item in segments:
        if not isinstance(item, dict):
            continue
        times = {canon(key): value for key, value in item.items()}
        start, end = times.get("startTime"), times.get("endTime")
        if _is_duration(start) and _is_duration(end) and _seconds(start) == _seconds(end):
            return True
    return False


def _is_duration(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and _DURATION.match(value) is not None


def _seconds(duration: str) -> float:
    return float(duration[:-1])


def _payload_schemas(values: Iterable[Any]) -> frozenset[str]:
    """Objectives of the payload schemas named by the annotations' resource labels (all of them
    together; empty when none is named or the names disagree)."""
    found: frozenset[str] | None = None
    for annotation in _annotation_objects(values):
        for key, labels in annotation.items():
            if canon(key) != "annotationResourceLabels" or not isinstance(labels, dict):
                continue
            schema = labels.get(PAYLOAD_SCHEMA_LABEL)
            if not isinstance(schema, str):
                continue
            named = _schema_objectives(schema)
            found = named if found is None else found & named
    return found or frozenset()


def _annotation_objects(values: Iterable[Any]) -> Iterator[dict[str, Any]]:
    for value in values:
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, dict):
                yield item


def _schema_objectives(schema: str) -> frozenset[str]:
    letters = _NOT_LETTERS.sub("", schema.lower())
    for stem, objectives in _SCHEMAS.items():
        if stem in letters:
            return objectives
    return frozenset()


# ---------------------------------------------------------------------------------------------
# a file


class Detector:
    """The objectives a file fits, narrowed record by record."""

    def __init__(self) -> None:
        self.candidates: frozenset[str] | None = None
        self.annotated = False  # whether any record that counted had an annotation key

    def add(self, record: Mapping[str, Any]) -> Fit:
        found = fit(record)
        if found.objectives:
            narrowed = found.objectives
            if self.candidates is not None:
                narrowed = self.candidates & narrowed
            if narrowed:
                self.candidates = narrowed
                if found.media is not None and found.objectives != of_kind(found.media):
                    self.annotated = True
        return found

    @property
    def objective(self) -> str | None:
        """The file's objective, once only one is left."""
        if self.candidates is not None and len(self.candidates) == 1:
            return next(iter(self.candidates))
        return None

    def refusal(self, records: int, *, window_full: bool) -> str:
        """Why a file whose objective is still open is refused, and what to do."""
        candidates = self.candidates or frozenset()
        where = f"its first {records:,} records fit" if window_full else "the file fits"
        why = ""
        if not self.annotated:
            why = "; no record has annotations"
        elif {VIDEO_CLASSIFICATION, ACTION_RECOGNITION} <= candidates:
            why = (
                "; timeSegmentAnnotations alone fit both, and action recognition would show by "
                "timeSegments or a key frame (a startTime equal to its endTime)"
            )
        return (
            f"cannot tell the objective: {where} {len(candidates)} Vertex objectives: "
            f"{listing(candidates)}{why}. Pass --objective with the one it holds "
            "(objective= over REST)"
        )
