"""Export tasks as database records: create, look up, list, cancel, archive, and execute one.

A task moves QUEUED → IN_PROGRESS → COMPLETE | FAILED | CANCELED. Every transition is a
conditional update (``… WHERE status = <expected>``), so a cancel that races the end of an export
has exactly one winner. Progress (rows done / rows planned) is written a few times a second.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson
import sqlalchemy as sa

from labelport.errors import Busy, ConfigurationError, Conflict, LabelportError, NotFound
from labelport.export import formats
from labelport.export import plan as planning
from labelport.export.artifacts import Artifacts
from labelport.export.engine import PAGE_SIZE, SHARD_BYTES, Canceled, run_export
from labelport.export.spec import ExportSpec, Scope, parse_spec
from labelport.ids import new_id
from labelport.services.sharding import Sharding, coordinate
from labelport.settings import Settings
from labelport.store import Store
from labelport.store import schema as s
from labelport.times import format_timestamp, utcnow
from labelport.vocab import FINISHED_TASK_STATES

t = s.export_task
FINISHED = FINISHED_TASK_STATES
# Seconds a running export's writes queue for the catalog's lock (a long import may hold it):
# a progress tick gives up soon and is skipped; the final state waits as long as an import can.
PROGRESS_WAIT = 1.0
FINISH_WAIT = 3600.0


@dataclass(frozen=True, slots=True)
class TaskInfo:
    id: str
    org_id: str
    created_by: str | None
    scope: dict[str, Any]
    params: dict[str, Any]
    filters: dict[str, Any]
    format: str
    status: str
    progress_done: int
    progress_total: int | None
    result_bytes: int | None
    result_lines: int | None
    error_bytes: int | None
    error_lines: int | None
    location: str | None
    error_message: str | None
    archived: bool
    created_at: Any
    started_at: Any
    finished_at: Any
    name: str | None = None
    options: dict[str, Any] | None = None
    output: dict[str, Any] | None = None
    attempts: int = 0
    updated_at: Any = None
    reused: bool = False  # create() found this identical task queued or running (not stored)

    @property
    def percent(self) -> float | None:
        if self.status == "COMPLETE":
            return 100.0
        if not self.progress_total:
            return None
        return min(100.0, 100.0 * self.progress_done / self.progress_total)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "scope": self.scope,
            "params": self.params,
            "filters": self.filters,
            "format": self.format,
            "created_by": self.created_by,
            "progress": {
                "done": self.progress_done,
                "total": self.progress_total,
                "percent": self.percent,
            },
            "result": {"bytes": self.result_bytes, "lines": self.result_lines},
            "errors": {"bytes": self.error_bytes, "lines": self.error_lines},
            "location": self.location,
            "error_message": self.error_message,
            "archived": self.archived,
            "name": self.name,
            "options": self.options,
            "output": self.output,
            "attempts": self.attempts,
            "created_at": format_timestamp(self.created_at),
            "updated_at": format_timestamp(self.updated_at),
            "started_at": format_timestamp(self.started_at),
            "finished_at": format_timestamp(self.finished_at),
        }


def _info(r: Any) -> TaskInfo:
    return TaskInfo(
        id=r.id,
        org_id=r.org_id,
        created_by=r.email,
        scope=r.scope or {"kind": r.scope_kind, "id": r.scope_id},
        params=r.params,
        filters=r.filters,
        format=r.format,
        status=r.status,
        progress_done=r.progress_done,
        progress_total=r.progress_total,
        result_bytes=r.result_bytes,
        result_lines=r.result_lines,
        error_bytes=r.error_bytes,
        error_lines=r.error_lines,
        location=r.location,
        error_message=r.error_message,
        archived=r.archived,
        created_at=r.created_at,
        started_at=r.started_at,
        finished_at=r.finished_at,
        name=r.name,
        options=r.options,
        output=r.output,
        attempts=r.attempts,
        updated_at=r.updated_at,
    )


def _select() -> sa.Select[Any]:
    return sa.select(t, s.user.c.email).outerjoin(s.user, s.user.c.id == t.c.created_by_id)


def create(
    store: Store,
    org_id: str,
    spec: ExportSpec,
    *,
    user_id: str | None = None,
    name: str | None = None,
    options: dict[str, Any] | None = None,
    reuse_running: bool = True,
    refused: str | None = None,
) -> TaskInfo:
    """Check ``spec`` against the catalog (errors come now, before any work) and queue it.

    Asking for an export identical to one that is queued or running (same scope, params,
    filters, format and format options) returns that task instead of starting another one.
    ``refused`` records a request a surface answers with a failed task (Vertex's operations
    fail rather than the request): the task is created FAILED with that message, never queued.
    """
    with store.read() as conn:
        planning.resolve(conn, org_id, spec)
    fingerprint = task_fingerprint(spec, options)
    now = utcnow()
    with store.write() as conn:
        if reuse_running and refused is None:
            running = conn.execute(
                sa.select(t.c.id)
                .where(
                    t.c.org_id == org_id,
                    t.c.fingerprint == fingerprint,
                    t.c.status.in_(("QUEUED", "IN_PROGRESS")),
                )
                .order_by(t.c.created_at)
                .limit(1)
            ).scalar_one_or_none()
            if running is not None:
                return dataclasses.replace(get_in(conn, org_id, str(running)), reused=True)
        task_id = new_id()
        conn.execute(
            t.insert(),
            {
                "id": task_id,
                "org_id": org_id,
                "created_by_id": user_id,
                "name": name,
                "scope_kind": spec.scope.kind,
                "scope_id": spec.scope.id,
                "scope": spec.scope.to_json(),
                "timezone": spec.timezone,
                "params": spec.normalized_params,
                "filters": spec.normalized_filters,
                "format": spec.format,
                "options": options,
                "fingerprint": fingerprint,
                "status": "QUEUED" if refused is None else "FAILED",
                "error_message": refused,
                "finished_at": None if refused is None else now,
                "created_at": now,
                "updated_at": now,
            },
        )
    return get(store, org_id, task_id)


def task_fingerprint(spec: ExportSpec, options: dict[str, Any] | None) -> str:
    """The spec's fingerprint, extended by the format options when there are any."""
    if not options:
        return spec.fingerprint()
    doc = {"spec": spec.fingerprint(), "options": options}
    return hashlib.sha256(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)).hexdigest()


