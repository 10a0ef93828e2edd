"""Reading one stream of an export back, by line or by byte, without scanning.

:class:`StreamReader` finds a line with one 8-byte read of the line index and a byte with a
bisection over the shards' first bytes, in a local directory or any
:class:`~labelport.export.folders.Folder` (an object store's folder reads by ranged requests).
The layout on disk is described in :mod:`labelport.export.streams`.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from labelport.errors import InvalidInput, LabelportError
from labelport.export.folders import Folder, LocalFolder
from labelport.export.streams import CHUNK, INDEX_ENTRY, FileInfo, StreamInfo, manifest_problems


class StreamReader:
    """Read a stream written by :class:`StreamWriter`, by line or by byte, without scanning.

    The stream's files are in ``directory``: a local directory, or any
    :class:`~labelport.export.folders.Folder` (an export published to an object store, whose
    reads are ranged requests: a line is found with one 8-byte read of the index). It holds no
    open file between calls. The iterators check their arguments when called (not at the first
    ``next``), so a server can answer an error before it starts a response. ``ValueError`` when
    ``info`` contradicts itself.
    """

    def __init__(self, directory: Path | Folder, info: StreamInfo) -> None:
        problems = manifest_problems(info)
        if problems:
            raise ValueError(f"inconsistent description of a stream: {'; '.join(problems)}")
        self._folder: Folder = (
            LocalFolder(directory) if isinstance(directory, (str, Path)) else directory
        )
        self._info = info
        self._first_bytes = [f.first_byte for f in info.files]

    @property
    def info(self) -> StreamInfo:
        return self._info

    def line_offset(self, line: int) -> int:
        """Global byte offset where 0-based ``line`` starts; ``info.lines`` gives ``info.bytes``."""
        info = self._info
        if not 0 <= line <= info.lines:
            raise InvalidInput(
                f"line {line} is out of range: the {info.name} stream has {info.lines} lines"
            )
        if line == info.lines:
            return info.bytes
        assert info.index is not None  # a stream with lines has an index
        try:
            raw = self._folder.read_range(info.index, line * INDEX_ENTRY, (line + 1) * INDEX_ENTRY)
        except FileNotFoundError:
            raise LabelportError(f"{info.index}: missing") from None
        if len(raw) != INDEX_ENTRY:
            raise LabelportError(f"{info.index}: truncated, no entry for line {line}")
        offset = int.from_bytes(raw, "little")
        if offset >= info.bytes or (line == 0 and offset != 0):
            raise LabelportError(f"{info.index}: entry {line} is {offset}, not a line start")
        return offset

    def line_at(self, position: int) -> int:
        """The 0-based line holding byte ``position`` (``info.lines`` at or past the end): a
        binary search through the line index within the shard that holds the byte."""
        info = self._info
        if position >= info.bytes:
            return info.lines
        shard = info.files[bisect_right(self._first_bytes, position) - 1]
        low, high = shard.first_line, shard.first_line + shard.lines - 1
        while low < high:  # the last line of the shard that starts at or before the position
            middle = (low + high + 1) // 2
            if self.line_offset(middle) <= position:
                low = middle
            else:
                high = middle - 1
        return low

    def iter_bytes(
        self, start: int = 0, end: int | None = None, chunk: int = CHUNK
    ) -> Iterator[bytes]:
        """Bytes ``[start, end)`` of the stream across shards, in pieces of at most ``chunk``."""
        info = self._info
        if chunk < 1:
            raise ValueError(f"chunk must be at least 1, not {chunk}")
        if not 0 <= start <= info.bytes:
            raise InvalidInput(
                f"byte offset {start} is out of range: "
                f"the {info.name} stream has {info.bytes} bytes"
            )
        if end is None:
            end = info.bytes
        if not start <= end <= info.bytes:
            raise InvalidInput(
                f"byte range [{start}, {end}) is not within the {info.name} stream "
                f"of {info.bytes} bytes"
            )
        return self._bytes_between(start, end, chunk)

    def iter_lines(self, start_line: int = 0) -> Iterator[bytes]:
        """Complete lines (each ending in ``b"\\n"``) from 0-based ``start_line`` to the end."""
        return self._lines_from(self.line_offset(start_line))

    def read_range(self, start: int, end_inclusive: int) -> bytes:
        """Bytes ``start..end_inclusive`` (both included) as an HTTP ``Range`` asks.

        ``end_inclusive`` past the end is cut to the last byte; a range that starts past the last
        byte (always so for an empty stream) or ends before it starts is ``InvalidInput``.
        """
        total = self._info.bytes
        if start < 0 or end_inclusive < start or start >= total:
            raise InvalidInput(
                f"byte range {start}-{end_inclusive} cannot be satisfied: "
                f"the {self._info.name} stream has {total} bytes"
            )
        return b"".join(self.iter_bytes(start, min(end_inclusive, total - 1) + 1))

    # -- internals --

    def _open(self, f: FileInfo) -> BinaryIO:
        try:
            return self._folder.open(f.name, f.bytes)
        except FileNotFoundError:
            raise LabelportError(f"{f.name}: missing") from None

    def _bytes_between(self, start: int, end: int, chunk: int) -> Iterator[bytes]:
        if start == end:
            return
        pos = start
        for f in self._info.files[bisect_right(self._first_bytes, start) - 1 :]:
            if pos >= end:
                break
            stop = min(end, f.first_byte + f.bytes)
            with self._open(f) as fh:
                fh.seek(pos - f.first_byte)
                while pos < stop:
                    data = fh.read(min(chunk, stop - pos))
                    if not data:
                        raise LabelportError(
                            f"{f.name}: ends at byte {pos - f.first_byte}, "
                            f"but the manifest says {f.bytes}"
                        )
                    pos += len(data)
                    yield data

    def _lines_from(self, start: int) -> Iterator[bytes]:
        if start >= self._info.bytes:
            return
        pos = start
        for f in self._info.files[bisect_right(self._first_bytes, start) - 1 :]:
            with self._open(f) as fh:
                fh.seek(pos - f.first_byte)
                left = f.first_byte + f.bytes - pos
                while left > 0:
                    line = fh.readline(left)
                    if not line.endswith(b"\n"):
                        raise LabelportError(
                            f"{f.name}: a line is cut at byte {f.bytes - left + len(line)}, "
                            f"the manifest says the file has {f.bytes} bytes"
                        )
                    left -= len(line)
                    yield line
            pos = f.first_byte + f.bytes
