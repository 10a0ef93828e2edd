"""What a Diffgram export may hold for labelport to keep it, checked before it is converted.

A hostile or broken export gets an error naming the file, the packet, the field and the reason,
never a traceback and never a half-stored value:

* :func:`check_value` walks one parsed value (a file packet, or a metadata value the import
  uses): no string or key may contain a NUL character (PostgreSQL text cannot hold one), no
  integer may need more than 64 bits with its sign (the catalog keeps numbers exact, and the
  parser's C backend reads no more), no number may be
  infinite, and nothing may nest more than :data:`MAX_NESTING` arrays and objects deep (the
  converted row nests a dozen levels deeper, and stored documents must stay encodable).
* :class:`GuardedStream` wraps the raw file for the streaming parser: it drops a UTF-8 byte
  order mark, refuses a raw NUL byte, and refuses nesting deeper than :data:`MAX_DOCUMENT_NESTING`
  before the parser builds it (the parser's memory grows with the square of the depth: 20,000
  levels in a 40 KB file take a gigabyte). Its errors name the byte offset. It also tells when
  the bytes read so far hold something :func:`check_value` would refuse (an escaped NUL, more
  than :data:`MAX_NESTING` levels in a top-level value): only then do values need the walk,
  which costs more than the parse itself. (yajl, the parser's C backend, refuses integers and
  floats it cannot hold on its own.)
* :func:`explain_parse_error` turns the parser's message into a reason: an integer beyond 64 bits
  or a float beyond a double is named as such, with the number and its key when the parser's
  excerpt shows them.
"""

from __future__ import annotations

import math
import re
from array import array
from itertools import accumulate
from typing import IO, Any

from labelport.imports.base import Problem

MAX_NESTING = 128  # arrays and objects, counting the file packet (or metadata value) itself
MAX_DOCUMENT_NESTING = 2048  # hard limit on the whole document, checked while reading
LOWEST_INT = -(2**63)  # a signed 64-bit integer, as the parser's C backend reads them
HIGHEST_INT = 2**63 - 1
PATH_SEGMENTS = 12  # a field path longer than this is cut in error messages

NUL_REASON = "contains a NUL character, which the catalog cannot store"
_ESCAPED_NUL = b"\\u0000"
_BOM = b"\xef\xbb\xbf"
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")

Trail = tuple[Any, str | int] | None  # (parent trail, key or index), innermost last


def check_value(value: Any, path: str) -> None:
    """Problem (with the field path below ``path``) if ``value`` cannot be kept as it is."""
    stack: list[tuple[Any, int, Trail]] = [(value, 1, None)]
    pop, push = stack.pop, stack.append
    while stack:
        item, depth, trail = pop()
        kind = type(item)
        if kind is dict:
            if depth > MAX_NESTING:
                raise Problem(_render(path, trail), _too_deep())
            for key, child in item.items():
                if "\x00" in key:
                    raise Problem(_render(path, (trail, key)), f"the key {NUL_REASON}")
                push((child, depth + 1, (trail, key)))
        elif kind is list:
            if depth > MAX_NESTING:
                raise Problem(_render(path, trail), _too_deep())
            for index, child in enumerate(item):
                push((child, depth + 1, (trail, index)))
        elif kind is str:
            if "\x00" in item:
                raise Problem(_render(path, trail), NUL_REASON)
        elif kind is int:
            if not LOWEST_INT <= item <= HIGHEST_INT:
                raise Problem(
                    _render(path, trail),
                    f"an integer beyond 64 bits (it needs {item.bit_length() + 1} with its "
                    "sign): labelport keeps numbers exact and cannot store it",
                )
        elif kind is float and not math.isfinite(item):
            raise Problem(_render(path, trail), f"{item} is not a finite number")


def _too_deep() -> str:
    return (
        f"nested more than {MAX_NESTING} levels deep (arrays and objects, counting the file "
        f"packet); labelport keeps at most {MAX_NESTING}"
    )


def _render(path: str, trail: Trail) -> str:
    keys: list[str | int] = []
    while trail is not None:
        trail, key = trail
        keys.append(key)
    keys.reverse()
    out = [path]
    for key in keys[:PATH_SEGMENTS]:
        out.append(f"[{key}]" if isinstance(key, int) else f".{key}")
    if len(keys) > PATH_SEGMENTS:
        out.append(f"…({len(keys) - PATH_SEGMENTS} levels more)")
    return "".join(out).replace("\x00", "\\u0000")


# ------------------------------------------------------------------------------ reading


class Refused(Exception):
    """The raw document cannot be read: ``offset`` is the 1-based byte of the file."""

    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(f"byte {offset}: {reason}")
        self.offset = offset
        self.reason = reason


