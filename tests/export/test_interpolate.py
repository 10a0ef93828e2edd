from __future__ import annotations

import copy
import itertools
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from labelport.export.interpolate import interpolate_frames, needs_interpolation

FID = "ckfeature0000000000000001"
FID2 = "ckfeature0000000000000002"


def bbox_obj(
    fid: str = FID, /, *, top: float = 0, left: float = 0, height: float = 10, width: float = 10
) -> dict[str, Any]:
    return {
        "feature_id": fid,
        "feature_schema_id": "ckschema",
        "name": "bbox",
        "annotation_kind": "VideoBoundingBox",
        "classifications": [{"name": "color", "radio_answer": {"name": "red"}}],
        "bounding_box": {"top": top, "left": left, "height": height, "width": width},
    }


def frame(*objs: dict[str, Any]) -> dict[str, Any]:
    return {"objects": {o["feature_id"]: o for o in objs}, "classifications": []}


def video(
    frames: dict[str, dict[str, Any]], segments: dict[str, list[list[int]]]
) -> dict[str, Any]:
    kfm: dict[str, dict[str, bool]] = {}
    for key, f in frames.items():
        for fid in f["objects"]:
            kfm.setdefault(fid, {})[key] = True
    return {
        "frames": frames,
        "segments": segments,
        "key_frame_feature_map": kfm,
        "classifications": [],
    }


def frames_of(out: dict[str, Any], fid: str = FID) -> list[int]:
    return [int(k) for k, f in out["frames"].items() if fid in f["objects"]]


def obj_at(out: dict[str, Any], n: int, fid: str = FID) -> dict[str, Any]:
    obj: dict[str, Any] = out["frames"][str(n)]["objects"][fid]
    return obj


# -- the reference case -------------------------------------------------------------------------


def reference() -> dict[str, Any]:
    return video(
        {
            "13": frame(bbox_obj(top=98.0, left=146.0, height=243.0, width=236.0)),
            "18": frame(bbox_obj(top=110.0, left=196.0, height=240.0, width=230.0)),
            "19": frame(bbox_obj(top=111.0, left=206.0, height=239.0, width=229.0)),
        },
        {FID: [[13, 13], [18, 19]]},
    )


def test_reference_case_fills_13_to_19_with_monotonic_left() -> None:
    ann = reference()
    before = json.dumps(ann, sort_keys=True)
    out = interpolate_frames(ann)
    assert frames_of(out) == list(range(13, 20))
    lefts = [obj_at(out, n)["bounding_box"]["left"] for n in range(13, 20)]
    assert lefts == sorted(lefts)
    assert all(a < b for a, b in itertools.pairwise(lefts))
    # keyframes are unchanged byte for byte (and shared, not copied)
    for n in (13, 18, 19):
        assert json.dumps(obj_at(out, n)) == json.dumps(ann["frames"][str(n)]["objects"][FID])
        assert obj_at(out, n) is ann["frames"][str(n)]["objects"][FID]
    assert json.dumps(ann, sort_keys=True) == before
    assert out["segments"] == ann["segments"]
    assert out["key_frame_feature_map"] == ann["key_frame_feature_map"]
    # frame 14 is 1/5 of the way from 13 to 18
    box = obj_at(out, 14)["bounding_box"]
    assert box == {"top": 98.0 + 12.0 / 5, "left": 156.0, "height": 242.4, "width": 234.8}


def test_midpoint_values_are_exact() -> None:
    ann = video(
        {
            "10": frame(bbox_obj(top=0, left=0, height=10, width=20)),
            "20": frame(bbox_obj(top=50, left=100, height=30, width=20)),
        },
        {FID: [[10, 20]]},
    )
    out = interpolate_frames(ann)
    assert frames_of(out) == list(range(10, 21))
    box = obj_at(out, 15)["bounding_box"]
    assert box == {"top": 25.0, "left": 50.0, "height": 20.0, "width": 20.0}
    assert isinstance(box["left"], float)
    assert obj_at(out, 12)["bounding_box"]["left"] == 20.0
    # non-geometry keys come from the previous keyframe, as copies
    mid = obj_at(out, 15)
    assert mid["classifications"] == ann["frames"]["10"]["objects"][FID]["classifications"]
    assert mid["classifications"] is not ann["frames"]["10"]["objects"][FID]["classifications"]
    assert mid["name"] == "bbox" and mid["feature_id"] == FID
    # new frames are created with empty frame-level classifications
    assert out["frames"]["15"]["classifications"] == []


