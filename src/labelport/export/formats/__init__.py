"""Output formats: pure functions of canonical rows, published after the canonical export.

The engine always writes the canonical RESULT stream (and its manifest) first. A task whose format
is not ``ndjson`` then runs the format's *publisher* over those rows: it reads them back in export
order, writes the format's files where they belong (the task's folder, or a destination such as a
``gs://`` prefix) and returns a JSON-able ``output`` that is stored on the task (exported files,
data stats, file counts...). A publisher raises :mod:`labelport.errors` for a bad option or a
failure; the task then ends FAILED with that message and nothing partial stays at the destination.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from labelport.errors import InvalidSpec
from labelport.export.manifest import read_manifest, stream_info
from labelport.export.stream_reader import StreamReader

if TYPE_CHECKING:
    from labelport.services.export_tasks import TaskInfo
    from labelport.settings import Settings
    from labelport.store import Store

Progress = Callable[[int, int | None], None]


def _no_progress(done: int, total: int | None) -> None:
    return None


@dataclass(frozen=True)
class Publication:
    """What a publisher gets: the finished canonical export of one task and the request."""

    store: Store
    settings: Settings
    task: TaskInfo
    options: dict[str, Any]
    directory: Path  # the task's artifact folder (RESULT/ERRORS streams, manifest.json)
    progress: Progress = field(default=_no_progress)

    def rows(self) -> Iterator[dict[str, Any]]:
        """The canonical rows of the RESULT stream, decoded, in export order."""
        reader = StreamReader(self.directory, stream_info(read_manifest(self.directory), "result"))
        for line in reader.iter_lines():
            yield orjson.loads(line)


Publisher = Callable[[Publication], dict[str, Any]]

# format name -> publisher; a format's module registers it when imported (see ``publisher``).
PUBLISHERS: dict[str, Publisher] = {}
# format name -> a check of the request's options (raises InvalidSpec, returns them normalized).
OPTION_CHECKS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {}
CANONICAL = "ndjson"
FORMATS = (CANONICAL, "vertex", "diffgram")


def register(name: str) -> Callable[[Publisher], Publisher]:
    def decorate(fn: Publisher) -> Publisher:
        PUBLISHERS[name] = fn
        return fn

    return decorate


def _load(name: str) -> None:
    if name not in FORMATS:
        raise InvalidSpec(f"unknown export format {name!r} (known: {', '.join(FORMATS)})")
    if name != CANONICAL:
        importlib.import_module(f"labelport.export.formats.{name}")


def publisher(name: str) -> Publisher | None:
    """The publisher of format ``name``; None for the canonical NDJSON, which needs none."""
    _load(name)
    return PUBLISHERS.get(name)


def check_options(name: str, options: dict[str, Any] | None) -> dict[str, Any] | None:
    """Validate a request's format options before any work; ``ndjson`` takes none."""
    _load(name)
    if name == CANONICAL:
        if options:
            raise InvalidSpec(f"format {CANONICAL!r} takes no options, got {sorted(options)}")
        return None
    check = OPTION_CHECKS.get(name)
    return check(options or {}) if check is not None else options
