"""Load canonical rows into the catalog: batched, idempotent, all-or-nothing per file.

The whole file goes into one write transaction. Rows are checked and written in batches (a few
queries per batch, never one statement per row), so memory stays flat whatever the file size. The
first bad record stops the writing but not the checking: the caller gets up to 100 problems and the
count of all of them, and the transaction is rolled back, so a failed file leaves no trace.

Re-importing updates by id (or global key when a row has no id); sections a row leaves out
(attachments, metadata, a project's labels, ...) keep what the catalog already has, sections it
carries replace what was there.
"""

from __future__ import annotations

import gc
import hashlib
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from dataclasses import field as _field
from typing import Any

import orjson
import sqlalchemy as sa

from labelport.errors import InvalidRecords, RecordError
from labelport.imports import aliases
from labelport.imports.base import (
    AliasSpec,
    AnnotationSetSpec,
    Item,
    ParsedRow,
    Problem,
    SourceWarning,
)
from labelport.imports.batches import BatchWriter, ExportReady
from labelport.imports.canonical import CheckedRow, check_row
from labelport.imports.entities import Entities
from labelport.imports.table_rows import counts
from labelport.store import Store
from labelport.times import utcnow

__all__ = ["BATCH_SIZE", "ExportReady", "ImportResult", "ImportWarning", "import_items"]

BATCH_SIZE = 500


@dataclass(slots=True)
class ImportWarning:
    """Alike warnings of one import, counted: the field path (ids and positions generalized),
    the reason, how many times, and the first lines it was seen on."""

    field: str
    reason: str
    count: int = 0
    lines: list[int] = _field(default_factory=list)

    FIRST_LINES = 5

    def to_json(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "reason": self.reason,
            "count": self.count,
            "lines": self.lines,
        }


@dataclass(slots=True)
class ImportResult:
    file: str
    rows: int = 0
    labels: int = 0  # project labels
    predictions: int = 0
    model_runs: int = 0  # distinct model runs the rows belong to
    model_run_labels: int = 0  # ground-truth labels of model runs
    seconds: float = 0.0
    annotation_sets: list[str] = field(default_factory=list)
    warnings: list[ImportWarning] = field(default_factory=list)
    objective: str | None = None  # Vertex: the objective the file was read as
    dataset: str | None = None  # the default dataset, when the import named one itself

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("inf")

    def to_json(self) -> dict[str, Any]:
        """The summary as REST and ``--json`` show it."""
        out: dict[str, Any] = {
            "rows": self.rows,
            "labels": self.labels,
            "predictions": self.predictions,
            "model_runs": self.model_runs,
            "model_run_labels": self.model_run_labels,
            "annotation_sets": list(self.annotation_sets),
            "warnings": [w.to_json() for w in self.warnings],
        }
        if self.objective is not None:
            out["objective"] = self.objective
        if self.dataset is not None:
            out["dataset"] = self.dataset
        return out


class _Errors:
    def __init__(self, file: str) -> None:
        self.file = file
        self.listed: list[RecordError] = []
        self.total = 0

    def add(self, error: RecordError) -> None:
        self.total += 1
        if len(self.listed) < InvalidRecords.MAX_LISTED:
            self.listed.append(error)

    def problem(self, line: int, problem: Problem) -> None:
        self.add(RecordError(self.file, line, problem.field, problem.reason))


