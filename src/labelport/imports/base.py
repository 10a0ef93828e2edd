"""What every importer shares: reading lines, the items converters yield, small validators.

A *converter* is a pure generator over the lines of a source file. It yields

* :class:`ParsedRow` — one canonical row (see ``docs/row-format.md``) with its source line,
* :class:`~labelport.errors.RecordError` — one problem with one record (the converter goes on),
* :class:`AnnotationSetSpec` — an annotation set the rows' labels belong to (Vertex),
* :class:`SourceWarning` — something kept verbatim that labelport does not know (an unknown
  field or enum value); the import goes on and its summary lists it (``--strict``: an error).

The loader (:mod:`labelport.imports.load`) turns those into one all-or-nothing transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import IO, Any

import orjson

from labelport.errors import RecordError
from labelport.settings import MAX_LINE_BYTES_DEFAULT

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ParsedRow:
    line: int
    row: JSON
    # False: the converter made the row up from a plain record (``import rows``), so labelport
    # exports it in its own full shape, like a row made through REST or the web; no source shape.
    shaped: bool = True


@dataclass(frozen=True, slots=True)
class AnnotationSetSpec:
    """An annotation set (Vertex) whose labels live in project ``project_id``."""

    id: str
    display_name: str
    objective: str
    project_id: str
    settings: JSON = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SourceWarning:
    """A field or value kept verbatim that labelport does not know. ``field`` is the path with
    ids and list positions generalized (``projects.*.labels[].label_details.color``) so that
    the summary can count alike warnings together."""

    line: int
    field: str
    reason: str


@dataclass(frozen=True, slots=True)
class AliasSpec:
    """Another system's id for a labelport entity (a Diffgram project, job or file id), kept so
    that the other system's clients find the entity by the id they know. ``kind`` names what
    it is (``diffgram_project``...); written by :mod:`labelport.imports.aliases`."""

    line: int
    kind: str
    alias: str
    target_id: str


Item = ParsedRow | RecordError | AnnotationSetSpec | SourceWarning | AliasSpec


class Problem(Exception):
    """Raised inside converters to report one record problem; turned into a RecordError."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


# ------------------------------------------------------------------------------------ reading
#
# Every line-based reader (Labelbox and plain-row JSON Lines, Vertex JSONL, CSV) reads through
# read_lines: one physical line at a time with a bounded readline, so memory never grows with the
# length of a line beyond the configured limit (LABELPORT_MAX_LINE_BYTES). A longer line is an
# error naming it, and its rest is skipped in chunks without being held.

DEFAULT_MAX_LINE_BYTES = MAX_LINE_BYTES_DEFAULT
MAX_DEPTH = 128  # objects and arrays within each other; orjson writes at most 255
NUL_REASON = "contains a NUL character (\\u0000), which the catalog cannot store"
BOM = b"\xef\xbb\xbf"
SKIP_CHUNK = 1024 * 1024
INT_RANGE = (-(2**63), 2**64 - 1)  # what orjson reads as an integer (beyond: a float)
ARRAY_HEAD = 64 * 1024  # bytes of a JSON-array file looked at to recognise it

_limit: ContextVar[int] = ContextVar("labelport_max_line_bytes", default=DEFAULT_MAX_LINE_BYTES)
# Digits to "0", the rest to " ": 19 zeros in a row are a number that may not fit in 64 bits,
# or digits in a string (translate and find run at memory speed; a regex scan does not).
_DIGIT_MAP = bytes(0x30 if 0x30 <= c <= 0x39 else 0x20 for c in range(256))
_RUN = b"0" * 19
_V1_KEYS = (b'"DataRow ID"', b'"Labeled Data"', b'"View Label"')


@contextmanager
def line_limit(max_line_bytes: int) -> Iterator[None]:
    """Readers called inside without a ``max_line_bytes`` of their own use this limit (for
    converters that do not pass one through)."""
    token = _limit.set(max_line_bytes)
    try:
        yield
    finally:
        _limit.reset(token)


def max_line(max_line_bytes: int | None) -> int:
    """The line limit in force: the given one, else :func:`line_limit`'s, else 16 MiB."""
    return _limit.get() if max_line_bytes is None else max_line_bytes