class GuardedStream:
    """A binary stream for the parser, checked as it is read (see the module docstring).

    Nesting is followed across reads with a little state: the depth, whether the read ended
    inside a string, and an unpaired trailing backslash (it escapes the next read's first byte).
    Strings are set aside with C-speed byte operations (escaped backslashes and quotes removed,
    then a split on the remaining quotes), so brackets inside strings do not count.
    """

    def __init__(self, stream: IO[bytes], *, max_depth: int = MAX_DOCUMENT_NESTING) -> None:
        self._stream = stream
        self.max_depth = max_depth
        # something read so far may be refused by check_value: values must be walked from now on
        self.suspect = False
        self._tail = b""  # the last bytes read before (an escape may straddle reads)
        self._offset = 0  # bytes of the file read so far
        self._depth = 0
        self._in_string = False
        self._escape = False  # the last read ended with an unpaired backslash
        self._started = False
        self._refused: Refused | None = None

    def read(self, size: int = -1) -> bytes:
        """The next bytes of the file. A refused byte is not passed on: the bytes before it are,
        and the next read raises :class:`Refused` - so that the parser has yielded every value
        before it, and the caller knows which value holds it."""
        if self._refused is not None:
            raise self._refused
        if size == 0:
            return b""
        data = self._stream.read(size)
        start = self._offset
        self._offset += len(data)
        if not self._started:
            while data and len(data) < len(_BOM) and _BOM.startswith(data):
                more = self._stream.read(size)
                if not more:
                    break
                self._offset += len(more)
                data += more
            self._started = True
            if data.startswith(_BOM):
                data = data[len(_BOM) :]
                start += len(_BOM)
                if not data:
                    return self.read(size)
        refused = self._scan(data) if data else None
        if refused is None:
            return data
        index, reason = refused
        self._refused = Refused(start + index + 1, reason)
        if index == 0:
            raise self._refused
        return data[:index]

    def _scan(self, data: bytes) -> tuple[int, str] | None:
        """Follow ``data``; the index and reason of its first refused byte, if any."""
        nul = data.find(b"\x00")
        if nul >= 0:
            return nul, f"the file {NUL_REASON} (a raw NUL byte)"
        window = self._tail + data
        if _ESCAPED_NUL in window:
            self.suspect = True  # or a backslash followed by "u0000": the walk tells
        self._tail = window[-5:]
        text = data[1:] if self._escape else data
        skipped = len(data) - len(text)
        body = text.rstrip(b"\\")
        self._escape = (len(text) - len(body)) % 2 == 1
        cleaned = body.replace(b"\\\\", b"").replace(b'\\"', b"")
        parts = cleaned.split(b'"')
        outside = parts[1::2] if self._in_string else parts[0::2]
        was_in_string = self._in_string
        if len(parts) % 2 == 0:  # an odd number of quotes
            self._in_string = not self._in_string
        brackets = b"".join(outside).translate(_STEPS, _NOT_BRACKETS)
        if not brackets:
            return None
        steps = array("b", brackets)
        before = self._depth
        peak = max(accumulate(steps, initial=before))
        if peak > MAX_NESTING + 1:  # the document itself is the first level
            self.suspect = True
        if peak > self.max_depth:
            at = _first_too_deep(text, before, was_in_string, self.max_depth)
            return skipped + at, (
                f"nested more than {self.max_depth} levels deep (labelport keeps at most "
                f"{MAX_NESTING} levels inside a file packet)"
            )
        self._depth = before + sum(steps)
        return None


def _first_too_deep(text: bytes, depth: int, in_string: bool, limit: int) -> int:
    """Index of the bracket in ``text`` that goes deeper than ``limit`` (the slow, exact way)."""
    escape = False
    for index, byte in enumerate(text):
        if in_string:
            if escape:
                escape = False
            elif byte == 0x5C:  # backslash
                escape = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth > limit:
                return index
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return len(text) - 1


# ------------------------------------------------------------------------------ parse errors

_KEY_BEFORE = re.compile(r'"((?:[^"\\]|\\.)*)"\s*:\s*$')  # the key before the caret
_NUMBER = re.compile(r"-?[0-9][0-9.eE+-]*")  # the number at the caret


def explain_parse_error(message: str) -> tuple[str, str]:
    """``(field, reason)`` for one of the parser's error messages (field: its key, if seen).

    The parser's message is a reason, a line of the document around the error and a caret
    under the token it failed on."""
    lines = message.strip("\n").splitlines()
    first = lines[0].strip() if lines else "unreadable"
    field, number = "", ""
    if len(lines) >= 3 and "^" in lines[2]:
        context, caret = lines[1], lines[2].index("^")
        key = _KEY_BEFORE.search(context[:caret])
        found = _NUMBER.match(context, caret)
        field = key.group(1) if key is not None else ""
        if found is not None:  # the excerpt (30 characters past the caret) may cut it short
            cut = found.end() == len(context) or found.end() - caret >= 30
            number = found.group(0) + ("…" if cut else "")
    shown = f" ({_cut(number)})" if number else ""
    if "integer overflow" in first:
        return field, (
            f"an integer beyond 64 bits{shown}: labelport keeps numbers exact and cannot store it"
        )
    if "floating point" in first and "overflow" in first:
        return field, f"a number beyond the range of a 64-bit float{shown}"
    return "", f"not valid JSON ({first})"


def _cut(number: str) -> str:
    return number if len(number) <= 40 else f"{number[:20]}… ({len(number)} characters)"
