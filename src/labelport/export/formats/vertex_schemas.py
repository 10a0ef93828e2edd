"""The ``schema.yaml`` written next to each exported annotation set: labelport's own description of
the JSON Lines fields of one Vertex objective (an OpenAPI-style object schema, like the ioformat
files Vertex publishes, written from ``reference/vertex-export.md`` §3, not copied from them).

Also the Vertex schema URIs: metadata schemas per dataset kind, the annotation schema of each
objective (for ``annotationSchemaUri``) and its import schema (ioformat).
"""

from __future__ import annotations

from typing import Any

import yaml

from labelport.vertex_vocab import ML_USE_LABEL, OBJECTIVES, SET_NAME_LABEL

SCHEMA_ROOT = "gs://google-cloud-aiplatform/schema/dataset"
KINDS = ("image", "text", "video", "tabular", "time_series")


def metadata_schema_uri(kind: str) -> str:
    return f"{SCHEMA_ROOT}/metadata/{kind}_1.0.0.yaml"


def data_item_schema_uri(kind: str) -> str:
    return f"{SCHEMA_ROOT}/dataitem/{kind}_1.0.0.yaml"


def annotation_schema(objective: str) -> str:
    """The annotation schema title of an objective (both classification objectives share one)."""
    return objective.removesuffix("_single_label").removesuffix("_multi_label")


def annotation_schema_uri(objective: str) -> str:
    return f"{SCHEMA_ROOT}/annotation/{annotation_schema(objective)}_1.0.0.yaml"


def objectives_of_annotation_schema(uri: str) -> tuple[str, ...]:
    """The objectives whose annotations an ``annotationSchemaUri`` names (empty if unknown)."""
    return tuple(o for o in OBJECTIVES if annotation_schema_uri(o) == uri)


def ioformat_uri(objective: str) -> str:
    return f"{SCHEMA_ROOT}/ioformat/{objective}_io_format_1.0.0.yaml"


# ---------------------------------------------------------------------------------- schema.yaml


def _string(description: str) -> dict[str, Any]:
    return {"type": "string", "description": description}


def _number(description: str) -> dict[str, Any]:
    return {"type": "number", "format": "double", "description": description}


def _int(description: str) -> dict[str, Any]:
    return {"type": "integer", "description": description}


def _labels(description: str) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": {"type": "string"},
        "description": description,
    }


