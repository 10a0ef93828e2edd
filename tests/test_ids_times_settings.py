from __future__ import annotations

from datetime import UTC, datetime

import pytest

from labelport.errors import ConfigurationError
from labelport.ids import derived_id, is_id, new_id
from labelport.settings import load_settings
from labelport.times import format_timestamp, parse_timestamp


def test_ids():
    ids = {new_id() for _ in range(2000)}
    assert len(ids) == 2000 and all(is_id(i) and len(i) == 25 for i in ids)
    assert derived_id("a", "b") == derived_id("a", "b") != derived_id("a", "c")
    assert is_id(derived_id("x"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-04-08T16:34:00.513Z", "2024-04-08T16:34:00.513+00:00"),
        ("2024-04-08T18:34:00.513999+02:00", "2024-04-08T16:34:00.513+00:00"),
        ("2024-04-08T16:34:00", "2024-04-08T16:34:00.000+00:00"),
    ],
)
def test_timestamps(text, expected):
    assert format_timestamp(parse_timestamp(text)) == expected


def test_naive_datetimes_format_as_utc():
    assert format_timestamp(datetime(2024, 1, 1, tzinfo=UTC)) == "2024-01-01T00:00:00.000+00:00"


def test_settings(tmp_path):
    cfg = load_settings({"LABELPORT_HOME": str(tmp_path)})
    assert cfg.database_url == f"sqlite:///{tmp_path.resolve() / 'catalog.db'}"
    cfg = load_settings({"LABELPORT_DATABASE_URL": "postgresql://u@h/db"})
    assert cfg.database_url == "postgresql+psycopg://u@h/db"
    with pytest.raises(ConfigurationError):
        load_settings({"LABELPORT_RUNNER": "cron"})
