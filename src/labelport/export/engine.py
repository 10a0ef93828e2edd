"""Drive one export: plan → pages → assemble → encode → streams → manifest.

Everything is read inside one read transaction, so the export is one point in time (SQLite under
WAL; PostgreSQL REPEATABLE READ). Rows go out as they are built: the first page is flushed before
the total is even counted, and memory holds one page at a time whatever the size.

A row that cannot be assembled goes to the ERRORS stream as ``{"data_row_id", "error"}`` and the
export goes on. Progress and cancellation are checked between pages, at most a few times a second.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import orjson
import sqlalchemy as sa

from labelport import __version__
from labelport.export import cache_reading
from labelport.export import plan as planning
from labelport.export.assemble import Include, Page, build_row, fetch
from labelport.export.manifest import Counts, write_manifest
from labelport.export.spec import ExportSpec
from labelport.export.stream_writer import StreamWriter
from labelport.export.streams import StreamInfo
from labelport.store import Store
from labelport.times import format_timestamp, utcnow
from labelport.vocab import status_label

PAGE_SIZE = 500
SHARD_BYTES = 256 * 1024 * 1024
PROGRESS_EVERY = 0.5  # seconds

Progress = Callable[[int, int | None], None]  # (rows done, rows planned) -> None; may raise


class Canceled(Exception):
    """Raised by a progress callback (or a cancel check) to stop an export."""


@dataclass(frozen=True, slots=True)
class Outcome:
    directory: Path
    manifest: dict[str, Any]
    result: StreamInfo
    errors: StreamInfo


def run_export(
    store: Store,
    org_id: str,
    spec: ExportSpec,
    directory: Path,
    *,
    task_id: str | None = None,
    page_size: int = PAGE_SIZE,
    shard_bytes: int = SHARD_BYTES,
    tee: IO[bytes] | None = None,
    progress: Progress | None = None,
) -> Outcome:
    """Export ``spec`` into ``directory`` (created; it must not exist yet).

    Writes go to ``<directory>.partial`` and the folder is renamed when everything, manifest
    included, is on disk: a directory that exists is complete. ``progress`` is called between
    pages; raising :class:`Canceled` (or anything) from it stops the export and removes the
    partial output.
    """
    with writing(directory, shard_bytes=shard_bytes, tee=tee) as out:
        with store.read() as conn:
            snapshot_at = utcnow()
            plan = planning.resolve(conn, org_id, spec)
            total = export_pages(
                conn, plan, out.result, out.errors, out.counts, page_size, progress
            )
        return out.complete(plan, task_id, snapshot_at, total)


@dataclass
class Output:
    """An export being written into ``<directory>.partial`` (see :func:`writing`)."""

    directory: Path
    partial: Path
    result: StreamWriter
    errors: StreamWriter
    counts: Counts

    def complete(
        self, plan: planning.Plan, task_id: str | None, snapshot_at: datetime, total: int
    ) -> Outcome:
        """Close the streams, write the manifest and move the folder into place."""
        result_info, error_info = self.result.close(), self.errors.close()
        manifest = _manifest(
            plan, task_id, snapshot_at, total, self.counts, result_info, error_info
        )
        write_manifest(self.partial, manifest)
        if self.directory.exists():
            shutil.rmtree(self.directory)
        self.partial.rename(self.directory)
        return Outcome(self.directory, manifest, result_info, error_info)


@contextmanager
def writing(
    directory: Path, *, shard_bytes: int = SHARD_BYTES, tee: IO[bytes] | None = None
) -> Iterator[Output]:
    """The streams of an export of ``directory``, written in ``<directory>.partial``: a
    folder that exists is complete. Anything raised inside removes the partial output."""
    partial = directory.with_name(directory.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)  # left by an export that died: start over
    partial.mkdir(parents=True)
    result = StreamWriter(partial, "result", shard_bytes=shard_bytes, tee=tee)
    errors = StreamWriter(partial, "errors", shard_bytes=shard_bytes)
    try:
        yield Output(directory, partial, result, errors, Counts())
    except BaseException:
        result.abort()
        errors.abort()
        shutil.rmtree(partial, ignore_errors=True)
        raise


def export_pages(
    conn: sa.Connection,
    plan: planning.Plan,
    result: StreamWriter,
    errors: StreamWriter,
    counts: Counts,
    page_size: int,
    progress: Progress | None,
    *,
    count_rows: bool = True,
) -> int:
    """Export the plan's rows into the streams; returns the rows planned. Without
    ``count_rows`` (a shard's key range, whose count would cost a scan of its own) that is
    the rows read."""
    # The RESULT stream is written on a thread of its own, a page behind: joining a page's
    # lines, hashing and writing release the GIL, so they overlap with reading the next page.
    # (Reading pages on a second thread was measured and gained nothing: that work holds the
    # GIL.)
    composer = cache_reading.Composer(plan.include)
    total: int | None = None
    done = 0
    last = time.monotonic()
    with ThreadPoolExecutor(1, thread_name_prefix="labelport-write") as writer:
        behind: Future[bytes] | None = None
        for ready in cache_reading.pages(conn, plan, page_size):
            lines, failed = page_lines(conn, plan.org_id, ready, composer, counts)
            if behind is not None:
                behind.result()  # at most one page in flight; its error surfaces here
            behind = writer.submit(result.write_lines, lines)
            if failed:
                errors.write_lines(failed)
            done += len(ready)
            if total is None and count_rows:
                behind.result()
                result.flush()  # the first rows are readable before the count is known
                total = planning.count(conn, plan)
                if progress:
                    progress(done, total)
                last = time.monotonic()
            elif progress and time.monotonic() - last >= PROGRESS_EVERY:
                progress(done, total)
                last = time.monotonic()
        if behind is not None:
            behind.result()
    if total is None:
        total = done
    if progress:
        progress(done, total)
    return total


def page_lines(
    conn: sa.Connection,
    org_id: str,
    ready: list[cache_reading.Ready],
    composer: cache_reading.Composer,
    counts: Counts,
) -> tuple[list[bytes], list[bytes]]:
    """The lines of one page of export-ready rows (:data:`cache_reading.Ready`), and the page's
    check values counted: entries cut from their stored lines, the other rows (no entry, or labels
    to interpolate) read and built by the live path."""
    include = composer.include
    live_only = cache_reading.live_only
    live = [r[0] for r in ready if r[1] is None or live_only(r[1], include)]
    if not live:
        line, count = composer.line, composer.count
        lines = []
        for _, tally, layout, stored in ready:
            assert tally is not None
            lines.append(line(tally, layout, stored))
            count(tally, counts)
        return lines, []
    page = fetch(conn, org_id, live, include)
    if len(live) == len(ready):
        return _encode(page, live, include, counts)
    lines, failed = [], []
    for rid, tally, layout, stored in ready:
        if rid in page.rows:
            built, errors = _encode(page, [rid], include, counts)
            lines += built
            failed += errors
        elif tally is not None and not live_only(tally, include):
            lines.append(composer.line(tally, layout, stored))
            composer.count(tally, counts)
    return lines, failed


def _encode(
    page: Page, ids: list[str], include: Include, counts: Counts
) -> tuple[list[bytes], list[bytes]]:
    lines: list[bytes] = []
    failed: list[bytes] = []
    dumps, newline = orjson.dumps, orjson.OPT_APPEND_NEWLINE
    for rid in ids:
        if rid not in page.rows:
            continue
        try:
            line = dumps(build_row(page, rid, include), option=newline)
        except Exception as exc:  # one bad row must not stop the export
            reason = f"{type(exc).__name__}: {exc}"
            failed.append(dumps({"data_row_id": rid, "error": reason}, option=newline))
            counts.errors += 1
            continue
        lines.append(line)
        _count(page, rid, include, counts)
        counts.count_kinds(line)
    return lines, failed


def _count(page: Page, rid: str, include: Include, counts: Counts) -> None:
    counts.data_rows += 1
    if include.projects != ():
        for p in page.projects.get(rid, ()):  # (data_row_id, project_id, workflow_status, ...)
            counts.labels[p[1]] += len(page.labels.get((p[1], rid), ()))
            counts.workflow_status[p[1]][status_label(p[2])] += 1
    if include.model_runs != ():
        for run in page.runs.get(rid, ()):  # (data_row_id, model_run_id, ...)
            key = (run[1], rid)
            counts.model_run_labels[run[1]] += len(page.run_labels.get(key, ()))
            counts.predictions[run[1]] += len(page.predictions.get(key, ()))


def _manifest(
    plan: planning.Plan,
    task_id: str | None,
    snapshot_at: Any,
    planned: int,
    counts: Counts,
    result: StreamInfo,
    errors: StreamInfo,
) -> dict[str, Any]:
    spec = plan.spec
    scope = spec.scope.to_json()
    if plan.scope_name is not None:
        scope["name"] = plan.scope_name
    return {
        "labelport_version": __version__,
        "task_id": task_id,
        "organization_id": plan.org_id,
        "format": spec.format,
        "scope": scope,
        "params": spec.normalized_params,
        "filters": spec.normalized_filters,
        "timezone": spec.timezone,
        "order": ["data_row.created_at", "data_row.id"],
        "snapshot_at": format_timestamp(snapshot_at),
        "finished_at": format_timestamp(utcnow()),
        "rows_planned": planned,
        "counts": counts.to_json(),
        "streams": {"result": result.to_json(), "errors": errors.to_json()},
    }
