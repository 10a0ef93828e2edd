"""Vertex JSONL records of every objective, in the exact form labelport exports them.

Exported form: camelCase keys, numbers as numbers, explicit time-segment defaults, the annotation
set id in every annotation's ``annotationResourceLabels`` and ``dataItemResourceLabels`` on every
line. Importing these and exporting them again must give them back unchanged.
"""

from __future__ import annotations

import io
from typing import Any

import orjson

from labelport import ids
from labelport.imports.base import AnnotationSetSpec, ParsedRow
from labelport.imports.vertex import convert

SET = "aiplatform.googleapis.com/annotation_set_name"
ML_USE = "aiplatform.googleapis.com/ml_use"
ARL = "annotationResourceLabels"


def _arl(set_id: str, **extra: str) -> dict[str, str]:
    return {**extra, SET: set_id}


def _use(value: str) -> dict[str, str]:
    return {ML_USE: value}


def samples(objective: str, set_id: str) -> list[dict[str, Any]]:
    """Three records of ``objective`` whose annotations belong to set ``set_id``."""
    a = _arl(set_id)
    table: dict[str, list[dict[str, Any]]] = {
        "image_classification_single_label": [
            {
                "imageGcsUri": "gs://b/daisy.jpg",
                "classificationAnnotation": {"displayName": "daisy", ARL: _arl(set_id, t="cv")},
                "dataItemResourceLabels": _use("training"),
            },
            {
                "imageGcsUri": "gs://b/rose.jpg",
                "classificationAnnotation": {"displayName": "rose", ARL: a},
                "dataItemResourceLabels": _use("validation"),
            },
            {"imageGcsUri": "gs://b/none.jpg", "dataItemResourceLabels": {}},
        ],
        "image_classification_multi_label": [
            {
                "imageGcsUri": "gs://b/m1.jpg",
                "classificationAnnotations": [
                    {"displayName": "daisy", ARL: a},
                    {"displayName": "full_shot", ARL: a},
                ],
                "dataItemResourceLabels": _use("test"),
            },
            {
                "imageGcsUri": "gs://b/m2.jpg",
                "classificationAnnotations": [{"displayName": "rose", ARL: a}],
                "dataItemResourceLabels": {"team": "cv"},
            },
            {
                "imageGcsUri": "gs://b/m3.jpg",
                "classificationAnnotations": [],
                "dataItemResourceLabels": _use("training"),
            },
        ],
        "image_bounding_box": [
            {
                "imageGcsUri": "gs://b/2.gif",
                "boundingBoxAnnotations": [
                    {
                        "displayName": "Tomato",
                        "xMin": 0.3,
                        "xMax": 0.7,
                        "yMin": 0.3,
                        "yMax": 0.6,
                        ARL: a,
                    },
                    {
                        "displayName": "Leaf",
                        "xMin": 0.0,
                        "xMax": 1.0,
                        "yMin": 0.1,
                        "yMax": 0.2,
                        ARL: a,
                    },
                ],
                "dataItemResourceLabels": _use("training"),
            },
            {
                "imageGcsUri": "gs://b/3.gif",
                "boundingBoxAnnotations": [
                    {
                        "displayName": "Leaf",
                        "xMin": 0.1,
                        "xMax": 0.4,
                        "yMin": 0.2,
                        "yMax": 0.9,
                        ARL: a,
                    }
                ],
                "dataItemResourceLabels": _use("test"),
            },
            {
                "imageGcsUri": "gs://b/4.gif",
                "boundingBoxAnnotations": [],
                "dataItemResourceLabels": {},
            },
        ],
        "image_segmentation": [
            {
                "imageGcsUri": "gs://b/s1.jpg",
                "segmentationAnnotation": {
                    "maskGcsUri": "gs://b/s1_mask.png",
                    "annotationSpecColors": [
                        {"color": {"red": 1.0, "green": 0.0, "blue": 0.0}, "displayName": "road"},
                        {
                            "color": {"red": 0.0, "green": 0.5, "blue": 1.0},
                            "displayName": "sky",
                            "id": "7",
                        },
                    ],
                    ARL: a,
                },
                "dataItemResourceLabels": _use("training"),
            },
            {
                "imageGcsUri": "gs://b/s2.jpg",
                "segmentationAnnotation": {
                    "polygonAnnotation": {
                        "vertexes": [
                            {"x": 0.1, "y": 0.1},
                            {"x": 0.5, "y": 0.1},
                            {"x": 0.3, "y": 0.6},
                        ],
                        "displayName": "car",
                    },
                    ARL: a,
                },
                "dataItemResourceLabels": _use("validation"),
            },
            {"imageGcsUri": "gs://b/s3.jpg", "dataItemResourceLabels": {}},
        ],
        "text_classification_single_label": [
            {
                "textContent": "win a prize",
                "classificationAnnotation": {"displayName": "spam", ARL: a},
                "dataItemResourceLabels": _use("training"),
            },
            {
                "textGcsUri": "gs://b/ham.txt",
                "classificationAnnotation": {"displayName": "ham", ARL: a},
                "dataItemResourceLabels": _use("test"),
            },
            {"textContent": "nothing to see", "dataItemResourceLabels": {}},
        ],
        "text_classification_multi_label": [
            {
                "textGcsUri": "gs://b/doc.txt",
                "classificationAnnotations": [
                    {"displayName": "a", ARL: a},
                    {"displayName": "b", ARL: a},
                ],
                "dataItemResourceLabels": _use("validation"),
            },
            {
                "textContent": "just a",
                "classificationAnnotations": [{"displayName": "a", ARL: a}],
                "dataItemResourceLabels": _use("training"),
            },
            {
                "textContent": "neither",
                "classificationAnnotations": [],
                "dataItemResourceLabels": {},
            },
        ],
        "text_extraction": [
            {
                "textContent": "Acme hires Bob",
                "textSegmentAnnotations": [
                    {"startOffset": 0, "endOffset": 4, "displayName": "ORG", ARL: a},
                    {"startOffset": 11, "endOffset": 14, "displayName": "PERSON", ARL: a},
                ],
                "dataItemResourceLabels": _use("test"),
            },
            {
                "textGcsUri": "gs://b/long.txt",
                "textSegmentAnnotations": [
                    {"startOffset": 100, "endOffset": 120, "displayName": "ORG", ARL: a}
                ],
                "dataItemResourceLabels": _use("training"),
            },
            {
                "textContent": "no entities",
                "textSegmentAnnotations": [],
                "dataItemResourceLabels": {},
            },
        ],
        "text_sentiment": [
            {
                "textContent": "great!",
                "sentimentAnnotation": {"sentiment": 3, "sentimentMax": 4, ARL: a},
                "dataItemResourceLabels": _use("training"),
            },
            {
                "textContent": "awful",
                "sentimentAnnotation": {"sentiment": 0, "sentimentMax": 4, ARL: a},
                "dataItemResourceLabels": _use("validation"),
            },
            {"textContent": "meh", "dataItemResourceLabels": {}},
        ],
        "video_classification": [
            {
                "videoGcsUri": "gs://b/v1.mp4",
                "timeSegmentAnnotations": [
                    {"displayName": "cartwheel", "startTime": "1.0s", "endTime": "12.0s", ARL: a},
                    {"displayName": "outdoor", "startTime": "0s", "endTime": "Infinity", ARL: a},
                ],
                "dataItemResourceLabels": _use("training"),
            },
            {
                "videoGcsUri": "gs://b/v2.mp4",
                "timeSegmentAnnotations": [],
                "dataItemResourceLabels": _use("test"),
            },
            {
                "videoGcsUri": "gs://b/v3.mp4",
                "timeSegmentAnnotations": [
                    {"displayName": "indoor", "startTime": "0s", "endTime": "Infinity", ARL: a}
                ],
                "dataItemResourceLabels": {},
            },
        ],
        "video_action_recognition": [
            {
                "videoGcsUri": "gs://b/a1.mp4",
                "timeSegments": [{"startTime": "0s", "endTime": "20s"}],
                "timeSegmentAnnotations": [
                    {"displayName": "swing", "startTime": "4.0s", "endTime": "4.0s", ARL: a}
                ],
                "dataItemResourceLabels": _use("test"),
            },
            {
                "videoGcsUri": "gs://b/a2.mp4",
                "timeSegments": [],
                "timeSegmentAnnotations": [
                    {"displayName": "run", "startTime": "1.5s", "endTime": "3.0s", ARL: a},
                    {"displayName": "jump", "startTime": "5s", "endTime": "5s", ARL: a},
                ],
                "dataItemResourceLabels": _use("training"),
            },
            {
                "videoGcsUri": "gs://b/a3.mp4",
                "timeSegments": [{"startTime": "0s", "endTime": "Infinity"}],
                "timeSegmentAnnotations": [],
                "dataItemResourceLabels": {},
            },
        ],
        "video_object_tracking": [
            {
                "videoGcsUri": "gs://b/t1.mp4",
                "temporalBoundingBoxAnnotations": [
                    {
                        "displayName": "horse",
                        "xMin": 0.6689,
                        "xMax": 1.0,
                        "yMin": 0.5606,
                        "yMax": 1.0,
                        ARL: a,
                        "timeOffset": "4.000000s",
                        "instanceId": "1",
                    },
                    {
                        "displayName": "horse",
                        "xMin": 0.6,
                        "xMax": 0.9,
                        "yMin": 0.5,
                        "yMax": 0.9,
                        ARL: a,
                        "timeOffset": "5.000000s",
                        "instanceId": "1",
                    },
                ],
                "dataItemResourceLabels": _use("training"),
            },
            {
                "videoGcsUri": "gs://b/t2.mp4",
                "temporalBoundingBoxAnnotations": [
                    {
                        "displayName": "dog",
                        "xMin": 0.1,
                        "xMax": 0.2,
                        "yMin": 0.1,
                        "yMax": 0.2,
                        ARL: a,
                        "timeOffset": "0.5s",
                    }
                ],
                "dataItemResourceLabels": _use("validation"),
            },
            {
                "videoGcsUri": "gs://b/t3.mp4",
                "temporalBoundingBoxAnnotations": [],
                "dataItemResourceLabels": {},
            },
        ],
    }
    return table[objective]


def jsonl(records: list[dict[str, Any]]) -> io.BytesIO:
    return io.BytesIO(b"".join(orjson.dumps(r) + b"\n" for r in records))


def canonical(
    records: list[dict[str, Any]], *, dataset: str = "ds", objective: str | None = None
) -> tuple[AnnotationSetSpec, list[dict[str, Any]]]:
    """The annotation set and canonical rows (with data row ids, as an export has them)."""
    items = list(convert(jsonl(records), file="in.jsonl", dataset=dataset, objective=objective))
    (spec,) = [i for i in items if isinstance(i, AnnotationSetSpec)]
    rows = [i.row for i in items if isinstance(i, ParsedRow)]
    assert len(rows) == len(records), items
    for row in rows:
        row["data_row"]["id"] = ids.derived_id("row", row["data_row"]["global_key"])
    return spec, rows


def media_of(record: dict[str, Any]) -> str:
    for key in ("imageGcsUri", "videoGcsUri", "textGcsUri", "textContent"):
        if key in record:
            return str(record[key])
    raise KeyError("no media key")


def by_media(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records in a fixed order: an export writes rows in catalog order, not file order."""
    return sorted(records, key=media_of)
