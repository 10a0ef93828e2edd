"""The line readers every JSON Lines and CSV importer shares, as pure units: bounded lines,
byte order marks, NUL characters, nesting, big integers, JSON-array files, empty files."""

from __future__ import annotations

import io
import tracemalloc
from typing import Any

import orjson
import pytest

from labelport.errors import RecordError
from labelport.imports import base
from labelport.imports.base import MAX_DEPTH, NUL_REASON


def read(data: bytes, limit: int | None = None) -> list[Any]:
    return list(base.iter_json_lines(io.BytesIO(data), "f.ndjson", max_line_bytes=limit))


def errors(items: list[Any]) -> list[tuple[int, str, str]]:
    return [(e.line, e.field, e.reason) for e in items if isinstance(e, RecordError)]


def nested(depth: int, leaf: bytes = b"1") -> bytes:
    """``depth`` objects within each other: {"a": {"a": ... leaf ...}}."""
    return b'{"a": ' * depth + leaf + b"}" * depth


class Chunks(io.RawIOBase):
    """A stream of ``size`` bytes of ``fill`` then ``tail``, made as it is read (so the test
    itself holds none of it)."""

    def __init__(self, size: int, tail: bytes, fill: bytes = b"x") -> None:
        self.left = size
        self.tail = tail
        self.fill = fill

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.left > 0:
            n = min(len(buffer), self.left)
            buffer[:n] = self.fill * n
            self.left -= n
            return n
        n = min(len(buffer), len(self.tail))
        buffer[:n] = self.tail[:n]
        self.tail = self.tail[n:]
        return n


# ------------------------------------------------------------------------------- line reading


def test_lines_are_numbered_physically_and_blank_ones_skipped() -> None:
    stream = io.BytesIO(b'{"a": 1}\n\n   \r\n{"b": 2}\r\n{"c": 3}')
    assert read(stream.getvalue()) == [(1, {"a": 1}), (4, {"b": 2}), (5, {"c": 3})]


def test_a_byte_order_mark_is_accepted_in_json_lines() -> None:
    assert read(b'\xef\xbb\xbf{"a": 1}\n{"b": 2}\n') == [(1, {"a": 1}), (2, {"b": 2})]
    # only at the very start: elsewhere it is not JSON
    [(line, field, reason)] = errors(read(b'{"a": 1}\n\xef\xbb\xbf{"b": 2}\n'))
    assert (line, field) == (2, "") and "not valid JSON" in reason


@pytest.mark.parametrize(
    ("content", "ending", "too_long"),
    [
        (b"x" * 10, b"\n", False),
        (b"x" * 10, b"\r\n", False),
        (b"x" * 10, b"", False),
        (b"x" * 11, b"\n", True),
        (b"x" * 11, b"\r\n", True),
        (b"x" * 11, b"", True),
        (b"x" * 12, b"", True),
        (b"x" * 500, b"\n", True),
    ],
)
def test_the_limit_counts_a_line_without_its_ending(
    content: bytes, ending: bytes, too_long: bool
) -> None:
    after = b"next\n" if ending else b""  # no ending: the last line of the file
    lines = list(base.read_lines(io.BytesIO(content + ending + after), 10))
    assert lines[0] == (1, None if too_long else content + ending)
    # the rest of a long line is skipped, not read as lines
    assert lines[1:] == ([(2, b"next\n")] if ending else [])


def test_an_over_long_line_is_an_error_naming_it_and_reading_goes_on() -> None:
    data = b'{"a": 1}\n{"b": "' + b"x" * 100 + b'"}\n{"c": 3}\n'
    items = read(data, limit=50)
    assert items[0] == (1, {"a": 1}) and items[2] == (3, {"c": 3})
    assert errors(items) == [
        (2, "", "the line is longer than the limit of 50 bytes (LABELPORT_MAX_LINE_BYTES)")
    ]


