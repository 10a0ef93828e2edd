"""The Diffgram export converter: realistic exports in, exact canonical rows and errors out."""

from __future__ import annotations

import copy
import io
import json
import os
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from labelport.errors import RecordError
from labelport.ids import derived_id
from labelport.imports.base import ParsedRow
from labelport.imports.canonical import check_annotations, check_row
from labelport.imports.diffgram import convert

FILE = "export_77.json"
PSID = "acme-vision"
PROJECT_ID = derived_id("diffgram-project", PSID)
EXPORT_TIME = "2024-03-01T09:30:00.123+00:00"

# -------------------------------------------------------------------------------------------------
# fixtures: the shapes Diffgram's exporter writes (shared/export/export_generation.py,
# shared/database/export.py, attribute_template_group.py, sequence.py)

README = {
    "docs_high_level": "https://diffgram.com/docs/export-walkthrough",
    "docs_low_level": "https://diffgram.com/docs/understanding-diffgrams-json-file-format",
    "support": "support@diffgram.com",
    "share_request": "Request ada@example.com to access the project to visually explore this data.",
}
LABEL_MAP = {
    "11": "car",
    "12": "person",
    "13": "road",
    "21": "ORG",
    "22": "PERSON",
    "23": "works_for",
}
LABEL_COLOUR_MAP = {k: {"hex": "#194d33"} for k in LABEL_MAP}
EXPORT_INFO = {
    "id": 77,
    "export_format_version": "1.0",
    "user_created_email": "ada@example.com",
    "created_time": "2024-03-01 09:30:00.123456",
    "kind": "Annotations",
    "masks": False,
    "source": "directory",
    "file_comparison_mode": "latest",
    "project": {"name": "Acme Vision", "project_string_id": PSID},
    "directory": {"id": 5, "nickname": "Luckfrill", "created_time": "2024-01-02 10:00:00"},
    "job": None,
    "task": None,
    "file_list_length": 3,
    "ann_is_complete": None,
}


def _group(gid: int, kind: str, name: str, prompt: str, options: dict[int, str], **extra: Any):
    return {
        "id": gid,
        "kind": kind,
        "is_root": True,
        "name": name,
        "prompt": prompt,
        "show_prompt": True,
        "time_updated": "None",
        "default_value": None,
        "min_value": extra.get("min_value"),
        "max_value": extra.get("max_value"),
        "default_id": None,
        "is_global": extra.get("is_global", False),
        "global_type": "file",
        "attribute_template_list": [
            {
                "id": oid,
                "name": oname,
                "value_type": None,
                "archived": False,
                "group_id": gid,
                "display_order": None,
            }
            for oid, oname in options.items()
        ],
        "label_file_list": [{"id": 11, "label": {"name": "car"}}],
    }


ATTRIBUTE_GROUPS = [
    _group(101, "radio", "occlusion", "Occluded?", {1001: "none", 1002: "partial"}),
    _group(102, "select", "color", "Colour", {1011: "red", 1012: "blue"}),
    _group(
        103, "multiple_select", "damage", "Damage", {1021: "scratch", 1022: "dent", 1023: "rust"}
    ),
    _group(104, "text", "plate", "Licence plate", {}),
    _group(105, "slider", "confidence", "Confidence", {}, min_value=1, max_value=10),
    _group(106, "date", "seen_on", "Seen on", {}),
    _group(107, "radio", "weather", "Weather", {1071: "sunny", 1072: "rain"}, is_global=True),
]


def _option(oid: int, name: str) -> dict[str, Any]:
    """A chosen option as Diffgram's UI stores it (attribute_group.vue select_format)."""
    return {"display_name": name, "id": oid, "name": oid}


