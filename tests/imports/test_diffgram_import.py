"""Diffgram exports through the import service and the CLI into both stores."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa

from labelport import services
from labelport.errors import InvalidRecords
from labelport.export.assemble import assemble
from labelport.store import schema as s
from tests.imports.diffgram_samples import export_bytes, image_packet, text_packet, video_packet


def test_diffgram_export_becomes_a_dataset_and_a_project(store, org):
    data = export_bytes([("501", image_packet()), ("502", video_packet()), ("503", text_packet())])
    result = services.import_diffgram(
        store, org.id, io.BytesIO(data), file="d.json", dataset="street"
    )
    assert (result.rows, result.labels) == (3, 3)
    services.import_diffgram(store, org.id, io.BytesIO(data), file="d.json", dataset="street")
    counts = services.stats(store, org.id)
    assert (counts["data rows"], counts["labels"], counts["projects"], counts["datasets"]) == (
        3,
        3,
        1,
        1,
    )
    with store.read() as conn:
        kinds = dict(conn.execute(sa.select(s.data_row.c.id, s.data_row.c.media_type)).all())
        rows = assemble(conn, org.id, list(kinds))
    assert sorted(kinds.values()) == ["IMAGE", "TEXT", "VIDEO"]
    video = next(r for r in rows if kinds[r["data_row"]["id"]] == "VIDEO")
    [project] = video["projects"].values()
    assert project["labels"][0]["label_kind"] == "Video"
    assert project["labels"][0]["annotations"]["segments"]


def test_bad_diffgram_packet_leaves_no_trace(store, org):
    bad = image_packet()
    bad["instance_list"][0]["label_file_id"] = 999999
    with pytest.raises(InvalidRecords) as info:
        services.import_diffgram(
            store,
            org.id,
            io.BytesIO(export_bytes([("502", video_packet()), ("501", bad)])),
            file="d.json",
        )
    assert info.value.errors[0].line == 2
    assert "label_file_id" in info.value.errors[0].field
    assert services.stats(store, org.id)["data rows"] == 0
