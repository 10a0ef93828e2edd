"""Diffgram instances -> canonical objects (:mod:`labelport.imports.diffgram_instances`): labels,
geometry, text offsets, feature ids of instances without an id."""

from __future__ import annotations

import pytest

from labelport.ids import derived_id
from tests.imports.diffgram_samples import (
    PROJECT_ID,
    PSID,
    errors,
    export_bytes,
    image_packet,
    only_row,
    run,
    text_packet,
)


def test_unknown_label_file_id():
    packet = image_packet()
    packet["instance_list"][2]["label_file_id"] = 99
    assert errors(run(export_bytes([("501", packet)]))) == [
        (1, "501.instance_list[2].label_file_id", "label file 99 is not in label_map")
    ]


def test_text_token_without_character_offsets_is_an_error():
    packet = text_packet()
    packet["instance_list"][0].update(start_char=None, end_char=None)  # as Diffgram's UI saves it
    [(line, field, reason)] = errors(run(export_bytes([("503", packet)])))
    assert (line, field) == (1, "503.instance_list[0].start_char")
    assert reason.startswith("a text_token without character offsets")


def test_instances_of_older_exports_without_ids_get_position_based_feature_ids():
    packet = image_packet()
    del packet["instance_list"][3]["id"]  # older exporters wrote no instance id
    row = only_row(run(export_bytes([("501", packet)])))
    point = row["projects"][PROJECT_ID]["labels"][0]["annotations"]["objects"][3]
    assert point["feature_id"] == derived_id("diffgram-instance-at", PSID, "501.instance_list[3]")
    assert point["diffgram"] == {"type": "point", "label_file_id": 12}


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
    ],
)
def test_instance_problems(mutate, field, reason):
    packet = image_packet()
    mutate(packet)
    found = errors(run(export_bytes([("501", packet)])))
    if reason is None:
        assert found == []
    else:
        assert found == [(1, field, reason)]