def image_packet() -> dict[str, Any]:
    url = "https://storage.example/projects/images/5/street.jpg?X-Amz-Signature=abc"
    return {
        "file": {
            "id": 501,
            "original_filename": "street.jpg",
            "blob_url": url,
            "created_time": "2024-02-28 17:05:09.654321",
            "ann_is_complete": True,
            "type": "image",
        },
        "image": {
            "width": 1920,
            "height": 1080,
            "rotation_degrees": None,
            "image_signed_expiry": 1709800000,
            "image_signed_url": url,
            "original_filename": "street.jpg",
        },
        "instance_list": [
            {
                "id": 9001,
                "type": "box",
                "attribute_groups": {
                    "101": _option(1002, "partial"),
                    "102": _option(1011, "red"),
                    "103": [_option(1021, "scratch"), _option(1022, "dent")],
                    "104": "KA-01-1234",
                    "105": 7,
                    "106": "2024-02-27",
                },
                "label_file_id": 11,
                "x_min": 100,
                "y_min": 200,
                "x_max": 400,
                "y_max": 350,
            },
            {
                "id": 9002,
                "type": "polygon",
                "attribute_groups": None,
                "label_file_id": 13,
                "x_min": 0,
                "y_min": 500,
                "x_max": 1920,
                "y_max": 1080,
                "points": [{"x": 0, "y": 1080}, {"x": 960, "y": 500}, {"x": 1920, "y": 1080}],
            },
            {
                "id": 9003,
                "type": "line",
                "attribute_groups": None,
                "label_file_id": 13,
                "x_min": 10,
                "y_min": 20,
                "x_max": 30,
                "y_max": 40,
                "points": [{"x": 10.5, "y": 20.25}, {"x": 30, "y": 40}],
            },
            {
                "id": 9004,
                "type": "point",
                "attribute_groups": {},
                "label_file_id": 12,
                "points": [{"x": 640, "y": 360}],
            },
            {
                "id": 9005,
                "type": "global",
                "attribute_groups": {"107": _option(1072, "rain")},
                "label_file_id": None,
            },
        ],
    }


def _video_instance(iid, itype, frame, label, *, interpolated=False, **geometry):
    return {
        "id": iid,
        "type": itype,
        "attribute_groups": geometry.pop("attribute_groups", None),
        "label_file_id": label,
        "frame_number": frame,
        "global_frame_number": frame,
        "local_sequence_number": 1,
        "number": 1,
        "interpolated": interpolated,
        **geometry,
    }


def _box(x: int) -> dict[str, int]:
    return {"x_min": x, "y_min": 50, "x_max": x + 100, "y_max": 150}


def video_packet() -> dict[str, Any]:
    url = "https://storage.example/projects/videos/5/drive.mp4?X-Amz-Signature=def"
    cars = [
        _video_instance(
            9101, "box", 0, 11, **_box(10), attribute_groups={"101": _option(1001, "none")}
        ),
        _video_instance(9102, "box", 1, 11, interpolated=True, **_box(20)),
        _video_instance(9103, "box", 2, 11, **_box(30)),
        _video_instance(9104, "box", 3, 11, interpolated=True, **_box(40)),
        _video_instance(9105, "box", 4, 11, interpolated=True, **_box(50)),
    ]
    walker = [
        _video_instance(9201, "point", 9, 12, points=[{"x": 5, "y": 6}]),
        _video_instance(9202, "point", 10, 12, points=[{"x": 7, "y": 8}]),
        _video_instance(9203, "point", 11, 12, interpolated=True, points=[{"x": 9, "y": 10}]),
        _video_instance(9204, "point", 20, 12, points=[{"x": 11, "y": 12}]),
    ]
    return {
        "file": {
            "id": 502,
            "original_filename": "drive.mp4",
            "blob_url": url,
            "created_time": "2024-02-28 17:06:00",
            "ann_is_complete": False,
            "type": "video",
        },
        "video": {
            "width": 1280,
            "height": 720,
            "frame_rate": 30,
            "frame_count": 300,
            "original_fps": 29.97,
            "fps_conversion_ratio": 1.001,
            "mp4_video_signed_url": url,
            "mp4_video_signed_expiry": 1709800000,
            "offset_in_seconds": 0,
            "global_frame_start": 0,
        },
        "parent_instance_list": [
            {
                "id": 9300,
                "type": "global",
                "attribute_groups": {"107": _option(1071, "sunny")},
                "label_file_id": None,
            }
        ],
        "sequence_list": [
            {
                "id": 301,
                "label_file_id": 11,
                "number": 1,
                "keyframe_list": [0, 2],
                "single_frame": False,
                "instance_list": cars,
            },
            {
                "id": 302,
                "label_file_id": 12,
                "number": 1,
                "keyframe_list": None,
                "single_frame": False,
                "instance_list": walker,
            },
        ],
    }


TEXT = "Ada Lovelace works for Babbage & Co."


