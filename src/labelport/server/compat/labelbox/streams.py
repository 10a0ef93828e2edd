"""Reading an export's streams the Labelbox way: a metadata header, then chunks by offset/line.

``exportFileFromOffset(offset)`` / ``exportFileFromLine(line)`` answer one *chunk*: whole lines
of one shard, starting at the line that holds that byte (or at that line), as long as they fit
in ``limit`` bytes (at least one line, however long). ``offsets`` are inclusive byte offsets into
the whole stream and ``lines`` inclusive 0-based line numbers; the chunk's bytes are exactly
``offsets.end - offsets.start + 1`` long and, since every line ends with ``\\n``, always whole
UTF-8. Lines are found through the stream's line index by bisection (a few 8-byte reads), never
by scanning the data.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

from labelport.errors import InvalidInput
from labelport.export.stream_reader import StreamReader
from labelport.export.streams import FileInfo

CHUNK_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Chunk:
    first_byte: int
    last_byte: int  # inclusive
    first_line: int
    last_line: int  # inclusive

    @property
    def size(self) -> int:
        return self.last_byte - self.first_byte + 1


def _shard_of_line(reader: StreamReader, line: int) -> FileInfo:
    files = reader.info.files
    firsts = [f.first_line for f in files]
    return files[bisect_right(firsts, line) - 1]


def line_at_offset(reader: StreamReader, offset: int) -> int:
    """The 0-based line that holds byte ``offset``."""
    info = reader.info
    if not 0 <= offset < info.bytes:
        raise InvalidInput(
            f"offset {offset} is out of range: the {info.name} stream has {info.bytes} bytes "
            f"(offsets 0 to {info.bytes - 1})"
        )
    return reader.line_at(offset)


def chunk_from_line(reader: StreamReader, line: int, limit: int = CHUNK_BYTES) -> Chunk:
    """Whole lines from ``line`` on, inside its shard, at most ``limit`` bytes (≥ one line)."""
    info = reader.info
    if not 0 <= line < info.lines:
        raise InvalidInput(
            f"line {line} is out of range: the {info.name} stream has {info.lines} lines "
            f"(lines 0 to {info.lines - 1})"
        )
    shard = _shard_of_line(reader, line)
    start = reader.line_offset(line)
    last = shard.first_line + shard.lines - 1
    shard_end = shard.first_byte + shard.bytes
    if shard_end - start <= limit:
        return Chunk(start, shard_end - 1, line, last)
    low, high = line, last
    while low < high:  # the last line whose end keeps the chunk within the limit
        mid = (low + high + 1) // 2
        if reader.line_offset(mid + 1) - start <= limit:
            low = mid
        else:
            high = mid - 1
    return Chunk(start, reader.line_offset(low + 1) - 1, line, low)


def chunk_at_offset(reader: StreamReader, offset: int, limit: int = CHUNK_BYTES) -> Chunk:
    """The chunk that holds byte ``offset`` (it starts at that byte's line)."""
    return chunk_from_line(reader, line_at_offset(reader, offset), limit)
