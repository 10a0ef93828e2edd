"""Diffgram attributes -> canonical classifications (:mod:`labelport.imports.diffgram_attributes`):
groups and options that are not in the reference, kinds file-level attributes cannot hold."""

from __future__ import annotations

import pytest

from tests.imports.diffgram_samples import (
    chosen_option,
    errors,
    export_bytes,
    image_packet,
    run,
)


@pytest.mark.parametrize(
    ("mutate", "field", "reason"),
    [
        (
            lambda p: p["instance_list"][0]["attribute_groups"].update({"999": "x"}),
            "501.instance_list[0].attribute_groups.999",
            "attribute group 999 is not in attribute_groups_reference",
        ),
        (
            lambda p: p["instance_list"][0]["attribute_groups"].update(
                {"101": chosen_option(5, "gone")}
            ),
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
    ],
)
def test_attribute_problems(mutate, field, reason):
    packet = image_packet()
    mutate(packet)
    found = errors(run(export_bytes([("501", packet)])))
    if reason is None:
        assert found == []
    else:
        assert found == [(1, field, reason)]