def text_packet() -> dict[str, Any]:
    url = "https://storage.example/projects/text/5/memo.txt?X-Amz-Signature=ghi"
    words = ["Ada", "Lovelace", "works", "for", "Babbage", "&", "Co", ".", "\n"]
    ada = TEXT.index("Ada Lovelace")
    babbage = TEXT.index("Babbage & Co")
    return {
        "file": {
            "id": 503,
            "original_filename": "memo.txt",
            "blob_url": url,
            "created_time": "2024-02-29T08:00:00+02:00",
            "ann_is_complete": False,
            "type": "text",
        },
        "text": {
            "original_filename": "memo.txt",
            "signed_expiry": 1709800000,
            "signed_url": url,
            "tokens": {
                "words": [{"value": w, "tag": ""} for w in words],
                "sentences": [{"value": TEXT, "tag": ""}],
            },
        },
        "instance_list": [
            {
                "id": 9401,
                "type": "text_token",
                "attribute_groups": None,
                "label_file_id": 22,
                "start_char": ada,
                "end_char": ada + len("Ada Lovelace"),
                "start_token": 0,
                "end_token": 1,
                "start_sentence": None,
                "end_sentence": None,
                "sentence": None,
            },
            {
                "id": 9402,
                "type": "text_token",
                "attribute_groups": {"104": "vendor"},
                "label_file_id": 21,
                "start_char": babbage,
                "end_char": babbage + len("Babbage & Co"),
                "start_token": 4,
                "end_token": 6,
                "start_sentence": 0,
                "end_sentence": 0,
                "sentence": 0,
            },
            {
                "type": "relation",
                "label_file_id": 23,
                "attribute_groups": None,
                "from_instance_id": 9401,
                "to_instance_id": 9402,
            },
        ],
    }


def export_bytes(
    packets: list[tuple[str, Any]],
    *,
    metadata: dict[str, Any] | None = None,
    early: list[tuple[str, Any]] = (),  # type: ignore[assignment]
) -> bytes:
    """An export document; ``early`` packets are written before the metadata keys."""
    meta = {
        "readme": README,
        "label_map": LABEL_MAP,
        "label_colour_map": LABEL_COLOUR_MAP,
        "export_info": EXPORT_INFO,
        "attribute_groups_reference": ATTRIBUTE_GROUPS,
    }
    if metadata is not None:
        meta.update(metadata)
    parts = [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in [*early, *meta.items(), *packets]]
    return ("{" + ", ".join(parts) + "}").encode()


def run(data: bytes, **kwargs: Any) -> list[Any]:
    return list(convert(io.BytesIO(data), file=FILE, **kwargs))


def only_row(items: list[Any]) -> dict[str, Any]:
    assert [type(i) for i in items] == [ParsedRow], items
    row: dict[str, Any] = items[0].row
    check_row(copy.deepcopy(row))  # every row the converter yields is canonical
    return row


def errors(items: list[Any]) -> list[tuple[int, str, str]]:
    return [(e.line, e.field, e.reason) for e in items if isinstance(e, RecordError)]


# -------------------------------------------------------------------------------------------------
# expected canonical rows


def label_details() -> dict[str, Any]:
    return {
        "created_at": EXPORT_TIME,
        "updated_at": EXPORT_TIME,
        "created_by": "ada@example.com",
        "content_last_updated_at": None,
        "reviews": [],
    }


def cls(owner: str, gid: int, name: str, value: str, kind: str, raw: Any, **answer: Any):
    return {
        "feature_id": derived_id("diffgram-attribute", PSID, owner, str(gid)),
        "feature_schema_id": derived_id("diffgram-attribute-group", PSID, str(gid)),
        "name": name,
        "value": value,
        **answer,
        "diffgram": {"attribute_group_id": gid, "kind": kind, "value": raw},
    }


def ans(owner: str, gid: int, oid: int, name: str) -> dict[str, Any]:
    return {
        "feature_id": derived_id("diffgram-attribute-answer", PSID, owner, str(gid), str(oid)),
        "feature_schema_id": derived_id("diffgram-attribute-option", PSID, str(oid)),
        "name": name,
        "value": name,
        "classifications": [],
    }


def tool(label_file_id: int, name: str) -> dict[str, str]:
    return {
        "feature_schema_id": derived_id("diffgram-label-file", PSID, str(label_file_id)),
        "name": name,
        "value": name,
    }


def instance_fid(iid: int) -> str:
    return derived_id("diffgram-instance", PSID, str(iid))


