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
:class:`StreamWriter` writes a stream, :class:`StreamReader` reads ranges of it by line or byte,
and :func:`check_stream` verifies files on disk against their :class:`StreamInfo`.

Errors: a reader asked for lines or bytes that do not exist raises
:class:`~labelport.errors.InvalidInput`; files on disk that disagree with their manifest raise
:class:`~labelport.errors.LabelportError` (a server fault); misuse of the API raises ``ValueError``.
"""

from __future__ import annotations

import builtins
import hashlib
import operator
import os
import sys
from array import array
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass
from itertools import accumulate, islice, repeat
from pathlib import Path
from typing import IO, Any, BinaryIO, Protocol

from labelport.errors import InvalidInput, LabelportError
from labelport.export.folders import Folder, LocalFolder

__all__ = [
    "DEFAULT_SHARD_BYTES",
    "FileInfo",
    "StreamInfo",
    "StreamReader",
    "StreamWriter",
    "check_stream",
    "index_name",
    "shard_name",
]

DEFAULT_SHARD_BYTES = 256 * 1024 * 1024
_INDEX_FLUSH_ENTRIES = 64 * 1024  # index entries buffered before they are written
_INDEX_READ_ENTRIES = 128 * 1024  # index entries read at a time by check_stream (1 MiB)
_CHUNK = 1 << 20
_ENTRY = 8
_LITTLE_ENDIAN = sys.byteorder == "little"
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()

if array("Q").itemsize != _ENTRY:  # pragma: no cover - every platform CPython supports today
    raise ImportError("labelport.export.streams needs array('Q') to hold 64-bit integers")


def shard_name(stream: str, n: int) -> str:
    """File name of shard ``n`` of ``stream``: ``result-00000.ndjson``."""
    return f"{stream}-{n:05d}.ndjson"


def index_name(stream: str) -> str:
    """File name of the line index of ``stream``: ``result.idx``."""
    return f"{stream}.idx"


def _check_stream_name(name: str) -> None:
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


def _manifest_problems(info: StreamInfo) -> list[str]:
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


# --- writing --------------------------------------------------------------------------------


class StreamWriter:
    """Write one stream into ``directory`` (which must exist), a page of lines at a time.

    Files are created with mode ``"xb"``: an existing file of the same name is never overwritten
    (``FileExistsError``). After any exception from :meth:`write_lines`, :meth:`flush` or
    :meth:`close` the stream is in an unknown state; call :meth:`abort`.
    """

    def __init__(
        self,
        directory: Path,
        name: str,
        *,
        shard_bytes: int = DEFAULT_SHARD_BYTES,
        tee: IO[bytes] | None = None,
    ) -> None:
        _check_stream_name(name)
        if shard_bytes < 1:
            raise ValueError(f"shard_bytes must be at least 1, not {shard_bytes}")
        self._directory = Path(directory)
        self._name = name
        self._shard_limit = shard_bytes
        self._tee = tee
        self._bytes = 0
        self._lines = 0
        self._stream_hash = hashlib.sha256()
        self._files: list[FileInfo] = []
        self._created: list[Path] = []
        # the shard being written
        self._shard: BinaryIO | None = None
        self._shard_hash = hashlib.sha256()
        self._shard_size = 0
        self._shard_lines = 0
        self._shard_first_line = 0
        self._shard_first_byte = 0
        # the line index
        self._index: BinaryIO | None = None
        self._pending = array("Q")
        self._info: StreamInfo | None = None
        self._aborted = False

    @property
    def name(self) -> str:
        return self._name

    @property
    def lines(self) -> int:
        """Lines written so far."""
        return self._lines

    @property
    def bytes(self) -> int:
        """Bytes written so far."""
        return self._bytes

    def write_lines(self, lines: Sequence[builtins.bytes]) -> builtins.bytes:
        """Append complete lines: each ends with ``b"\\n"`` and holds no other ``b"\\n"``.

        Returns the bytes written (the lines joined), for callers that look at them too.
        """
        self._check_writable()
        count = len(lines)
        if not count:
            return b""
        if not all(map(builtins.bytes.endswith, lines, repeat(b"\n"))):
            bad = next(i for i, line in enumerate(lines) if not line.endswith(b"\n"))
            raise ValueError(f"line {bad} of the page does not end with a newline")
        data = b"".join(lines)  # on a large page, without the GIL
        if data.count(b"\n") != count:
            raise ValueError("a line of the page holds a newline before its end")

        base = self._bytes
        # starts[i]: global offset of line i of the page; starts[count]: the new total
        starts = list(accumulate(map(len, lines), initial=base))
        view = memoryview(data)
        i = 0
        while i < count:
            room = self._shard_limit - self._shard_size
            # the most lines from i on that still fit in the current shard
            k = bisect_right(starts, starts[i] + room, i + 1, count + 1) - 1
            if k == i:  # line i does not fit
                if self._shard_size:
                    self._finish_shard()
                    continue
                k = i + 1  # a line longer than a shard gets a shard of its own
            if self._shard is None:
                self._start_shard(self._lines + i, starts[i])
                assert self._shard is not None
            piece = view[starts[i] - base : starts[k] - base]
            self._shard.write(piece)
            self._shard_hash.update(piece)
            self._shard_size += starts[k] - starts[i]
            self._shard_lines += k - i
            i = k
        view.release()

        self._stream_hash.update(data)
        if self._tee is not None:
            self._tee.write(data)
        self._bytes = starts.pop()
        self._lines += count
        self._pending.extend(starts)
        if len(self._pending) >= _INDEX_FLUSH_ENTRIES:
            self._write_index()
        return data

    def flush(self) -> None:
        """Hand everything written so far (shard, index, tee) to the operating system."""
        self._check_writable()
        if self._shard is not None:
            self._shard.flush()
        self._write_index()
        if self._index is not None:
            self._index.flush()
        if self._tee is not None:
            self._tee.flush()

    def close(self) -> StreamInfo:
        """Flush and fsync every file, close them, and describe the stream.

        Calling it again returns the same :class:`StreamInfo`.
        """
        if self._info is not None:
            return self._info
        self._check_writable()
        if self._shard is not None:
            self._finish_shard()
        self._write_index()
        if self._index is not None:
            _sync_and_close(self._index)
            self._index = None
        if self._tee is not None:
            self._tee.flush()
        if self._created:
            _sync_directory(self._directory)
        self._info = StreamInfo(
            name=self._name,
            bytes=self._bytes,
            lines=self._lines,
            sha256=self._stream_hash.hexdigest() if self._lines else _EMPTY_SHA256,
            files=tuple(self._files),
            index=index_name(self._name) if self._lines else None,
        )
        return self._info

    def abort(self) -> None:
        """Close every file and delete every file this writer created (even after close).

        The tee is neither closed nor truncated. Calling it again does nothing.
        """
        self._aborted = True
        for f in (self._shard, self._index):
            if f is not None:
                with suppress(OSError):
                    f.close()
        self._shard = self._index = None
        for path in self._created:
            path.unlink(missing_ok=True)
        self._created.clear()

    # -- internals --

    def _check_writable(self) -> None:
        if self._aborted:
            raise ValueError(f"the {self._name} stream writer was aborted")
        if self._info is not None:
            raise ValueError(f"the {self._name} stream writer is closed")

    def _start_shard(self, first_line: int, first_byte: int) -> None:
        path = self._directory / shard_name(self._name, len(self._files))
        self._shard = path.open("xb")
        self._created.append(path)
        self._shard_hash = hashlib.sha256()
        self._shard_size = 0
        self._shard_lines = 0
        self._shard_first_line = first_line
        self._shard_first_byte = first_byte

    def _finish_shard(self) -> None:
        assert self._shard is not None
        _sync_and_close(self._shard)
        self._shard = None
        self._files.append(
            FileInfo(
                name=shard_name(self._name, len(self._files)),
                bytes=self._shard_size,
                lines=self._shard_lines,
                sha256=self._shard_hash.hexdigest(),
                first_line=self._shard_first_line,
                first_byte=self._shard_first_byte,
            )
        )
        self._shard_size = 0
        self._shard_lines = 0

    def _write_index(self) -> None:
        if not self._pending:
            return
        if self._index is None:
            path = self._directory / index_name(self._name)
            self._index = path.open("xb")
            self._created.append(path)
        if not _LITTLE_ENDIAN:  # pragma: no cover
            self._pending.byteswap()
        self._index.write(self._pending)
        self._pending = array("Q")


def _sync_and_close(f: BinaryIO) -> None:
    try:
        f.flush()
        os.fsync(f.fileno())
    finally:
        f.close()


def _sync_directory(directory: Path) -> None:
    """Make the new directory entries durable, where the platform allows it."""
    flags = getattr(os, "O_DIRECTORY", None)
    if flags is None:  # pragma: no cover - Windows
        return
    fd = os.open(directory, os.O_RDONLY | flags)
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse
        pass
    finally:
        os.close(fd)


# --- reading --------------------------------------------------------------------------------


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
        problems = _manifest_problems(info)
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
            raw = self._folder.read_range(info.index, line * _ENTRY, (line + 1) * _ENTRY)
        except FileNotFoundError:
            raise LabelportError(f"{info.index}: missing") from None
        if len(raw) != _ENTRY:
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
        self, start: int = 0, end: int | None = None, chunk: int = _CHUNK
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


# --- checking -------------------------------------------------------------------------------


def check_stream(directory: Path, info: StreamInfo) -> list[str]:
    """Differences between the files of a stream in ``directory`` and ``info``; [] when none.

    Recomputes each file's bytes, lines (count of ``b"\\n"``) and sha256 and the stream's sha256,
    and checks that the index has exactly ``info.lines`` entries, starts at 0, is strictly
    increasing, stays below the end, and (when the shards are all there with the right sizes) that
    entry N is where line N starts, i.e. just after a ``b"\\n"``. Files are read in 1 MiB chunks
    and the index in 1 MiB pieces, alongside each other, so memory stays flat.
    """
    directory = Path(directory)
    manifest = _manifest_problems(info)
    files: list[str] = []
    index: list[str] = []
    stream_hash = hashlib.sha256()

    # The data can only be compared with the index when every byte is where the manifest says.
    intact = not manifest
    for f in info.files:
        try:
            intact = intact and (directory / f.name).stat().st_size == f.bytes
        except FileNotFoundError:
            intact = False
    # positions just after each b"\n" of the stream, with 0 in front: the line starts, then the end
    found = _scan_files(directory, info, files, stream_hash)
    starts = _prepend_zero(found)
    if info.index is not None:
        _check_index(directory, info, starts if intact else None, index)
    for _ in starts:  # read whatever the index check left unread
        pass

    stream: list[str] = []
    missing = any(p.endswith(": missing") for p in files)
    if not missing and stream_hash.hexdigest() != info.sha256:
        stream.append(
            f"{info.name}: sha256 is {stream_hash.hexdigest()} but the manifest says {info.sha256}"
        )
    if info.index is None:
        stray = directory / index_name(info.name)
        if stray.exists():
            index.append(f"{stray.name}: present, but the manifest has no index")
    return manifest + files + stream + index


class _Hash(Protocol):
    def update(self, data: bytes, /) -> None: ...


def _scan_files(
    directory: Path, info: StreamInfo, problems: list[str], stream_hash: _Hash
) -> Iterator[array[int]]:
    """Hash and count every file; yield the global positions just after each ``b"\\n"``."""
    pos = 0
    for f in info.files:
        try:
            fh = (directory / f.name).open("rb")
        except FileNotFoundError:
            problems.append(f"{f.name}: missing")
            continue
        file_hash = hashlib.sha256()
        size = newlines = 0
        last = b""
        with fh:
            while chunk := fh.read(_CHUNK):
                file_hash.update(chunk)
                stream_hash.update(chunk)
                pieces = chunk.split(b"\n")
                if len(pieces) > 1:
                    newlines += len(pieces) - 1
                    ends = accumulate(
                        map(operator.add, map(len, islice(pieces, len(pieces) - 1)), repeat(1)),
                        initial=pos,
                    )
                    yield array("Q", islice(ends, 1, None))
                size += len(chunk)
                pos += len(chunk)
                last = chunk[-1:]
        if size != f.bytes:
            problems.append(f"{f.name}: {size} bytes, but the manifest says {f.bytes}")
        if newlines != f.lines:
            problems.append(f"{f.name}: {newlines} lines, but the manifest says {f.lines}")
        if size and last != b"\n":
            problems.append(f"{f.name}: does not end with a newline")
        if file_hash.hexdigest() != f.sha256:
            problems.append(
                f"{f.name}: sha256 is {file_hash.hexdigest()} but the manifest says {f.sha256}"
            )


def _prepend_zero(found: Iterator[array[int]]) -> Iterator[array[int]]:
    yield array("Q", [0])
    yield from found


def _read_index(path: Path, entries: int) -> Iterator[array[int]]:
    with path.open("rb") as f:
        left = entries
        while left > 0:
            raw = f.read(min(left, _INDEX_READ_ENTRIES) * _ENTRY)
            got = len(raw) // _ENTRY
            if not got:
                return
            part = array("Q")
            part.frombytes(raw[: got * _ENTRY])
            if not _LITTLE_ENDIAN:  # pragma: no cover
                part.byteswap()
            left -= got
            yield part


def _check_index(
    directory: Path,
    info: StreamInfo,
    starts: Iterator[array[int]] | None,
    problems: list[str],
) -> None:
    """Check the index; compare it with the line starts found in the data when given them."""
    assert info.index is not None
    path = directory / info.index
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        problems.append(f"{info.index}: missing")
        return
    entries, extra = divmod(size, _ENTRY)
    if extra:
        problems.append(f"{info.index}: {size} bytes, not a whole number of 8-byte entries")
    if entries != info.lines:
        problems.append(f"{info.index}: {entries} entries, expected {info.lines}")

    data = array("Q")  # line starts found in the data, not yet compared
    data_done = starts is None
    done = 0  # entries checked so far
    previous = -1
    order_reported = range_reported = content_reported = False
    for part in _read_index(path, entries):
        if done == 0 and part[0] != 0:
            problems.append(f"{info.index}: entry 0 is {part[0]}, expected 0")
        if not order_reported and not (
            previous < part[0] and all(map(operator.lt, part, islice(part, 1, None)))
        ):
            pairs = zip(range(done, done + len(part)), part, strict=True)
            for n, value in pairs:
                if value <= previous:
                    problems.append(
                        f"{info.index}: entry {n} ({value}) is not greater than "
                        f"entry {n - 1} ({previous})"
                    )
                    break
                previous = value
            order_reported = True
        previous = part[-1]
        if not range_reported and max(part) >= info.bytes:
            n = done + next(i for i, v in enumerate(part) if v >= info.bytes)
            problems.append(
                f"{info.index}: entry {n} is {part[n - done]}, past the last byte of "
                f"the stream ({info.bytes} bytes)"
            )
            range_reported = True
        # compare with the line starts in the data
        at = 0
        while not content_reported and at < len(part):
            if not data:
                if data_done:
                    break
                assert starts is not None
                nxt = next(starts, None)
                if nxt is None:
                    data_done = True
                    break
                data = nxt
                continue
            n = min(len(data), len(part) - at)
            mine = part[at : at + n]
            if mine != data[:n]:
                i = next(i for i in range(n) if mine[i] != data[i])
                problems.append(
                    f"{info.index}: entry {done + at + i} is {mine[i]}, "
                    f"but line {done + at + i} starts at byte {data[i]}"
                )
                content_reported = True
            data = data[n:]
            at += n
        done += len(part)
