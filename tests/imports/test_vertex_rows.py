"""One Vertex record -> one canonical row (:mod:`labelport.imports.vertex_rows`): the row's shape,
media types, global keys, documented keys only, ``dataItemResourceLabels`` and ``ml_use``."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from labelport import ids
from labelport.imports.vertex import OBJECTIVES, ml_use_split
from tests.imports.vertex_samples import (
    GOOD,
    ML_USE,
    given,
    label_annotations,
    one_row,
    round_trip,
    rows,
    run,
    spec_of,
    warnings_of,
)


def test_row_shape() -> None:
    record, _ = GOOD["image_bounding_box"]
    items = run(record, dataset="flowers")
    spec = spec_of(items)
    (row,) = rows(items)
    assert spec.project_id == ids.derived_id("vertex-annotation-set", "flowers", spec.id)
    assert row == {
        "media_type": "IMAGE",
        "data_row": {
            "global_key": "gs://b/2.gif",
            "row_data": "gs://b/2.gif",
            "details": {"dataset_name": "flowers"},
        },
        "metadata_fields": [],
        "projects": {
            spec.project_id: {
                "name": "flowers_image_bounding_box",
                "labels": [
                    {
                        "id": ids.derived_id("vertex-label", spec.project_id, "gs://b/2.gif"),
                        "label_kind": "Default",
                        "version": "1.0.0",
                        "annotations": GOOD["image_bounding_box"][1],
                    }
                ],
            }
        },
    }


@pytest.mark.parametrize(
    ("objective", "media_type", "label_kind"),
    [
        ("image_segmentation", "IMAGE", "Default"),
        ("text_extraction", "TEXT", "Default"),
        ("video_object_tracking", "VIDEO", "Video"),
    ],
)
def test_media_type_and_label_kind(objective: str, media_type: str, label_kind: str) -> None:
    row = one_row(GOOD[objective][0])
    assert row["media_type"] == media_type
    (project,) = row["projects"].values()
    assert project["labels"][0]["label_kind"] == label_kind


def test_inline_text_global_key_is_a_hash() -> None:
    row = one_row(GOOD["text_sentiment"][0])
    digest = hashlib.sha256(b"great!").hexdigest()[:40]
    assert row["data_row"]["global_key"] == f"vertex-text:{digest}"
    assert row["data_row"]["row_data"] == "great!"


def test_text_gcs_uri_is_the_global_key_and_no_token() -> None:
    record = {
        "textGcsUri": "gs://b/doc.txt",
        "textSegmentAnnotations": [{"startOffset": 5, "endOffset": 9, "displayName": "X"}],
    }
    row = one_row(record)
    assert row["data_row"]["global_key"] == "gs://b/doc.txt"
    assert label_annotations(row)["objects"][0]["location"] == {"start": 5, "end": 8}


DOCUMENTED_KEYS = {
    # row-format.md: top level, data_row, project entry, label, annotations
    "media_type", "data_row", "global_key", "row_data", "details", "dataset_name",
    "metadata_fields", "schema_name", "value", "projects", "name", "labels", "id",
    "label_kind", "version", "annotations", "objects", "classifications", "relationships",
    "radio_answer", "checklist_answers", "annotation_kind", "composite_mask", "url",
    "color_rgb", "location", "start", "end", "token", "frames", "segments",
    "key_frame_feature_map",
    # labelport extensions
    "normalized_bounding_box", "x_min", "y_min", "x_max", "y_max", "normalized_polygon",
    "normalized_line", "x", "y", "vertex_color", "red", "green", "blue", "annotation_spec_id",
    "resource_labels", "time_segment", "start_time", "end_time", "time_segments",
    "timed_objects", "time_offset", "instance_id", "vertex_extra", "vertex_segmentation_extra",
}  # fmt: skip


def keys_in(value: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "projects":
                found.add(key)
                for project in item.values():
                    found |= keys_in(project)
            elif key in ("resource_labels", "vertex_extra", "vertex_segmentation_extra"):
                found.add(key)
            else:
                found |= {key} | keys_in(item)
    elif isinstance(value, list):
        for item in value:
            found |= keys_in(item)
    return found


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_rows_use_only_documented_keys(objective: str) -> None:
    assert keys_in(one_row(GOOD[objective][0], objective=given(objective))) <= DOCUMENTED_KEYS


# ---------------------------------------------------------------------------------------------
# ml_use

ML_USE_SPELLINGS = [
    ("training", "training"),
    ("Training", "training"),
    ("train", "training"),
    ("TRAIN", "training"),
    ("validation", "validation"),
    ("VALIDATION", "validation"),
    ("validate", "validation"),
    ("valid", "validation"),
    ("val", "validation"),
    ("test", "test"),
    ("Test", "test"),
    ("testing", "test"),
]


@pytest.mark.parametrize("key", [ML_USE, "ml_use"])
@pytest.mark.parametrize(("value", "split"), ML_USE_SPELLINGS)
def test_ml_use_key_and_value_are_kept_as_given(key: str, value: str, split: str) -> None:
    record = {**GOOD["image_bounding_box"][0], "dataItemResourceLabels": {key: value, "team": "cv"}}
    items = run(record)
    assert warnings_of(items) == []
    assert rows(items)[0]["metadata_fields"] == [
        {"schema_name": key, "value": value},
        {"schema_name": "team", "value": "cv"},
    ]
    assert ml_use_split(value) == split


@pytest.mark.parametrize("value", ["holdout", "", "UNASSIGNED", None, 1])
def test_ml_use_split_of_other_values_is_none(value: Any) -> None:
    assert ml_use_split(value) is None


@pytest.mark.parametrize("key", [ML_USE, "ml_use"])
def test_ml_use_spelling_round_trips(key: str) -> None:
    record = {**GOOD["image_bounding_box"][0], "dataItemResourceLabels": {key: "TEST", "a": "b"}}
    exported = round_trip(record)
    assert exported["dataItemResourceLabels"] == {key: "TEST", "a": "b"}
    assert rows(run(exported)) == rows(run(record))
