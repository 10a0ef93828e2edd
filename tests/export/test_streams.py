"""The records that describe a stream (:mod:`labelport.export.streams`): to JSON and back, and
what they refuse."""

from __future__ import annotations

import hashlib
import json

import pytest

from labelport.export.streams import FileInfo, StreamInfo


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
