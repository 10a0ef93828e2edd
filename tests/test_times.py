"""Wall-clock times to instants across daylight-saving changes (``times.local_to_utc``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from labelport.errors import InvalidSpec
from labelport.export.spec import Scope, parse_spec
from labelport.times import local_to_utc

BERLIN = ZoneInfo("Europe/Berlin")
MS = timedelta(milliseconds=1)


def wall(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


def test_a_start_in_a_gap_begins_at_the_first_instant_after_it() -> None:
    start = local_to_utc(datetime(2025, 3, 30, 2, 30), BERLIN, "start")
    assert start == datetime(2025, 3, 30, 1, 0, tzinfo=UTC)  # 03:00 CEST
    assert wall(start, BERLIN) == datetime(2025, 3, 30, 3, 0)


def test_an_end_in_a_gap_stops_just_before_it() -> None:
    end = local_to_utc(datetime(2025, 3, 30, 2, 30), BERLIN, "end")
    assert end == datetime(2025, 3, 30, 0, 59, 59, 999000, tzinfo=UTC)  # 01:59:59.999 CET


def test_a_fold_starts_at_its_first_occurrence_and_ends_at_its_second() -> None:
    local = datetime(2025, 10, 26, 2, 30)
    assert local_to_utc(local, BERLIN, "start") == datetime(2025, 10, 26, 0, 30, tzinfo=UTC)
    assert local_to_utc(local, BERLIN, "end") == datetime(2025, 10, 26, 1, 30, tzinfo=UTC)


def test_half_hour_shifts_and_a_skipped_day() -> None:
    lord_howe = ZoneInfo("Australia/Lord_Howe")  # moves 30 minutes
    start = local_to_utc(datetime(2025, 10, 5, 2, 15), lord_howe, "start")
    assert wall(start, lord_howe) == datetime(2025, 10, 5, 2, 30)
    apia = ZoneInfo("Pacific/Apia")  # 2011-12-30 never happened there
    start = local_to_utc(datetime(2011, 12, 30, 12, 0), apia, "start")
    assert wall(start, apia) == datetime(2011, 12, 31, 0, 0)


def test_a_range_across_the_gap_is_no_longer_refused_as_reversed() -> None:
    spec = parse_spec(
        Scope("project", "p1"),
        None,
        {"last_activity_at": ["2025-03-30 02:30:00", "2025-03-30 03:10:00"]},
        timezone="Europe/Berlin",
    )
    assert spec.filters.last_activity_at == (
        datetime(2025, 3, 30, 1, 0, tzinfo=UTC),
        datetime(2025, 3, 30, 1, 10, tzinfo=UTC),
    )
    # a range wholly inside the gap names no instant: it is empty, so refused as reversed
    with pytest.raises(InvalidSpec, match="after the end"):
        parse_spec(
            Scope("project", "p1"),
            None,
            {"last_activity_at": ["2025-03-30 02:10:00", "2025-03-30 02:50:00"]},
            timezone="Europe/Berlin",
        )


ZONES = [
    ZoneInfo(name)
    for name in (
        "Europe/Berlin",
        "America/New_York",
        "America/Sao_Paulo",
        "Australia/Lord_Howe",
        "Asia/Tokyo",
        "Pacific/Apia",
        "Europe/Dublin",  # "negative" daylight saving in its rules
    )
]
NEAR_CHANGES = [datetime(y, m, d) for y in (2011, 2018, 2025) for m, d in ((3, 30), (10, 26))] + [
    datetime(2025, 3, 9),
    datetime(2025, 11, 2),
    datetime(2025, 10, 5),
    datetime(2025, 4, 6),
    datetime(2011, 12, 30),
    datetime(2018, 11, 4),
    datetime(2018, 2, 18),
]


@given(
    zone=st.sampled_from(ZONES),
    day=st.sampled_from(NEAR_CHANGES),
    seconds=st.integers(min_value=-6 * 3600, max_value=30 * 3600),
)
def test_a_range_holds_exactly_the_instants_whose_wall_clock_lies_in_it(
    zone: ZoneInfo, day: datetime, seconds: int
) -> None:
    local = day + timedelta(seconds=seconds)
    start = local_to_utc(local, zone, "start")
    end = local_to_utc(local, zone, "end")
    # the start is the first instant at or after the wall-clock time, the end the last one at
    # or before it; the clock never shows ``local`` outside [start, end]
    assert wall(start, zone) >= local > wall(start - MS, zone)
    assert wall(end, zone) <= local < wall(end + MS, zone)
    if wall(start, zone) == local:  # the time exists: both ends name it
        assert wall(end, zone) == local and start <= end
    else:  # a gap: the end is the instant just before the start
        assert end == start - MS