def test_image_packet_becomes_one_exact_canonical_row():
    row = only_row(run(export_bytes([("501", image_packet())])))
    url = image_packet()["file"]["blob_url"]
    expected_objects = [
        {
            "feature_id": instance_fid(9001),
            **tool(11, "car"),
            "annotation_kind": "ImageBoundingBox",
            "bounding_box": {"top": 200, "left": 100, "height": 150, "width": 300},
            "classifications": [
                cls(
                    "9001",
                    101,
                    "Occluded?",
                    "occlusion",
                    "radio",
                    _option(1002, "partial"),
                    radio_answer=ans("9001", 101, 1002, "partial"),
                ),
                cls(
                    "9001",
                    102,
                    "Colour",
                    "color",
                    "select",
                    _option(1011, "red"),
                    radio_answer=ans("9001", 102, 1011, "red"),
                ),
                cls(
                    "9001",
                    103,
                    "Damage",
                    "damage",
                    "multiple_select",
                    [_option(1021, "scratch"), _option(1022, "dent")],
                    checklist_answers=[
                        ans("9001", 103, 1021, "scratch"),
                        ans("9001", 103, 1022, "dent"),
                    ],
                ),
                cls(
                    "9001",
                    104,
                    "Licence plate",
                    "plate",
                    "text",
                    "KA-01-1234",
                    text_answer={"content": "KA-01-1234"},
                ),
            ],
            "diffgram": {
                "id": 9001,
                "type": "box",
                "label_file_id": 11,
                "attribute_groups": {"105": 7, "106": "2024-02-27"},
            },
        },
        {
            "feature_id": instance_fid(9002),
            **tool(13, "road"),
            "annotation_kind": "ImagePolygon",
            "polygon": [{"x": 0, "y": 1080}, {"x": 960, "y": 500}, {"x": 1920, "y": 1080}],
            "classifications": [],
            "diffgram": {
                "id": 9002,
                "type": "polygon",
                "label_file_id": 13,
                "x_min": 0,
                "y_min": 500,
                "x_max": 1920,
                "y_max": 1080,
            },
        },
        {
            "feature_id": instance_fid(9003),
            **tool(13, "road"),
            "annotation_kind": "ImagePolyline",
            "line": [{"x": 10.5, "y": 20.25}, {"x": 30, "y": 40}],
            "classifications": [],
            "diffgram": {
                "id": 9003,
                "type": "line",
                "label_file_id": 13,
                "x_min": 10,
                "y_min": 20,
                "x_max": 30,
                "y_max": 40,
            },
        },
        {
            "feature_id": instance_fid(9004),
            **tool(12, "person"),
            "annotation_kind": "ImagePoint",
            "point": {"x": 640, "y": 360},
            "classifications": [],
            "diffgram": {"id": 9004, "type": "point", "label_file_id": 12},
        },
    ]
    weather = cls(
        "9005",
        107,
        "Weather",
        "weather",
        "radio",
        _option(1072, "rain"),
        radio_answer=ans("9005", 107, 1072, "rain"),
    )
    weather["diffgram"]["instance_id"] = 9005
    assert row == {
        "data_row": {
            "global_key": f"diffgram:{PSID}:501",
            "external_id": "street.jpg",
            "row_data": url,
            "details": {"dataset_name": "Luckfrill", "created_at": "2024-02-28T17:05:09.654+00:00"},
        },
        "media_type": "IMAGE",
        "media_attributes": {"width": 1920, "height": 1080, "mime_type": "image/jpeg"},
        "projects": {
            PROJECT_ID: {
                "name": "Acme Vision",
                "labels": [
                    {
                        "id": derived_id("diffgram-label", PSID, "501"),
                        "label_kind": "Default",
                        "version": "1.0.0",
                        "label_details": label_details(),
                        "annotations": {
                            "objects": expected_objects,
                            "classifications": [weather],
                            "relationships": [],
                        },
                    }
                ],
                "project_details": {"workflow_status": "DONE"},
            }
        },
    }


