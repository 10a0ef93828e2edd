"""Plain data-row lists (JSONL or CSV) → canonical rows. Pure.

Fields: ``row_data`` (required), ``global_key``, ``external_id``, ``media_type``, ``metadata`` and
``attachments``. ``metadata`` is an object ``{field name: value}`` (or a list of
``{"schema_name"|"schema_id", "value"}``); ``attachments`` is a list of
``{"type", "value", "name"}``.
In CSV, ``metadata`` and ``attachments`` cells hold JSON, and a column ``metadata.<name>`` sets one
string metadata field (CSV has no types; use the JSON ``metadata`` cell or JSONL for numbers).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import IO, Any

import orjson

from labelport.errors import RecordError
from labelport.imports.base import JSON, Item, ParsedRow, Problem, iter_json_lines

FIELDS = ("row_data", "global_key", "external_id", "media_type", "metadata", "attachments")


def to_canonical(record: JSON) -> JSON:
    """One plain record → one canonical row; Problem on unknown or ill-typed fields."""
    unknown = [k for k in record if k not in FIELDS]
    if unknown:
        raise Problem(unknown[0], f"unknown field (allowed: {', '.join(FIELDS)})")
    row_data = record.get("row_data")
    if not isinstance(row_data, str) or not row_data:
        raise Problem("row_data", "is required (a URL or the inline content)")
    data_row: JSON = {"row_data": row_data}
    for key in ("global_key", "external_id"):
        value = record.get(key)
        if value not in (None, ""):
            if not isinstance(value, str):
                raise Problem(key, f"expected a string, got {type(value).__name__}")
            data_row[key] = value
    row: JSON = {"data_row": data_row}
    if record.get("media_type") not in (None, ""):
        row["media_type"] = record["media_type"]
    metadata = record.get("metadata")
    if metadata not in (None, ""):
        if isinstance(metadata, dict):
            row["metadata_fields"] = [{"schema_name": k, "value": v} for k, v in metadata.items()]
        elif isinstance(metadata, list):
            row["metadata_fields"] = metadata
        else:
            raise Problem("metadata", "expected an object {name: value} or a list")
    attachments = record.get("attachments")
    if attachments not in (None, ""):
        if not isinstance(attachments, list):
            raise Problem("attachments", "expected a list of {type, value, name}")
        row["attachments"] = attachments
    return row


def convert_jsonl(stream: IO[bytes], *, file: str) -> Iterator[Item]:
    for item in iter_json_lines(stream, file):
        if isinstance(item, RecordError):
            yield item
            continue
        line, record = item
        try:
            yield ParsedRow(line, to_canonical(record))
        except Problem as problem:
            yield RecordError(file, line, problem.field, problem.reason)


def convert_csv(stream: IO[str], *, file: str) -> Iterator[Item]:
    reader = csv.reader(stream)
    header = next(reader, None)
    if header is None:
        return
    header = [h.strip() for h in header]
    bad = [h for h in header if h not in FIELDS and not h.startswith("metadata.")]
    if bad:
        yield RecordError(
            file, 1, bad[0], f"unknown column (allowed: {', '.join(FIELDS)}, metadata.<name>)"
        )
        return
    if "row_data" not in header:
        yield RecordError(file, 1, "row_data", "the header has no row_data column")
        return
    for cells in reader:
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            yield RecordError(file, line, "", f"{len(cells)} cells, the header has {len(header)}")
            continue
        try:
            yield ParsedRow(line, to_canonical(_csv_record(header, cells)))
        except Problem as problem:
            yield RecordError(file, line, problem.field, problem.reason)


def _csv_record(header: list[str], cells: list[str]) -> JSON:
    record: JSON = {}
    metadata: dict[str, Any] = {}
    for name, cell in zip(header, cells, strict=True):
        if name.startswith("metadata."):
            if cell != "":
                metadata[name.removeprefix("metadata.")] = cell
        elif name in ("metadata", "attachments"):
            if cell.strip():
                try:
                    record[name] = orjson.loads(cell)
                except orjson.JSONDecodeError as exc:
                    raise Problem(name, f"not valid JSON ({exc})") from None
        else:
            record[name] = cell
    if metadata:
        base = record.get("metadata") or {}
        if not isinstance(base, dict):
            raise Problem("metadata", "cannot combine a metadata list with metadata.<name> columns")
        record["metadata"] = {**base, **metadata}
    return record