def test_frame_classifications_are_not_interpolated() -> None:
    ann = video(
        {"1": frame(bbox_obj(left=0)), "3": frame(bbox_obj(left=10))},
        {FID: [[1, 3]]},
    )
    ann["frames"]["1"]["classifications"] = [{"name": "q", "radio_answer": {"name": "a"}}]
    ann["frames"]["2"] = {"objects": {}, "classifications": [{"name": "only-2"}]}
    out = interpolate_frames(ann)
    assert out["frames"]["2"]["classifications"] == [{"name": "only-2"}]
    assert out["frames"]["2"]["objects"][FID]["bounding_box"]["left"] == 5.0
    assert out["frames"]["3"]["classifications"] == []
    assert ann["frames"]["2"]["objects"] == {}


# -- holds --------------------------------------------------------------------------------------


def test_hold_after_last_keyframe_inside_segment() -> None:
    ann = video({"5": frame(bbox_obj(left=7))}, {FID: [[5, 9]]})
    out = interpolate_frames(ann)
    assert frames_of(out) == [5, 6, 7, 8, 9]
    for n in range(6, 10):
        assert obj_at(out, n) == ann["frames"]["5"]["objects"][FID]
        assert obj_at(out, n) is not ann["frames"]["5"]["objects"][FID]


def test_segment_before_first_keyframe_holds_the_first() -> None:
    ann = video(
        {"4": frame(bbox_obj(left=40)), "6": frame(bbox_obj(left=60))},
        {FID: [[1, 2], [4, 6]]},
    )
    out = interpolate_frames(ann)
    assert frames_of(out) == [1, 2, 4, 5, 6]  # 3 lies in no segment and before min(K)
    assert obj_at(out, 1) == ann["frames"]["4"]["objects"][FID]
    assert obj_at(out, 2)["bounding_box"]["left"] == 40
    assert obj_at(out, 5)["bounding_box"]["left"] == 50.0


def test_gap_between_keyframes_is_filled_even_outside_segments() -> None:
    ann = video(
        {"1": frame(bbox_obj(left=0)), "5": frame(bbox_obj(left=8))},
        {FID: [[1, 1], [5, 5]]},
    )
    out = interpolate_frames(ann)
    assert frames_of(out) == [1, 2, 3, 4, 5]
    assert [obj_at(out, n)["bounding_box"]["left"] for n in range(1, 6)] == [0, 2, 4, 6, 8]


# -- geometry kinds -----------------------------------------------------------------------------


def point_obj(x: float, y: float, fid: str = FID) -> dict[str, Any]:
    return {
        "feature_id": fid,
        "name": "pt",
        "annotation_kind": "VideoPoint",
        "point": {"x": x, "y": y},
    }


def line_obj(points: list[tuple[float, float]], key: str = "line") -> dict[str, Any]:
    return {
        "feature_id": FID,
        "name": key,
        "annotation_kind": "VideoPolyline" if key == "line" else "VideoPolygon",
        key: [{"x": x, "y": y} for x, y in points],
    }


def test_point_interpolation() -> None:
    ann = video({"1": frame(point_obj(0, 10)), "5": frame(point_obj(4, 2))}, {FID: [[1, 5]]})
    out = interpolate_frames(ann)
    assert [obj_at(out, n)["point"] for n in range(1, 6)] == [
        {"x": 0, "y": 10},
        {"x": 1.0, "y": 8.0},
        {"x": 2.0, "y": 6.0},
        {"x": 3.0, "y": 4.0},
        {"x": 4, "y": 2},
    ]