def test_video_packet_becomes_tracks_with_segments_and_key_frames():
    row = only_row(run(export_bytes([("502", video_packet())])))
    car = derived_id("diffgram-sequence", PSID, "301")
    walker = derived_id("diffgram-sequence", PSID, "302")

    def frame_obj(seq_fid, seq, iid, frame, label, name, kind, interpolated, **geometry):
        extension = {
            "id": iid,
            "type": "box" if kind == "VideoBoundingBox" else "point",
            "label_file_id": label,
            "global_frame_number": frame,
            "local_sequence_number": 1,
            "number": 1,
            "interpolated": interpolated,
            "sequence": {"id": seq, "number": 1, "single_frame": False},
        }
        classifications = geometry.pop("classifications", [])
        return {
            "feature_id": seq_fid,
            **tool(label, name),
            "annotation_kind": kind,
            **geometry,
            "classifications": classifications,
            "diffgram": extension,
        }

    def box(x):
        return {"top": 50, "left": x, "height": 100, "width": 100}

    occluded = cls(
        "9101",
        101,
        "Occluded?",
        "occlusion",
        "radio",
        _option(1001, "none"),
        radio_answer=ans("9101", 101, 1001, "none"),
    )
    frames = {
        "1": {
            "objects": {
                car: frame_obj(
                    car,
                    301,
                    9101,
                    0,
                    11,
                    "car",
                    "VideoBoundingBox",
                    False,
                    bounding_box=box(10),
                    classifications=[occluded],
                )
            },
            "classifications": [],
        },
        "2": {
            "objects": {
                car: frame_obj(
                    car, 301, 9102, 1, 11, "car", "VideoBoundingBox", True, bounding_box=box(20)
                )
            },
            "classifications": [],
        },
        "3": {
            "objects": {
                car: frame_obj(
                    car, 301, 9103, 2, 11, "car", "VideoBoundingBox", False, bounding_box=box(30)
                )
            },
            "classifications": [],
        },
        "4": {
            "objects": {
                car: frame_obj(
                    car, 301, 9104, 3, 11, "car", "VideoBoundingBox", True, bounding_box=box(40)
                )
            },
            "classifications": [],
        },
        "5": {
            "objects": {
                car: frame_obj(
                    car, 301, 9105, 4, 11, "car", "VideoBoundingBox", True, bounding_box=box(50)
                )
            },
            "classifications": [],
        },
        "10": {
            "objects": {
                walker: frame_obj(
                    walker, 302, 9201, 9, 12, "person", "VideoPoint", False, point={"x": 5, "y": 6}
                )
            },
            "classifications": [],
        },
        "11": {
            "objects": {
                walker: frame_obj(
                    walker, 302, 9202, 10, 12, "person", "VideoPoint", False, point={"x": 7, "y": 8}
                )
            },
            "classifications": [],
        },
        "12": {
            "objects": {
                walker: frame_obj(
                    walker, 302, 9203, 11, 12, "person", "VideoPoint", True, point={"x": 9, "y": 10}
                )
            },
            "classifications": [],
        },
        "21": {
            "objects": {
                walker: frame_obj(
                    walker,
                    302,
                    9204,
                    20,
                    12,
                    "person",
                    "VideoPoint",
                    False,
                    point={"x": 11, "y": 12},
                )
            },
            "classifications": [],
        },
    }
    sunny = cls(
        "9300",
        107,
        "Weather",
        "weather",
        "radio",
        _option(1071, "sunny"),
        radio_answer=ans("9300", 107, 1071, "sunny"),
    )
    sunny["diffgram"]["instance_id"] = 9300
    label = row["projects"][PROJECT_ID]["labels"][0]
    assert label["annotations"] == {
        "frames": frames,
        "segments": {car: [[1, 5]], walker: [[10, 12], [21, 21]]},
        # car: keyframe_list [0, 2] -> frames 1, 3; its segment's far end (5) is not a key frame.
        # walker: no keyframe_list -> the non-interpolated instances; 12 ends a segment.
        "key_frame_feature_map": {
            car: {"1": True, "3": True, "5": False},
            walker: {"10": True, "11": True, "12": False, "21": True},
        },
        "classifications": [sunny],
    }
    assert list(label["annotations"]["frames"]) == ["1", "2", "3", "4", "5", "10", "11", "12", "21"]
    assert {k: v for k, v in label.items() if k != "annotations"} == {
        "id": derived_id("diffgram-label", PSID, "502"),
        "label_kind": "Video",
        "version": "1.0.0",
        "label_details": label_details(),
    }
    assert row["media_type"] == "VIDEO"
    assert row["media_attributes"] == {
        "width": 1280,
        "height": 720,
        "frame_rate": 30,
        "frame_count": 300,
    }
    assert row["data_row"] == {
        "global_key": f"diffgram:{PSID}:502",
        "external_id": "drive.mp4",
        "row_data": video_packet()["file"]["blob_url"],
        "details": {"dataset_name": "Luckfrill", "created_at": "2024-02-28T17:06:00.000+00:00"},
    }
    assert row["projects"][PROJECT_ID]["project_details"] == {"workflow_status": "TO_LABEL"}


