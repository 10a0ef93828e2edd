"""Reading the values of a Vertex AI record: objects' keys, resource labels, checked values.

:func:`read_fields` reads the keys of a Vertex object by canonical (camelCase) name into
:class:`Fields`; a key labelport does not know is kept verbatim and warned about in the record's
:class:`Context` (which also collects the annotation set names and the sentiment scale the record
names). :func:`labelled` puts an annotation's resource labels and kept keys on the canonical object
made from it. The ``as_*`` validators each return the clean value or raise
:class:`~labelport.imports.base.Problem` naming the field. Part of the Vertex converter,
:mod:`labelport.imports.vertex`, whose docstring has the mapping.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from labelport.imports.base import JSON, Problem
from labelport.imports.vertex_objectives import canon
from labelport.vertex_vocab import ARL as _ARL
from labelport.vertex_vocab import EXTRA, SET_NAME_LABEL

_DURATION = re.compile(r"^\d+(\.\d+)?s$")
_INTEGER = re.compile(r"^-?\d+$")
_DECIMAL = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_POSITION = re.compile(r"\[\d+\]")
_KEPT = "unknown field; kept as given and exported back in place"


@dataclass(frozen=True, slots=True)
class Fields:
    """A JSON object's keys by canonical (camelCase) name, remembering the spelling given;
    ``extra`` holds the keys labelport does not know, verbatim."""

    path: str
    given: dict[str, tuple[str, Any]]
    extra: JSON

    def at(self, name: str) -> str:
        return join_path(self.path, self.given[name][0] if name in self.given else name)

    def has(self, name: str) -> bool:
        return name in self.given

    def get(self, name: str) -> Any:
        return self.given[name][1] if name in self.given else None

    def need(self, name: str, reason: str = "missing") -> Any:
        if name not in self.given:
            raise Problem(self.at(name), reason)
        return self.given[name][1]


@dataclass(slots=True)
class Context:
    """What parsers collect besides the annotations themselves."""

    text: str | None = None
    set_names: list[tuple[str, str]] = field(default_factory=list)  # (path, set id)
    sentiment_max: tuple[str, int] | None = None  # (path, value)
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (generalized path, reason)

    def warn(self, path: str, reason: str) -> None:
        self.warnings.append((_POSITION.sub("[]", path), reason))


# ---------------------------------------------------------------------------------------------
# resource labels and kept keys


def resource_labels_of(fields: Fields, context: Context) -> dict[str, str]:
    """An annotation's resource labels without the set name, which goes to the context."""
    if not fields.has(_ARL):
        return {}
    path = fields.at(_ARL)
    labels = as_labels(fields.get(_ARL), path)
    set_name = labels.pop(SET_NAME_LABEL, None)
    if set_name is not None:
        set_path = key_path(path, SET_NAME_LABEL)
        context.set_names.append((set_path, as_string(set_name, set_path)))
    return labels


def labelled(target: JSON, fields: Fields, context: Context) -> JSON:
    """``target`` (made from the Vertex object ``fields``) with its resource labels and the
    keys labelport does not know."""
    return keep_extra(with_labels(target, resource_labels_of(fields, context)), fields)


def keep_extra(target: JSON, fields: Fields, key: str = EXTRA) -> JSON:
    if fields.extra:
        target[key] = dict(fields.extra)
    return target


def with_labels(target: JSON, labels: dict[str, str]) -> JSON:
    if labels:
        target["resource_labels"] = dict(labels)
    return target


# ---------------------------------------------------------------------------------------------
# validators: each returns the clean value or raises Problem(path, reason)


def read_fields(value: Any, path: str, allowed: Iterable[str], context: Context) -> Fields:
    """The keys of a Vertex object; a key labelport does not know goes to ``extra`` (its
    reader keeps it) with a warning."""
    allowed = frozenset(allowed)
    given: dict[str, tuple[str, Any]] = {}
    extra: JSON = {}
    for key, item in as_object(value, path).items():
        name = canon(key)
        if name not in allowed:
            extra[key] = item
            context.warn(join_path(path, key), _KEPT)
            continue
        if name in given:
            raise Problem(join_path(path, key), f"given twice (also as {given[name][0]})")
        given[name] = (key, item)
    return Fields(path, given, extra)


def join_path(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def key_path(path: str, key: str) -> str:
    return f'{path}["{key}"]'


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def as_object(value: Any, path: str) -> JSON:
    if not isinstance(value, dict):
        raise Problem(path, f"expected an object, got {_describe(value)}")
    return value


def as_list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise Problem(path, f"expected a list, got {_describe(value)}")
    return value


def as_string(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value:
        raise Problem(path, f"expected a non-empty string, got {_describe(value)}")
    return value


def as_labels(value: Any, path: str) -> dict[str, str]:
    labels = as_object(value, path)
    for key, item in labels.items():
        if not isinstance(item, str):
            raise Problem(key_path(path, key), f"expected a string, got {_describe(item)}")
    return dict(labels)


def as_unit(value: Any, path: str) -> float:
    """A normalized coordinate: a number, or a string holding one, in 0..1."""
    if isinstance(value, str) and _DECIMAL.match(value.strip()):
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Problem(path, f"expected a number, got {_describe(value)}")
    number = float(value)
    if not (math.isfinite(number) and 0.0 <= number <= 1.0):
        raise Problem(path, f"{number:g} is outside 0..1 (coordinates are normalized)")
    return number


def as_int(value: Any, path: str, low: int, high: int | None = None) -> int:
    if isinstance(value, str) and _INTEGER.match(value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise Problem(path, f"expected an integer, got {_describe(value)}")
    if value < low:
        raise Problem(path, f"{value} is less than {low}")
    if high is not None and value > high:
        raise Problem(path, f"{value} is greater than {high}")
    return value


def as_integer_text(value: Any, path: str) -> str:
    """An int64 id, given as a number or a string, kept as a string."""
    if isinstance(value, str) and _INTEGER.match(value):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise Problem(path, f"expected an integer id, got {_describe(value)}")


def as_duration(value: Any, path: str, infinity: bool = True) -> str:
    if isinstance(value, str) and (_DURATION.match(value) or (infinity and value == "Infinity")):
        return value
    form = '"1.5s"' + (' or "Infinity"' if infinity else "")
    raise Problem(path, f"expected a duration such as {form}, got {_describe(value)}")


def seconds_of(duration: str) -> float:
    return math.inf if duration == "Infinity" else float(duration[:-1])