def too_long(limit: int) -> str:
    return f"the line is longer than the limit of {limit:,} bytes (LABELPORT_MAX_LINE_BYTES)"


def read_lines(stream: IO[bytes], max_line_bytes: int) -> Iterator[tuple[int, bytes | None]]:
    """Physical lines with 1-based numbers, line endings kept and a UTF-8 byte order mark
    dropped; ``None`` for a line longer than ``max_line_bytes`` (line ending not counted)."""
    number = 0
    while raw := stream.readline(max_line_bytes + 2):
        number += 1
        if number == 1 and raw.startswith(BOM):
            raw = raw[len(BOM) :]
        end = len(raw)
        if raw.endswith(b"\n"):
            end -= 2 if raw.endswith(b"\r\n") else 1
        elif end == max_line_bytes + 2:  # cut off by the limit: skip the rest, unread
            while (chunk := stream.readline(SKIP_CHUNK)) and not chunk.endswith(b"\n"):
                pass
        yield number, (None if end > max_line_bytes else raw)


def iter_lines(
    stream: IO[bytes], file: str, *, max_line_bytes: int | None = None
) -> Iterator[tuple[int, bytes] | RecordError]:
    """Non-blank lines of a binary stream (stripped) with 1-based line numbers; a RecordError
    for a line longer than the limit."""
    limit = max_line(max_line_bytes)
    for number, raw in read_lines(stream, limit):
        if raw is None:
            yield RecordError(file, number, "", too_long(limit))
        elif line := raw.strip():
            yield number, line


def iter_json_lines(
    stream: IO[bytes], file: str, *, max_line_bytes: int | None = None
) -> Iterator[tuple[int, JSON] | RecordError]:
    """Parse JSON Lines; a bad line yields a RecordError and reading goes on.

    Refused by line: not JSON, not an object, longer than the limit, a NUL character (raw or
    ``\\u0000``), nesting deeper than :data:`MAX_DEPTH`, an integer beyond 64 bits. A file
    that is a JSON array (a Labelbox export v1 is recognised by name) is one error, and an
    empty file is an error too.
    """
    lines = iter_lines(stream, file, max_line_bytes=max_line_bytes)
    seen = False
    for entry in lines:
        if isinstance(entry, RecordError):
            seen = True
            yield entry
            continue
        number, line = entry
        if not seen and line.startswith(b"["):
            yield _array_file(file, number, line, lines)
            return
        seen = True
        parsed = parse_json_line(line)
        if isinstance(parsed, Problem):
            yield RecordError(file, number, parsed.field, parsed.reason)
        else:
            yield number, parsed
    if not seen:
        yield RecordError(file, 0, "", "the file is empty: it holds no JSON lines to import")


def parse_json_line(line: bytes) -> JSON | Problem:
    """One JSON Lines record, checked as :func:`iter_json_lines` says; a Problem if bad."""
    if b"\x00" in line:  # never valid JSON: find the field if it is inside a string
        try:
            value = orjson.loads(line.replace(b"\x00", b"\\u0000"))
        except orjson.JSONDecodeError:
            return Problem("", NUL_REASON)
        return Problem(path_text(_find_nul(value) or []), NUL_REASON)
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        if "depth limit" in str(exc):
            return Problem("", f"nested deeper than {MAX_DEPTH} levels of objects and arrays")
        return Problem("", f"not valid JSON ({exc})")
    if not isinstance(value, dict):
        return Problem("", f"expected a JSON object, got {_json_type(value)}")
    return check_json(line, value) or value


