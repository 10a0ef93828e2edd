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
from labelport.imports.base import (
    JSON,
    NUL_REASON,
    Item,
    ParsedRow,
    Problem,
    check_json,
    iter_json_lines,
    max_line,
    read_lines,
    too_long,
)

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


def convert_jsonl(
    stream: IO[bytes], *, file: str, max_line_bytes: int | None = None
) -> Iterator[Item]:
    for item in iter_json_lines(stream, file, max_line_bytes=max_line_bytes):
        if isinstance(item, RecordError):
            yield item
            continue
        line, record = item
        try:
            yield ParsedRow(line, to_canonical(record), shaped=False)
        except Problem as problem:
            yield RecordError(file, line, problem.field, problem.reason)


class _TextLines:
    """The physical lines of a UTF-8 file as text for :mod:`csv`, each read with a bounded
    readline. A line that is too long or not UTF-8 becomes a blank line and a problem the
    converter reports under its number."""

    def __init__(self, stream: IO[bytes], file: str, limit: int) -> None:
        self.lines = read_lines(stream, limit)
        self.file = file
        self.limit = limit
        self.problems: list[RecordError] = []

    def __iter__(self) -> Iterator[str]:
        for number, raw in self.lines:
            if raw is None:
                self.problems.append(RecordError(self.file, number, "", too_long(self.limit)))
                yield "\n"
                continue
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                reason = f"not UTF-8 text ({exc.reason} at byte {exc.start})"
                self.problems.append(RecordError(self.file, number, "", reason))
                yield "\n"

    def take_problems(self) -> list[RecordError]:
        taken, self.problems = self.problems, []
        return taken


def convert_csv(
    stream: IO[bytes], *, file: str, max_line_bytes: int | None = None
) -> Iterator[Item]:
    """CSV (UTF-8, a byte order mark allowed) with a header line → canonical rows.

    A field may be as long as a line may be (``max_line_bytes``, at least csv's default of
    131,072 characters): :func:`csv.field_size_limit` is raised to it, for the whole process
    (the csv module has no other way to set it).
    """
    limit = max_line(max_line_bytes)
    csv.field_size_limit(max(limit, _CSV_FIELD_DEFAULT))
    text = _TextLines(stream, file, limit)
    reader = csv.reader(text)
    header: list[str] | None = None
    rows = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # e.g. a quoted field longer than the limit
            yield from text.take_problems()
            reason = f"not valid CSV ({exc})"
            if "field limit" in str(exc):
                reason = (
                    f"a field is longer than {csv.field_size_limit():,} characters "
                    "(the line limit, LABELPORT_MAX_LINE_BYTES; a quoted field left open?)"
                )
            yield RecordError(file, reader.line_num, "", reason)
            return
        problems = text.take_problems()
        yield from problems
        if header is None and problems:
            return  # no header to read the rows by
        rows += len(problems)  # a line too long or not UTF-8 is a (bad) row
        if not any(c.strip() for c in cells):
            continue
        line = reader.line_num
        if header is None:
            header = [h.strip() for h in cells]
            refusal = _check_header(file, line, header)
            if refusal is not None:
                yield refusal
                return
            continue
        rows += 1
        if len(cells) != len(header):
            yield RecordError(file, line, "", f"{len(cells)} cells, the header has {len(header)}")
            continue
        try:
            yield ParsedRow(line, to_canonical(_csv_record(header, cells)), shaped=False)
        except Problem as problem:
            yield RecordError(file, line, problem.field, problem.reason)
    yield from text.take_problems()
    if header is None:
        yield RecordError(file, 0, "", "the file is empty: it holds no header and no rows")
    elif not rows:
        yield RecordError(file, 0, "", "the file has a header but no rows to import")


_CSV_FIELD_DEFAULT = 131_072  # csv's own default limit


def _check_header(file: str, line: int, header: list[str]) -> RecordError | None:
    bad = [h for h in header if h not in FIELDS and not h.startswith("metadata.")]
    if bad:
        return RecordError(
            file, line, bad[0], f"unknown column (allowed: {', '.join(FIELDS)}, metadata.<name>)"
        )
    if "row_data" not in header:
        return RecordError(file, line, "row_data", "the header has no row_data column")
    return None


def _csv_record(header: list[str], cells: list[str]) -> JSON:
    record: JSON = {}
    metadata: dict[str, Any] = {}
    for name, cell in zip(header, cells, strict=True):
        if "\x00" in cell:
            raise Problem(name, NUL_REASON)
        if name.startswith("metadata."):
            if cell != "":
                metadata[name.removeprefix("metadata.")] = cell
        elif name in ("metadata", "attachments"):
            if cell.strip():
                raw = cell.encode()
                try:
                    value = orjson.loads(raw)
                except orjson.JSONDecodeError as exc:
                    raise Problem(name, f"not valid JSON ({exc})") from None
                problem = check_json(raw, value, prefix=name)
                if problem is not None:
                    raise problem
                record[name] = value
        else:
            record[name] = cell
    if metadata:
        base = record.get("metadata") or {}
        if not isinstance(base, dict):
            raise Problem("metadata", "cannot combine a metadata list with metadata.<name> columns")
        record["metadata"] = {**base, **metadata}
    return record
