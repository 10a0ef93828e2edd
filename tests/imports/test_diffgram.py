"""The Diffgram export converter (:mod:`labelport.imports.diffgram`): the document read as a
stream, one item per packet, errors that do not stop the reading."""

from __future__ import annotations

import copy
import json
import os
import tracemalloc
from pathlib import Path

import pytest

from labelport.errors import RecordError
from labelport.imports.base import ParsedRow
from labelport.imports.canonical import check_annotations, check_row
from labelport.imports.diffgram import convert
from tests.imports.diffgram_samples import (
    ATTRIBUTE_GROUPS,
    EXPORT_INFO,
    LABEL_COLOUR_MAP,
    LABEL_MAP,
    PROJECT_ID,
    PSID,
    README,
    errors,
    export_bytes,
    image_packet,
    run,
    text_packet,
    video_packet,
)


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
