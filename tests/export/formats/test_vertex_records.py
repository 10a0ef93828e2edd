"""Canonical rows -> Vertex records (:mod:`labelport.export.formats.vertex_records`): the round
trip ``to_vertex(convert(x)) == normalized(x)`` for every objective and spelling variant, and what
``to_vertex`` refuses."""

from __future__ import annotations

from typing import Any

import pytest

from labelport.errors import InvalidSpec
from labelport.export.formats.vertex_records import to_vertex
from labelport.imports.vertex import OBJECTIVES, detect_objective
from tests.imports.vertex_samples import (
    ARL,
    GOOD,
    IMG,
    ML_USE,
    SET,
    TRACK,
    VC,
    VID,
    fill,
    given,
    label_annotations,
    mask,
    one_row,
    round_trip,
    rows,
    run,
    spec_of,
    with_set,
)

# ---------------------------------------------------------------------------------------------
# round trip: to_vertex(convert(x)) == normalized(x)

NORMALIZED: dict[str, dict[str, Any]] = {
    "image_classification_single_label": {
        "imageGcsUri": IMG,
        "classificationAnnotation": {"displayName": "daisy", ARL: with_set(team="cv")},
        "dataItemResourceLabels": {ML_USE: "training"},
    },
    "image_classification_multi_label": {
        "imageGcsUri": IMG,
        "classificationAnnotations": [
            {"displayName": "daisy", ARL: with_set()},
            {"displayName": "full_shot", ARL: with_set()},
        ],
        "dataItemResourceLabels": {ML_USE: "test"},
    },
    "image_bounding_box": {
        "imageGcsUri": "gs://b/2.gif",
        "boundingBoxAnnotations": [
            {
                "displayName": "Tomato",
                "xMin": 0.3,
                "yMin": 0.3,
                "xMax": 0.7,
                "yMax": 0.6,
                ARL: with_set(),
            }
        ],
        "dataItemResourceLabels": {},
    },
    "image_segmentation": {
        "imageGcsUri": IMG,
        "segmentationAnnotation": {
            "maskGcsUri": "gs://b/1_mask.png",
            "annotationSpecColors": [
                {"color": {"red": 1.0, "green": 0.0, "blue": 0.0}, "displayName": "road"},
                {"color": {"red": 0.0, "green": 0.5, "blue": 1.0}, "displayName": "sky", "id": "7"},
            ],
            ARL: with_set(source="auto"),
        },
        "dataItemResourceLabels": {},
    },
    "text_classification_single_label": {
        "classificationAnnotation": {"displayName": "spam", ARL: with_set()},
        "textContent": "win a prize",
        "dataItemResourceLabels": {ML_USE: "training"},
    },
    "text_classification_multi_label": {
        "classificationAnnotations": [
            {"displayName": "a", ARL: with_set()},
            {"displayName": "b", ARL: with_set()},
        ],
        "textGcsUri": "gs://b/doc.txt",
        "dataItemResourceLabels": {},
    },
    "text_extraction": {
        "textSegmentAnnotations": [
            {"startOffset": 0, "endOffset": 4, "displayName": "ORG", ARL: with_set()},
            {"startOffset": 11, "endOffset": 14, "displayName": "PERSON", ARL: with_set()},
        ],
        "textContent": "Acme hires Bob",
        "dataItemResourceLabels": {ML_USE: "test"},
    },
    "text_sentiment": {
        "sentimentAnnotation": {"sentiment": 3, "sentimentMax": 4, ARL: with_set()},
        "textContent": "great!",
        "dataItemResourceLabels": {ML_USE: "training"},
    },
    "video_classification": {
        "videoGcsUri": VID,
        "timeSegmentAnnotations": [
            {"displayName": "cartwheel", "startTime": "1.0s", "endTime": "12.0s", ARL: with_set()},
            {"displayName": "outdoor", "startTime": "0s", "endTime": "Infinity", ARL: with_set()},
        ],
        "dataItemResourceLabels": {ML_USE: "training"},
    },
    "video_action_recognition": {
        "videoGcsUri": "gs://b/v2.mp4",
        "timeSegments": [{"startTime": "0s", "endTime": "20s"}],
        "timeSegmentAnnotations": [
            {"displayName": "swing", "startTime": "4.0s", "endTime": "4.0s", ARL: with_set()}
        ],
        "dataItemResourceLabels": {ML_USE: "test"},
    },
    "video_object_tracking": {
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
                ARL: with_set(reviewed="yes"),
            }
        ],
        "dataItemResourceLabels": {ML_USE: "training"},
    },
}