def _obj(required: list[str], **properties: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object"}
    if required:
        out["required"] = required
    out["properties"] = properties
    return out


def _array(items: dict[str, Any], description: str) -> dict[str, Any]:
    return {"type": "array", "description": description, "items": items}


_ARL = _labels(f"Labels of the annotation; {SET_NAME_LABEL} is the id of its annotation set.")
_NAME = _string("The label (annotation spec display name).")
_CLASS = _obj(["displayName"], displayName=_NAME, annotationResourceLabels=_ARL)
_CORNERS = {
    key: _number(f"{axis} {edge} of the box, 0-1 relative to the image, origin top-left.")
    for key, axis, edge in (
        ("xMin", "Left", "edge"),
        ("xMax", "Right", "edge"),
        ("yMin", "Top", "edge"),
        ("yMax", "Bottom", "edge"),
    )
}
_BOX = _obj(
    ["displayName", "xMin", "xMax", "yMin", "yMax"],
    displayName=_NAME,
    **_CORNERS,
    annotationResourceLabels=_ARL,
)
_DURATION = "A duration in seconds with an s suffix, e.g. 1.5s"
_SEGMENT = {
    "startTime": _string(f"{_DURATION}; default 0s."),
    "endTime": _string(f"{_DURATION}, or Infinity for the end of the video."),
}
_TIMED_CLASS = _obj(["displayName"], displayName=_NAME, **_SEGMENT, annotationResourceLabels=_ARL)
_VERTEX = _obj(["x", "y"], x=_number("0-1 relative to the width."), y=_number("0-1 height."))
_SHAPE = _obj(
    ["vertexes", "displayName"], vertexes=_array(_VERTEX, "Vertexes in order."), displayName=_NAME
)
_COLOR = _obj(
    ["color", "displayName"],
    color=_obj([], red=_number("0-1"), green=_number("0-1"), blue=_number("0-1")),
    displayName=_NAME,
    id=_string("Annotation spec id."),
)
_SEGMENTATION = {
    "type": "object",
    "description": "One of: a mask (maskGcsUri + annotationSpecColors), polygonAnnotation or "
    "polylineAnnotation.",
    "properties": {
        "maskGcsUri": _string("PNG mask of the image's size; each color is one label."),
        "annotationSpecColors": _array(_COLOR, "The labels of the mask's colors."),
        "polygonAnnotation": _SHAPE,
        "polylineAnnotation": _SHAPE,
        "annotationResourceLabels": _ARL,
    },
}
_ENTITY = _obj(
    ["startOffset", "endOffset", "displayName"],
    startOffset=_int("First character of the entity, 0-based."),
    endOffset=_int("One past the last character of the entity (exclusive)."),
    displayName=_NAME,
    annotationResourceLabels=_ARL,
)
_SENTIMENT = _obj(
    ["sentiment", "sentimentMax"],
    sentiment=_int("The sentiment, 0..sentimentMax."),
    sentimentMax=_int("The top of the annotation set's scale (at most 10)."),
    annotationResourceLabels=_ARL,
)
_TRACK = _obj(
    ["displayName", "xMin", "xMax", "yMin", "yMax", "timeOffset"],
    displayName=_NAME,
    **_CORNERS,
    timeOffset=_string(f"Where in the video the box is. {_DURATION}"),
    instanceId=_string("Track id (int64 as a string): the same object across frames."),
    annotationResourceLabels=_ARL,
)

_MEDIA = {
    "image": ("imageGcsUri", _string("gs:// URI of the image.")),
    "video": ("videoGcsUri", _string("gs:// URI of the video.")),
}
_TEXT_MEDIA = {
    "textContent": _string("The text itself (or textGcsUri)."),
    "textGcsUri": _string("gs:// URI of the text (or textContent)."),
}

_ANNOTATIONS: dict[str, dict[str, Any]] = {
    "image_classification_single_label": {"classificationAnnotation": _CLASS},
    "image_classification_multi_label": {
        "classificationAnnotations": _array(_CLASS, "The labels of the image.")
    },
    "image_bounding_box": {"boundingBoxAnnotations": _array(_BOX, "Boxes on the image.")},
    "image_segmentation": {"segmentationAnnotation": _SEGMENTATION},
    "text_classification_single_label": {"classificationAnnotation": _CLASS},
    "text_classification_multi_label": {
        "classificationAnnotations": _array(_CLASS, "The labels of the text.")
    },
    "text_extraction": {"textSegmentAnnotations": _array(_ENTITY, "Entities in the text.")},
    "text_sentiment": {"sentimentAnnotation": _SENTIMENT},
    "video_classification": {
        "timeSegmentAnnotations": _array(_TIMED_CLASS, "Labels of spans of the video.")
    },
    "video_action_recognition": {
        "timeSegments": _array(_obj([], **_SEGMENT), "Spans that are fully annotated."),
        "timeSegmentAnnotations": _array(
            _TIMED_CLASS, "Actions; startTime == endTime marks a key frame."
        ),
    },
    "video_object_tracking": {
        "temporalBoundingBoxAnnotations": _array(_TRACK, "Boxes placed in time.")
    },
}


def schema_document(objective: str) -> dict[str, Any]:
    """The schema of one JSON Lines record of ``objective`` as a plain dict."""
    kind = objective.split("_", 1)[0]
    if kind == "text":
        media: dict[str, Any] = dict(_TEXT_MEDIA)
        required: list[str] = []
    else:
        key, prop = _MEDIA[kind]
        media, required = {key: prop}, [key]
    properties = {
        **media,
        **_ANNOTATIONS[objective],
        "dataItemResourceLabels": _labels(
            f"Labels of the data item; {ML_USE_LABEL} is training, validation or test."
        ),
    }
    return {
        "title": objective,
        "description": f"One {kind} data item per line with its {objective} annotations "
        f"(import format: {ioformat_uri(objective)}). Written by labelport.",
        "type": "object",
        "required": required,
        "properties": properties,
    }


def schema_yaml(objective: str) -> str:
    """The ``schema.yaml`` text of an exported annotation set of ``objective``."""
    return yaml.safe_dump(
        schema_document(objective), sort_keys=False, allow_unicode=True, width=100
    )
