"""Where an export's bytes go: sharded NDJSON streams with a line index, and reading them back.

An export task writes two streams, ``result`` and ``errors``, into its task directory. Each stream
is a sequence of complete NDJSON lines (every line ends with ``\\n``); on disk it is:

``{stream}-{n:05d}.ndjson`` for n = 0, 1, 2, ...
    The shards. Concatenated in order they are the stream. A shard is started at the first line
    and a new one when adding the next line would make the current shard exceed ``shard_bytes``.
    Shards are never empty and never split a line; a single line longer than ``shard_bytes`` gets
    a shard of its own.

``{stream}.idx``
    The line index: one little-endian unsigned 64-bit integer per line, the global byte offset
    (over the whole stream, shards concatenated) where that line starts. The first entry is 0.
    It is written as the lines are, never held whole in memory, so reading from line N is a seek
    of 8 bytes into it, and reading from byte B is a bisection over the shards' first bytes.

A stream without lines writes no file at all (no shard, no index).

What the files hold is described by a :class:`StreamInfo` (totals, sha256 of the whole stream,
one :class:`FileInfo` per shard, the index's name), which the export manifest stores as JSON.
This module holds the layout (file names, index entries) and those records;
:class:`~labelport.export.stream_writer.StreamWriter` writes a stream,
:class:`~labelport.export.stream_reader.StreamReader` reads ranges of it by line or byte, and
:func:`~labelport.export.stream_check.check_stream` verifies files on disk against their
:class:`StreamInfo`.

Errors: a reader asked for lines or bytes that do not exist raises
:class:`~labelport.errors.InvalidInput`; files on disk that disagree with their manifest raise
:class:`~labelport.errors.LabelportError` (a server fault); misuse of the API raises ``ValueError``.
"""

from __future__ import annotations

import hashlib
import sys
from array import array
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CHUNK",
    "DEFAULT_SHARD_BYTES",
    "EMPTY_SHA256",
    "INDEX_ENTRY",
    "LITTLE_ENDIAN",
    "FileInfo",
    "StreamInfo",
    "check_stream_name",
    "index_name",
    "manifest_problems",
    "shard_name",
]

DEFAULT_SHARD_BYTES = 256 * 1024 * 1024
CHUNK = 1 << 20  # bytes read at a time
INDEX_ENTRY = 8  # bytes of one line index entry: a little-endian unsigned 64-bit offset
LITTLE_ENDIAN = sys.byteorder == "little"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()

if array("Q").itemsize != INDEX_ENTRY:  # pragma: no cover - every platform CPython supports today
    raise ImportError("labelport.export.streams needs array('Q') to hold 64-bit integers")


def shard_name(stream: str, n: int) -> str:
    """File name of shard ``n`` of ``stream``: ``result-00000.ndjson``."""
    return f"{stream}-{n:05d}.ndjson"


def index_name(stream: str) -> str:
    """File name of the line index of ``stream``: ``result.idx``."""
    return f"{stream}.idx"


def check_stream_name(name: str) -> None:
    if not name or not all(c.isascii() and (c.isalnum() or c in "_-") for c in name):
        raise ValueError(f"a stream name is letters, digits, '_' and '-', not {name!r}")


# --- manifest records -----------------------------------------------------------------------


def _get_int(d: dict[str, Any], key: str) -> int:
    value = d.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{key!r} must be a non-negative integer, not {value!r}")
    return value


def _get_str(d: dict[str, Any], key: str) -> str:
    value = d.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key!r} must be a non-empty string, not {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class FileInfo:
    """One shard of a stream."""

    name: str  # file name, e.g. "result-00000.ndjson"
    bytes: int
    lines: int
    sha256: str  # hex sha256 of this file
    first_line: int  # 0-based global line number of its first line
    first_byte: int  # global byte offset of its first byte

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "bytes": self.bytes,
            "lines": self.lines,
            "sha256": self.sha256,
            "first_line": self.first_line,
            "first_byte": self.first_byte,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> FileInfo:
        """The inverse of :meth:`to_json`; ``ValueError`` when a key is missing or mistyped."""
        if not isinstance(d, dict):
            raise ValueError(f"a file entry must be an object, not {type(d).__name__}")
        return cls(
            name=_get_str(d, "name"),
            bytes=_get_int(d, "bytes"),
            lines=_get_int(d, "lines"),
            sha256=_get_str(d, "sha256"),
            first_line=_get_int(d, "first_line"),
            first_byte=_get_int(d, "first_byte"),
        )


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """A whole stream: its totals, its shards in order and its line index."""

    name: str  # "result" | "errors"
    bytes: int
    lines: int
    sha256: str  # hex sha256 of all shards concatenated; sha256 of b"" when empty
    files: tuple[FileInfo, ...]
    index: str | None  # index file name, None when the stream is empty

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "bytes": self.bytes,
            "lines": self.lines,
            "sha256": self.sha256,
            "files": [f.to_json() for f in self.files],
            "index": self.index,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> StreamInfo:
        """The inverse of :meth:`to_json`; ``ValueError`` when a key is missing or mistyped."""
        if not isinstance(d, dict):
            raise ValueError(f"a stream entry must be an object, not {type(d).__name__}")
        files = d.get("files")
        if not isinstance(files, list):
            raise ValueError(f"'files' must be a list, not {files!r}")
        index = d.get("index")
        if index is not None and (not isinstance(index, str) or not index):
            raise ValueError(f"'index' must be a file name or null, not {index!r}")
        return cls(
            name=_get_str(d, "name"),
            bytes=_get_int(d, "bytes"),
            lines=_get_int(d, "lines"),
            sha256=_get_str(d, "sha256"),
            files=tuple(FileInfo.from_json(f) for f in files),
            index=index,
        )


def manifest_problems(info: StreamInfo) -> list[str]:
    """Ways in which ``info`` contradicts itself (its files must tile the stream exactly)."""
    problems: list[str] = []
    lines = size = 0
    for f in info.files:
        if f.first_line != lines:
            problems.append(f"{f.name}: first_line is {f.first_line}, expected {lines}")
        if f.first_byte != size:
            problems.append(f"{f.name}: first_byte is {f.first_byte}, expected {size}")
        if f.lines == 0 or f.bytes < f.lines:
            problems.append(f"{f.name}: {f.lines} lines in {f.bytes} bytes is impossible")
        lines += f.lines
        size += f.bytes
    if info.lines != lines:
        problems.append(f"{info.name}: {info.lines} lines, but its files hold {lines}")
    if info.bytes != size:
        problems.append(f"{info.name}: {info.bytes} bytes, but its files hold {size}")
    if info.lines and info.index is None:
        problems.append(f"{info.name}: {info.lines} lines but no index")
    if not info.lines and info.index is not None:
        problems.append(f"{info.name}: an index but no lines")
    return problems
