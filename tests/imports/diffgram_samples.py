"""Diffgram exports as Diffgram's exporter writes them, and the canonical rows they become.

Shared by the tests of the Diffgram converter (``tests/imports/test_diffgram*.py``), of the
Diffgram writer (``tests/export/formats/test_diffgram.py``) and of the Diffgram surface.
"""

from __future__ import annotations

import copy
import io
import json
from typing import Any

from labelport.errors import RecordError
from labelport.ids import derived_id
from labelport.imports.base import ParsedRow
from labelport.imports.canonical import check_row
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


def chosen_option(oid: int, name: str) -> dict[str, Any]:
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
                    "101": chosen_option(1002, "partial"),
                    "102": chosen_option(1011, "red"),
                    "103": [chosen_option(1021, "scratch"), chosen_option(1022, "dent")],
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
                "attribute_groups": {"107": chosen_option(1072, "rain")},
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
            9101, "box", 0, 11, **_box(10), attribute_groups={"101": chosen_option(1001, "none")}
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
                "attribute_groups": {"107": chosen_option(1071, "sunny")},
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
