"""Sharded NDJSON streams: writing, reading by line and byte, checking against the manifest."""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
from itertools import accumulate
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelport.errors import InvalidInput
from labelport.export.streams import (
    FileInfo,
    StreamInfo,
    StreamReader,
    StreamWriter,
    check_stream,
)

SHARD = 50

TEXTS = [
    "a",
    "",
    "héllo wörld",
    "日本語のテキスト",
    "emoji 🎉🚀 and more",
    "x" * 47,  # 48 bytes with its newline: alone nearly fills a shard
    "y" * 49,  # 50 bytes: exactly one shard
    "z" * 120,  # longer than a shard: a shard of its own
    "ünïcödé ✓",
    '{"data_row": {"id": "ck1", "row_data": "https://example.com/1.jpg"}}',
    "b",
    "Ωmega",
]


def make_lines(count: int) -> list[bytes]:
    return [f"{i}:{TEXTS[i % len(TEXTS)]}\n".encode() for i in range(count)]


def write(directory: Path, pages: list[list[bytes]], **kwargs) -> StreamInfo:
    writer = StreamWriter(directory, "result", **kwargs)
    for page in pages:
        writer.write_lines(page)
    return writer.close()


def pages_of(lines: list[bytes], sizes: list[int]) -> list[list[bytes]]:
    pages, at = [], 0
    for size in sizes:
        pages.append(lines[at : at + size])
        at += size
    pages.append(lines[at:])
    return pages


def split_lines(content: bytes) -> list[bytes]:
    """Lines ending in b"\\n" (bytes.splitlines would also cut at b"\\r")."""
    *parts, rest = content.split(b"\n")
    return [part + b"\n" for part in parts] + ([rest] if rest else [])


def shard_files(directory: Path, stream: str = "result") -> list[Path]:
    return sorted(directory.glob(f"{stream}-*.ndjson"))


@pytest.fixture
def lines() -> list[bytes]:
    return make_lines(60)


@pytest.fixture
def written(tmp_path: Path, lines: list[bytes]) -> StreamInfo:
    return write(tmp_path, pages_of(lines, [1, 7, 13, 0, 20]), shard_bytes=SHARD)


# --- writing ----------------------------------------------------------------------------------


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


def test_info_round_trips_through_json(written):
    data = json.loads(json.dumps(written.to_json()))
    assert StreamInfo.from_json(data) == written
    assert FileInfo.from_json(written.files[1].to_json()) == written.files[1]
    empty = StreamInfo("errors", 0, 0, hashlib.sha256(b"").hexdigest(), (), None)
    assert StreamInfo.from_json(json.loads(json.dumps(empty.to_json()))) == empty


@pytest.mark.parametrize(
    "change",
    [
        {"bytes": -1},
        {"lines": "3"},
        {"sha256": None},
        {"files": None},
        {"index": 3},
        {"files": [{"name": "x"}]},
    ],
)
def test_info_from_bad_json(written, change):
    data = {**written.to_json(), **change}
    with pytest.raises(ValueError):
        StreamInfo.from_json(data)


def test_reader_refuses_a_self_contradicting_info(tmp_path, written):
    files = (written.files[1], written.files[0], *written.files[2:])
    with pytest.raises(ValueError):
        StreamReader(tmp_path, StreamInfo(**{**written.to_json(), "files": files}))


# --- reading ----------------------------------------------------------------------------------


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


# --- checking ---------------------------------------------------------------------------------


def test_check_good_output(tmp_path, written):
    assert check_stream(tmp_path, written) == []


def test_check_flipped_byte(tmp_path, written):
    path = tmp_path / written.files[1].name
    content = bytearray(path.read_bytes())
    content[2] ^= 0x01
    path.write_bytes(bytes(content))
    problems = check_stream(tmp_path, written)
    assert any(p.startswith("result-00001.ndjson: sha256 is ") for p in problems)
    assert any(p.startswith("result: sha256 is ") for p in problems)
    assert not any("result-00000" in p or "result-00002" in p for p in problems)
    assert not any("result.idx" in p for p in problems)


