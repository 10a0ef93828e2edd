"""What a Diffgram export may hold: NUL, 64-bit integers, finite numbers, nesting; the guarded
stream the parser reads through; the parser's number errors named."""

from __future__ import annotations

import io
import json
from typing import Any

import ijson  # type: ignore[import-untyped]
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelport.imports.base import Problem
from labelport.imports.diffgram_checks import (
    MAX_NESTING,
    NUL_REASON,
    GuardedStream,
    Refused,
    check_value,
    explain_parse_error,
)


def nested(levels: int, leaf: Any = 0) -> Any:
    value = leaf
    for n in range(levels):
        value = [value] if n % 2 else {"k": value}
    return value


def problem(value: Any, path: str = "501") -> Problem:
    with pytest.raises(Problem) as caught:
        check_value(value, path)
    return caught.value


# ------------------------------------------------------------------------------ check_value


def test_values_labelport_can_keep_pass():
    check_value(
        {"a": [1, -(2**63), 2**63 - 1, 1.5, True, None, "text \\u0000 is six characters"]}, "501"
    )
    check_value(nested(MAX_NESTING), "501")  # exactly the limit


def test_a_nul_character_is_refused_with_its_field():
    found = problem({"file": {"original_filename": "a\x00b.jpg"}})
    assert (found.field, found.reason) == ("501.file.original_filename", NUL_REASON)
    assert found.reason == "contains a NUL character, which the catalog cannot store"
    in_list = problem({"instance_list": [{"id": 1}, {"tags": ["ok", "\x00"]}]})
    assert in_list.field == "501.instance_list[1].tags[1]"


def test_a_nul_in_a_key_is_refused_and_shown_escaped():
    found = problem({"attribute_groups": {"1\x002": 5}})
    assert found.field == "501.attribute_groups.1\\u00002"
    assert found.reason == f"the key {NUL_REASON}"


@pytest.mark.parametrize("number", [2**63, 2**64, -(2**63) - 1, 10**400])
def test_integers_beyond_64_bits_are_refused_by_name(number: int):
    found = problem({"x_max": number})
    assert found.field == "501.x_max"
    assert found.reason == (
        f"an integer beyond 64 bits (it needs {number.bit_length() + 1} with its sign): "
        "labelport keeps numbers exact and cannot store it"
    )


def test_booleans_are_not_integers_here():
    check_value({"interpolated": True, "n": False}, "501")


@pytest.mark.parametrize("number", [float("inf"), float("-inf"), float("nan")])
def test_numbers_that_are_not_finite_are_refused(number: float):
    assert "is not a finite number" in problem({"angle": number}).reason


@pytest.mark.parametrize("levels", [MAX_NESTING + 1, 255, 1024])
def test_nesting_deeper_than_the_limit_is_refused_with_a_cut_path(levels: int):
    found = problem({"instance_list": [{"attribute_groups": {"105": nested(levels)}}]})
    assert found.reason.startswith(f"nested more than {MAX_NESTING} levels deep")
    assert found.field.startswith("501.instance_list[0].attribute_groups.105")
    assert found.field.endswith("levels more)")  # not a path 128 levels long
    assert len(found.field) < 120


def test_a_very_deep_value_is_walked_without_recursion():
    assert "nested more than" in problem(nested(100_000)).reason


# ------------------------------------------------------------------------------ GuardedStream


class Chunked(io.RawIOBase):
    """A stream that returns at most ``size`` bytes a read (the parser reads 64 KiB)."""

    def __init__(self, data: bytes, size: int) -> None:
        self.data, self.size, self.at = data, size, 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        n = self.size if n < 0 else min(n, self.size)
        out = self.data[self.at : self.at + n]
        self.at += len(out)
        return out


def read_all(stream: GuardedStream, size: int = 7) -> bytes:
    out = b""
    while chunk := stream.read(size):
        out += chunk
    return out