def test_polyline_interpolation() -> None:
    ann = video(
        {"2": frame(line_obj([(0, 0), (10, 10)])), "4": frame(line_obj([(2, 4), (20, 30)]))},
        {FID: [[2, 4]]},
    )
    out = interpolate_frames(ann)
    assert obj_at(out, 3)["line"] == [{"x": 1.0, "y": 2.0}, {"x": 15.0, "y": 20.0}]
    assert obj_at(out, 3)["annotation_kind"] == "VideoPolyline"


def test_polygon_interpolation() -> None:
    a = line_obj([(0, 0), (10, 0), (10, 10)], key="polygon")
    b = line_obj([(4, 4), (14, 4), (14, 14)], key="polygon")
    ann = video({"1": frame(a), "5": frame(b)}, {FID: [[1, 5]]})
    out = interpolate_frames(ann)
    assert obj_at(out, 2)["polygon"] == [
        {"x": 1.0, "y": 1.0},
        {"x": 11.0, "y": 1.0},
        {"x": 11.0, "y": 11.0},
    ]


def test_mismatched_point_counts_hold_previous() -> None:
    a = line_obj([(0, 0), (10, 10)])
    b = line_obj([(2, 4), (20, 30), (40, 40)])
    ann = video({"1": frame(a), "3": frame(b)}, {FID: [[1, 3]]})
    out = interpolate_frames(ann)
    assert obj_at(out, 2)["line"] == a["line"]
    assert obj_at(out, 2)["line"] is not a["line"]


def test_other_keys_come_from_previous_keyframe() -> None:
    a = bbox_obj(left=0) | {"mask": {"url": "https://example.com/a.png"}}
    b = bbox_obj(left=10) | {"mask": {"url": "https://example.com/b.png"}, "name": "other"}
    ann = video({"1": frame(a), "3": frame(b)}, {FID: [[1, 3]]})
    mid = obj_at(interpolate_frames(ann), 2)
    assert mid["mask"] == {"url": "https://example.com/a.png"}
    assert mid["name"] == "bbox"
    assert mid["bounding_box"]["left"] == 5.0


# -- several features, clipping, order ----------------------------------------------------------


def test_two_features_in_the_same_frames() -> None:
    ann = video(
        {
            "1": frame(bbox_obj(FID, left=0), bbox_obj(FID2, top=100)),
            "3": frame(bbox_obj(FID, left=10), bbox_obj(FID2, top=0)),
        },
        {FID: [[1, 3]], FID2: [[1, 3]]},
    )
    out = interpolate_frames(ann)
    assert list(out["frames"]["2"]["objects"]) == [FID, FID2]
    assert obj_at(out, 2, FID)["bounding_box"]["left"] == 5.0
    assert obj_at(out, 2, FID2)["bounding_box"]["top"] == 50.0
    assert obj_at(out, 2, FID2)["feature_id"] == FID2


def test_added_objects_follow_existing_ones_in_first_seen_order() -> None:
    ann = video(
        {
            "1": frame(bbox_obj(FID2, left=0), bbox_obj(FID, left=0)),
            "2": frame(bbox_obj("ckexisting", left=5)),
            "3": frame(bbox_obj(FID, left=10), bbox_obj(FID2, left=10)),
        },
        {FID: [[1, 3]], FID2: [[1, 3]], "ckexisting": [[2, 2]]},
    )
    out = interpolate_frames(ann)
    assert list(out["frames"]["2"]["objects"]) == ["ckexisting", FID2, FID]
    assert frames_of(out, "ckexisting") == [2]
    assert ann["frames"]["2"]["objects"].keys() == {"ckexisting"}


def test_frame_count_clips() -> None:
    ann = video(
        {"3": frame(bbox_obj(left=0)), "6": frame(bbox_obj(left=30))},
        {FID: [[-2, 1], [3, 10]]},
    )
    assert frames_of(interpolate_frames(ann)) == [-2, -1, 0, 1, *range(3, 11)]
    out = interpolate_frames(ann, frame_count=8)
    assert frames_of(out) == [1, 3, 4, 5, 6, 7, 8]
    assert obj_at(out, 8) == ann["frames"]["6"]["objects"][FID]