def test_text_packet_becomes_entities_and_a_relationship():
    row = only_row(run(export_bytes([("503", text_packet())])))
    ada, babbage = instance_fid(9401), instance_fid(9402)
    start_ada, start_babbage = TEXT.index("Ada"), TEXT.index("Babbage")
    vendor = cls(
        "9402", 104, "Licence plate", "plate", "text", "vendor", text_answer={"content": "vendor"}
    )
    assert row == {
        "data_row": {
            "global_key": f"diffgram:{PSID}:503",
            "external_id": "memo.txt",
            "row_data": text_packet()["file"]["blob_url"],
            # +02:00 normalised to UTC
            "details": {"dataset_name": "Luckfrill", "created_at": "2024-02-29T06:00:00.000+00:00"},
        },
        "media_type": "TEXT",
        "media_attributes": {"mime_type": "text/plain"},
        "projects": {
            PROJECT_ID: {
                "name": "Acme Vision",
                "labels": [
                    {
                        "id": derived_id("diffgram-label", PSID, "503"),
                        "label_kind": "Default",
                        "version": "1.0.0",
                        "label_details": label_details(),
                        "annotations": {
                            "objects": [
                                {
                                    "feature_id": ada,
                                    **tool(22, "PERSON"),
                                    "annotation_kind": "TextEntity",
                                    # end_char is exclusive in Diffgram, inclusive here
                                    "location": {"start": start_ada, "end": start_ada + 11},
                                    "classifications": [],
                                    "diffgram": {
                                        "id": 9401,
                                        "type": "text_token",
                                        "label_file_id": 22,
                                        "start_token": 0,
                                        "end_token": 1,
                                    },
                                },
                                {
                                    "feature_id": babbage,
                                    **tool(21, "ORG"),
                                    "annotation_kind": "TextEntity",
                                    "location": {"start": start_babbage, "end": start_babbage + 11},
                                    "classifications": [vendor],
                                    "diffgram": {
                                        "id": 9402,
                                        "type": "text_token",
                                        "label_file_id": 21,
                                        "start_token": 4,
                                        "end_token": 6,
                                        "start_sentence": 0,
                                        "end_sentence": 0,
                                        "sentence": 0,
                                    },
                                },
                            ],
                            "classifications": [],
                            "relationships": [
                                {
                                    "name": "works_for",
                                    "value": "works_for",
                                    "feature_id": derived_id(
                                        "diffgram-relation", PSID, "503", "9401", "9402", "23"
                                    ),
                                    "feature_schema_id": derived_id(
                                        "diffgram-label-file", PSID, "23"
                                    ),
                                    "annotation_kind": "TextUnidirectionalRelationship",
                                    "relationship": {
                                        "source": ada,
                                        "target": babbage,
                                        "type": "unidirectional",
                                    },
                                    "diffgram": {"type": "relation", "label_file_id": 23},
                                }
                            ],
                        },
                    }
                ],
                "project_details": {"workflow_status": "TO_LABEL"},
            }
        },
    }
    location = row["projects"][PROJECT_ID]["labels"][0]["annotations"]["objects"][0]["location"]
    assert TEXT[location["start"] : location["end"] + 1] == "Ada Lovelace"


def test_a_whole_export_yields_rows_in_packet_order_with_ordinals():
    packets = [("501", image_packet()), ("502", video_packet()), ("503", text_packet())]
    items = run(export_bytes(packets))
    assert [(type(i), i.line) for i in items] == [(ParsedRow, 1), (ParsedRow, 2), (ParsedRow, 3)]
    assert [i.row["data_row"]["global_key"] for i in items] == [
        f"diffgram:{PSID}:501",
        f"diffgram:{PSID}:502",
        f"diffgram:{PSID}:503",
    ]
    for item in items:
        check_row(item.row)
        for lab in item.row["projects"][PROJECT_ID]["labels"]:
            check_annotations(lab["annotations"], "annotations")


def test_ids_are_stable_across_imports_and_dataset_can_be_overridden():
    data = export_bytes([("501", image_packet())])
    first, second = run(data), run(data, dataset="street-scenes")
    assert first[0].row["projects"] == second[0].row["projects"]
    assert second[0].row["data_row"]["details"]["dataset_name"] == "street-scenes"


def test_dataset_name_falls_back_to_the_project_name_without_a_directory():
    info = {**EXPORT_INFO, "directory": None, "source": "job", "user_created_email": None}
    row = only_row(run(export_bytes([("501", image_packet())], metadata={"export_info": info})))
    assert row["data_row"]["details"]["dataset_name"] == "Acme Vision"
    assert row["projects"][PROJECT_ID]["labels"][0]["label_details"]["created_by"] is None


# -------------------------------------------------------------------------------------------------
# errors: one per bad packet, reading goes on


def test_unknown_label_file_id():
    packet = image_packet()
    packet["instance_list"][2]["label_file_id"] = 99
    assert errors(run(export_bytes([("501", packet)]))) == [
        (1, "501.instance_list[2].label_file_id", "label file 99 is not in label_map")
    ]


