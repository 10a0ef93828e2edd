"""Writing a stream (:mod:`labelport.export.stream_writer`): shards of whole lines, the index,
empty streams, abort, tee, and the lines and arguments it refuses."""

from __future__ import annotations

import hashlib
import io
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelport.errors import InvalidInput
from labelport.export.stream_check import check_stream
from labelport.export.stream_reader import StreamReader
from labelport.export.stream_writer import StreamWriter
from labelport.export.streams import StreamInfo
from tests.export.stream_samples import SHARD, pages_of, shard_files, split_lines, write


def assert_well_sharded(directory: Path, info: StreamInfo, lines: list[bytes], limit: int) -> None:
    files = shard_files(directory)
    assert [f.name for f in files] == [fi.name for fi in info.files]
    assert [f.name for f in files] == [f"result-{n:05d}.ndjson" for n in range(len(files))]
    got: list[bytes] = []
    for path, fi in zip(files, info.files, strict=True):
        content = path.read_bytes()
        assert content, "a shard is never empty"
        shard_lines = split_lines(content)
        assert all(line.endswith(b"\n") for line in shard_lines)
        assert shard_lines == lines[fi.first_line : fi.first_line + fi.lines]
        assert len(content) <= limit or len(shard_lines) == 1
        # greedy: the next line would not have fit in this shard
        nxt = fi.first_line + fi.lines
        if nxt < len(lines):
            assert len(content) + len(lines[nxt]) > limit
        assert fi.bytes == len(content)
        assert fi.lines == len(shard_lines)
        assert fi.sha256 == hashlib.sha256(content).hexdigest()
        assert fi.first_byte == sum(map(len, got))
        assert fi.first_line == len(got)
        got += shard_lines
    assert got == lines


def test_lines_round_trip_across_several_shards(tmp_path, lines, written):
    whole = b"".join(lines)
    assert len(written.files) > 5
    assert_well_sharded(tmp_path, written, lines, SHARD)
    assert written.name == "result"
    assert written.lines == len(lines)
    assert written.bytes == len(whole)
    assert written.sha256 == hashlib.sha256(whole).hexdigest()
    assert written.index == "result.idx"
    assert (tmp_path / "result.idx").stat().st_size == 8 * len(lines)
    assert list(StreamReader(tmp_path, written).iter_lines()) == lines
    assert any(b"\xe6\x97\xa5" in line for line in lines)  # multi-byte UTF-8 was in there


def test_a_line_longer_than_a_shard_gets_a_shard_of_its_own(tmp_path):
    lines = [b"a\n", b"L" * 99 + b"\n", b"b\n", b"c\n", b"M" * 10 + b"\n"]
    info = write(tmp_path, [lines], shard_bytes=10)
    assert [(f.first_line, f.lines) for f in info.files] == [(0, 1), (1, 1), (2, 2), (4, 1)]
    assert_well_sharded(tmp_path, info, lines, 10)


def test_lines_exactly_filling_a_shard(tmp_path):
    lines = [b"abcd\n"] * 6
    info = write(tmp_path, [lines[:1], lines[1:4], lines[4:]], shard_bytes=10)
    assert [f.bytes for f in info.files] == [10, 10, 10]
    assert_well_sharded(tmp_path, info, lines, 10)


@settings(max_examples=60, deadline=None)
@given(
    texts=st.lists(st.text(st.characters(exclude_characters="\n"), max_size=30), max_size=40),
    shard_bytes=st.integers(1, 80),
    cuts=st.lists(st.integers(0, 10), max_size=6),
)
def test_any_lines_any_shard_size(texts, shard_bytes, cuts):
    lines = [(t + "\n").encode("utf-8", "surrogatepass") for t in texts]
    with tempfile.TemporaryDirectory() as d:
        directory = Path(d)
        info = write(directory, pages_of(lines, cuts), shard_bytes=shard_bytes)
        whole = b"".join(lines)
        assert info.sha256 == hashlib.sha256(whole).hexdigest()
        assert (info.lines, info.bytes) == (len(lines), len(whole))
        if not lines:
            assert list(directory.iterdir()) == []
            return
        assert_well_sharded(directory, info, lines, shard_bytes)
        reader = StreamReader(directory, info)
        assert list(reader.iter_lines()) == lines
        assert check_stream(directory, info) == []


