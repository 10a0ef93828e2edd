"""Plain data-row lists, JSONL and CSV, through the service on both stores."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa

from labelport import services
from labelport.errors import InvalidRecords
from labelport.export.assemble import assemble
from labelport.imports.base import NUL_REASON
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
    # a plain record is no export to give back: labelport made these rows, so they export in
    # its own full shape (details with the dataset given, the empty sections, and so on)
    assert [r["data_row"]["details"]["dataset_name"] for r in back] == ["plain", "plain"]
    assert all(r["data_row"]["details"]["created_at"] for r in back)
    assert back[0]["attachments"] == [] and back[1]["embeddings"] == []
    assert back[0]["projects"] == {} and back[0]["experiments"] == {}


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
        (b"row_data,global_key\nx,a\x00b\n", "r.csv", 2, "global_key", NUL_REASON),
        (b"row_data,metadata.camera\nx,\x00\n", "r.csv", 2, "metadata.camera", NUL_REASON),
        (
            b'row_data,metadata\nx,"{""tag"": [""\\u0000""]}"\n',
            "r.csv",
            2,
            "metadata.tag[0]",
            NUL_REASON,
        ),
        (
            b'row_data,attachments\nx,"[' + b"[" * 200 + b"]" * 200 + b']"\n',
            "r.csv",
            2,
            "attachments[0][0][0][0][0][0][0]…",
            "nested deeper than 128 levels",
        ),
        (
            b'row_data,metadata\nx,"{""n"": 99999999999999999999}"\n',
            "r.csv",
            2,
            "metadata.n",
            "beyond 64 bits",
        ),
        (b"row_data\nhttps://x/\xff.jpg\n", "r.csv", 2, "", "not UTF-8 text"),
        (b"row_data\n", "r.csv", 0, "", "a header but no rows"),
        (b"", "r.csv", 0, "", "the file is empty"),
        (b"\n\n", "r.csv", 0, "", "the file is empty"),
        (b"", "r.jsonl", 0, "", "the file is empty"),
        (b'{"row_data": "x", "global_key": "\\u0000"}\n', "r.jsonl", 1, "global_key", NUL_REASON),
        (b'[{"row_data": "x"}]\n', "r.jsonl", 1, "", "a JSON array, not JSON Lines"),
    ],
)
def test_bad_input(store, org, text, file, line, field, reason):
    with pytest.raises(InvalidRecords) as info:
        services.import_rows(store, org.id, io.BytesIO(text), file=file, dataset="plain")
    error = info.value.errors[0]
    assert (error.file, error.line, error.field) == (file, line, field)
    assert reason in error.reason
    assert services.stats(store, org.id)["data rows"] == 0


def test_an_unknown_media_type_is_kept_with_a_warning_and_refused_when_strict(store, org):
    text = b'{"row_data": "x", "media_type": "SMELL"}\n'
    result = services.import_rows(store, org.id, io.BytesIO(text), file="r.jsonl", dataset="d")
    [warning] = result.warnings
    assert (warning.field, warning.count, warning.lines) == ("media_type", 1, [1])
    assert "SMELL" in warning.reason
    with pytest.raises(InvalidRecords) as info:
        services.import_rows(
            store, org.id, io.BytesIO(text), file="s.jsonl", dataset="other", strict=True
        )
    [error] = info.value.errors
    assert (error.line, error.field) == (1, "media_type") and "(--strict)" in error.reason
    assert services.stats(store, org.id)["datasets"] == 1  # the strict import left nothing


def test_csv_with_a_byte_order_mark_and_crlf_lines(store, org):
    text = b"\xef\xbb\xbfrow_data,global_key\r\nhttps://x/1.jpg,k1\r\nhttps://x/2.jpg,k2\r\n"
    result = services.import_rows(store, org.id, io.BytesIO(text), file="r.csv", dataset="plain")
    assert result.rows == 2
    assert [r["data_row"]["global_key"] for r in rows_of(store, org)] == ["k1", "k2"]


def test_a_csv_field_longer_than_csvs_own_limit_is_kept_whole(store, org):
    long = "y" * 200_000  # over csv's default field_size_limit of 131,072 characters
    text = f'row_data,global_key,media_type\n"{long}",k,TEXT\n'.encode()
    result = services.import_rows(store, org.id, io.BytesIO(text), file="r.csv", dataset="plain")
    assert result.rows == 1
    assert rows_of(store, org)[0]["data_row"]["row_data"] == long


def test_csv_lines_and_fields_beyond_the_line_limit_are_errors_by_line(store, org):
    long_line = b"row_data,global_key\nhttps://x/1.jpg,a\nhttps://x/2.jpg," + b"z" * 300 + b"\n"
    with pytest.raises(InvalidRecords) as info:
        services.import_rows(
            store, org.id, io.BytesIO(long_line), file="r.csv", dataset="d", max_line_bytes=200
        )
    assert [(e.line, e.field) for e in info.value.errors] == [(3, "")]
    assert "longer than the limit of 200 bytes" in info.value.errors[0].reason
    # a quoted field that never ends grows over many short lines until the field limit
    open_quote = b'row_data,global_key\nhttps://x/1.jpg,"' + b"line\n" * 40_000
    with pytest.raises(InvalidRecords) as info:
        services.import_rows(
            store, org.id, io.BytesIO(open_quote), file="q.csv", dataset="d", max_line_bytes=200
        )
    [error] = info.value.errors
    assert error.line > 2 and "a field is longer than 131,072 characters" in error.reason
    assert services.stats(store, org.id)["data rows"] == 0