def test_check_flipped_newline(tmp_path, written):
    path = tmp_path / written.files[2].name
    content = bytearray(path.read_bytes())
    content[content.index(b"\n")] = ord("_")
    path.write_bytes(bytes(content))
    problems = check_stream(tmp_path, written)
    assert any(p.startswith("result-00002.ndjson: ") and "lines" in p for p in problems)
    # the index no longer matches where the lines start
    line = written.files[2].first_line + 1
    assert any(p.startswith(f"result.idx: entry {line} is ") for p in problems)


def test_check_truncated_file(tmp_path, written):
    path = tmp_path / written.files[2].name
    content = path.read_bytes()
    path.write_bytes(content[:-3])
    problems = check_stream(tmp_path, written)
    name = written.files[2].name
    assert f"{name}: {len(content) - 3} bytes, but the manifest says {len(content)}" in problems
    assert f"{name}: does not end with a newline" in problems


def test_check_missing_file(tmp_path, written):
    (tmp_path / "result-00002.ndjson").unlink()
    problems = check_stream(tmp_path, written)
    assert "result-00002.ndjson: missing" in problems
    assert problems == ["result-00002.ndjson: missing"]


def test_check_missing_index(tmp_path, written):
    (tmp_path / "result.idx").unlink()
    assert check_stream(tmp_path, written) == ["result.idx: missing"]


def test_check_truncated_index(tmp_path, written):
    path = tmp_path / "result.idx"
    path.write_bytes(path.read_bytes()[:-8])
    assert check_stream(tmp_path, written) == ["result.idx: 59 entries, expected 60"]


def test_check_ragged_index(tmp_path, written):
    path = tmp_path / "result.idx"
    path.write_bytes(path.read_bytes()[:-3])
    problems = check_stream(tmp_path, written)
    assert "result.idx: 477 bytes, not a whole number of 8-byte entries" in problems
    assert "result.idx: 59 entries, expected 60" in problems


def _set_entry(path: Path, n: int, value: int) -> None:
    raw = bytearray(path.read_bytes())
    raw[8 * n : 8 * n + 8] = value.to_bytes(8, "little")
    path.write_bytes(bytes(raw))


def test_check_index_entry_off_a_line_start(tmp_path, lines, written):
    path = tmp_path / "result.idx"
    start = sum(map(len, lines[:10]))
    _set_entry(path, 10, start + 1)
    assert check_stream(tmp_path, written) == [
        f"result.idx: entry 10 is {start + 1}, but line 10 starts at byte {start}"
    ]


def test_check_index_not_increasing(tmp_path, lines, written):
    path = tmp_path / "result.idx"
    _set_entry(path, 5, 0)
    problems = check_stream(tmp_path, written)
    assert f"result.idx: entry 5 (0) is not greater than entry 4 ({sum(map(len, lines[:4]))})" in (
        problems
    )
    assert any(p.startswith("result.idx: entry 5 is 0, but line 5 starts") for p in problems)


def test_check_index_not_starting_at_zero_and_past_the_end(tmp_path, written):
    path = tmp_path / "result.idx"
    _set_entry(path, 0, 1)
    _set_entry(path, 59, written.bytes + 10)
    problems = check_stream(tmp_path, written)
    assert "result.idx: entry 0 is 1, expected 0" in problems
    assert any(p.startswith("result.idx: entry 59 is ") and "past" in p for p in problems)


def test_check_a_manifest_that_lies(tmp_path, written):
    wrong = StreamInfo(**{**written.to_json(), "files": written.files, "lines": 61})
    problems = check_stream(tmp_path, wrong)
    assert "result: 61 lines, but its files hold 60" in problems
    assert "result.idx: 60 entries, expected 61" in problems
