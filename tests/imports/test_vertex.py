"""Vertex AI JSON Lines converter: mapping, spelling variants, detection, errors, round trip."""

from __future__ import annotations

import copy
import hashlib
import io
from collections.abc import Sequence
from typing import Any

import orjson
import pytest

from labelport import ids
from labelport.errors import InvalidSpec, RecordError
from labelport.export.formats.vertex_records import to_vertex
from labelport.imports.base import AnnotationSetSpec, ParsedRow, SourceWarning
from labelport.imports.vertex import (
    OBJECTIVES,
    convert,
    detect_objective,
    ml_use_split,
)
from labelport.imports.vertex_objectives import fit

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
    cannot be told from action recognition ones (tested below), so they name it."""
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


def test_the_table_covers_every_objective() -> None:
    assert set(GOOD) == set(OBJECTIVES)
    assert len(OBJECTIVES) == 11


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_good_record_maps_to_canonical_annotations(objective: str) -> None:
    record, expected = GOOD[objective]
    assert label_annotations(one_row(record, objective=given(objective))) == expected


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_good_record_yields_spec_then_row(objective: str) -> None:
    record, _ = GOOD[objective]
    items = run(record, objective=given(objective))
    assert [type(i) for i in items] == [AnnotationSetSpec, ParsedRow]
    assert items[0].objective == objective
    assert items[1].line == 1


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_good_record_with_explicit_objective(objective: str) -> None:
    record, expected = GOOD[objective]
    assert label_annotations(one_row(record, objective=objective)) == expected


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
# annotation sets


def test_set_id_comes_from_the_resource_labels() -> None:
    spec = spec_of(run(GOOD["image_classification_single_label"][0], dataset="flowers"))
    assert spec.id == SET_ID
    assert spec.display_name == "flowers_image_classification_single_label"
    assert spec.project_id == ids.derived_id("vertex-annotation-set", "flowers", SET_ID)
    assert spec.settings == {}


def test_derived_set_id_is_19_stable_digits() -> None:
    record = GOOD["image_bounding_box"][0]
    first = spec_of(run(record, dataset="flowers"))
    again = spec_of(run(record, dataset="flowers"))
    other_dataset = spec_of(run(record, dataset="fruit"))
    other_name = spec_of(run(record, dataset="flowers", annotation_set="boxes v2"))
    assert first.id == again.id
    assert first.id.isdigit() and len(first.id) == 19 and int(first.id) < 2**63
    assert len({first.id, other_dataset.id, other_name.id}) == 3


def test_annotation_set_name_sets_the_display_name() -> None:
    spec = spec_of(run(GOOD["image_bounding_box"][0], annotation_set="boxes v2"))
    assert spec.display_name == "boxes v2"
    (row,) = rows(run(GOOD["image_bounding_box"][0], annotation_set="boxes v2"))
    assert row["projects"][spec.project_id]["name"] == "boxes v2"


def test_set_name_label_is_not_kept_as_a_resource_label() -> None:
    record = {
        "imageGcsUri": IMG,
        "classificationAnnotation": {"displayName": "daisy", ARL: {SET: SET_ID}},
    }
    answer_ = label_annotations(one_row(record))["classifications"][0]["radio_answer"]
    assert "resource_labels" not in answer_


def test_one_spec_before_the_first_row_even_after_errors() -> None:
    good = GOOD["image_bounding_box"][0]
    items = run({"imageGcsUri": 7}, good, good | {"imageGcsUri": "gs://b/3.jpg"})
    assert [type(i) for i in items] == [RecordError, AnnotationSetSpec, ParsedRow, ParsedRow]
    assert errors(items) == [(1, "imageGcsUri")]
    assert [i.line for i in items if isinstance(i, ParsedRow)] == [2, 3]


def test_empty_file_yields_no_set_and_no_rows() -> None:
    items = run(objective="image_bounding_box")
    assert [i for i in items if not isinstance(i, RecordError)] == []


def test_records_naming_another_set_are_errors() -> None:
    first = GOOD["image_classification_single_label"][0]
    other = copy.deepcopy(first)
    other["classificationAnnotation"][ARL][SET] = "123"
    items = run(first, other, first)
    field = f'classificationAnnotation.annotationResourceLabels["{SET}"]'
    assert errors(items) == [(2, field)]
    assert spec_of(items).id == SET_ID
    assert len(rows(items)) == 2


def test_annotations_of_one_record_naming_two_sets_are_an_error() -> None:
    record = {
        "imageGcsUri": IMG,
        "classificationAnnotations": [
            {"displayName": "a", ARL: {SET: "1"}},
            {"displayName": "b", ARL: {SET: "2"}},
        ],
    }
    field = f'classificationAnnotations[1].annotationResourceLabels["{SET}"]'
    assert errors(run(record)) == [(1, field)]


def test_a_named_set_after_a_derived_one_is_an_error() -> None:
    unnamed = GOOD["image_bounding_box"][0]
    named = copy.deepcopy(unnamed)
    named["boundingBoxAnnotations"][0][ARL] = {SET: "42"}
    field = f'boundingBoxAnnotations[0].annotationResourceLabels["{SET}"]'
    assert errors(run(unnamed, named)) == [(2, field)]


def test_sentiment_max_is_a_set_setting() -> None:
    record = GOOD["text_sentiment"][0]
    spec = spec_of(run(record))
    assert spec.settings == {"sentiment_max": 4}


def test_sentiment_max_disagreement_is_an_error() -> None:
    first = GOOD["text_sentiment"][0]
    other = {"textContent": "meh", "sentimentAnnotation": {"sentiment": 1, "sentimentMax": 2}}
    unlabelled = {"textContent": "no label yet"}
    items = run(first, other, unlabelled)
    assert errors(items) == [(2, "sentimentAnnotation.sentimentMax")]
    assert len(rows(items)) == 2


def test_first_sentiment_record_must_set_the_scale() -> None:
    items = run({"textContent": "x"}, GOOD["text_sentiment"][0], objective="text_sentiment")
    assert errors(items) == [(1, "sentimentAnnotation")]
    assert spec_of(items).settings == {"sentiment_max": 4}


# ---------------------------------------------------------------------------------------------
# objective: explicit, detected, fixed by the first record


def test_unknown_objective_is_invalid_spec() -> None:
    with pytest.raises(InvalidSpec) as caught:
        convert(io.BytesIO(b""), file="in.jsonl", dataset="ds", objective="image_keypoints")
    assert "image_classification_single_label" in str(caught.value)
    assert "video_object_tracking" in str(caught.value)


def test_detected_objective_binds_the_rest_of_the_file() -> None:
    items = run(GOOD["image_bounding_box"][0], GOOD["image_classification_single_label"][0])
    assert spec_of(items).objective == "image_bounding_box"
    assert errors(items) == [(2, "classificationAnnotation")]


def test_record_that_does_not_fit_the_given_objective() -> None:
    items = run(GOOD["text_sentiment"][0], objective="text_classification_single_label")
    (error,) = [i for i in items if isinstance(i, RecordError)]
    assert (error.line, error.field) == (1, "sentimentAnnotation")
    assert "does not belong in text_classification_single_label records" in error.reason


def test_unannotated_items_alone_are_refused_naming_the_candidates() -> None:
    (error,) = run({"imageGcsUri": IMG, "dataItemResourceLabels": {}}, {"imageGcsUri": "gs://b/2"})
    assert isinstance(error, RecordError)
    assert (error.line, error.field) == (1, "")
    for objective in OBJECTIVES[:4]:  # the image ones
        assert objective in error.reason
    assert "no record has annotations" in error.reason
    assert "--objective" in error.reason


def test_unannotated_items_are_fine_once_the_objective_is_known() -> None:
    items = run({"imageGcsUri": IMG}, objective="image_classification_single_label")
    assert errors(items) == []
    assert label_annotations(rows(items)[0]) == flat()


TRACK = {"displayName": "horse", "timeOffset": "4s", "xMin": 0, "yMin": 0, "xMax": 1, "yMax": 1}


def image(**keys: Any) -> dict[str, Any]:
    return {"imageGcsUri": IMG, **keys}


def text(**keys: Any) -> dict[str, Any]:
    return {"textContent": "t", **keys}


def vid(**keys: Any) -> dict[str, Any]:
    return {"videoGcsUri": VID, **keys}


DETECT = [
    (image(classificationAnnotation={}), "image_classification_single_label"),
    (image(classificationAnnotations=[]), "image_classification_multi_label"),
    (image(boundingBoxAnnotations=[]), "image_bounding_box"),
    (image(bounding_box_annotations=[]), "image_bounding_box"),
    (image(segmentationAnnotation={}), "image_segmentation"),
    (image(maskAnnotation={}), "image_segmentation"),
    (image(polygonAnnotation={}), "image_segmentation"),
    (image(polylineAnnotation={}), "image_segmentation"),
    (text(classificationAnnotation={}), "text_classification_single_label"),
    ({"textGcsUri": "gs://t", "classificationAnnotations": []}, "text_classification_multi_label"),
    (text(textSegmentAnnotations=[]), "text_extraction"),
    (text(sentimentAnnotation={}), "text_sentiment"),
    (vid(timeSegmentAnnotations=[]), None),  # video classification or action recognition
    (vid(timeSegments=[], timeSegmentAnnotations=[]), "video_action_recognition"),
    (vid(timeSegments=[]), "video_action_recognition"),
    (vid(temporalBoundingBoxAnnotations=[]), "video_object_tracking"),
    (vid(TemporalBoundingBoxAnnotations=[]), "video_object_tracking"),
    (vid(temporal_bounding_box_annotations=[]), "video_object_tracking"),
    ({}, None),
    (image(), None),
    (vid(dataItemResourceLabels={}), None),
    ({"classificationAnnotation": {}}, None),
    (image(textContent="t", classificationAnnotation={}), None),
    (image(textSegmentAnnotations=[]), None),
    (image(classificationAnnotation={}, boundingBoxAnnotations=[]), None),
    (vid(timeSegmentAnnotations=[], temporalBoundingBoxAnnotations=[]), None),
]


@pytest.mark.parametrize(("record", "expected"), DETECT)
def test_detect_objective(record: dict[str, Any], expected: Any) -> None:
    assert detect_objective(record) == expected


# ---------------------------------------------------------------------------------------------
# spelling variants, string numbers, ml_use

TRACKING_KEYS = [
    "temporalBoundingBoxAnnotations",
    "TemporalBoundingBoxAnnotations",
    "temporal_bounding_box_annotations",
]
CAMEL_TRACK = {
    "displayName": "horse",
    "instanceId": "1",
    "timeOffset": "4.000000s",
    "xMin": 0.6689,
    "yMin": 0.5606,
    "xMax": 1.0,
    "yMax": 1.0,
    ARL: {"reviewed": "yes"},
}
SNAKE_TRACK = {
    "display_name": "horse",
    "instance_id": 1,
    "time_offset": "4.000000s",
    "x_min": "0.6689",
    "y_min": "0.5606",
    "x_max": "1",
    "y_max": "1.000000",
    "annotation_resource_labels": {"reviewed": "yes"},
}


@pytest.mark.parametrize("key", TRACKING_KEYS)
@pytest.mark.parametrize("inner", [CAMEL_TRACK, SNAKE_TRACK], ids=["camel", "snake"])
def test_object_tracking_spellings(key: str, inner: dict[str, Any]) -> None:
    record = vid(**{key: [inner]}, data_item_resource_labels={"ml_use": "train"})
    row = one_row(record)
    assert label_annotations(row) == GOOD["video_object_tracking"][1]
    assert row["metadata_fields"] == [{"schema_name": "ml_use", "value": "train"}]


def test_snake_case_keys_elsewhere() -> None:
    record = {
        "image_gcs_uri": IMG,
        "classification_annotation": {
            "display_name": "daisy",
            "annotation_resource_labels": {SET: SET_ID, "team": "cv"},
        },
        "data_item_resource_labels": {ML_USE: "training"},
    }
    assert one_row(record) == one_row(GOOD["image_classification_single_label"][0])


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"xMin": "0.3", "yMin": "0.3", "xMax": "0.7", "yMax": "0.6"}, box(0.3, 0.3, 0.7, 0.6)),
        ({"xMin": "0", "yMin": 0, "xMax": "1", "yMax": 1}, box(0.0, 0.0, 1.0, 1.0)),
        (
            {"xMin": "1e-1", "yMin": ".25", "xMax": " 0.5", "yMax": "+.75"},
            box(0.1, 0.25, 0.5, 0.75),
        ),
    ],
)
def test_string_numbers_become_floats(given: dict[str, Any], expected: Any) -> None:
    record = image(boundingBoxAnnotations=[{"displayName": "t", **given}])
    found = label_annotations(one_row(record))["objects"][0]["normalized_bounding_box"]
    assert found == expected
    assert all(type(v) is float for v in found.values())


def test_string_integers_for_offsets_and_sentiment() -> None:
    record = text(sentimentAnnotation={"sentiment": "2", "sentimentMax": "3"})
    assert label_annotations(one_row(record))["classifications"][0]["radio_answer"]["name"] == "2"
    entity = {"startOffset": "0", "endOffset": "1", "displayName": "ORG"}
    location = label_annotations(one_row(text(textSegmentAnnotations=[entity])))["objects"][0][
        "location"
    ]
    assert location == {"start": 0, "end": 0, "token": "t"}


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


# ---------------------------------------------------------------------------------------------
# errors: one bad record each; the line and field are asserted

A = {"displayName": "a"}
BB0 = "boundingBoxAnnotations[0]"
TS0 = "textSegmentAnnotations[0]"
TSA0 = "timeSegmentAnnotations[0]"
TB0 = "temporalBoundingBoxAnnotations[0]"
SEG = "segmentationAnnotation"
COLOR0 = "segmentationAnnotation.annotationSpecColors[0].color"
SA = "sentimentAnnotation"
CLS = "classificationAnnotation"
CLS_SET = f'classificationAnnotation.annotationResourceLabels["{SET}"]'
IRL = "dataItemResourceLabels"


def bbox(**corners: Any) -> dict[str, Any]:
    base = {"displayName": "t", "xMin": 0.1, "yMin": 0.1, "xMax": 0.9, "yMax": 0.9}
    return image(boundingBoxAnnotations=[base | corners])


def text_entity(**fields: Any) -> dict[str, Any]:
    entity = {"startOffset": 0, "endOffset": 4, "displayName": "ORG"} | fields
    return {"textContent": "Acme hires Bob", "textSegmentAnnotations": [entity]}


def sentiment(**fields: Any) -> dict[str, Any]:
    return text(sentimentAnnotation={"sentiment": 1, "sentimentMax": 4} | fields)


def timed(**fields: Any) -> dict[str, Any]:
    segment = {"displayName": "jump", "startTime": "1s", "endTime": "2s"} | fields
    return vid(timeSegmentAnnotations=[segment])


def track(**fields: Any) -> dict[str, Any]:
    return vid(temporalBoundingBoxAnnotations=[TRACK | fields])


def untimed_track() -> dict[str, Any]:
    return vid(
        temporalBoundingBoxAnnotations=[{k: v for k, v in TRACK.items() if k != "timeOffset"}]
    )


def mask(**fields: Any) -> dict[str, Any]:
    colors = [{"color": {"red": 1}, "displayName": "r"}]
    return image(
        segmentationAnnotation={"maskGcsUri": "gs://m", "annotationSpecColors": colors} | fields
    )


def colors(color: dict[str, Any]) -> dict[str, Any]:
    return mask(annotationSpecColors=[{"color": color, "displayName": "r"}])


def polygon(*xs: float) -> dict[str, Any]:
    shape = {"vertexes": [{"x": x, "y": 0.5} for x in xs], "displayName": "lake"}
    return image(segmentationAnnotation={"polygonAnnotation": shape})


def item_labels(**given: Any) -> dict[str, Any]:
    return {**GOOD["image_bounding_box"][0], "dataItemResourceLabels": given}


ERRORS = [
    # record level: keys, media, detection
    (
        "both text media",
        text(textGcsUri="gs://t", classificationAnnotation=A),
        "textContent",
        "together",
    ),
    ("empty inline text", {"textContent": "", CLS: A}, "textContent", "non-empty string"),
    (
        "uri not a string",
        {"imageGcsUri": 7, "boundingBoxAnnotations": []},
        "imageGcsUri",
        "non-empty",
    ),
    ("no media key", {CLS: A}, "", "no media key"),
    ("no annotation key", vid(), "", "--objective"),
    ("mixed objectives", bbox() | {CLS: A}, "", "mixed"),
    ("key given twice", bbox(x_min=0.1), f"{BB0}.x_min", "given twice"),
    # annotation objects
    ("missing displayName", image(classificationAnnotation={}), f"{CLS}.displayName", "missing"),
    (
        "annotation not an object",
        image(classificationAnnotation="daisy"),
        CLS,
        "expected an object",
    ),
    (
        "annotations not a list",
        image(boundingBoxAnnotations={}),
        "boundingBoxAnnotations",
        "a list",
    ),
    (
        "labels not an object",
        image(classificationAnnotation=A | {ARL: []}),
        f"{CLS}.{ARL}",
        "object",
    ),
    ("empty set name", image(classificationAnnotation=A | {ARL: {SET: ""}}), CLS_SET, "non-empty"),
    # coordinates
    ("coordinate above 1", bbox(xMax=1.2), f"{BB0}.xMax", "outside 0..1"),
    ("coordinate below 0", bbox(yMin="-0.1"), f"{BB0}.yMin", "outside 0..1"),
    ("min above max", bbox(xMin=0.8, xMax=0.2), f"{BB0}.xMax", "less than xMin"),
    ("coordinate not a number", bbox(xMin="abc"), f"{BB0}.xMin", "expected a number"),
    ("coordinate is a boolean", bbox(yMax=True), f"{BB0}.yMax", "expected a number"),
    ("coordinate is null", bbox(yMax=None), f"{BB0}.yMax", "expected a number"),
    # segmentation
    (
        "no mask colors",
        mask(annotationSpecColors=[]),
        f"{SEG}.annotationSpecColors",
        "at least one",
    ),
    ("color above 1", colors({"red": 2}), f"{COLOR0}.red", "outside 0..1"),
    (
        "missing mask uri",
        image(segmentationAnnotation={"annotationSpecColors": []}),
        f"{SEG}.maskGcsUri",
        "missing",
    ),
    ("too few vertexes", polygon(0, 1), f"{SEG}.polygonAnnotation.vertexes", "at least 3"),
    (
        "vertex off the image",
        polygon(0, 1, 1.5),
        f"{SEG}.polygonAnnotation.vertexes[2].x",
        "outside 0..1",
    ),
    (
        "wrapper and mask fields",
        mask(polygonAnnotation={}),
        f"{SEG}.annotationSpecColors",
        "together",
    ),
    ("two segmentations", mask() | {"polygonAnnotation": {}}, "polygonAnnotation", "only one"),
    # text
    ("offset past the text", text_entity(endOffset=99), f"{TS0}.endOffset", "past the end"),
    ("empty span", text_entity(startOffset=4, endOffset=4), f"{TS0}.endOffset", "greater than"),
    ("negative offset", text_entity(startOffset=-1), f"{TS0}.startOffset", "less than 0"),
    ("offset not an integer", text_entity(endOffset=2.5), f"{TS0}.endOffset", "an integer"),
    ("sentiment above max", sentiment(sentiment=5), f"{SA}.sentiment", "greater than 4"),
    ("sentimentMax above 10", sentiment(sentimentMax=11), f"{SA}.sentimentMax", "greater than 10"),
    ("sentimentMax zero", sentiment(sentimentMax=0), f"{SA}.sentimentMax", "less than 1"),
    ("sentiment not an integer", sentiment(sentiment="high"), f"{SA}.sentiment", "an integer"),
    # video
    ("bad span", vid(timeSegments=[{"startTime": "1.5"}]), "timeSegments[0].startTime", "duration"),
    ("infinite time offset", track(timeOffset="Infinity"), f"{TB0}.timeOffset", "duration"),
    ("missing time offset", untimed_track(), f"{TB0}.timeOffset", "missing"),
    ("bad instance id", track(instanceId="abc"), f"{TB0}.instanceId", "integer id"),
    # data item labels
    (
        "ml_use twice",
        item_labels(ml_use="train", **{ML_USE: "test"}),
        f'{IRL}["{ML_USE}"]',
        "twice",
    ),
    ("label value not a string", item_labels(team=3), f'{IRL}["team"]', "expected a string"),
    ("item labels not an object", bbox() | {IRL: "x"}, IRL, "expected an object"),
]

OBJECTIVE_ERRORS = [
    ("image_bounding_box", bbox() | {CLS: A}, CLS, "does not belong"),
    ("image_bounding_box", text(boundingBoxAnnotations=[]), "textContent", "does not belong"),
    ("image_bounding_box", {"boundingBoxAnnotations": []}, "imageGcsUri", "missing"),
    ("text_extraction", {"textSegmentAnnotations": []}, "textGcsUri", "textContent"),
    ("video_classification", vid(timeSegments=[]), "timeSegments", "does not belong"),
    (VC, timed(startTime="1.5"), f"{TSA0}.startTime", "duration"),
    (VC, timed(endTime=3), f"{TSA0}.endTime", "duration"),
    (AR, timed(startTime="5s", endTime="2.5s"), f"{TSA0}.endTime", "before"),
    ("text_sentiment", text(), SA, "first text_sentiment record"),
]


def assert_one_error(items: list[Any], field: str, reason: str) -> None:
    bad = [i for i in items if isinstance(i, RecordError)]
    assert [(e.line, e.field) for e in bad] == [(1, field)]
    assert reason in bad[0].reason
    assert rows(items) == []


@pytest.mark.parametrize(
    ("record", "field", "reason"), [pytest.param(*case[1:], id=case[0]) for case in ERRORS]
)
def test_record_errors(record: dict[str, Any], field: str, reason: str) -> None:
    assert_one_error(run(record), field, reason)


@pytest.mark.parametrize(("objective", "record", "field", "reason"), OBJECTIVE_ERRORS)
def test_record_errors_with_an_objective(
    objective: str, record: dict[str, Any], field: str, reason: str
) -> None:
    assert_one_error(run(record, objective=objective), field, reason)


def test_third_box_error_names_its_index() -> None:
    boxes = bbox()["boundingBoxAnnotations"] * 2 + bbox(xMax=3)["boundingBoxAnnotations"]
    assert errors(run(image(boundingBoxAnnotations=boxes))) == [
        (1, "boundingBoxAnnotations[2].xMax")
    ]


def test_snake_case_spelling_in_error_paths() -> None:
    inner = SNAKE_TRACK | {"x_max": 2}
    field = "temporal_bounding_box_annotations[0].x_max"
    assert errors(run(vid(temporal_bounding_box_annotations=[inner]))) == [(1, field)]


def test_errors_do_not_stop_the_file() -> None:
    bad = bbox(xMax=7)
    items = run(*([bad] * 120), GOOD["image_bounding_box"][0])
    assert errors(items) == [(n, "boundingBoxAnnotations[0].xMax") for n in range(1, 121)]
    assert [i.line for i in items if isinstance(i, ParsedRow)] == [121]


def test_bad_json_lines_are_errors() -> None:
    items = run(b"{not json", b"[1, 2]", GOOD["image_bounding_box"][0])
    assert errors(items) == [(1, ""), (2, "")]
    assert len(rows(items)) == 1


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


# ---------------------------------------------------------------------------------------------
# detecting the objective of a whole file, from the lines of Google's documentation

# Google's example lines ("Use managed datasets" and the prepare-data pages), byte for byte where
# they are JSON; the object-tracking example is written with Python quotes there, so here it is
# the same content in JSON. Segmentation has no published example (reference §3, tentative).
GOOGLE_LINES: dict[str, list[bytes]] = {
    "image_classification_single_label": [
        b'{"imageGcsUri": "gs://bucket/filename1.jpeg",  "classificationAnnotation": {"displayName": "daisy"}, "dataItemResourceLabels": {"aiplatform.googleapis.com/ml_use": "test"}}',  # noqa: E501
        b'{"imageGcsUri": "gs://bucket/filename2.gif",  "classificationAnnotation": {"displayName": "dandelion"}, "dataItemResourceLabels": {"aiplatform.googleapis.com/ml_use": "training"}}',  # noqa: E501
    ],
    "image_classification_multi_label": [
        b'{"imageGcsUri": "gs://bucket/filename1.jpeg",  "classificationAnnotations": [{"displayName": "daisy"}, {"displayName": "full_shot"}], "dataItemResourceLabels": {"aiplatform.googleapis.com/ml_use": "test"}}',  # noqa: E501
        b'{"imageGcsUri": "gs://bucket/filename2.gif",  "classificationAnnotations": [{"displayName": "dandelion"}, {"displayName": "medium_shot"}], "dataItemResourceLabels": {"aiplatform.googleapis.com/ml_use": "training"}}',  # noqa: E501
    ],
    "image_bounding_box": [
        b'{"imageGcsUri": "gs://bucket/filename1.jpeg", "boundingBoxAnnotations": [{"displayName": "Tomato", "xMin": "0.3", "yMin": "0.3", "xMax": "0.7", "yMax": "0.6"}], "dataItemResourceLabels": {"aiplatform.googleapis.com/ml_use": "test"}}',  # noqa: E501
        b'{"imageGcsUri": "gs://bucket/filename2.gif", "boundingBoxAnnotations": [{"displayName": "Tomato", "xMin": "0.8", "yMin": "0.2", "xMax": "1.0", "yMax": "0.4"},{"displayName": "Salad", "xMin": "0.0", "yMin": "0.0", "xMax": "1.0", "yMax": "1.0"}], "dataItemResourceLabels": {"aiplatform.googleapis.com/ml_use": "training"}}',  # noqa: E501
    ],
    "image_segmentation": [
        b'{"imageGcsUri":"gs://b/1.jpg","segmentationAnnotation":{"maskGcsUri":"gs://b/1_mask.png","annotationSpecColors":[{"color":{"red":1.0,"green":0,"blue":0},"displayName":"road"}]}}',
    ],
    "text_classification_single_label": [
        b'{"classificationAnnotation": {"displayName": "label"}, "textContent": "inline_text", "dataItemResourceLabels": {"aiplatform.googleapis.com/ml_use": "training"}}',  # noqa: E501
        b'{"classificationAnnotation": {"displayName": "label2"}, "textGcsUri": "gcs_uri_to_file", "dataItemResourceLabels": {"aiplatform.googleapis.com/ml_use": "test"}}',  # noqa: E501
    ],
    "text_classification_multi_label": [
        b'{"classificationAnnotations": [{"displayName": "label1"},{"displayName": "label2"}], "textGcsUri": "gcs_uri_to_file", "dataItemResourceLabels": {"aiplatform.googleapis.com/ml_use": "training"}}',  # noqa: E501
        b'{"classificationAnnotations": [{"displayName": "label2"},{"displayName": "label3"}], "textContent": "inline_text", "dataItemResourceLabels": {"aiplatform.googleapis.com/ml_use": "test"}}',  # noqa: E501
    ],
    "text_extraction": [
        b'{"textSegmentAnnotations":[{"startOffset":0,"endOffset":4,"displayName":"ORG"}],"textContent":"Acme hires Bob","dataItemResourceLabels":{"aiplatform.googleapis.com/ml_use":"test"}}',  # noqa: E501
    ],
    "text_sentiment": [
        b'{"sentimentAnnotation":{"sentiment":3,"sentimentMax":4},"textContent":"great!","dataItemResourceLabels":{"aiplatform.googleapis.com/ml_use":"training"}}',
    ],
    "video_classification": [
        b'{"videoGcsUri": "gs://demo/video1.mp4", "timeSegmentAnnotations": [{"displayName": "cartwheel", "startTime": "1.0s", "endTime": "12.0s"}], "dataItemResourceLabels": {"aiplatform.googleapis.com/ml_use": "training"}}',  # noqa: E501
        b'{"videoGcsUri": "gs://demo/video2.mp4", "timeSegmentAnnotations": [{"displayName": "swing", "startTime": "4.0s", "endTime": "9.0s"}], "dataItemResourceLabels": {"aiplatform.googleapis.com/ml_use": "test"}}',  # noqa: E501
    ],
    "video_action_recognition": [
        b'{"videoGcsUri": "gs://demo/video1.mp4", "timeSegmentAnnotations": [{"displayName": "cartwheel", "startTime": "1.0s", "endTime": "12.0s"}], "dataItemResourceLabels": {"ml_use": "training"}}',  # noqa: E501
        b'{"videoGcsUri": "gs://demo/video2.mp4", "timeSegmentAnnotations": [{"displayName": "swing", "startTime": "4.0s", "endTime": "9.0s"}], "dataItemResourceLabels": {"ml_use": "test"}}',  # noqa: E501
    ],
    "video_object_tracking": [
        b'{"videoGcsUri": "gs://demo-data/video1.mp4", "temporal_bounding_box_annotations": [{"displayName": "horse", "instance_id": "-1", "time_offset": "4.000000s", "xMin": "0.668912", "yMin": "0.560642", "xMax": "1.000000", "yMax": "1.000000"}], "dataItemResourceLabels": {"aiplatform.googleapis.com/ml_use": "training"}}',  # noqa: E501
        b'{"videoGcsUri": "gs://demo-data/video2.mp4", "temporal_bounding_box_annotations": [{"displayName": "horse", "instance_id": "-1", "time_offset": "71.000000s", "xMin": "0.679056", "yMin": "0.070957", "xMax": "0.801716", "yMax": "0.290358"}], "dataItemResourceLabels": {"aiplatform.googleapis.com/ml_use": "test"}}',  # noqa: E501
    ],
}  # fmt: skip
# Google's action-recognition format with what tells it apart: the fully annotated spans, and a
# key frame (startTime equal to endTime; the reference's example line)
ACTION_TEMPLATE = b'{"videoGcsUri": "gs://bucket/filename.ext", "timeSegments": [{"startTime": "0s", "endTime": "20s"}], "timeSegmentAnnotations": [{"displayName": "LABEL", "startTime": "2.5s", "endTime": "7s"}], "dataItemResourceLabels": {"ml_use": "train"}}'  # noqa: E501  # fmt: skip
KEY_FRAME = (
    b'{"videoGcsUri":"gs://b/v2.mp4","timeSegmentAnnotations":[{"displayName":"swing",'
    b'"startTime":"4.0s","endTime":"4.0s"}],'
    b'"dataItemResourceLabels":{"aiplatform.googleapis.com/ml_use":"test"}}'
)
AMBIGUOUS_VIDEO = (VC, AR)


def refusal(items: list[Any]) -> RecordError:
    """The one item of a refused file."""
    assert [type(i) for i in items] == [RecordError], items
    error: RecordError = items[0]
    return error


@pytest.mark.parametrize("objective", [o for o in OBJECTIVES if o not in AMBIGUOUS_VIDEO])
def test_google_example_lines_are_detected(objective: str) -> None:
    lines = GOOGLE_LINES[objective]
    items = run(*lines)
    assert errors(items) == []
    assert spec_of(items).objective == objective
    assert len(rows(items)) == len(lines)


@pytest.mark.parametrize("objective", AMBIGUOUS_VIDEO)
def test_google_video_classification_and_action_lines_are_refused_naming_both(
    objective: str,
) -> None:
    error = refusal(run(*GOOGLE_LINES[objective]))
    assert (error.line, error.field) == (1, "")
    assert "cannot tell the objective" in error.reason
    assert "video_action_recognition, video_classification" in error.reason
    assert "--objective" in error.reason
    assert "video_object_tracking" not in error.reason


@pytest.mark.parametrize("objective", AMBIGUOUS_VIDEO)
def test_the_objective_option_settles_it(objective: str) -> None:
    items = run(*GOOGLE_LINES[objective], objective=objective)
    assert errors(items) == []
    assert spec_of(items).objective == objective
    exported = [to_vertex(row, objective, spec_of(items).id) for row in rows(items)]
    assert ("timeSegments" in exported[0]) == (objective == AR)
    # the bare ml_use of Google's action-recognition example comes back as it was
    key = "ml_use" if objective == AR else ML_USE
    assert [e["dataItemResourceLabels"] for e in exported] == [{key: "training"}, {key: "test"}]


def test_action_recognition_shows_by_its_time_segments_anywhere_in_the_file() -> None:
    items = run(*GOOGLE_LINES[AR], ACTION_TEMPLATE)
    assert errors(items) == []
    assert spec_of(items).objective == AR
    assert [i.line for i in items if isinstance(i, ParsedRow)] == [1, 2, 3]
    first = label_annotations(rows(items)[0])
    assert first["time_segments"] == []  # action-recognition rows, from the first line on


def test_a_key_frame_means_action_recognition() -> None:
    items = run(GOOGLE_LINES[VC][0], KEY_FRAME)
    assert errors(items) == []
    assert spec_of(items).objective == AR


def test_a_payload_schema_label_tells_the_objective() -> None:
    record = orjson.loads(GOOGLE_LINES[VC][0])
    schema = (
        "gs://google-cloud-aiplatform/schema/dataset/annotation/video_classification_1.0.0.yaml"
    )
    record["timeSegmentAnnotations"][0][ARL] = {"aiplatform.googleapis.com/payload_schema": schema}
    items = run(record, GOOGLE_LINES[VC][1])
    assert errors(items) == []
    assert spec_of(items).objective == VC
    answer = label_annotations(rows(items)[0])["classifications"][0]["radio_answer"]
    assert answer["resource_labels"] == {"aiplatform.googleapis.com/payload_schema": schema}
    title = {"aiplatform.googleapis.com/payload_schema": "VideoActionRecognitionAnnotation"}
    titled = {**record, "timeSegmentAnnotations": [{"displayName": "x", ARL: title}]}
    assert detect_objective(titled) == AR


def test_unannotated_lines_wait_for_a_line_that_tells() -> None:
    items = run({"imageGcsUri": "gs://b/a.jpg"}, {"imageGcsUri": "gs://b/b.jpg"}, bbox())
    assert errors(items) == []
    assert spec_of(items).objective == "image_bounding_box"
    assert [label_annotations(r)["objects"] != [] for r in rows(items)] == [False, False, True]


def test_a_line_of_another_objective_is_its_own_error_once_the_file_tells() -> None:
    tracking = GOOGLE_LINES["video_object_tracking"][0]
    items = run(GOOGLE_LINES[VC][0], tracking, ACTION_TEMPLATE)
    assert spec_of(items).objective == AR
    assert errors(items) == [(2, "temporal_bounding_box_annotations")]
    assert [i.line for i in items if isinstance(i, ParsedRow)] == [1, 3]


def test_records_that_fit_nothing_say_why_when_the_file_is_refused() -> None:
    items = run(GOOGLE_LINES[VC][0], {"timeSegmentAnnotations": []}, image())
    assert errors(items) == [(1, ""), (2, ""), (3, "")]
    first, second, third = (i for i in items if isinstance(i, RecordError))
    assert "--objective" in first.reason
    assert "no media key" in second.reason
    assert "fits image_bounding_box" in third.reason
    assert "none of what the other records fit" in third.reason


def test_a_file_still_open_after_the_window_is_refused_there(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("labelport.imports.vertex.WINDOW_RECORDS", 3)
    lines = [GOOGLE_LINES[VC][0]] * 4 + [ACTION_TEMPLATE]
    error = refusal(run(*lines))
    assert error.line == 1
    assert "its first 3 records" in error.reason and "--objective" in error.reason
    # inside the window the telling line settles it
    items = run(*lines[2:])
    assert spec_of(items).objective == AR
    assert errors(items) == []


FITS = [
    (orjson.loads(GOOGLE_LINES[VC][0]), {VC, AR}),
    (orjson.loads(ACTION_TEMPLATE), {AR}),
    (orjson.loads(KEY_FRAME), {AR}),
    (vid(timeSegmentAnnotations=[{"displayName": "x", "startTime": "1s", "endTime": "1.0s"}]),
     {AR}),
    (vid(timeSegmentAnnotations=[{"displayName": "x", "startTime": "1s"}]), {VC, AR}),
    (vid(), {VC, AR, "video_object_tracking"}),
    (image(), set(OBJECTIVES[:4])),
    (text(), set(OBJECTIVES[4:8])),
    (image(classificationAnnotations=[]), {"image_classification_multi_label"}),
    (image(classificationAnnotation={}, boundingBoxAnnotations=[]), set()),
    ({"classificationAnnotation": {}}, set()),
]  # fmt: skip


@pytest.mark.parametrize(("record", "expected"), FITS)
def test_fit_lists_every_objective_a_record_fits(record: dict[str, Any], expected: Any) -> None:
    assert fit(record).objectives == expected


# ---------------------------------------------------------------------------------------------
# unknown fields: kept, warned about, written back in place

KEPT = "unknown field; kept as given and exported back in place"
A_COLOR = {"color": {"red": 1}, "displayName": "r"}

UNKNOWN = [
    pytest.param(
        "image_bounding_box",
        image(
            boundingBoxAnnotations=[
                {"displayName": "a", "xMin": 0, "yMin": 0, "xMax": 1, "yMax": 1, "confidence": 0.9},
                {"displayName": "b", "xMin": 0, "yMin": 0, "xMax": 1, "yMax": 1, "confidence": 1},
            ],
            source={"tool": "x", "n": [1, 2]},
        ),
        ["boundingBoxAnnotations[].confidence", "boundingBoxAnnotations[].confidence", "source"],
        id="box-and-top-level",
    ),
    pytest.param(
        "image_classification_single_label",
        image(classificationAnnotation={"displayName": "daisy", "annotationSpecId": "12"}),
        ["classificationAnnotation.annotationSpecId"],
        id="single-label",
    ),
    pytest.param(
        "image_classification_multi_label",
        image(
            classificationAnnotations=[{"displayName": "a"}, {"displayName": "b", "score": None}]
        ),
        ["classificationAnnotations[].score"],
        id="multi-label",
    ),
    pytest.param(
        "image_segmentation",
        image(
            segmentationAnnotation={
                "maskGcsUri": "gs://b/m.png",
                "annotationSpecColors": [
                    {"color": {"red": 1}, "displayName": "r"},
                    {"color": {"red": 1, "alpha": 0.5}, "displayName": "r", "rank": 1},
                ],
                "reviewed": True,
            }
        ),
        [
            "segmentationAnnotation.annotationSpecColors[].color.alpha",
            "segmentationAnnotation.annotationSpecColors[].rank",
            "segmentationAnnotation.reviewed",
        ],
        id="mask",
    ),
    pytest.param(
        "image_segmentation",
        image(
            segmentationAnnotation={
                "polygonAnnotation": {
                    "vertexes": [{"x": 0, "y": 0}, {"x": 1, "y": 0}, {"x": 1, "y": 1, "z": 1}],
                    "displayName": "lake",
                    "closed": True,
                },
                "reviewed": False,
            }
        ),
        [
            "segmentationAnnotation.polygonAnnotation.vertexes[].z",
            "segmentationAnnotation.polygonAnnotation.closed",
            "segmentationAnnotation.reviewed",
        ],
        id="polygon",
    ),
    pytest.param(
        "text_extraction",
        text_entity(sentiment="neutral"),
        ["textSegmentAnnotations[].sentiment"],
        id="entity",
    ),
    pytest.param(
        "text_sentiment",
        sentiment(magnitude=0.3),
        ["sentimentAnnotation.magnitude"],
        id="sentiment",
    ),
    pytest.param(
        AR,
        vid(
            timeSegments=[{"startTime": "0s", "endTime": "9s", "reviewed": "yes"}],
            timeSegmentAnnotations=[{"displayName": "run", "timeOffset": "4s"}],
        ),
        ["timeSegments[].reviewed", "timeSegmentAnnotations[].timeOffset"],
        id="action-recognition",
    ),
    pytest.param(
        "video_object_tracking",
        track(confidence=0.5),
        ["temporalBoundingBoxAnnotations[].confidence"],
        id="tracking",
    ),
]


def with_path(record: dict[str, Any], path: str) -> Any:
    """The value at a warning's path (``[]`` takes the last item of a list)."""
    value: Any = record
    for part in path.split("."):
        name, lists = part.split("[")[0], part.count("[]")
        value = value[name]
        for _ in range(lists):
            value = value[-1]
    return value


