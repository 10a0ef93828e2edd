"""Vertex AI records for the tests of the Vertex converter: one good record per objective with
its canonical annotations (:data:`GOOD`), and the helpers that run the converter on records."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import orjson

from labelport.errors import RecordError
from labelport.export.formats.vertex_records import to_vertex
from labelport.imports.base import AnnotationSetSpec, ParsedRow, SourceWarning
from labelport.imports.vertex import convert

SET = "aiplatform.googleapis.com/annotation_set_name"
ML_USE = "aiplatform.googleapis.com/ml_use"
ARL = "annotationResourceLabels"
SET_ID = "8066716590760001536"
THE_SET = "<the set id>"  # placeholder in expected records, replaced by the spec's id
IMG = "gs://b/1.jpg"
VID = "gs://b/v1.mp4"


# ---------------------------------------------------------------------------------------------
# helpers

VC, AR = "video_classification", "video_action_recognition"


def run(*records: Any, **options: Any) -> list[Any]:
    lines = [r if isinstance(r, bytes) else orjson.dumps(r) for r in records]
    options.setdefault("dataset", "ds")
    return list(convert(io.BytesIO(b"\n".join(lines)), file="in.jsonl", **options))


def given(objective: str) -> str | None:
    """The objective to pass for a sample of ``objective``: only video classification lines
    cannot be told from action recognition ones (test_vertex.py), so they name it."""
    return objective if objective == VC else None


def warnings_of(items: list[Any]) -> list[tuple[int, str, str]]:
    return [(w.line, w.field, w.reason) for w in items if isinstance(w, SourceWarning)]


def errors(items: list[Any]) -> list[tuple[int, str]]:
    return [(e.line, e.field) for e in items if isinstance(e, RecordError)]


def rows(items: list[Any]) -> list[dict[str, Any]]:
    return [i.row for i in items if isinstance(i, ParsedRow)]


def spec_of(items: list[Any]) -> AnnotationSetSpec:
    (spec,) = [i for i in items if isinstance(i, AnnotationSetSpec)]
    return spec


def one_row(record: dict[str, Any], **options: Any) -> dict[str, Any]:
    items = run(record, **options)
    assert errors(items) == []
    (row,) = rows(items)
    return row


def label_annotations(row: dict[str, Any]) -> dict[str, Any]:
    (project,) = row["projects"].values()
    found: dict[str, Any] = project["labels"][0]["annotations"]
    return found


def fill(value: Any, set_id: str) -> Any:
    if value == THE_SET:
        return set_id
    if isinstance(value, dict):
        return {k: fill(v, set_id) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, set_id) for v in value]
    return value


def round_trip(record: dict[str, Any], objective: str | None = None) -> dict[str, Any]:
    items = run(record, objective=objective)
    assert errors(items) == []
    spec = spec_of(items)
    (row,) = rows(items)
    return to_vertex(row, spec.objective, spec.id, settings=spec.settings)


def with_set(**labels: str) -> dict[str, str]:
    return {**labels, SET: THE_SET}


# ---------------------------------------------------------------------------------------------
# one good record per objective, and its canonical annotations

RADIO_DAISY = {
    "name": "class",
    "value": "class",
    "radio_answer": {
        "name": "daisy",
        "value": "daisy",
        "classifications": [],
        "resource_labels": {"team": "cv"},
    },
}


def answer(name: str) -> dict[str, Any]:
    return {"name": name, "value": name, "classifications": []}


def flat(objects: Sequence[Any] = (), classifications: Sequence[Any] = ()) -> dict[str, Any]:
    return {"objects": list(objects), "classifications": list(classifications), "relationships": []}


def video(classifications: Sequence[Any] = (), **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"frames": {}, "segments": {}, "key_frame_feature_map": {}}
    return {**base, "classifications": list(classifications), **extra}


def obj(kind: str, name: str, **geometry: Any) -> dict[str, Any]:
    return {"name": name, "value": name, "annotation_kind": kind, "classifications": [], **geometry}


def box(x_min: float, y_min: float, x_max: float, y_max: float) -> dict[str, float]:
    return {"x_min": x_min, "y_min": y_min, "x_max": x_max, "y_max": y_max}


GOOD: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "image_classification_single_label": (
        {
            "imageGcsUri": IMG,
            "classificationAnnotation": {
                "displayName": "daisy",
                ARL: {SET: SET_ID, "team": "cv"},
            },
            "dataItemResourceLabels": {ML_USE: "training"},
        },
        flat(classifications=[RADIO_DAISY]),
    ),
    "image_classification_multi_label": (
        {
            "imageGcsUri": IMG,
            "classificationAnnotations": [{"displayName": "daisy"}, {"displayName": "full_shot"}],
            "dataItemResourceLabels": {ML_USE: "test"},
        },
        flat(
            classifications=[
                {
                    "name": "class",
                    "value": "class",
                    "checklist_answers": [answer("daisy"), answer("full_shot")],
                }
            ]
        ),
    ),
    "image_bounding_box": (
        {
            "imageGcsUri": "gs://b/2.gif",
            "boundingBoxAnnotations": [
                {"displayName": "Tomato", "xMin": 0.3, "yMin": 0.3, "xMax": 0.7, "yMax": 0.6}
            ],
        },
        flat([obj("ImageBoundingBox", "Tomato", normalized_bounding_box=box(0.3, 0.3, 0.7, 0.6))]),
    ),
    "image_segmentation": (
        {
            "imageGcsUri": IMG,
            "segmentationAnnotation": {
                "maskGcsUri": "gs://b/1_mask.png",
                "annotationSpecColors": [
                    {"color": {"red": 1.0, "green": 0, "blue": 0}, "displayName": "road"},
                    {"color": {"red": 0, "green": 0.5, "blue": 1}, "displayName": "sky", "id": "7"},
                ],
                ARL: {"source": "auto"},
            },
        },
        flat(
            [
                obj(
                    "ImageSegmentationMask",
                    "road",
                    composite_mask={"url": "gs://b/1_mask.png", "color_rgb": [255, 0, 0]},
                    vertex_color={"red": 1.0, "green": 0.0, "blue": 0.0},
                    resource_labels={"source": "auto"},
                ),
                obj(
                    "ImageSegmentationMask",
                    "sky",
                    composite_mask={"url": "gs://b/1_mask.png", "color_rgb": [0, 128, 255]},
                    vertex_color={"red": 0.0, "green": 0.5, "blue": 1.0, "annotation_spec_id": "7"},
                    resource_labels={"source": "auto"},
                ),
            ]
        ),
    ),
    "text_classification_single_label": (
        {
            "classificationAnnotation": {"displayName": "spam"},
            "textContent": "win a prize",
            "dataItemResourceLabels": {ML_USE: "training"},
        },
        flat(classifications=[{"name": "class", "value": "class", "radio_answer": answer("spam")}]),
    ),
    "text_classification_multi_label": (
        {
            "classificationAnnotations": [{"displayName": "a"}, {"displayName": "b"}],
            "textGcsUri": "gs://b/doc.txt",
        },
        flat(
            classifications=[
                {"name": "class", "value": "class", "checklist_answers": [answer("a"), answer("b")]}
            ]
        ),
    ),
    "text_extraction": (
        {
            "textSegmentAnnotations": [
                {"startOffset": 0, "endOffset": 4, "displayName": "ORG"},
                {"startOffset": 11, "endOffset": 14, "displayName": "PERSON"},
            ],
            "textContent": "Acme hires Bob",
            "dataItemResourceLabels": {ML_USE: "test"},
        },
        flat(
            [
                obj("TextEntity", "ORG", location={"start": 0, "end": 3, "token": "Acme"}),
                obj("TextEntity", "PERSON", location={"start": 11, "end": 13, "token": "Bob"}),
            ]
        ),
    ),
    "text_sentiment": (
        {
            "sentimentAnnotation": {"sentiment": 3, "sentimentMax": 4},
            "textContent": "great!",
            "dataItemResourceLabels": {ML_USE: "training"},
        },
        flat(
            classifications=[
                {"name": "sentiment", "value": "sentiment", "radio_answer": answer("3")}
            ]
        ),
    ),
    "video_classification": (
        {
            "videoGcsUri": VID,
            "timeSegmentAnnotations": [
                {"displayName": "cartwheel", "startTime": "1.0s", "endTime": "12.0s"},
                {"displayName": "outdoor"},
            ],
            "dataItemResourceLabels": {ML_USE: "training"},
        },
        video(
            [
                {
                    "name": "class",
                    "value": "class",
                    "radio_answer": answer("cartwheel"),
                    "time_segment": {"start_time": "1.0s", "end_time": "12.0s"},
                },
                {
                    "name": "class",
                    "value": "class",
                    "radio_answer": answer("outdoor"),
                    "time_segment": {"start_time": "0s", "end_time": "Infinity"},
                },
            ]
        ),
    ),
    "video_action_recognition": (
        {
            "videoGcsUri": "gs://b/v2.mp4",
            "timeSegments": [{"startTime": "0s", "endTime": "20s"}],
            "timeSegmentAnnotations": [
                {"displayName": "swing", "startTime": "4.0s", "endTime": "4.0s"}
            ],
            "dataItemResourceLabels": {ML_USE: "test"},
        },
        video(
            [
                {
                    "name": "class",
                    "value": "class",
                    "radio_answer": answer("swing"),
                    "time_segment": {"start_time": "4.0s", "end_time": "4.0s"},
                }
            ],
            time_segments=[{"start_time": "0s", "end_time": "20s"}],
        ),
    ),
    "video_object_tracking": (
        {
            "videoGcsUri": VID,
            "temporalBoundingBoxAnnotations": [
                {
                    "displayName": "horse",
                    "instanceId": "1",
                    "timeOffset": "4.000000s",
                    "xMin": 0.6689,
                    "yMin": 0.5606,
                    "xMax": 1.0,
                    "yMax": 1.0,
                    ARL: {"reviewed": "yes"},
                }
            ],
            "dataItemResourceLabels": {ML_USE: "training"},
        },
        video(
            timed_objects=[
                obj(
                    "VideoBoundingBox",
                    "horse",
                    normalized_bounding_box=box(0.6689, 0.5606, 1.0, 1.0),
                    time_offset="4.000000s",
                    instance_id="1",
                    resource_labels={"reviewed": "yes"},
                )
            ]
        ),
    ),
}


# ---------------------------------------------------------------------------------------------
# records of one kind, to change a key of

TRACK = {"displayName": "horse", "timeOffset": "4s", "xMin": 0, "yMin": 0, "xMax": 1, "yMax": 1}


def image(**keys: Any) -> dict[str, Any]:
    return {"imageGcsUri": IMG, **keys}


def text(**keys: Any) -> dict[str, Any]:
    return {"textContent": "t", **keys}


def vid(**keys: Any) -> dict[str, Any]:
    return {"videoGcsUri": VID, **keys}


def bbox(**corners: Any) -> dict[str, Any]:
    base = {"displayName": "t", "xMin": 0.1, "yMin": 0.1, "xMax": 0.9, "yMax": 0.9}
    return image(boundingBoxAnnotations=[base | corners])


def mask(**fields: Any) -> dict[str, Any]:
    colors = [{"color": {"red": 1}, "displayName": "r"}]
    return image(
        segmentationAnnotation={"maskGcsUri": "gs://m", "annotationSpecColors": colors} | fields
    )
