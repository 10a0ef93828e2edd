"""Reading a stream (:mod:`labelport.export.stream_reader`) by line and byte: offsets of every
line, lines from every line, byte ranges across shard edges, HTTP ranges."""

from __future__ import annotations

from itertools import accumulate

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelport.errors import InvalidInput
from labelport.export.stream_reader import StreamReader
from labelport.export.streams import StreamInfo
from tests.export.stream_samples import SHARD, make_lines, pages_of, write


def test_reader_refuses_a_self_contradicting_info(tmp_path, written):
    files = (written.files[1], written.files[0], *written.files[2:])
    with pytest.raises(ValueError):
        StreamReader(tmp_path, StreamInfo(**{**written.to_json(), "files": files}))


def test_line_offset_of_every_line(tmp_path, lines, written):
    reader = StreamReader(tmp_path, written)
    running = list(accumulate(map(len, lines), initial=0))
    assert [reader.line_offset(n) for n in range(len(lines) + 1)] == running
    assert reader.line_offset(len(lines)) == written.bytes


@pytest.mark.parametrize("line", [-1, 61, 10**6])
def test_line_out_of_range(tmp_path, written, line):
    reader = StreamReader(tmp_path, written)
    with pytest.raises(InvalidInput) as caught:
        reader.line_offset(line)
    assert str(line) in str(caught.value)
    assert "60 lines" in str(caught.value)
    with pytest.raises(InvalidInput):
        reader.iter_lines(line)


def test_iter_lines_from_every_line(tmp_path, lines, written):
    reader = StreamReader(tmp_path, written)
    for n in range(len(lines) + 1):
        assert list(reader.iter_lines(n)) == lines[n:]


def test_iter_bytes_at_shard_edges(tmp_path, lines, written):
    reader = StreamReader(tmp_path, written)
    whole = b"".join(lines)
    edges = sorted({e + d for f in written.files for e in (f.first_byte,) for d in (-1, 0, 1)})
    edges = [e for e in edges if 0 <= e <= len(whole)] + [len(whole)]
    for start in edges:
        for end in edges:
            if start <= end:
                assert b"".join(reader.iter_bytes(start, end)) == whole[start:end]
        assert b"".join(reader.iter_bytes(start)) == whole[start:]
    pieces = list(reader.iter_bytes(chunk=7))
    assert b"".join(pieces) == whole
    assert max(map(len, pieces)) <= 7


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> tuple[StreamReader, bytes]:
    directory = tmp_path_factory.mktemp("sample")
    lines = make_lines(80)
    info = write(directory, pages_of(lines, [5, 11, 30]), shard_bytes=SHARD)
    return StreamReader(directory, info), b"".join(lines)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_iter_bytes_equals_a_slice(sample, data):
    reader, whole = sample
    start = data.draw(st.integers(0, len(whole)), label="start")
    end = data.draw(st.integers(start, len(whole)), label="end")
    chunk = data.draw(st.integers(1, 100), label="chunk")
    got = list(reader.iter_bytes(start, end, chunk))
    assert b"".join(got) == whole[start:end]
    assert all(0 < len(piece) <= chunk for piece in got)
    if start < end:
        assert reader.read_range(start, end - 1) == whole[start:end]


def test_iter_bytes_out_of_range(sample):
    reader, whole = sample
    total = len(whole)
    for start, end in [(total + 1, None), (-1, None), (5, 4), (0, total + 1), (total + 1, total)]:
        with pytest.raises(InvalidInput):
            reader.iter_bytes(start, end)  # raised at the call, before iterating
    assert list(reader.iter_bytes(total)) == []
    assert list(reader.iter_bytes(7, 7)) == []
    with pytest.raises(ValueError):
        reader.iter_bytes(0, None, 0)


def test_read_range(sample):
    reader, whole = sample
    total = len(whole)
    assert reader.read_range(0, 0) == whole[:1]
    assert reader.read_range(10, 10**9) == whole[10:]  # an end past the end is cut
    assert reader.read_range(total - 1, total - 1) == whole[-1:]
    for start, end in [(total, total), (total + 5, total + 9), (-1, 3), (9, 8)]:
        with pytest.raises(InvalidInput):
            reader.read_range(start, end)


def test_abandoned_iterators_close_their_files(sample):
    reader, _ = sample
    lines = reader.iter_lines(3)
    next(lines)
    chunks = reader.iter_bytes(0, None, 3)
    next(chunks)
    del lines, chunks  # closed by the generators' cleanup: no ResourceWarning
