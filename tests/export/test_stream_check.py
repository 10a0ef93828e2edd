"""Checking a stream's files against the manifest (:mod:`labelport.export.stream_check`): every
kind of damage to a shard or to the index is named."""

from __future__ import annotations

from pathlib import Path

from labelport.export.stream_check import check_stream
from labelport.export.streams import StreamInfo


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