@pytest.mark.parametrize("itype", ["ellipse", "cuboid", "keypoints", "curve", "tag", "cuboid_3d"])
def test_unsupported_instance_types_are_errors_not_dropped(itype):
    packet = image_packet()
    packet["instance_list"].insert(1, {"id": 9010, "type": itype, "label_file_id": 11})
    assert errors(run(export_bytes([("501", packet)]))) == [
        (1, "501.instance_list[1].type", f"instance type {itype} is not supported yet")
    ]


def test_packet_before_the_metadata_is_an_error_and_later_packets_convert():
    items = run(export_bytes([("501", image_packet())], early=[("600", image_packet())]))
    assert errors(items)[0][:2] == (1, "600")
    assert "before the export metadata" in errors(items)[0][2]
    assert "label_map, export_info, attribute_groups_reference" in errors(items)[0][2]
    assert isinstance(items[1], ParsedRow) and items[1].line == 2


def test_broken_json_is_one_error_after_the_good_packets():
    data = export_bytes([("501", image_packet()), ("502", video_packet())])
    cut = data[: data.index(b'"502"') + 40]
    items = run(cut)
    assert [type(i) for i in items] == [ParsedRow, RecordError]
    assert errors(items) == [(2, "", "not valid JSON (parse error: premature EOF)")]


def test_garbage_is_not_valid_json():
    assert errors(run(b'{"readme": {}, "label_map": tru}')) == [
        (1, "", "not valid JSON (lexical error: invalid string in json text.)")
    ]


@pytest.mark.parametrize("ftype", ["geospatial", "sensor_fusion", "compound"])
def test_unsupported_file_types(ftype):
    packet = {
        "file": {
            "id": 700,
            "created_time": "2024-02-28 17:05:09",
            "ann_is_complete": True,
            "type": ftype,
        },
        "geo_assets": [],
        "instance_list": [],
    }
    assert errors(run(export_bytes([("700", packet)]))) == [
        (1, "700.file.type", f"not supported yet: {ftype}")
    ]


def test_geospatial_packet_is_recognised_without_a_file_type():
    packet = {
        "file": {"id": 700},
        "geo_assets": [{"original_filename": "x.tif"}],
        "instance_list": [],
    }
    assert errors(run(export_bytes([("700", packet)]))) == [
        (1, "700.file.type", "not supported yet: geospatial")
    ]


def test_the_converter_keeps_going_after_errors():
    bad_label = image_packet()
    bad_label["instance_list"][0]["label_file_id"] = 99
    bad_label["file"]["id"] = 601
    geo = {"file": {"id": 700, "type": "geospatial"}, "geo_assets": [], "instance_list": []}
    items = run(
        export_bytes(
            [("601", bad_label), ("501", image_packet()), ("700", geo), ("503", text_packet())]
        )
    )
    assert [(type(i).__name__, i.line) for i in items] == [
        ("RecordError", 1),
        ("ParsedRow", 2),
        ("RecordError", 3),
        ("ParsedRow", 4),
    ]
    assert [e[1] for e in errors(items)] == ["601.instance_list[0].label_file_id", "700.file.type"]


@pytest.mark.parametrize(
    ("mutate", "field", "reason"),
    [
        (
            lambda p: p["instance_list"][0].update(x_max=50),
            "501.instance_list[0].x_max",
            "smaller than x_min (50 < 100)",
        ),
        (
            lambda p: p["instance_list"][0].pop("y_max"),
            "501.instance_list[0].y_max",
            "is required",
        ),
        (
            lambda p: p["instance_list"][1].update(points=[{"x": 1, "y": 2}]),
            "501.instance_list[1].points",
            "a polygon needs at least 3 vertexes",
        ),
        (
            lambda p: p["instance_list"][0]["attribute_groups"].update({"999": "x"}),
            "501.instance_list[0].attribute_groups.999",
            "attribute group 999 is not in attribute_groups_reference",
        ),
        (
            lambda p: p["instance_list"][0]["attribute_groups"].update({"101": _option(5, "gone")}),
            "501.instance_list[0].attribute_groups.101",
            None,  # archived option: the display name the instance carries is used
        ),
        (
            lambda p: p["instance_list"][0]["attribute_groups"].update({"101": {"id": 5}}),
            "501.instance_list[0].attribute_groups.101.id",
            "option 5 is not in attribute group 101's options",
        ),
        (
            lambda p: p["instance_list"][4]["attribute_groups"].update({"105": 3}),
            "501.instance_list[4].attribute_groups.105",
            "attribute group kind slider is not supported yet on file-level (global) attributes",
        ),
        (
            lambda p: p["file"].update(id=777),
            "501.file.id",
            "777 does not match the packet's key 501",
        ),
        (
            lambda p: p["file"].update(blob_url=None) or p["image"].update(image_signed_url=None),
            "501.file.blob_url",
            "no media URL (nor image.image_signed_url)",
        ),
    ],
)
def test_image_packet_problems(mutate, field, reason):
    packet = image_packet()
    mutate(packet)
    found = errors(run(export_bytes([("501", packet)])))
    if reason is None:
        assert found == []
    else:
        assert found == [(1, field, reason)]


