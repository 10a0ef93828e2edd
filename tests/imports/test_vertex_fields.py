"""The keys and values of Vertex records (:mod:`labelport.imports.vertex_fields`): spelling
variants and string numbers, one error per bad value with its line and field, unknown fields kept,
warned about and written back in place."""

from __future__ import annotations

from typing import Any

import pytest

from labelport.errors import RecordError
from labelport.imports.base import SourceWarning
from tests.imports.vertex_samples import (
    AR,
    ARL,
    GOOD,
    IMG,
    ML_USE,
    SET,
    SET_ID,
    TRACK,
    VC,
    bbox,
    box,
    errors,
    image,
    label_annotations,
    mask,
    one_row,
    round_trip,
    rows,
    run,
    spec_of,
    text,
    vid,
    warnings_of,
)

# ---------------------------------------------------------------------------------------------
# spelling variants, string numbers

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
