"""Checked reads of the values of a Diffgram export, for every part of the converter.

Each returns the value in the form asked for (an object, a list, a number, a canonical timestamp)
or raises :class:`~labelport.imports.base.Problem` naming the field; :func:`schema_id` derives
(and caches) the ontology-level ids that repeat in every packet.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from labelport import ids
from labelport.imports.base import JSON, Problem
from labelport.times import format_timestamp, parse_timestamp


@lru_cache(maxsize=8192)
def schema_id(*parts: str) -> str:
    """``derived_id`` for ontology-level ids, which repeat in every packet."""
    return ids.derived_id(*parts)


def type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def as_object(value: Any, path: str) -> JSON:
    if not isinstance(value, dict):
        raise Problem(path, f"expected an object, got {type_name(value)}")
    return value


def as_list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise Problem(path, f"expected a list, got {type_name(value)}")
    return value


def as_number(value: Any, path: str) -> int | float:
    if value is None:
        raise Problem(path, "is required")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Problem(path, f"expected a number, got {type_name(value)}")
    return value


def as_timestamp(value: Any, path: str) -> str | None:
    """Diffgram's ``str(datetime)`` (naive UTC) or ISO 8601, as a canonical timestamp."""
    if value is None or value == "None":  # str(None): a missing time
        return None
    if not isinstance(value, str):
        raise Problem(path, f"expected a timestamp, got {type_name(value)}")
    try:
        return format_timestamp(parse_timestamp(value))
    except ValueError:
        raise Problem(path, f"not a timestamp: {value!r}") from None
