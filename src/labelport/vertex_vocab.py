"""The Vertex AI vocabulary both directions share: objectives, the keys of its JSON Lines
records, the resource labels labelport reads and writes, and the ids derived from them.

Imports (:mod:`labelport.imports.vertex`) and exports (:mod:`labelport.export.formats`) both
depend on this module, and not on each other. Facts from Google's documentation of the
dataset import and export formats (``reference/vertex-export.md``).
"""

from __future__ import annotations

import hashlib
import re

from labelport import ids
from labelport.errors import InvalidSpec

OBJECTIVES: tuple[str, ...] = (
    "image_classification_single_label",
    "image_classification_multi_label",
    "image_bounding_box",
    "image_segmentation",
    "text_classification_single_label",
    "text_classification_multi_label",
    "text_extraction",
    "text_sentiment",
    "video_classification",
    "video_action_recognition",
    "video_object_tracking",
)
VIDEO_CLASSIFICATION = "video_classification"
ACTION_RECOGNITION = "video_action_recognition"
PAYLOAD_SCHEMA_LABEL = "aiplatform.googleapis.com/payload_schema"

MEDIA_KEYS: dict[str, str] = {
    "imageGcsUri": "image",
    "textGcsUri": "text",
    "textContent": "text",
    "videoGcsUri": "video",
}


def _of(*objectives: str) -> frozenset[str]:
    return frozenset(objectives)


# media kind -> top-level annotation key -> the objectives whose import format has that key
KEYS: dict[str, dict[str, frozenset[str]]] = {
    "image": {
        "classificationAnnotation": _of("image_classification_single_label"),
        "classificationAnnotations": _of("image_classification_multi_label"),
        "boundingBoxAnnotations": _of("image_bounding_box"),
        "segmentationAnnotation": _of("image_segmentation"),
        "maskAnnotation": _of("image_segmentation"),
        "polygonAnnotation": _of("image_segmentation"),
        "polylineAnnotation": _of("image_segmentation"),
    },
    "text": {
        "classificationAnnotation": _of("text_classification_single_label"),
        "classificationAnnotations": _of("text_classification_multi_label"),
        "textSegmentAnnotations": _of("text_extraction"),
        "sentimentAnnotation": _of("text_sentiment"),
    },
    "video": {
        "timeSegmentAnnotations": _of(VIDEO_CLASSIFICATION, ACTION_RECOGNITION),
        "timeSegments": _of(ACTION_RECOGNITION),
        "temporalBoundingBoxAnnotations": _of("video_object_tracking"),
    },
}
ANNOTATION_KEYS: frozenset[str] = frozenset(key for table in KEYS.values() for key in table)


SET_NAME_LABEL = "aiplatform.googleapis.com/annotation_set_name"
ML_USE_LABEL = "aiplatform.googleapis.com/ml_use"
ML_USE_KEYS = frozenset({ML_USE_LABEL, "ml_use"})  # both spellings Google's examples use
TEXT_KEY_PREFIX = "vertex-text:"
EXTRA = "vertex_extra"  # a Vertex object's keys labelport does not know, verbatim
SEGMENTATION_EXTRA = "vertex_segmentation_extra"  # the same for a segmentationAnnotation
ARL = "annotationResourceLabels"
ITEM_LABELS = "dataItemResourceLabels"
RGB = ("red", "green", "blue")
_ML_USE = {
    "training": "training",
    "train": "training",
    "validation": "validation",
    "validate": "validation",
    "valid": "validation",
    "val": "validation",
    "test": "test",
    "testing": "test",
}
URI = re.compile(r"^[a-z][a-z0-9+.-]*://\S+$")  # a text row's row_data that is a link


def media_kind(objective: str) -> str:
    """``image``, ``text`` or ``video``."""
    return objective.split("_", 1)[0]


def of_kind(media: str) -> frozenset[str]:
    return frozenset(o for o in OBJECTIVES if media_kind(o) == media)


def objective_keys(objective: str) -> frozenset[str]:
    """The top-level annotation keys a record of ``objective`` may carry."""
    return frozenset(
        key for key, owners in KEYS[media_kind(objective)].items() if objective in owners
    )


def check_objective(objective: str) -> None:
    if objective not in OBJECTIVES:
        raise InvalidSpec(
            f"unknown Vertex objective {objective!r}; expected one of: {', '.join(OBJECTIVES)}"
        )


def project_id(dataset: str, set_id: str) -> str:
    """The project holding an imported annotation set's labels."""
    return ids.derived_id("vertex-annotation-set", dataset, set_id)


def text_key(text: str) -> str:
    """The global key of an inline text row (``textContent``)."""
    return TEXT_KEY_PREFIX + hashlib.sha256(text.encode()).hexdigest()[:40]


def ml_use_split(value: object) -> str | None:
    """``training``, ``validation`` or ``test`` for an ``ml_use`` value in any letter case and
    any spelling Google's examples use (``train``, ``val``…); None for anything else."""
    if not isinstance(value, str):
        return None
    return _ML_USE.get(value.strip().lower())


# The google.rpc.Code of an export Vertex refuses as an operation (e.g. of a tabular dataset).
FAILED_PRECONDITION = 9