def test_an_over_long_line_is_skipped_without_being_held() -> None:
    size = 40 * 1024 * 1024
    stream = io.BufferedReader(Chunks(size, b'"}\n{"after": 1}\n'), buffer_size=64 * 1024)
    tracemalloc.start()
    try:
        items = list(base.iter_json_lines(stream, "big.ndjson", max_line_bytes=1024))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert errors(items) == [(1, "", base.too_long(1024))]
    assert items[1] == (2, {"after": 1})
    assert peak < 4 * base.SKIP_CHUNK  # a few chunks at a time, never the 40 MB line


def test_the_line_limit_of_the_context_applies_when_none_is_given() -> None:
    data = b'{"a": "' + b"x" * 100 + b'"}\n'
    assert errors(read(data)) == []  # the default: 16 MiB
    with base.line_limit(20):
        assert base.max_line(None) == 20
        assert errors(read(data)) == [(1, "", base.too_long(20))]
        assert errors(read(data, limit=1000)) == []  # an explicit limit wins
    assert base.max_line(None) == base.DEFAULT_MAX_LINE_BYTES == 16 * 1024 * 1024


# ------------------------------------------------------------------------------ JSON checks


def test_a_json_line_nested_deeper_than_the_limit_names_the_field() -> None:
    ok = b'{"data_row": {}, "media_attributes": ' + nested(MAX_DEPTH - 1) + b"}"
    assert errors(read(ok)) == []  # exactly MAX_DEPTH levels, the row's own object counted
    deep = b'{"data_row": {}, "media_attributes": ' + nested(MAX_DEPTH) + b"}"
    [(line, field, reason)] = errors(read(deep))
    assert line == 1
    assert field == "media_attributes.a.a.a.a.a.a.a…"
    assert reason == f"nested deeper than {MAX_DEPTH} levels of objects and arrays"


@pytest.mark.parametrize("depth", [300, 1023, 1100, 5000])
def test_json_nested_as_deep_as_orjson_reads_or_deeper_is_refused(depth: int) -> None:
    line = b'{"k": ' + b"[" * depth + b"]" * depth + b"}\n"
    [(number, field, reason)] = errors(read(line))
    assert number == 1 and reason.startswith(f"nested deeper than {MAX_DEPTH} levels")
    if depth < 1024:  # parsed: the path is known
        assert field == "k[0][0][0][0][0][0][0]…"


def test_many_objects_side_by_side_are_not_deep() -> None:
    row = {"boxes": [{"bbox": {"top": n, "left": n}} for n in range(400)]}
    assert read(orjson.dumps(row)) == [(1, row)]


@pytest.mark.parametrize(
    ("line", "field"),
    [
        (b'{"data_row": {"global_key": "a\\u0000b"}}', "data_row.global_key"),
        (b'{"m": [{"v": "x"}, {"v": "\\u0000"}]}', "m[1].v"),
        (b'{"a\\u0000b": 1}', "a\\u0000b"),
        (b'{"data_row": {"global_key": "a\x00b"}}', "data_row.global_key"),  # raw NUL
        (b'{"a": 1}\x00', ""),  # raw NUL outside a string: no field to name
    ],
)
def test_a_nul_character_is_refused_naming_its_field(line: bytes, field: str) -> None:
    assert errors(read(line)) == [(1, field, NUL_REASON)]


def test_an_escaped_backslash_before_u0000_is_not_a_nul() -> None:
    assert read(b'{"a": "c:\\\\u0000"}') == [(1, {"a": "c:\\u0000"})]


@pytest.mark.parametrize(
    ("number", "kept"),
    [
        (b"18446744073709551615", 18446744073709551615),  # 2**64 - 1: orjson keeps it
        (b"-9223372036854775808", -9223372036854775808),  # -2**63
        (b"1234567890123456789", 1234567890123456789),
        (b"1.2345678901234567890123", None),  # a float: read as one
    ],
)
def test_integers_within_64_bits_are_kept_exactly(number: bytes, kept: int | None) -> None:
    [(_, value)] = read(b'{"n": ' + number + b', "id": "123456789012345678901234567"}')
    assert value["n"] == (float(number) if kept is None else kept)
    assert type(value["n"]) is (float if kept is None else int)