def test_frame_count_does_not_drop_keyframes() -> None:
    ann = video({"3": frame(bbox_obj(left=0)), "9": frame(bbox_obj(left=60))}, {FID: [[3, 9]]})
    out = interpolate_frames(ann, frame_count=5)
    assert frames_of(out) == [3, 4, 5, 9]
    assert obj_at(out, 9) is ann["frames"]["9"]["objects"][FID]


def test_frame_keys_are_ordered_numerically() -> None:
    ann = video(
        {"10": frame(bbox_obj(left=10)), "2": frame(bbox_obj(left=2)), "1": frame()},
        {FID: [[2, 10]]},
    )
    out = interpolate_frames(ann)
    assert list(out["frames"]) == [str(n) for n in range(1, 11)]
    assert [obj_at(out, n)["bounding_box"]["left"] for n in range(2, 11)] == [
        2,
        *[float(n) for n in range(3, 10)],
        10,
    ]


# -- DICOM --------------------------------------------------------------------------------------


def dicom() -> dict[str, Any]:
    def polyline(dx: float) -> dict[str, Any]:
        return {
            "feature_id": FID,
            "name": "line",
            "annotation_kind": "DICOMPolyline",
            "classifications": [],
            "line": [{"x": 1 + dx, "y": 2}, {"x": 3 + dx, "y": 4 + dx}],
        }

    return {
        "groups": {
            "Axial": {
                "name": "Axial",
                "classifications": [],
                "frames": {
                    "1": {"objects": {FID: polyline(0)}, "classifications": []},
                    "5": {"objects": {FID: polyline(8)}, "classifications": []},
                },
            },
            "Sagittal": {"name": "Sagittal", "classifications": [], "frames": {}},
        },
        "segments": {"Axial": {FID: [[1, 1], [5, 6]]}, "Sagittal": {}},
        "classifications": [],
        "key_frame_feature_map": {FID: {"Axial": {"1": True, "5": True}}},
    }


def test_dicom_plane() -> None:
    ann = dicom()
    snapshot = copy.deepcopy(ann)
    out = interpolate_frames(ann, frame_count=6)
    axial = out["groups"]["Axial"]["frames"]
    assert list(axial) == ["1", "2", "3", "4", "5", "6"]
    assert axial["3"]["objects"][FID]["line"] == [{"x": 5.0, "y": 2.0}, {"x": 7.0, "y": 8.0}]
    assert axial["6"]["objects"][FID] == ann["groups"]["Axial"]["frames"]["5"]["objects"][FID]
    assert axial["2"]["classifications"] == []
    assert out["groups"]["Sagittal"] == snapshot["groups"]["Sagittal"]
    assert out["groups"]["Axial"]["name"] == "Axial"
    assert out["segments"] == snapshot["segments"]
    assert out["key_frame_feature_map"] == snapshot["key_frame_feature_map"]
    assert ann == snapshot


# -- shapes that are not interpolated, robustness, immutability ---------------------------------


def test_image_and_text_annotations_are_returned_as_is() -> None:
    image = {"objects": [{"name": "box", "bounding_box": {"top": 1}}], "classifications": []}
    text: dict[str, Any] = {"objects": [], "classifications": [], "relationships": []}
    for ann in (image, text, {}):
        assert interpolate_frames(ann) is ann
        assert not needs_interpolation(ann)
    assert needs_interpolation(reference())
    assert needs_interpolation(dicom())


def test_input_is_not_mutated() -> None:
    for ann in (reference(), dicom()):
        snapshot = copy.deepcopy(ann)
        out = interpolate_frames(ann, frame_count=30)
        assert ann == snapshot
        assert out is not ann


def test_added_objects_are_independent_copies() -> None:
    ann = video({"1": frame(bbox_obj(left=0)), "3": frame(bbox_obj(left=10))}, {FID: [[1, 4]]})
    snapshot = copy.deepcopy(ann)
    out = interpolate_frames(ann)
    for n in (2, 4):
        obj_at(out, n)["classifications"].append("mutated")
        obj_at(out, n)["bounding_box"]["top"] = -1
    assert ann == snapshot


