"""Checking the files of a stream on disk against their manifest entry.

:func:`check_stream` recomputes every shard's bytes, lines and sha256 and the stream's sha256, and
checks the line index entry by entry against the line starts found in the data, reading both in
1 MiB pieces so that memory stays flat. The layout on disk is described in
:mod:`labelport.export.streams`.
"""

from __future__ import annotations

import hashlib
import operator
from array import array
from collections.abc import Iterator
from itertools import accumulate, islice, repeat
from pathlib import Path
from typing import Protocol

from labelport.export.streams import (
    CHUNK,
    INDEX_ENTRY,
    LITTLE_ENDIAN,
    StreamInfo,
    index_name,
    manifest_problems,
)

_INDEX_READ_ENTRIES = 128 * 1024  # index entries read at a time by check_stream (1 MiB)


def check_stream(directory: Path, info: StreamInfo) -> list[str]:
    """Differences between the files of a stream in ``directory`` and ``info``; [] when none.

    Recomputes each file's bytes, lines (count of ``b"\\n"``) and sha256 and the stream's sha256,
    and checks that the index has exactly ``info.lines`` entries, starts at 0, is strictly
    increasing, stays below the end, and (when the shards are all there with the right sizes) that
    entry N is where line N starts, i.e. just after a ``b"\\n"``. Files are read in 1 MiB chunks
    and the index in 1 MiB pieces, alongside each other, so memory stays flat.
    """
    directory = Path(directory)
    manifest = manifest_problems(info)
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
            while chunk := fh.read(CHUNK):
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
            raw = f.read(min(left, _INDEX_READ_ENTRIES) * INDEX_ENTRY)
            got = len(raw) // INDEX_ENTRY
            if not got:
                return
            part = array("Q")
            part.frombytes(raw[: got * INDEX_ENTRY])
            if not LITTLE_ENDIAN:  # pragma: no cover
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
    entries, extra = divmod(size, INDEX_ENTRY)
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