@pytest.mark.parametrize(
    "number", [b"18446744073709551616", b"-9223372036854775809", b"1" + b"0" * 40]
)
def test_an_integer_beyond_64_bits_is_refused_by_name_not_turned_into_a_float(
    number: bytes,
) -> None:
    line = b'{"metadata_fields": [{"schema_name": "n", "value": ' + number + b"}]}"
    [(_, field, reason)] = errors(read(line))
    assert field == "metadata_fields[0].value"
    assert number.decode()[:20] in reason and "beyond 64 bits" in reason


def test_not_json_and_not_an_object_are_errors_by_line() -> None:
    items = read(b'{"a": 1}\n{oops\n[1, 2]\n"text"\n')
    assert [(line, field) for line, field, _ in errors(items)] == [(2, ""), (3, ""), (4, "")]
    reasons = [reason for _, _, reason in errors(items)]
    assert reasons[0].startswith("not valid JSON")
    assert reasons[1:] == [
        "expected a JSON object, got an array",
        "expected a JSON object, got a string",
    ]


def test_check_json_puts_a_prefix_before_the_path() -> None:
    raw = b'{"a": "\\u0000"}'
    problem = base.check_json(raw, orjson.loads(raw), prefix="metadata")
    assert problem is not None and (problem.field, problem.reason) == ("metadata.a", NUL_REASON)
    assert base.check_json(b'{"a": 1}', {"a": 1}) is None


# ------------------------------------------------------------------------------ odd files

V1_ROW = {
    "ID": "ckabc",
    "DataRow ID": "ckdef",
    "Labeled Data": "https://storage.test/1.jpg",
    "Label": {"objects": [{"title": "cat", "bbox": {"top": 1, "left": 2}}]},
    "External ID": "1.jpg",
    "Created By": "me@acme.test",
}


@pytest.mark.parametrize(
    "data",
    [
        orjson.dumps([V1_ROW, V1_ROW]),
        orjson.dumps([V1_ROW] * 3, option=orjson.OPT_INDENT_2),
        b"\xef\xbb\xbf\n\n" + orjson.dumps([V1_ROW], option=orjson.OPT_INDENT_2),
    ],
    ids=["one line", "pretty-printed", "bom and blank lines first"],
)
def test_a_labelbox_export_v1_is_one_error_that_names_it(data: bytes) -> None:
    items = read(data)
    assert len(items) == 1
    [(line, field, reason)] = errors(items)
    assert field == "" and line >= 1
    assert reason.startswith("Labelbox export v1 (legacy)")
    assert "docs/imports.md" in reason and "export v2" in reason


@pytest.mark.parametrize(
    "data",
    [b"[1, 2, 3]\n", orjson.dumps([{"data_row": {"row_data": "x"}}], option=orjson.OPT_INDENT_2)],
)
def test_another_json_array_is_one_error_too(data: bytes) -> None:
    assert errors(read(data)) == [
        (
            1,
            "",
            "the file is a JSON array, not JSON Lines: write one JSON object per line "
            "(see docs/imports.md)",
        )
    ]
    assert len(read(data)) == 1


@pytest.mark.parametrize("data", [b"", b"\n\n  \n", b"\xef\xbb\xbf", b"\xef\xbb\xbf\r\n"])
def test_an_empty_file_is_an_error(data: bytes) -> None:
    assert errors(read(data)) == [(0, "", "the file is empty: it holds no JSON lines to import")]


def test_a_file_of_only_bad_lines_is_not_called_empty() -> None:
    assert [r for _, _, r in errors(read(b"x" * 30 + b"\n", limit=10))] == [base.too_long(10)]


def test_path_text() -> None:
    assert base.path_text(["a", 0, "b", 2]) == "a[0].b[2]"
    assert base.path_text([0, "a"]) == "[0].a"
    assert base.path_text(["k"] * 10) == "k.k.k.k.k.k.k.k…"
    assert base.path_text(["x" * 100]) == "x" * 63 + "…"
    assert base.path_text([]) == ""
