"""Chunks of a sharded stream (pure: a stream written with StreamWriter, no server)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from labelport.errors import InvalidInput
from labelport.export.stream_reader import StreamReader
from labelport.export.stream_writer import StreamWriter
from labelport.server.compat.labelbox.streams import (
    chunk_at_offset,
    chunk_from_line,
    line_at_offset,
)

WORDS = ("é", "日本語", "ascii", "🚗🚗", "x" * 90, "ñ")


def write(tmp_path: Path, lines: list[bytes], shard_bytes: int) -> StreamReader:
    writer = StreamWriter(tmp_path, "result", shard_bytes=shard_bytes)
    writer.write_lines(lines)
    return StreamReader(tmp_path, writer.close())


@pytest.fixture
def sample(tmp_path: Path) -> tuple[StreamReader, list[bytes]]:
    lines = [
        orjson.dumps({"n": i, "w": WORDS[i % len(WORDS)] * (1 + i % 4)}) + b"\n" for i in range(40)
    ]
    reader = write(tmp_path, lines, shard_bytes=300)
    assert len(reader.info.files) > 5
    return reader, lines


@pytest.mark.parametrize("limit", [1, 50, 120, 299, 10_000])
def test_every_offset_lands_in_a_chunk_of_whole_lines_within_one_shard(
    sample: tuple[StreamReader, list[bytes]], limit: int
) -> None:
    reader, lines = sample
    data = b"".join(lines)
    starts = [sum(map(len, lines[:i])) for i in range(len(lines) + 1)]
    shards = [(f.first_byte, f.first_byte + f.bytes) for f in reader.info.files]
    for offset in range(len(data)):
        chunk = chunk_at_offset(reader, offset, limit)
        assert chunk.first_byte <= offset <= chunk.last_byte
        assert chunk.first_byte == starts[chunk.first_line]
        assert chunk.last_byte + 1 == starts[chunk.last_line + 1]
        piece = data[chunk.first_byte : chunk.last_byte + 1]
        assert piece == b"".join(lines[chunk.first_line : chunk.last_line + 1])
        piece.decode("utf-8")  # never a cut character
        assert any(a <= chunk.first_byte and chunk.last_byte < b for a, b in shards)
        assert chunk.size <= limit or chunk.first_line == chunk.last_line
        following = chunk.last_line + 1
        if following < len(lines) and any(
            a <= chunk.first_byte and starts[following + 1] <= b for a, b in shards
        ):
            assert starts[following + 1] - chunk.first_byte > limit  # as many lines as fit


def test_reading_chunk_after_chunk_gives_the_stream(
    sample: tuple[StreamReader, list[bytes]],
) -> None:
    reader, lines = sample
    for limit in (1, 64, 1000):
        offset, got = 0, b""
        while offset < reader.info.bytes:
            chunk = chunk_at_offset(reader, offset, limit)
            got += b"".join(reader.iter_bytes(chunk.first_byte, chunk.last_byte + 1))
            offset = chunk.last_byte + 1
        assert got == b"".join(lines)
    for line in range(len(lines)):
        assert chunk_from_line(reader, line, 1).first_line == line
        assert line_at_offset(reader, reader.line_offset(line)) == line


def test_out_of_range_and_empty_streams(
    tmp_path: Path, sample: tuple[StreamReader, list[bytes]]
) -> None:
    reader, lines = sample
    with pytest.raises(InvalidInput, match="out of range"):
        chunk_at_offset(reader, reader.info.bytes)
    with pytest.raises(InvalidInput, match="out of range"):
        chunk_from_line(reader, len(lines))
    (tmp_path / "empty").mkdir()
    empty = write(tmp_path / "empty", [], shard_bytes=100)
    with pytest.raises(InvalidInput, match="has 0 bytes"):
        chunk_at_offset(empty, 0)
    with pytest.raises(InvalidInput, match="has 0 lines"):
        chunk_from_line(empty, 0)