def test_index_is_flushed_in_pieces(tmp_path):
    lines = [f"{i % 10}\n".encode() for i in range(70_000)]
    writer = StreamWriter(tmp_path, "result")
    writer.write_lines(lines[:30_000])
    assert not (tmp_path / "result.idx").exists()  # still buffered
    writer.write_lines(lines[30_000:])
    assert (writer.lines, writer.bytes) == (70_000, 140_000)
    writer.flush()
    assert (tmp_path / "result.idx").stat().st_size == 8 * 70_000
    info = writer.close()
    reader = StreamReader(tmp_path, info)
    assert reader.line_offset(69_999) == 2 * 69_999
    assert reader.line_offset(65_536) == 2 * 65_536
    assert check_stream(tmp_path, info) == []


def test_empty_stream_writes_no_files(tmp_path):
    writer = StreamWriter(tmp_path, "errors", shard_bytes=SHARD)
    writer.write_lines([])
    writer.flush()
    info = writer.close()
    assert list(tmp_path.iterdir()) == []
    assert info == StreamInfo("errors", 0, 0, hashlib.sha256(b"").hexdigest(), (), None)
    reader = StreamReader(tmp_path, info)
    assert list(reader.iter_lines()) == []
    assert list(reader.iter_bytes()) == []
    assert reader.line_offset(0) == 0
    with pytest.raises(InvalidInput):
        reader.line_offset(1)
    with pytest.raises(InvalidInput):
        reader.read_range(0, 0)
    assert check_stream(tmp_path, info) == []


def test_abort_removes_what_the_writer_created(tmp_path, lines):
    (tmp_path / "keep.txt").write_text("not mine")
    writer = StreamWriter(tmp_path, "result", shard_bytes=SHARD)
    writer.write_lines(lines)
    writer.flush()
    assert len(shard_files(tmp_path)) > 1
    assert (tmp_path / "result.idx").exists()
    writer.abort()
    writer.abort()
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
    with pytest.raises(ValueError):
        writer.write_lines(lines)
    with pytest.raises(ValueError):
        writer.close()


def test_abort_after_close_removes_the_files(tmp_path, lines):
    writer = StreamWriter(tmp_path, "result", shard_bytes=SHARD)
    writer.write_lines(lines)
    writer.close()
    writer.abort()
    assert list(tmp_path.iterdir()) == []


def test_tee_receives_identical_bytes(tmp_path, lines):
    tee = io.BytesIO()
    writer = StreamWriter(tmp_path, "result", shard_bytes=SHARD, tee=tee)
    for page in pages_of(lines, [3, 9, 27]):
        writer.write_lines(page)
    writer.flush()
    assert tee.getvalue() == b"".join(lines)
    writer.close()
    concatenated = b"".join(p.read_bytes() for p in shard_files(tmp_path))
    assert tee.getvalue() == concatenated == b"".join(lines)


def test_close_is_repeatable_and_ends_writing(tmp_path, lines):
    writer = StreamWriter(tmp_path, "result")
    writer.write_lines(lines)
    info = writer.close()
    assert writer.close() is info
    with pytest.raises(ValueError):
        writer.write_lines(lines)
    with pytest.raises(ValueError):
        writer.flush()


@pytest.mark.parametrize(
    "page",
    [[b"no newline"], [b"ok\n", b""], [b"two\nlines\n"], [b"ok\n", b"a\nb\n"]],
)
def test_write_lines_wants_one_complete_line_per_item(tmp_path, page):
    writer = StreamWriter(tmp_path, "result")
    with pytest.raises(ValueError):
        writer.write_lines(page)
    writer.abort()


def test_bad_writer_arguments(tmp_path):
    with pytest.raises(ValueError):
        StreamWriter(tmp_path, "result", shard_bytes=0)
    with pytest.raises(ValueError):
        StreamWriter(tmp_path, "../result")
    with pytest.raises(ValueError):
        StreamWriter(tmp_path, "")


def test_existing_files_are_never_overwritten(tmp_path, lines):
    write(tmp_path, [lines])
    writer = StreamWriter(tmp_path, "result")
    with pytest.raises(FileExistsError):
        writer.write_lines(lines)
    writer.abort()
    assert shard_files(tmp_path)  # the first writer's files are still there
