"""Lines of every kind (multi-byte, empty, longer than a shard) and helpers to write them as a
stream, for the tests of the streams of an export (``tests/export/test_stream*.py``; the
fixtures ``lines`` and ``written`` are in ``tests/export/conftest.py``)."""

from __future__ import annotations

from pathlib import Path

from labelport.export.stream_writer import StreamWriter
from labelport.export.streams import StreamInfo

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