def get_in(conn: sa.Connection, org_id: str, task_id: str) -> TaskInfo:
    r = conn.execute(_select().where(t.c.id == task_id, t.c.org_id == org_id)).one_or_none()
    if r is None:
        raise NotFound("export task", task_id)
    return _info(r)


def get(store: Store, org_id: str, task_id: str) -> TaskInfo:
    with store.read() as conn:
        return get_in(conn, org_id, task_id)


def list_tasks(
    store: Store,
    org_id: str,
    *,
    scope_kind: str | None = None,
    scope_id: str | None = None,
    include_archived: bool = False,
    limit: int = 50,
    status: str | None = None,
    before: tuple[Any, str] | None = None,
) -> list[TaskInfo]:
    """Newest first. ``before=(created_at, id)`` continues a listing after that task."""
    query = _select().where(t.c.org_id == org_id)
    if scope_kind is not None:
        query = query.where(t.c.scope_kind == scope_kind)
    if scope_id is not None:
        query = query.where(t.c.scope_id == scope_id)
    if status is not None:
        query = query.where(t.c.status == status)
    if before is not None:
        created, last_id = before
        query = query.where(
            sa.or_(t.c.created_at < created, sa.and_(t.c.created_at == created, t.c.id < last_id))
        )
    if not include_archived:
        query = query.where(t.c.archived == sa.false())
    query = query.order_by(t.c.created_at.desc(), t.c.id.desc()).limit(limit)
    with store.read() as conn:
        return [_info(r) for r in conn.execute(query)]


def spec_of(task: TaskInfo, timezone: str = "UTC") -> ExportSpec:
    """The spec a task was created with (dates were stored normalized to UTC)."""
    return parse_spec(
        Scope.from_json(task.scope),
        {k: v for k, v in task.params.items() if v is not None and v is not False},
        task.filters,
        timezone=timezone,
        format=task.format,
    )