def depth_of(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((depth_of(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth_of(v) for v in value), default=0)
    return 0


strings = st.text(alphabet=st.sampled_from('ab[]{}"\\\n é'), max_size=6)
documents = st.recursive(
    st.none() | st.integers(-5, 5) | strings,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(strings, inner, max_size=3),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(documents, st.integers(1, 9), st.integers(0, 8), st.booleans())
def test_the_guard_follows_nesting_across_reads_and_skips_strings(
    doc: Any, size: int, limit: int, indent: bool
):
    data = json.dumps(doc, indent=1 if indent else None).encode()
    guarded = GuardedStream(Chunked(data, size), max_depth=limit)
    if depth_of(doc) <= limit:
        assert read_all(guarded, size) == data  # bytes pass through unchanged
    else:
        with pytest.raises(Refused) as caught:
            read_all(guarded, size)
        # the offset is the bracket that went one level too deep
        at = caught.value.offset - 1
        assert data[at : at + 1] in (b"[", b"{")
        assert _depth_at(data, at) == limit + 1


def _depth_at(data: bytes, at: int) -> int:
    """The depth right after byte ``at``, counted the slow way, byte by byte."""
    depth, in_string, escape = 0, False, False
    for char in data[: at + 1].decode("ascii"):
        if in_string:
            if escape:
                escape = False
            elif char == "\\":
                escape = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
    return depth


def test_a_byte_order_mark_is_dropped():
    data = b'\xef\xbb\xbf{"a": [1]}'
    for size in (1, 2, 3, 64):
        assert read_all(GuardedStream(Chunked(data, size)), size) == b'{"a": [1]}'
    assert list(ijson.kvitems(GuardedStream(io.BytesIO(data)), "")) == [("a", [1])]


def test_a_raw_nul_byte_is_refused_at_its_byte():
    with pytest.raises(Refused) as caught:
        read_all(GuardedStream(Chunked(b'{"a": "x\x00y"}', 4)), 4)
    assert caught.value.offset == 9
    assert caught.value.reason == f"the file {NUL_REASON} (a raw NUL byte)"


def test_a_deep_document_is_refused_before_the_parser_builds_it():
    data = b'{"a": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    with pytest.raises(Refused) as caught:
        list(ijson.kvitems(GuardedStream(io.BytesIO(data)), ""))
    assert caught.value.offset == 6 + 2048  # the 2,049th level (the document is the first)
    assert "nested more than 2048 levels deep" in caught.value.reason


# ------------------------------------------------------------------------------ parse errors


def parse_error(data: bytes) -> str:
    with pytest.raises(ijson.JSONError) as caught:
        list(ijson.kvitems(io.BytesIO(data), "", use_float=True))
    message = caught.value.args[0]
    return message.decode() if isinstance(message, bytes) else str(message)


def test_an_integer_beyond_64_bits_is_named_with_its_key():
    message = parse_error(b'{"501": {"instance_list": [{"x_max": 123456789012345678901234}]}}')
    field, reason = explain_parse_error(message)
    assert field == "x_max"
    assert reason == (
        "an integer beyond 64 bits (123456789012345678901234): labelport keeps numbers exact "
        "and cannot store it"
    )


def test_a_float_beyond_a_double_is_named():
    field, reason = explain_parse_error(parse_error(b'{"a": {"angle": 1.5e400}}'))
    assert (field, reason) == ("angle", "a number beyond the range of a 64-bit float (1.5e400)")


def test_other_parse_errors_stay_not_valid_json():
    field, reason = explain_parse_error(parse_error(b'{"a": tru}'))
    assert (field, reason) == ("", "not valid JSON (lexical error: invalid string in json text.)")


@pytest.mark.parametrize("size", [1, 3, 4, 7, 64])
def test_the_guard_says_when_values_need_the_walk(size: int):
    def suspect(data: bytes) -> bool:
        guarded = GuardedStream(Chunked(data, size))
        read_all(guarded, size)
        return guarded.suspect

    assert not suspect(json.dumps({"a": nested(MAX_NESTING), "b": "x\\y"}).encode())
    assert suspect(json.dumps({"a": nested(MAX_NESTING + 1)}).encode())
    assert suspect(b'{"a": "x\\u0000y"}')  # an escaped NUL, even split between reads
    assert suspect(b'{"a": "x\\\\u0000y"}')  # a backslash, then "u0000": the walk decides
    check_value(json.loads(b'{"a": "x\\\\u0000y"}'), "a")  # ... and lets it through