VARIANTS = [
    pytest.param(
        "video_object_tracking",
        {
            "videoGcsUri": VID,
            "temporal_bounding_box_annotations": [
                {
                    "display_name": "horse",
                    "instance_id": -1,
                    "time_offset": "4.000000s",
                    "x_min": "0.668912",
                    "y_min": "0.560642",
                    "x_max": "1.000000",
                    "y_max": "1.000000",
                }
            ],
            "dataItemResourceLabels": {"ml_use": "train"},
        },
        {
            "videoGcsUri": VID,
            "temporalBoundingBoxAnnotations": [
                {
                    "displayName": "horse",
                    "instanceId": "-1",
                    "timeOffset": "4.000000s",
                    "xMin": 0.668912,
                    "yMin": 0.560642,
                    "xMax": 1.0,
                    "yMax": 1.0,
                    ARL: with_set(),
                }
            ],
            "dataItemResourceLabels": {"ml_use": "train"},
        },
        id="tracking-snake-case-string-numbers",
    ),
    pytest.param(
        "video_object_tracking",
        {"videoGcsUri": VID, "TemporalBoundingBoxAnnotations": [TRACK]},
        {
            "videoGcsUri": VID,
            "temporalBoundingBoxAnnotations": [
                {
                    "displayName": "horse",
                    "timeOffset": "4s",
                    "xMin": 0.0,
                    "yMin": 0.0,
                    "xMax": 1.0,
                    "yMax": 1.0,
                    ARL: with_set(),
                }
            ],
            "dataItemResourceLabels": {},
        },
        id="tracking-capital-t-no-instance-id",
    ),
    pytest.param(
        "image_segmentation",
        {
            "imageGcsUri": IMG,
            "polygonAnnotation": {
                "vertexes": [{"x": 0.1, "y": 0.1}, {"x": "0.5", "y": 0.1}, {"x": 0.3, "y": 0.4}],
                "displayName": "lake",
                ARL: {"src": "x"},
            },
        },
        {
            "imageGcsUri": IMG,
            "segmentationAnnotation": {
                "polygonAnnotation": {
                    "vertexes": [{"x": 0.1, "y": 0.1}, {"x": 0.5, "y": 0.1}, {"x": 0.3, "y": 0.4}],
                    "displayName": "lake",
                },
                ARL: with_set(src="x"),
            },
            "dataItemResourceLabels": {},
        },
        id="top-level-polygon",
    ),
    pytest.param(
        "image_segmentation",
        {
            "imageGcsUri": IMG,
            "segmentationAnnotation": {
                "polylineAnnotation": {
                    "vertexes": [{"x": 0, "y": 0}, {"x": 1, "y": 1}],
                    "displayName": "road",
                },
            },
        },
        {
            "imageGcsUri": IMG,
            "segmentationAnnotation": {
                "polylineAnnotation": {
                    "vertexes": [{"x": 0.0, "y": 0.0}, {"x": 1.0, "y": 1.0}],
                    "displayName": "road",
                },
                ARL: with_set(),
            },
            "dataItemResourceLabels": {},
        },
        id="wrapped-polyline",
    ),
    pytest.param(
        "image_segmentation",
        {
            "imageGcsUri": IMG,
            "segmentationAnnotation": {
                "maskAnnotation": {
                    "maskGcsUri": "gs://b/m.png",
                    "annotationSpecColors": [
                        {"color": {"green": "0.2"}, "displayName": "grass", "id": 9}
                    ],
                },
                ARL: {SET: "55"},
            },
        },
        {
            "imageGcsUri": IMG,
            "segmentationAnnotation": {
                "maskGcsUri": "gs://b/m.png",
                "annotationSpecColors": [
                    {
                        "color": {"red": 0.0, "green": 0.2, "blue": 0.0},
                        "displayName": "grass",
                        "id": "9",
                    }
                ],
                ARL: {SET: "55"},
            },
            "dataItemResourceLabels": {},
        },
        id="wrapped-mask-default-channels",
    ),
    pytest.param(
        "image_segmentation",
        {"imageGcsUri": IMG},
        {"imageGcsUri": IMG, "dataItemResourceLabels": {}},
        id="segmentation-unannotated",
    ),
    pytest.param(
        "image_classification_multi_label",
        {"imageGcsUri": IMG, "classificationAnnotations": []},
        {"imageGcsUri": IMG, "classificationAnnotations": [], "dataItemResourceLabels": {}},
        id="multi-label-empty",
    ),
    pytest.param(
        "text_classification_single_label",
        {"textGcsUri": "gs://b/t.txt", "dataItemResourceLabels": {"ml_use": "val"}},
        {"textGcsUri": "gs://b/t.txt", "dataItemResourceLabels": {"ml_use": "val"}},
        id="single-label-unannotated",
    ),
    pytest.param(
        "video_action_recognition",
        {"videoGcsUri": VID, "timeSegmentAnnotations": [{"displayName": "run"}]},
        {
            "videoGcsUri": VID,
            "timeSegments": [],
            "timeSegmentAnnotations": [
                {"displayName": "run", "startTime": "0s", "endTime": "Infinity", ARL: with_set()}
            ],
            "dataItemResourceLabels": {},
        },
        id="action-recognition-defaults",
    ),
    pytest.param(
        "text_extraction",
        {
            "textGcsUri": "gs://b/t.txt",
            "textSegmentAnnotations": [
                {
                    "start_offset": "3",
                    "end_offset": 9,
                    "display_name": "X",
                    "annotation_resource_labels": {"k": "v"},
                }
            ],
        },
        {
            "textGcsUri": "gs://b/t.txt",
            "textSegmentAnnotations": [
                {"startOffset": 3, "endOffset": 9, "displayName": "X", ARL: with_set(k="v")}
            ],
            "dataItemResourceLabels": {},
        },
        id="extraction-gcs-snake-case",
    ),
]


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_round_trip_good_records(objective: str) -> None:
    record = GOOD[objective][0]
    items = run(record, objective=given(objective))
    spec = spec_of(items)
    assert round_trip(record, given(objective)) == fill(NORMALIZED[objective], spec.id)