def cancel(store: Store, org_id: str, task_id: str) -> TaskInfo:
    """Cancel a queued or running export (a running one stops at its next page)."""
    task = get(store, org_id, task_id)
    if task.finished:
        raise Conflict(f"export task {task_id} is already {task.status}; nothing to cancel")
    _transition(store, task_id, ("QUEUED", "IN_PROGRESS"), "CANCELED", finished=True)
    return get(store, org_id, task_id)


def archive(store: Store, org_id: str, task_id: str, archived: bool = True) -> TaskInfo:
    task = get(store, org_id, task_id)
    if archived and not task.finished:
        raise Conflict(f"export task {task_id} is {task.status}; cancel it before archiving")
    with store.write() as conn:
        conn.execute(
            t.update().where(t.c.id == task_id), {"archived": archived, "updated_at": utcnow()}
        )
    return get(store, org_id, task_id)


def _transition(
    store: Store,
    task_id: str,
    expected: tuple[str, ...],
    status: str,
    *,
    finished: bool = False,
    started: bool = False,
    wait: float | None = None,
    **values: Any,
) -> bool:
    now = utcnow()
    values.update(status=status, updated_at=now)
    if finished:
        values["finished_at"] = now
    if started:
        values["started_at"] = now
    with store.write(wait=wait) as conn:
        done = conn.execute(
            t.update().where(t.c.id == task_id, t.c.status.in_(expected)), values
        ).rowcount
    return bool(done)


def _status(store: Store, task_id: str) -> str | None:
    with store.read() as conn:
        value = conn.execute(sa.select(t.c.status).where(t.c.id == task_id)).scalar_one_or_none()
    return None if value is None else str(value)


Progress = Callable[[int, int | None], None]