class _Warnings:
    """Alike warnings (same field path and reason) counted together, in the order first seen."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], ImportWarning] = {}

    def add(self, warning: SourceWarning) -> None:
        key = (warning.field, warning.reason)
        found = self.seen.get(key)
        if found is None:
            found = self.seen[key] = ImportWarning(warning.field, warning.reason)
        found.count += 1
        if len(found.lines) < ImportWarning.FIRST_LINES and warning.line not in found.lines:
            found.lines.append(warning.line)

    def summary(self) -> list[ImportWarning]:
        return list(self.seen.values())


# Imports of at least this many rows refresh the planner's statistics when they commit.
STATISTICS_AFTER = 1000


def import_items(
    store: Store,
    org_id: str,
    items: Iterable[Item],
    *,
    file: str,
    default_dataset: str | None = None,
    media_type: str | None = None,
    ready: ExportReady,
    on_progress: Callable[[int], None] | None = None,
    batch_size: int | None = None,
    strict: bool = False,
) -> ImportResult:
    """Import converter ``items`` into organization ``org_id``; InvalidRecords on bad input.

    ``ready`` keeps the export-ready rows of what is written (:mod:`labelport.export.cache`,
    passed in by the services: imports do not depend on exports).

    Warnings (unknown fields and values, kept verbatim) are counted into the result; with
    ``strict`` each one is an error instead."""
    started = time.perf_counter()
    batch_size = batch_size or BATCH_SIZE
    result = ImportResult(file=file)
    errors = _Errors(file)
    warnings = _Warnings()

    def warn(warning: SourceWarning) -> None:
        if strict:
            errors.add(
                RecordError(file, warning.line, warning.field, f"{warning.reason} (--strict)")
            )
        else:
            warnings.add(warning)

    context = orjson.dumps([SOURCE_FORMAT, default_dataset, media_type])
    with _fewer_collections(), store.write(large=True) as conn:
        _page_cache(store, conn)
        entities = Entities(conn, store.bulk(conn), org_id, default_dataset, file, utcnow())
        loader = BatchWriter(store, conn, entities, media_type=media_type, file=file, ready=ready)
        try:
            _load(
                loader,
                entities,
                conn,
                items,
                result,
                errors,
                warn,
                context,
                batch_size,
                on_progress,
            )
        finally:
            loader.close()  # the writes in the background are done before the transaction ends
        if not errors.total:
            entities.finish()
            if ready.incomplete(conn, org_id):  # e.g. a renamed project: its rows forgot theirs
                ready.fill(conn, org_id)
        if errors.total:
            raise InvalidRecords(file, errors.listed, errors.total)
        result.warnings = warnings.summary()
        result.rows = loader.rows
        if entities.used_default:
            result.dataset = default_dataset
    if result.rows >= STATISTICS_AFTER:
        store.refresh_statistics()
    result.seconds = time.perf_counter() - started
    return result


def _load(
    loader: BatchWriter,
    entities: Entities,
    conn: sa.Connection,
    items: Iterable[Item],
    result: ImportResult,
    errors: _Errors,
    warn: Callable[[SourceWarning], None],
    context: bytes,
    batch_size: int,
    on_progress: Callable[[int], None] | None,
) -> None:
    """Read ``items``: rows checked and written a batch at a time, the rest as it comes."""
    pending: list[tuple[int, CheckedRow]] = []
    runs: set[str] = set()

    def flush() -> None:
        if pending and not errors.total:
            for error in loader.write(pending):
                errors.add(error)
            if not errors.total:
                for _, r in pending:
                    labels, predictions, run_labels, row_runs = counts(r)
                    result.labels += labels
                    result.predictions += predictions
                    result.model_run_labels += run_labels
                    runs.update(row_runs)
        pending.clear()

    loader.on_written = on_progress  # distinct rows: a repeated line counts once
    for item in items:
        if isinstance(item, RecordError):
            errors.add(item)
        elif isinstance(item, SourceWarning):
            warn(item)
        elif isinstance(item, AnnotationSetSpec):
            if not errors.total:
                entities.annotation_set(item)
            result.annotation_sets.append(item.id)
            result.objective = item.objective
        elif isinstance(item, AliasSpec):
            if not errors.total:
                loader.settle()
                try:
                    aliases.write(conn, entities.org_id, item)
                except Problem as problem:
                    errors.problem(item.line, problem)
        elif isinstance(item, ParsedRow):
            digest = source_digest(context, item)
            try:
                checked = check_row(item.row)
            except Problem as problem:
                errors.problem(item.line, problem)
            else:
                checked.shaped = item.shaped
                checked.digest = digest
                for path, reason in checked.notes.items:
                    warn(SourceWarning(item.line, path, reason))
                pending.append((item.line, checked))
            if len(pending) >= batch_size:
                flush()
    flush()
    loader.settle()
    result.model_runs = len(runs)


# SQLite's page cache for an import's transaction (KiB). Big enough that the pages a batch
# changes again and again (the tables' and indexes' last pages, their interior pages) stay in
# memory; pages changed once and done with (most of them: rows are appended) spill into the WAL as
# the cache fills, instead of the whole transaction staying in memory (a cache as large as the
# import, what Store.write(large=True) allows, made peak memory grow with the file: 900 MB at
# 100,000 rows). Store.write puts SQLite's default back when the transaction ends.
IMPORT_CACHE_KIB = 64 * 1024


def _page_cache(store: Store, conn: sa.Connection) -> None:
    if store.is_sqlite:
        driver = conn.connection.driver_connection
        assert driver is not None
        driver.execute(f"PRAGMA cache_size=-{IMPORT_CACHE_KIB}")


# While imports run, the cyclic garbage collector runs less often. A batch keeps its parsed rows
# (hundreds of thousands of objects, none in a cycle) until it is written; with the default
# thresholds each one was traversed again and again by full collections: a seventh of an
# import's time. (Cycles are still collected, only later; the last import to end puts the
# thresholds back.)
IMPORT_GC_THRESHOLDS = (10_000, 10, 100)
_gc_lock = threading.Lock()
_gc_saved: list[tuple[int, int, int]] = []  # the thresholds before the first running import
_gc_running = 0


@contextmanager
def _fewer_collections() -> Iterator[None]:
    global _gc_running
    with _gc_lock:
        if not _gc_running:
            saved = gc.get_threshold()
            _gc_saved[:] = [saved]
            gc.set_threshold(*(max(a, b) for a, b in zip(saved, IMPORT_GC_THRESHOLDS, strict=True)))
        _gc_running += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_running -= 1
            if not _gc_running and _gc_saved:
                gc.set_threshold(*_gc_saved.pop())


# Part of every record's digest: a labelport that writes records differently changes it, so
# that rows an older one wrote are written again rather than skipped as unchanged.
SOURCE_FORMAT = 1


def source_digest(context: bytes, item: ParsedRow) -> bytes | None:
    """What a row is written from: its record and the import's context (default dataset, forced
    media type, source shape or labelport's own). None for a record orjson cannot encode."""
    try:
        record = orjson.dumps(item.row)
    except (TypeError, orjson.JSONEncodeError):
        return None
    digest = hashlib.blake2b(context, digest_size=16)
    digest.update(b"shaped" if item.shaped else b"own")
    digest.update(record)
    return digest.digest()