def test_null_packet_is_an_error():
    assert errors(run(export_bytes([("800", None)]))) == [
        (
            1,
            "800",
            "the packet is null (Diffgram writes null for file types its exporter cannot build)",
        )
    ]


def test_text_token_without_character_offsets_is_an_error():
    packet = text_packet()
    packet["instance_list"][0].update(start_char=None, end_char=None)  # as Diffgram's UI saves it
    [(line, field, reason)] = errors(run(export_bytes([("503", packet)])))
    assert (line, field) == (1, "503.instance_list[0].start_char")
    assert reason.startswith("a text_token without character offsets")


def test_relation_to_a_missing_instance_is_an_error():
    packet = text_packet()
    packet["instance_list"][2]["to_instance_id"] = 4242
    assert errors(run(export_bytes([("503", packet)]))) == [
        (1, "503.instance_list[2].to_instance_id", "no text_token instance 4242 in this file")
    ]


def test_video_polygon_is_an_error():
    packet = video_packet()
    packet["sequence_list"][0]["instance_list"][2]["type"] = "polygon"
    [(line, field, reason)] = errors(run(export_bytes([("502", packet)])))
    assert (line, field) == (1, "502.sequence_list[0].instance_list[2].type")
    assert reason.startswith("polygon instances in video are not supported yet")


def test_broken_metadata_is_reported_once_and_reading_stops():
    info = {**EXPORT_INFO, "project": [None]}  # Diffgram's `project = None,` tuple bug
    items = run(export_bytes([("501", image_packet())], metadata={"export_info": info}))
    assert errors(items) == [(0, "export_info.project", "expected an object, got list")]
    assert len(items) == 1


@pytest.mark.parametrize("data", [b"[1, 2]", b"{}", b'"text"'])
def test_not_an_export(data):
    [(line, field, reason)] = errors(run(data))
    assert (line, field) == (0, "")
    assert reason.startswith("not a Diffgram export")


# -------------------------------------------------------------------------------------------------
# streaming


def test_a_large_export_is_converted_without_materialising_the_document(tmp_path: Path):
    path = tmp_path / "big_export.json"
    count = 20_000
    with path.open("w") as out:
        out.write("{")
        for key, value in (
            ("readme", README),
            ("label_map", LABEL_MAP),
            ("label_colour_map", LABEL_COLOUR_MAP),
            ("export_info", EXPORT_INFO),
            ("attribute_groups_reference", ATTRIBUTE_GROUPS),
        ):
            out.write(f"{json.dumps(key)}: {json.dumps(value)}, ")
        template = image_packet()
        template["instance_list"] = template["instance_list"][3:4]  # one point
        for n in range(count):
            packet = copy.deepcopy(template)
            packet["file"]["id"] = 10_000 + n
            packet["instance_list"][0]["id"] = 1_000_000 + n
            sep = ", " if n < count - 1 else ""
            out.write(f'"{10_000 + n}": {json.dumps(packet)}{sep}')
        out.write("}")
    size = os.path.getsize(path)
    assert size > 10_000_000

    run(export_bytes([("501", image_packet())]))  # warm up one-time lazy state (mimetypes)
    rows = 0
    tracemalloc.start()
    try:
        with path.open("rb") as stream:
            for item in convert(stream, file=str(path)):
                assert isinstance(item, ParsedRow), item
                rows += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rows == count
    # The document is never held: the peak (about 0.5 MB here, the same for 100 packets as for
    # 20,000) is one packet plus the parser's buffers.
    assert peak < size / 10, f"peak {peak} bytes for a {size}-byte export"


def test_instances_of_older_exports_without_ids_get_position_based_feature_ids():
    packet = image_packet()
    del packet["instance_list"][3]["id"]  # older exporters wrote no instance id
    row = only_row(run(export_bytes([("501", packet)])))
    point = row["projects"][PROJECT_ID]["labels"][0]["annotations"]["objects"][3]
    assert point["feature_id"] == derived_id("diffgram-instance-at", PSID, "501.instance_list[3]")
    assert point["diffgram"] == {"type": "point", "label_file_id": 12}
