"""The values a Diffgram packet is built from: checked reads of canonical values, and times.

Each ``as_*`` returns the value in the form asked for or raises :class:`Unbuildable`, which names
the canonical field a row fails on; :func:`diffgram_time` writes a canonical timestamp the way
Diffgram writes times. Part of the Diffgram writer (:mod:`labelport.export.formats.diffgram`).
"""

from __future__ import annotations

from typing import Any

from labelport.times import parse_timestamp

JSON = dict[str, Any]


class Unbuildable(Exception):
    """A row whose packet cannot be built; ``field`` names the canonical field."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def diffgram_time(value: str | None) -> str | None:
    """A canonical timestamp as Diffgram writes times: naive UTC ``str(datetime)``."""
    if value is None:
        return None
    moment = parse_timestamp(value)
    return str(moment.replace(tzinfo=None))


def type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def as_object(value: Any, path: str) -> JSON:
    if not isinstance(value, dict):
        raise Unbuildable(path, f"expected an object, got {type_name(value)}")
    return value


def as_list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise Unbuildable(path, f"expected a list, got {type_name(value)}")
    return value


def as_number(value: Any, path: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Unbuildable(path, f"expected a number, got {type_name(value)}")
    return value
