"""Timestamps: UTC, millisecond precision, one textual form.

Exports write ``2023-03-15T14:46:58.000+00:00`` (the Labelbox export form). Inputs may be any
ISO 8601 form (``Z`` or an offset, with or without fractions) and are truncated to milliseconds.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from typing import Literal


def utcnow() -> datetime:
    """Now, in UTC, truncated to milliseconds."""
    return truncate(datetime.now(UTC))


def truncate(value: datetime) -> datetime:
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def parse_timestamp(text: str) -> datetime:
    """Parse an ISO 8601 timestamp; a naive one is taken as UTC. Raises ``ValueError``."""
    if not isinstance(text, str):
        raise ValueError(f"expected an ISO 8601 timestamp string, got {type(text).__name__}")
    value = datetime.fromisoformat(text.strip())
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return truncate(value.astimezone(UTC))


def format_timestamp(value: datetime | None) -> str | None:
    """``2023-03-15T14:46:58.000+00:00`` or None."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+00:00"


def local_to_utc(local: datetime, zone: tzinfo, side: Literal["start", "end"]) -> datetime:
    """The UTC instant a naive wall-clock time in ``zone`` names, as one end of a range.

    Wall-clock times are not always one instant. In a DST *gap* (``2025-03-30 02:30`` in
    Europe/Berlin never happens) a start begins at the first instant after the gap and an end
    stops just before it (one millisecond, the catalog's precision), so the range holds exactly
    the instants whose wall-clock time lies in it. In a *fold* (``2025-10-26 02:30`` happens
    twice) a start takes the earlier instant and an end the later one, so the range covers both.
    """
    first = local.replace(tzinfo=zone, fold=0)
    second = local.replace(tzinfo=zone, fold=1)
    before, after = first.utcoffset(), second.utcoffset()
    if before == after:  # the usual case: one instant
        return first.astimezone(UTC)
    early, late = sorted((first.astimezone(UTC), second.astimezone(UTC)))
    if early.astimezone(zone).replace(tzinfo=None) == local:  # a fold: the time happens twice
        return early if side == "start" else late
    # a gap: the clock jumps over ``local``; find the instant it jumps (between early and late)
    assert before is not None and after is not None  # a ZoneInfo always has an offset
    jumped = max(before, after)  # the offset the clock jumps to
    low, high = early, late
    while (high - low).total_seconds() > 1:
        middle = low + (high - low) / 2
        if middle.astimezone(zone).utcoffset() == jumped:
            high = middle
        else:
            low = middle
    transition = high.replace(microsecond=0)
    if transition.astimezone(zone).utcoffset() != jumped:  # the jump is at a whole second
        transition += timedelta(seconds=1)
    return transition if side == "start" else transition - timedelta(milliseconds=1)
