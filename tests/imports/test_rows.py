"""Plain data-row lists, JSONL and CSV, through the service on both stores."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa

from labelport import services
from labelport.errors import InvalidRecords
from labelport.export.assemble import assemble
from labelport.store import schema as s


def rows_of(store, org):
    with store.read() as conn:
        ids = list(
            conn.execute(sa.select(s.data_row.c.id).order_by(s.data_row.c.global_key)).scalars()
        )
        return assemble(conn, org.id, ids)


def test_jsonl(store, org):
    text = (
        b'{"row_data": "https://x/1.jpg", "global_key": "k1", "metadata": {"tag": "a", "n": 2}}\n'
        b'{"row_data": "hello world", "global_key": "k2", "media_type": "TEXT",'
        b' "attachments": [{"type": "RAW_TEXT", "value": "note"}]}\n'
    )
    result = services.import_rows(store, org.id, io.BytesIO(text), file="r.jsonl", dataset="plain")
    assert result.rows == 2
    services.import_rows(store, org.id, io.BytesIO(text), file="r.jsonl", dataset="plain")
    back = rows_of(store, org)
    assert [r["data_row"]["global_key"] for r in back] == ["k1", "k2"]
    assert [(m["schema_name"], m["value"]) for m in back[0]["metadata_fields"]] == [
        ("tag", "a"),
        ("n", 2),
    ]
    assert back[1]["attachments"] == [{"type": "RAW_TEXT", "value": "note"}]
    assert back[0]["data_row"]["details"]["dataset_name"] == "plain"


def test_rows_without_keys_are_idempotent(store, org):
    text = (
        b'{"row_data": "https://x/1.jpg"}\n{"row_data": "https://x/2.jpg", "external_id": "two"}\n'
    )
    for _ in range(2):
        services.import_rows(store, org.id, io.BytesIO(text), file="r.jsonl", dataset="plain")
    assert services.stats(store, org.id)["data rows"] == 2


def test_csv(store, org):
    text = (
        "row_data,global_key,external_id,metadata.camera,attachments\n"
        "https://x/1.jpg,k1,one,front,\n"
        'https://x/2.jpg,k2,,rear,"[{""type"": ""TEXT_URL"", ""value"": ""https://x/n.txt""}]"\n'
    )
    result = services.import_rows(
        store, org.id, io.BytesIO(text.encode()), file="r.csv", dataset="plain"
    )
    assert result.rows == 2
    back = rows_of(store, org)
    assert back[0]["data_row"]["external_id"] == "one"
    assert "external_id" not in back[1]["data_row"]
    assert back[1]["metadata_fields"][0]["value"] == "rear"
    assert back[1]["attachments"][0]["type"] == "TEXT_URL"


@pytest.mark.parametrize(
    ("text", "file", "line", "field", "reason"),
    [
        (b'{"row_data": "x", "colour": 1}\n', "r.jsonl", 1, "colour", "unknown field"),
        (b'{"global_key": "k"}\n', "r.jsonl", 1, "row_data", "is required"),
        (
            b'{"row_data": "x"}\n{"row_data": "y", "metadata": 5}\n',
            "r.jsonl",
            2,
            "metadata",
            "expected an object",
        ),
        (b"row_data,colour\nx,1\n", "r.csv", 1, "colour", "unknown column"),
        (b"global_key\nk\n", "r.csv", 1, "row_data", "no row_data column"),
        (b"row_data,global_key\nx,k,extra\n", "r.csv", 2, "", "3 cells, the header has 2"),
        (b'row_data,metadata\nx,"{bad"\n', "r.csv", 2, "metadata", "not valid JSON"),
        (
            b'{"row_data": "x", "media_type": "SMELL"}\n',
            "r.jsonl",
            1,
            "media_type",
            "is not one of",
        ),
    ],
)
def test_bad_input(store, org, text, file, line, field, reason):
    with pytest.raises(InvalidRecords) as info:
        services.import_rows(store, org.id, io.BytesIO(text), file=file, dataset="plain")
    error = info.value.errors[0]
    assert (error.file, error.line, error.field) == (file, line, field)
    assert reason in error.reason
    assert services.stats(store, org.id)["data rows"] == 0