@pytest.mark.parametrize(("objective", "record", "paths"), UNKNOWN)
def test_unknown_fields_warn_and_come_back_in_place(
    objective: str, record: dict[str, Any], paths: list[str]
) -> None:
    items = run(record)
    assert errors(items) == []
    assert spec_of(items).objective == objective
    assert sorted(warnings_of(items)) == sorted((1, path, KEPT) for path in paths)
    assert items.index(spec_of(items)) < [type(i) for i in items].index(SourceWarning)
    exported = round_trip(record)
    for path in paths:
        assert with_path(exported, path) == with_path(record, path)
    # and the export reads back as the same row, warnings and all
    again = run(exported)
    assert rows(again) == rows(items)
    assert sorted(warnings_of(again)) == sorted(warnings_of(items))


def test_unknown_fields_of_a_wrapped_mask_come_back_in_the_one_level_it_is_written_in() -> None:
    wrapped = {"maskGcsUri": "gs://b/m.png", "annotationSpecColors": [A_COLOR], "format": "png"}
    record = image(segmentationAnnotation={"maskAnnotation": wrapped, "reviewed": True})
    items = run(record)
    assert sorted(w[1] for w in warnings_of(items)) == [
        "segmentationAnnotation.maskAnnotation.format",
        "segmentationAnnotation.reviewed",
    ]
    exported = round_trip(record)["segmentationAnnotation"]
    assert (exported["format"], exported["reviewed"]) == ("png", True)
    assert exported["maskGcsUri"] == "gs://b/m.png"


def test_unknown_fields_of_a_bad_record_give_no_warning() -> None:
    items = run(bbox(xMax=3, confidence=1))
    assert warnings_of(items) == []
    assert errors(items) == [(1, "boundingBoxAnnotations[0].xMax")]


def test_an_unknown_ml_use_value_is_kept_and_warned_about() -> None:
    record = item_labels(ml_use="holdout")
    items = run(record)
    assert errors(items) == []
    ((line, path, reason),) = warnings_of(items)
    assert (line, path) == (1, f'{IRL}["ml_use"]')
    assert "unknown ml_use 'holdout', kept as given" in reason
    assert rows(items)[0]["metadata_fields"] == [{"schema_name": "ml_use", "value": "holdout"}]
    assert round_trip(record)[IRL] == {"ml_use": "holdout"}