def test_odd_input_never_raises() -> None:
    odd: list[dict[str, Any]] = [
        {"frames": None},
        {"frames": []},
        {"groups": "nope"},
        {"frames": {"x": 1, "1": None, "2": {"objects": []}, "03": frame(bbox_obj())}},
        {"frames": {"1": frame(bbox_obj()), "4": frame(bbox_obj())}, "segments": {FID: "bad"}},
        {
            "frames": {
                "1": {"objects": {FID: "not-a-dict"}},
                "2": {"classifications": []},
                "3": frame(bbox_obj(left=3)),
                "6": {"objects": {FID: {"bounding_box": {"left": "six", "top": float("inf")}}}},
            },
            "segments": {FID: [[1, 8], [True, 2], [1], [2.5, 3], None]},
        },
        {"groups": {"Axial": None, "Coronal": {"frames": None}, "Sagittal": {"frames": {}}}},
    ]
    for ann in odd:
        snapshot = copy.deepcopy(ann)
        interpolate_frames(ann)
        interpolate_frames(ann, frame_count=5)
        assert repr(ann) == repr(snapshot)
    for ann in odd[:3]:
        assert interpolate_frames(ann) is ann

    weird = odd[5]
    out = interpolate_frames(weird)
    frames = out["frames"]
    assert frames["1"]["objects"][FID] == "not-a-dict"  # left alone
    assert frames["2"] == {"classifications": []}  # a frame without objects is left alone
    # non-numeric / non-finite values hold the previous keyframe's value
    assert frames["4"]["objects"][FID]["bounding_box"]["left"] == 3
    assert frames["5"]["objects"][FID]["bounding_box"]["top"] == 0
    assert frames["7"]["objects"][FID] == weird["frames"]["6"]["objects"][FID]
    assert list(frames) == ["1", "2", "3", "4", "5", "6", "7", "8"]

    bad_keys = interpolate_frames(odd[3])
    assert list(bad_keys["frames"]) == ["1", "2", "x", "03"]


# -- property -----------------------------------------------------------------------------------

coord = st.one_of(
    st.integers(min_value=-10_000, max_value=10_000),
    st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False),
)
box_st = st.fixed_dictionaries({"top": coord, "left": coord, "height": coord, "width": coord})


@st.composite
def keyed_boxes(draw: st.DrawFn) -> dict[int, dict[str, float]]:
    keys = draw(st.sets(st.integers(min_value=1, max_value=80), min_size=1, max_size=8))
    return {k: draw(box_st) for k in sorted(keys)}


@given(
    boxes=keyed_boxes(),
    shuffle=st.randoms(use_true_random=False),
    seg_end=st.integers(min_value=0, max_value=90),
)
def test_property_fill_and_bounds(
    boxes: dict[int, dict[str, float]], shuffle: Any, seg_end: int
) -> None:
    keys = list(boxes)
    shuffle.shuffle(keys)  # the input's frame order does not matter
    ann = video(
        {str(k): frame(bbox_obj(**boxes[k])) for k in keys},
        {FID: [[min(boxes), seg_end]]},
    )
    snapshot = copy.deepcopy(ann)
    out = interpolate_frames(ann)
    assert ann == snapshot

    ks = sorted(boxes)
    present = frames_of(out)
    assert present == sorted(present)
    expected = set(range(ks[0], max(ks[-1], seg_end) + 1))
    assert set(present) == expected
    assert list(out["frames"]) == [str(n) for n in sorted(expected)]

    for k in ks:
        assert obj_at(out, k) == ann["frames"][str(k)]["objects"][FID]
    for f in range(ks[0], ks[-1] + 1):
        if f in boxes:
            continue
        p = max(k for k in ks if k < f)
        n = min(k for k in ks if k > f)
        box = obj_at(out, f)["bounding_box"]
        for side in ("top", "left", "height", "width"):
            lo, hi = sorted((boxes[p][side], boxes[n][side]))
            assert lo <= box[side] <= hi
    for f in range(ks[-1] + 1, seg_end + 1):
        assert obj_at(out, f) == ann["frames"][str(ks[-1])]["objects"][FID]
