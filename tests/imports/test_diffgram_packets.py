"""Diffgram file packets -> canonical rows (:mod:`labelport.imports.diffgram_packets`): exact
rows of an image, a video and a text packet; file types and packets that are errors."""

from __future__ import annotations

import pytest

from labelport.ids import derived_id
from tests.imports.diffgram_samples import (
    PROJECT_ID,
    PSID,
    TEXT,
    ans,
    chosen_option,
    cls,
    errors,
    export_bytes,
    image_packet,
    instance_fid,
    label_details,
    only_row,
    run,
    text_packet,
    tool,
    video_packet,
)


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
                    chosen_option(1002, "partial"),
                    radio_answer=ans("9001", 101, 1002, "partial"),
                ),
                cls(
                    "9001",
                    102,
                    "Colour",
                    "color",
                    "select",
                    chosen_option(1011, "red"),
                    radio_answer=ans("9001", 102, 1011, "red"),
                ),
                cls(
                    "9001",
                    103,
                    "Damage",
                    "damage",
                    "multiple_select",
                    [chosen_option(1021, "scratch"), chosen_option(1022, "dent")],
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
        chosen_option(1072, "rain"),
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
        chosen_option(1001, "none"),
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
        chosen_option(1071, "sunny"),
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


# -------------------------------------------------------------------------------------------------
# errors: one per bad packet, reading goes on


@pytest.mark.parametrize("itype", ["ellipse", "cuboid", "keypoints", "curve", "tag", "cuboid_3d"])
def test_unsupported_instance_types_are_errors_not_dropped(itype):
    packet = image_packet()
    packet["instance_list"].insert(1, {"id": 9010, "type": itype, "label_file_id": 11})
    assert errors(run(export_bytes([("501", packet)]))) == [
        (1, "501.instance_list[1].type", f"instance type {itype} is not supported yet")
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


@pytest.mark.parametrize(
    ("mutate", "field", "reason"),
    [
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
