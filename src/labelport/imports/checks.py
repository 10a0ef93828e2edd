"""Small validators the canonical checks share. Pure.

Each raises :class:`~labelport.imports.base.Problem` (field path, reason) for input labelport
cannot take: not JSON of the right type for a field it must interpret, a missing id. Things it
can keep without understanding them (an unknown field, an unknown enum value) are *noted* in a
:class:`Notes` instead: the row is imported with them kept verbatim, and the import's summary
lists them (``--strict``: errors).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from labelport.imports.base import JSON, Problem
from labelport.times import parse_timestamp

_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_ID_MATCH = _ID_RE.fullmatch
_from_iso = datetime.fromisoformat
_POSITION = re.compile(r"\[\d+\]")


class Notes:
    """What one row carried that labelport keeps without knowing it: (field path, reason).

    Paths are generalized for counting: list positions become ``[]`` and the keys of objects
    keyed by id (projects, model runs, frames) become ``*``."""

    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def unknown_field(self, path: str) -> None:
        self.items.append((general(path), "unknown field, kept as given"))

    def unknown_value(self, path: str, value: Any, known: Iterable[str]) -> None:
        self.items.append(
            (general(path), f"unknown value {value!r} (known: {', '.join(known)}), kept as given")
        )

    def note(self, path: str, reason: str) -> None:
        self.items.append((general(path), reason))


def general(path: str) -> str:
    """``projects.ckx1.labels[3].x`` → ``projects.*.labels[].x`` (ids of keyed objects: ``*``)."""
    parts = _POSITION.sub("[]", path).split(".")
    out = []
    keyed = {"projects", "experiments", "runs", "frames", "groups", "objects"}
    after_keyed = False
    for part in parts:
        out.append("*" if after_keyed else part)
        after_keyed = part in keyed and not after_keyed
    return ".".join(out)


def keys(
    value: Any,
    path: str,
    allowed: frozenset[str],
    required: tuple[str, ...] = (),
    notes: Notes | None = None,
) -> JSON:
    """``value`` as an object of ``allowed`` keys. Unknown keys are noted (kept by the caller),
    or, without ``notes``, refused."""
    if value.__class__ is dict and value.keys() <= allowed:  # the common case, in one test
        for key in required:
            if value.get(key) is None:
                raise Problem(f"{path}.{key}" if path else key, "is required")
        return value
    if not isinstance(value, dict):
        raise Problem(path, f"expected an object, got {type_name(value)}")
    for key in value:
        if key not in allowed:
            where = f"{path}.{key}" if path else key
            if notes is None:
                raise Problem(where, f"unknown field (allowed here: {', '.join(sorted(allowed))})")
            notes.unknown_field(where)
    for key in required:
        if value.get(key) is None:
            raise Problem(f"{path}.{key}" if path else key, "is required")
    return value


def type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def string(value: Any, path: str, *, optional: bool = True, limit: int | None = None) -> str | None:
    if value is None:
        if optional:
            return None
        raise Problem(path, "is required")
    if not isinstance(value, str):
        raise Problem(path, f"expected a string, got {type_name(value)}")
    if limit is not None and len(value) > limit:
        raise Problem(path, f"longer than {limit} characters")
    return value


def identifier(value: Any, path: str, *, optional: bool = True) -> str | None:
    if value is None:
        if optional:
            return None
        raise Problem(path, "is required")
    if not isinstance(value, str) or _ID_RE.fullmatch(value) is None:
        raise Problem(path, f"not a valid id: {value!r} (1-64 letters, digits, '-' or '_')")
    return value


def timestamp(value: Any, path: str) -> datetime | None:
    if value is None:
        return None
    if value.__class__ is str and len(value) == 29 and value.endswith("+00:00"):
        found = exported_timestamp(value)  # the export form: no normalizing to do
        if found is not None:
            return found
    if not isinstance(value, str):
        raise Problem(path, f"expected an ISO 8601 timestamp, got {type_name(value)}")
    try:
        return parse_timestamp(value)
    except ValueError:
        raise Problem(path, f"not an ISO 8601 timestamp: {value!r}") from None


def exported_timestamp(text: str) -> datetime | None:
    """``text`` in the export form (``2023-03-15T14:46:58.000+00:00``: UTC, milliseconds) as an
    instant, or None for any other text (:func:`timestamp` then parses it the general way)."""
    try:
        value = _from_iso(text)
    except ValueError:
        return None
    return value if value.tzinfo is UTC and not value.microsecond % 1000 else None


def timestamp_of(obj: JSON, key: str, path: str) -> datetime | None:
    """:func:`timestamp` of ``obj[key]`` (absent: None); the path is only made for a problem."""
    value = obj.get(key)
    if value is None:
        return None
    if value.__class__ is str and len(value) == 29 and value.endswith("+00:00"):
        found = exported_timestamp(value)
        if found is not None:
            return found
    return timestamp(value, f"{path}.{key}")


NUMBER_TYPES = frozenset({int, float})  # bool is not among them


def numbers_of(obj: JSON, keys_: tuple[str, ...], path: str) -> None:
    """:func:`number` of each of ``keys_`` in ``obj`` (the paths only made for a problem)."""
    for key in keys_:
        value = obj.get(key)
        if value is not None and value.__class__ not in NUMBER_TYPES:
            number(value, f"{path}.{key}")


def is_id(value: Any) -> bool:
    """Is ``value`` a valid id (what :func:`identifier` takes)?"""
    return value.__class__ is str and _ID_MATCH(value) is not None


def string_of(obj: JSON, key: str, path: str, limit: int | None = None) -> str | None:
    """:func:`string` of ``obj[key]``; the path is only made for a problem."""
    value = obj.get(key)
    if value is None or (value.__class__ is str and (limit is None or len(value) <= limit)):
        return value
    return string(value, f"{path}.{key}" if path else key, limit=limit)


def id_of(obj: JSON, key: str, path: str) -> str | None:
    """:func:`identifier` of ``obj[key]``; the path is only made for a problem."""
    value = obj.get(key)
    if value is None or is_id(value):
        return value
    return identifier(value, f"{path}.{key}" if path else key)


def integer_of(obj: JSON, key: str, path: str) -> int | None:
    """:func:`integer` of ``obj[key]``; the path is only made for a problem."""
    value = obj.get(key)
    if value is None or value.__class__ is int:
        return value
    return integer(value, f"{path}.{key}")


def email_of(obj: JSON, key: str, path: str) -> str | None:
    """:func:`email` of ``obj[key]``; the path is only made for a problem."""
    value = obj.get(key)
    if value is None or (value.__class__ is str and len(value) <= 320 and "@" in value):
        return value
    return email(value, f"{path}.{key}")


def number(value: Any, path: str) -> float | int | None:
    """A JSON number as given (an integer stays an integer)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Problem(path, f"expected a number, got {type_name(value)}")
    return value


def integer(value: Any, path: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise Problem(path, f"expected an integer, got {type_name(value)}")
    return value


def listed(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise Problem(path, f"expected a list, got {type_name(value)}")
    return value


def email(value: Any, path: str) -> str | None:
    text = string(value, path, limit=320)
    if text is not None and "@" not in text:
        raise Problem(path, f"not an email address: {text!r}")
    return text