@pytest.mark.parametrize(("objective", "record", "normalized"), VARIANTS)
def test_round_trip_variants(
    objective: str, record: dict[str, Any], normalized: dict[str, Any]
) -> None:
    spec = spec_of(run(record, objective=objective))
    assert round_trip(record, objective) == fill(normalized, spec.id)


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_reimporting_an_export_gives_the_same_row(objective: str) -> None:
    record = GOOD[objective][0]
    (row,) = rows(run(record, objective=given(objective)))
    exported = round_trip(record, given(objective))
    assert detect_objective(exported) == (None if objective == VC else objective)
    assert rows(run(exported, objective=given(objective))) == [row]


def test_to_vertex_rejects_unknown_objectives() -> None:
    (row,) = rows(run(GOOD["image_bounding_box"][0]))
    with pytest.raises(InvalidSpec):
        to_vertex(row, "image_keypoints", "1")


def test_to_vertex_sentiment_needs_the_scale() -> None:
    items = run(GOOD["text_sentiment"][0])
    (row,) = rows(items)
    with pytest.raises(InvalidSpec):
        to_vertex(row, "text_sentiment", spec_of(items).id)


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_to_vertex_of_another_set_has_no_annotations(objective: str) -> None:
    record = GOOD[objective][0]
    (row,) = rows(run(record, objective=given(objective)))
    exported = to_vertex(row, objective, "999", settings={"sentiment_max": 4})
    media = {k: v for k, v in record.items() if k.endswith(("GcsUri", "Content"))}
    labels = {"dataItemResourceLabels": record.get("dataItemResourceLabels", {})}
    empty = {k: v for k, v in exported.items() if k not in media and k not in labels}
    assert exported == media | labels | empty
    assert all(v == [] for v in empty.values())


def test_to_vertex_mask_without_vertex_color_uses_color_rgb() -> None:
    row = one_row(mask())
    for target in label_annotations(row)["objects"]:
        del target["vertex_color"]
        target["composite_mask"]["color_rgb"] = [255, 51, 0]
    set_id = spec_of(run(mask())).id
    exported = to_vertex(row, "image_segmentation", set_id)
    (color,) = exported["segmentationAnnotation"]["annotationSpecColors"]
    assert color == {"color": {"red": 1.0, "green": 0.2, "blue": 0.0}, "displayName": "r"}