def check_json(raw: bytes, value: Any, prefix: str = "") -> Problem | None:
    """What labelport cannot store of a value parsed from ``raw`` by orjson: nesting deeper
    than :data:`MAX_DEPTH`, a ``\\u0000``, an integer beyond 64 bits. Cheap byte tests first;
    the value is walked only when one of them hits. ``prefix`` goes before the field path."""
    if raw.count(b"{") + raw.count(b"[") > MAX_DEPTH:
        deep = _too_deep(value, MAX_DEPTH)
        if deep is not None:
            return Problem(
                path_text([*_prefix(prefix), *reversed(deep)]),
                f"nested deeper than {MAX_DEPTH} levels of objects and arrays",
            )
    if b"\\u0000" in raw:
        nul = _find_nul(value)
        if nul is not None:
            return Problem(path_text([*_prefix(prefix), *nul]), NUL_REASON)
    if _long_number(raw):
        big = _find_big_int(json.loads(raw))  # exact integers (orjson took them: < 310 digits)
        if big is not None:
            path, number = big
            return Problem(
                path_text([*_prefix(prefix), *path]),
                f"the integer {_shorten(str(number))} is beyond 64 bits, which labelport "
                "cannot keep exactly (write it as a string)",
            )
    return None


def _long_number(raw: bytes) -> bool:
    """Whether a run of 19+ digits stands where a JSON number can (after ``:``, ``,`` or ``[``,
    a minus sign and spaces aside), not inside a string such as an id."""
    digits = raw.translate(_DIGIT_MAP)
    at = digits.find(_RUN)
    while at >= 0:
        i = at - 1
        while i >= 0 and raw[i] in b" \t\r\n-":
            i -= 1
        if i < 0 or raw[i] in b":,[":
            return True
        end = digits.find(b" ", at)
        if end < 0:
            return False
        at = digits.find(_RUN, end)
    return False


def path_text(parts: Sequence[str | int], most: int = 8) -> str:
    """A field path as the checkers write it (``media_attributes.a[0].b``), cut after
    ``most`` parts (a path 129 levels deep would fill the screen)."""
    text = ""
    for part in parts[:most]:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            key = _shorten(part.replace("\x00", "\\u0000"), 64)
            text = f"{text}.{key}" if text else key
    if len(parts) > most:
        text += "…"
    return text


def _prefix(prefix: str) -> list[str | int]:
    return [prefix] if prefix else []


def _shorten(text: str, most: int = 40) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"


def _children(value: Any) -> Iterable[tuple[str | int, Any]]:
    if isinstance(value, dict):
        return value.items()
    if isinstance(value, list):
        return enumerate(value)
    return ()


def _too_deep(value: Any, left: int) -> list[str | int] | None:
    """The path (innermost first) to a container nested deeper than ``left`` more levels."""
    if left == 0:
        return []
    for key, child in _children(value):
        if isinstance(child, (dict, list)):
            found = _too_deep(child, left - 1)
            if found is not None:
                found.append(key)
                return found
    return None


def _find_nul(value: Any) -> list[str | int] | None:
    """The path of the first key or string holding a NUL character."""
    if isinstance(value, str):
        return [] if "\x00" in value else None
    for key, child in _children(value):
        if isinstance(key, str) and "\x00" in key:
            return [key]
        found = _find_nul(child)
        if found is not None:
            return [key, *found]
    return None


def _find_big_int(value: Any) -> tuple[list[str | int], int] | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return None if INT_RANGE[0] <= value <= INT_RANGE[1] else ([], value)
    for key, child in _children(value):
        found = _find_big_int(child)
        if found is not None:
            return [key, *found[0]], found[1]
    return None


def _array_file(
    file: str, number: int, first: bytes, rest: Iterator[tuple[int, bytes] | RecordError]
) -> RecordError:
    """The one error for a file that is a JSON array: a Labelbox export v1, or another."""
    head = first[:ARRAY_HEAD]
    for entry in rest:
        if len(head) >= ARRAY_HEAD:
            break
        if not isinstance(entry, RecordError):
            head += b"\n" + entry[1][: ARRAY_HEAD - len(head)]
    if any(key in head for key in _V1_KEYS):
        return RecordError(
            file,
            number,
            "",
            "Labelbox export v1 (legacy): a JSON array of rows with 'DataRow ID', "
            "'Labeled Data' and 'Label'; labelport reads export v2 (JSON Lines, one row per "
            "line): export the project again as export v2, see docs/imports.md "
            '("Labelbox export v1")',
        )
    return RecordError(
        file,
        number,
        "",
        "the file is a JSON array, not JSON Lines: write one JSON object per line "
        "(see docs/imports.md)",
    )
