"""Fixtures of the stream tests (``tests/export/test_stream*.py``): ``lines`` of every kind, and a
stream ``written`` of them in several shards (:mod:`tests.export.stream_samples`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from labelport.export.streams import StreamInfo
from tests.export.stream_samples import SHARD, make_lines, pages_of, write


@pytest.fixture
def lines() -> list[bytes]:
    return make_lines(60)


@pytest.fixture
def written(tmp_path: Path, lines: list[bytes]) -> StreamInfo:
    return write(tmp_path, pages_of(lines, [1, 7, 13, 0, 20]), shard_bytes=SHARD)