def execute(
    store: Store,
    artifacts: Artifacts,
    task_id: str,
    *,
    tee: IO[bytes] | None = None,
    progress: Progress | None = None,
    cancel_event: threading.Event | None = None,
    page_size: int = PAGE_SIZE,
    shard_bytes: int = SHARD_BYTES,
    settings: Settings | None = None,
    claimed: bool = False,
    sharding: Sharding | None = None,
    written: Callable[[TaskInfo], None] | None = None,
) -> TaskInfo:
    """Run a queued export task to its end and return its final record.

    The task's artifacts go where ``artifacts`` keep them (a local folder, or written locally and
    published to the object store before the task turns COMPLETE); its ``location`` says where
    they are. A task that is not QUEUED (canceled before it started, or taken by another worker)
    is left alone; ``claimed`` means the caller already
    moved it to IN_PROGRESS (the task pool does, to count running tasks exactly). A format other
    than the canonical NDJSON is published from the finished canonical streams
    (``labelport.export.formats``); its output is stored on the task, and a publishing failure
    fails the task. With ``sharding`` (a Celery worker on PostgreSQL) a large export is split
    into shards that any worker runs (:mod:`labelport.services.sharding`); the output is the same.
    ``written`` is called with the task once its files are written, before they are published
    (a task canceled then leaves nothing in the object store).
    """
    with store.read() as conn:
        row = conn.execute(_select().where(t.c.id == task_id)).one_or_none()
    if row is None:
        raise NotFound("export task", task_id)
    task = _info(row)
    if claimed:
        if task.status != "IN_PROGRESS":
            return task
    elif not _transition(store, task_id, ("QUEUED",), "IN_PROGRESS", started=True):
        return get(store, task.org_id, task_id)

    def on_progress(done: int, total: int | None) -> None:
        if cancel_event is not None and cancel_event.is_set():
            raise Canceled
        try:
            with store.write(wait=PROGRESS_WAIT) as conn:
                changed = conn.execute(
                    t.update().where(t.c.id == task_id, t.c.status == "IN_PROGRESS"),
                    {"progress_done": done, "progress_total": total, "updated_at": utcnow()},
                ).rowcount
        except Busy:
            changed = 1  # another writer holds the catalog: this tick is skipped, not the export
        if not changed:
            raise Canceled  # someone canceled it
        if progress is not None:
            progress(done, total)

    directory = artifacts.directory(task_id)
    location: str | None = None
    try:
        spec = spec_of(task, row.timezone or "UTC")
        if sharding is not None and not store.is_sqlite:
            run = max(task.attempts, 1)
            outcome = coordinate(
                store, artifacts, task_id, run, task.org_id, spec, directory, sharding,
                progress=on_progress, shard_bytes=shard_bytes,
            )  # fmt: skip
        else:
            outcome = run_export(
                store,
                task.org_id,
                spec,
                directory,
                task_id=task_id,
                tee=tee,
                progress=on_progress,
                page_size=page_size,
                shard_bytes=shard_bytes,
            )
        output = _publish(store, settings, task, directory, on_progress)
        if written is not None:
            written(task)
        if not artifacts.is_local and _status(store, task_id) != "IN_PROGRESS":
            raise Canceled  # no upload for an export canceled meanwhile
        location = artifacts.publish(task_id, directory)
    except Canceled:
        shutil.rmtree(directory, ignore_errors=True)
        _transition(store, task_id, ("IN_PROGRESS",), "CANCELED", finished=True, wait=FINISH_WAIT)
        return get(store, task.org_id, task_id)
    except KeyboardInterrupt:
        _transition(store, task_id, ("IN_PROGRESS",), "CANCELED", finished=True, wait=FINISH_WAIT)
        raise
    except LabelportError as exc:
        shutil.rmtree(directory, ignore_errors=True)
        _transition(
            store,
            task_id,
            ("IN_PROGRESS",),
            "FAILED",
            finished=True,
            wait=FINISH_WAIT,
            error_message=exc.message,
        )
        return get(store, task.org_id, task_id)
    except Exception as exc:
        if not artifacts.is_local:
            shutil.rmtree(directory, ignore_errors=True)  # the spool copy
        _transition(
            store,
            task_id,
            ("IN_PROGRESS",),
            "FAILED",
            finished=True,
            wait=FINISH_WAIT,
            error_message=f"internal error: {type(exc).__name__}: {exc}",
        )
        raise
    m = outcome.manifest
    won = _transition(
        store,
        task_id,
        ("IN_PROGRESS",),
        "COMPLETE",
        finished=True,
        wait=FINISH_WAIT,
        progress_done=m["counts"]["data_rows"] + m["counts"]["errors"],
        progress_total=m["rows_planned"],
        result_bytes=outcome.result.bytes,
        result_lines=outcome.result.lines,
        error_bytes=outcome.errors.bytes,
        error_lines=outcome.errors.lines,
        location=location,
        manifest=m,
        output=output,
    )
    if not won:  # canceled in the last instant: the cancel wins, the artifacts go
        artifacts.discard(location)
    return get(store, task.org_id, task_id)


def _publish(
    store: Store,
    settings: Settings | None,
    task: TaskInfo,
    directory: Path,
    progress: Progress,
) -> dict[str, Any] | None:
    publish = formats.publisher(task.format)
    if publish is None:
        return None
    if settings is None:
        raise ConfigurationError(f"format {task.format!r} needs the server's settings to publish")
    return publish(
        formats.Publication(
            store=store,
            settings=settings,
            task=task,
            options=dict(task.options or {}),
            directory=directory,
            progress=progress,
        )
    )


def manifest_of(store: Store, org_id: str, task_id: str) -> dict[str, Any]:
    get(store, org_id, task_id)
    with store.read() as conn:
        value = conn.execute(sa.select(t.c.manifest).where(t.c.id == task_id)).scalar_one()
    if value is None:
        raise NotFound("manifest of export task", task_id)
    return dict(value)


def find_task(store: Store, task_id: str) -> TaskInfo:
    """A task by id in any organization (for local tools such as ``labelport verify``)."""
    with store.read() as conn:
        r = conn.execute(_select().where(t.c.id == task_id)).one_or_none()
    if r is None:
        raise NotFound("export task", task_id)
    return _info(r)
