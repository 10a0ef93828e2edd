"""What every importer shares: reading lines, the items converters yield, small validators.

A *converter* is a pure generator over the lines of a source file. It yields

* :class:`ParsedRow` — one canonical row (see ``docs/row-format.md``) with its source line,
* :class:`~labelport.errors.RecordError` — one problem with one record (the converter goes on),
* :class:`AnnotationSetSpec` — an annotation set the rows' labels belong to (Vertex).

The loader (:mod:`labelport.imports.load`) turns those into one all-or-nothing transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from labelport.errors import RecordError

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ParsedRow:
    line: int
    row: JSON


@dataclass(frozen=True, slots=True)
class AnnotationSetSpec:
    """An annotation set (Vertex) whose labels live in project ``project_id``."""

    id: str
    display_name: str
    objective: str
    project_id: str
    settings: JSON = field(default_factory=dict)


Item = ParsedRow | RecordError | AnnotationSetSpec


class Problem(Exception):
    """Raised inside converters to report one record problem; turned into a RecordError."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def iter_lines(stream: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    """Non-blank lines of a binary stream with 1-based line numbers."""
    for number, raw in enumerate(stream, start=1):
        line = raw.strip()
        if line:
            yield number, line


def iter_json_lines(stream: IO[bytes], file: str) -> Iterator[tuple[int, JSON] | RecordError]:
    """Parse JSON Lines; a bad line yields a RecordError and reading goes on."""
    for number, line in iter_lines(stream):
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            yield RecordError(file, number, "", f"not valid JSON ({exc})")
            continue
        if not isinstance(value, dict):
            yield RecordError(
                file, number, "", f"expected a JSON object, got {type(value).__name__}"
            )
            continue
        yield number, value


def display_name(path: str | Path) -> str:
    return str(path)
