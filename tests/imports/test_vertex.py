"""The Vertex AI JSON Lines converter (:mod:`labelport.imports.vertex`): the file-level state -
annotation sets, the objective (given, detected, fixed by the first record, told from a whole
file), errors that do not stop the file."""

from __future__ import annotations

import copy
import io
from typing import Any

import orjson
import pytest

from labelport import ids
from labelport.errors import InvalidSpec, RecordError
from labelport.export.formats.vertex_records import to_vertex
from labelport.imports.base import AnnotationSetSpec, ParsedRow
from labelport.imports.vertex import OBJECTIVES, convert, detect_objective
from labelport.imports.vertex_objectives import fit
from tests.imports.vertex_samples import (
    AR,
    ARL,
    GOOD,
    IMG,
    ML_USE,
    SET,
    SET_ID,
    VC,
    bbox,
    errors,
    flat,
    given,
    image,
    label_annotations,
    one_row,
    rows,
    run,
    spec_of,
    text,
    vid,
)


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_good_record_yields_spec_then_row(objective: str) -> None:
    record, _ = GOOD[objective]
    items = run(record, objective=given(objective))
    assert [type(i) for i in items] == [AnnotationSetSpec, ParsedRow]
    assert items[0].objective == objective
    assert items[1].line == 1


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
# errors do not stop the file


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
