"""Timestamps: UTC, millisecond precision, one textual form.

Exports write ``2023-03-15T14:46:58.000+00:00`` (the Labelbox export form). Inputs may be any
ISO 8601 form (``Z`` or an offset, with or without fractions) and are truncated to milliseconds.
"""

from __future__ import annotations

from datetime import UTC, datetime


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
