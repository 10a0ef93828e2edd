"""Writing one stream of an export: shards of whole NDJSON lines and the line index beside them.

:class:`StreamWriter` appends pages of complete lines, starts a new shard when the next line would
not fit, writes the line index as it goes (never held whole in memory), fsyncs every file on
close and describes the result as a :class:`~labelport.export.streams.StreamInfo`. The layout on
disk is described in :mod:`labelport.export.streams`.
"""

from __future__ import annotations

import builtins
import hashlib
import os
from array import array
from bisect import bisect_right
from collections.abc import Sequence
from contextlib import suppress
from itertools import accumulate, repeat
from pathlib import Path
from typing import IO, BinaryIO

from labelport.export.streams import (
    DEFAULT_SHARD_BYTES,
    EMPTY_SHA256,
    LITTLE_ENDIAN,
    FileInfo,
    StreamInfo,
    check_stream_name,
    index_name,
    shard_name,
)

_INDEX_FLUSH_ENTRIES = 64 * 1024  # index entries buffered before they are written


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
        check_stream_name(name)
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
            sha256=self._stream_hash.hexdigest() if self._lines else EMPTY_SHA256,
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
        if not LITTLE_ENDIAN:  # pragma: no cover
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
