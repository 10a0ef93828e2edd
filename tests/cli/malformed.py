"""Malformed files for the line-based importers (labelbox, vertex, rows): each one once crashed
with a traceback, or on PostgreSQL only; each must now be one line-numbered error that stores
nothing. Shared by the CLI and the REST tests."""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson

from labelport.imports.base import MAX_DEPTH, NUL_REASON

DEEP = f"nested deeper than {MAX_DEPTH} levels of objects and arrays"


@dataclass(frozen=True)
class Malformed:
    id: str
    source: str
    file_name: str
    body: bytes
    line: int
    field: str
    reason: str  # a part of the reason
    options: dict[str, str] = field(default_factory=dict)

    def error_line(self, file: str) -> str:
        """How the CLI lists it (FILE:LINE: FIELD: REASON...)."""
        where = f"{file}:{self.line}" if self.line else file
        return f"{where}: {self.field}: {self.reason}" if self.field else f"{where}: {self.reason}"


def row(n: int, **extra: object) -> bytes:
    data_row = {"global_key": f"mal-{n}", "row_data": f"https://media.test/mal/{n}.jpg"}
    return orjson.dumps({"data_row": data_row, **extra}) + b"\n"


def nested(depth: int) -> bytes:
    return b'{"a": ' * depth + b"1" + b"}" * depth


GOOD = row(0)
VERTEX = {"dataset": "flowers", "objective": "image_classification_single_label"}

V1_ROWS = [
    {
        "ID": f"ckl{n:022d}",
        "DataRow ID": f"ckd{n:022d}",
        "Labeled Data": f"https://storage.test/{n}.jpg",
        "Label": {"objects": [{"title": "cat", "value": "cat", "bbox": {"top": 1, "left": 2}}]},
        "External ID": f"{n}.jpg",
        "Created By": "ann@acme.test",
        "Project Name": "cats",
    }
    for n in range(3)
]

CASES = [
    Malformed(
        "labelbox nested 300 deep",
        "labelbox",
        "deep.ndjson",
        GOOD + row(1)[:-2] + b', "media_attributes": ' + nested(300) + b"}\n",
        2,
        "media_attributes.a.a.a.a.a.a.a…",
        DEEP,
    ),
    Malformed(
        "labelbox nested 2000 deep",
        "labelbox",
        "deeper.ndjson",
        row(1)[:-2] + b', "media_attributes": ' + nested(2000) + b"}\n" + GOOD,
        1,
        "",
        DEEP,
    ),
    Malformed(
        "labelbox escaped NUL",
        "labelbox",
        "nul.ndjson",
        GOOD + b'{"data_row": {"global_key": "a\\u0000b", "row_data": "https://m.test/x.jpg"}}\n',
        2,
        "data_row.global_key",
        NUL_REASON,
    ),
    Malformed(
        "labelbox raw NUL",
        "labelbox",
        "raw-nul.ndjson",
        b'{"data_row": {"external_id": "a\x00b", "row_data": "https://m.test/x.jpg"}}\n',
        1,
        "data_row.external_id",
        NUL_REASON,
    ),
    Malformed(
        "labelbox integer beyond 64 bits",
        "labelbox",
        "big.ndjson",
        GOOD
        + row(1)[:-2]
        + b', "metadata_fields": [{"schema_name": "n", "value": 99999999999999999999999}]}\n',
        2,
        "metadata_fields[0].value",
        "the integer 99999999999999999999999 is beyond 64 bits",
    ),
    Malformed(
        "vertex escaped NUL",
        "vertex",
        "flowers.jsonl",
        b'{"imageGcsUri": "gs://b/1\\u0000.jpg", '
        b'"classificationAnnotation": {"displayName": "rose"}}\n',
        1,
        "imageGcsUri",
        NUL_REASON,
        VERTEX,
    ),
    Malformed(
        "vertex raw NUL",
        "vertex",
        "flowers.jsonl",
        b'{"imageGcsUri": "gs://b/2.jpg", '
        b'"classificationAnnotation": {"displayName": "ro\x00se"}}\n',
        1,
        "classificationAnnotation.displayName",
        NUL_REASON,
        VERTEX,
    ),
    Malformed(
        "rows jsonl escaped NUL",
        "rows",
        "plain.jsonl",
        b'{"row_data": "https://m.test/1.jpg"}\n{"row_data": "https://m.test/\\u0000.jpg"}\n',
        2,
        "row_data",
        NUL_REASON,
        {"dataset": "plain"},
    ),
    Malformed(
        "rows csv raw NUL",
        "rows",
        "plain.csv",
        b"row_data,external_id\nhttps://m.test/1.jpg,one\nhttps://m.test/2.jpg,t\x00wo\n",
        3,
        "external_id",
        NUL_REASON,
        {"dataset": "plain"},
    ),
    Malformed(
        "rows csv NUL in a JSON cell",
        "rows",
        "plain.csv",
        b'row_data,metadata\nhttps://m.test/1.jpg,"{""tag"": ""\\u0000""}"\n',
        2,
        "metadata.tag",
        NUL_REASON,
        {"dataset": "plain"},
    ),
    Malformed(
        "labelbox empty",
        "labelbox",
        "empty.ndjson",
        b"\n  \n",
        0,
        "",
        "the file is empty",
        {"dataset": "never"},
    ),
    Malformed(
        "rows csv header only",
        "rows",
        "header.csv",
        b"row_data,global_key\n",
        0,
        "",
        "the file has a header but no rows",
        {"dataset": "plain"},
    ),
]
