"""Import tasks: an uploaded file imported in the background, with progress and line numbers.

``POST /api/v1/imports`` streams the request body into a file under ``<home>/uploads`` and calls
:func:`create`; the task pool claims the task (``QUEUED → IN_PROGRESS``) and calls
:func:`execute`, which runs the same importer as ``labelport import <source>`` over the file:

* **all or nothing**, as on the command line: the whole file is one transaction, so a file with
  a bad record ends FAILED with the problems (``{line, field, reason}``, the first 100, and the
  count of all of them) and leaves nothing in the catalog;
* **progress** (bytes read, rows written) is published a few times a second. The import holds
  the catalog's write transaction for its whole length, and SQLite has one writer at a time, so
  on SQLite progress lives in this process's memory (the server that runs the import answers
  with it); on PostgreSQL it is also written to the task record;
* the uploaded file is deleted once the task is COMPLETE or FAILED. A server that stops in the
  middle of an import (``cancel_event``) rolls it back and queues the task again, file kept.
"""

from __future__ import annotations

import hashlib
import io
import logging
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa

from labelport import services
from labelport.errors import Busy, Gone, InvalidRecords, InvalidSpec, LabelportError, NotFound
from labelport.ids import new_id
from labelport.imports.load import ImportResult
from labelport.imports.vertex import OBJECTIVES
from labelport.services.export_tasks import FINISH_WAIT, PROGRESS_WAIT
from labelport.settings import Settings
from labelport.store import Store
from labelport.store import schema as s
from labelport.store.types import ID, Timestamp
from labelport.times import format_timestamp, utcnow
from labelport.vocab import FINISHED_TASK_STATES, MEDIA_TYPES

log = logging.getLogger("labelport.tasks")

t = s.import_task
SOURCES: tuple[str, ...] = s.IMPORT_SOURCES
FINISHED = FINISHED_TASK_STATES

# The options of each source: the long options of `labelport import <source>`, snake_case.
OPTIONS: dict[str, tuple[str, ...]] = {
    "labelbox": ("dataset", "media_type", "strict"),
    "vertex": ("dataset", "annotation_set", "objective", "strict"),
    "diffgram": ("dataset", "strict"),
    "rows": ("dataset", "format", "media_type", "strict"),
}
REQUIRED: dict[str, tuple[str, ...]] = {"vertex": ("dataset",), "rows": ("dataset",)}
ALL_OPTIONS: tuple[str, ...] = (
    "dataset",
    "annotation_set",
    "objective",
    "media_type",
    "format",
    "strict",
)
FLAGS = ("strict",)  # true or false; kept only when true
ROW_FORMATS = ("jsonl", "csv")
MAX_NAME = 500
MAX_ERRORS = 1000
PROGRESS_EVERY = 0.25  # seconds between progress reports
READ_BUFFER = 256 * 1024


class InvalidOption(InvalidSpec):
    """An import option that is unknown, misplaced, missing or has a bad value; ``field``
    names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", field=field)


def check_options(source: str, options: Mapping[str, Any], *, prefix: str = "") -> dict[str, Any]:
    """Validate a source's options (as the CLI would); returns them normalized, None dropped.

    Names are strings, flags (``strict``) true or false (``true``/``false`` as text too; kept
    only when true). ``prefix`` goes before the option name in the error's ``field``
    (``query:`` for the API).
    """
    if source not in SOURCES:
        raise InvalidOption(
            f"{prefix}source", f"unknown import source {source!r} (one of {', '.join(SOURCES)})"
        )
    allowed = OPTIONS[source]
    out: dict[str, Any] = {}
    for name, value in options.items():
        if value is None:
            continue
        field = f"{prefix}{name}"
        if name not in ALL_OPTIONS:
            raise InvalidOption(field, f"unknown option (known: {', '.join(ALL_OPTIONS)})")
        if name not in allowed:
            raise InvalidOption(
                field,
                f"not an option of a {source} import (its options: {', '.join(allowed)})",
            )
        if name in FLAGS:
            if _flag(field, value):
                out[name] = True
            continue
        if not isinstance(value, str) or not value.strip():
            raise InvalidOption(field, "expected a non-empty string")
        if "\x00" in value:
            raise InvalidOption(field, "contains a NUL character")
        text = value.strip()
        if name in ("dataset", "annotation_set") and len(text) > MAX_NAME:
            raise InvalidOption(field, f"at most {MAX_NAME} characters")
        if name == "objective" and text not in OBJECTIVES:
            raise InvalidOption(field, f"{text!r} is not one of {', '.join(OBJECTIVES)}")
        if name == "media_type":
            text = text.upper()
            if text not in MEDIA_TYPES:
                raise InvalidOption(field, f"{value!r} is not one of {', '.join(MEDIA_TYPES)}")
        if name == "format" and text not in ROW_FORMATS:
            raise InvalidOption(field, f"{text!r} is not one of {', '.join(ROW_FORMATS)}")
        out[name] = text
    for name in REQUIRED.get(source, ()):
        if name not in out:
            raise InvalidOption(f"{prefix}{name}", f"a {source} import needs this option")
    return out


def _flag(field: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise InvalidOption(field, "expected true or false")


def uploads_dir(settings: Settings) -> Path:
    """Where uploaded files wait for their import (``<home>/uploads``)."""
    return settings.home.resolve() / "uploads"


# ------------------------------------------------------------------------------------ records


@dataclass(frozen=True, slots=True)
class ImportTaskInfo:
    id: str
    org_id: str
    created_by: str | None
    source: str
    options: dict[str, Any]
    file_name: str
    location: str
    status: str
    bytes_total: int
    bytes_done: int
    rows_done: int
    summary: dict[str, Any] | None
    errors: list[dict[str, Any]]
    error_count: int
    error_message: str | None
    attempts: int
    created_at: Any
    updated_at: Any
    started_at: Any
    finished_at: Any

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def percent(self) -> float | None:
        if self.status == "COMPLETE":
            return 100.0
        if not self.bytes_total:
            return None
        return min(100.0, round(100.0 * self.bytes_done / self.bytes_total, 1))

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "source": self.source,
            "options": self.options,
            "file_name": self.file_name,
            "created_by": self.created_by,
            "progress": {
                "bytes_done": self.bytes_done,
                "bytes_total": self.bytes_total,
                "rows_done": self.rows_done,
                "percent": self.percent,
            },
            "summary": self.summary,
            "errors": self.errors,
            "error_count": self.error_count,
            "error_message": self.error_message,
            "attempts": self.attempts,
            "created_at": format_timestamp(self.created_at),
            "updated_at": format_timestamp(self.updated_at),
            "started_at": format_timestamp(self.started_at),
            "finished_at": format_timestamp(self.finished_at),
        }


def _select() -> sa.Select[Any]:
    return sa.select(t, s.user.c.email).outerjoin(s.user, s.user.c.id == t.c.created_by_id)


def _info(r: Any) -> ImportTaskInfo:
    bytes_done, rows_done = r.bytes_done, r.rows_done
    if r.status == "IN_PROGRESS":
        with _live_lock:
            live = _live.get(r.id)
        if live is not None:
            bytes_done, rows_done = max(bytes_done, live[0]), max(rows_done, live[1])
    return ImportTaskInfo(
        id=r.id,
        org_id=r.org_id,
        created_by=r.email,
        source=r.source,
        options=dict(r.options or {}),
        file_name=r.file_name,
        location=r.location,
        status=r.status,
        bytes_total=r.bytes_total,
        bytes_done=r.bytes_total if r.status == "COMPLETE" else bytes_done,
        rows_done=rows_done,
        summary=r.summary,
        errors=list(r.errors or []),
        error_count=r.error_count,
        error_message=r.error_message,
        attempts=r.attempts,
        created_at=r.created_at,
        updated_at=r.updated_at,
        started_at=r.started_at,
        finished_at=r.finished_at,
    )


def create(
    store: Store,
    org_id: str,
    user_id: str | None,
    source: str,
    options: Mapping[str, Any],
    file_name: str,
    location: str,
    bytes_total: int,
) -> ImportTaskInfo:
    """Queue the import of the file at ``location`` (which the task deletes when done)."""
    checked = check_options(source, options)
    task_id = new_id()
    now = utcnow()
    with store.write() as conn:
        conn.execute(
            t.insert(),
            {
                "id": task_id,
                "org_id": org_id,
                "created_by_id": user_id,
                "source": source,
                "options": checked,
                "file_name": file_name[:1000],
                "location": location,
                "status": "QUEUED",
                "bytes_total": bytes_total,
                "created_at": now,
                "updated_at": now,
            },
        )
    return get(store, org_id, task_id)


def get(store: Store, org_id: str, task_id: str) -> ImportTaskInfo:
    with store.read() as conn:
        r = conn.execute(_select().where(t.c.id == task_id, t.c.org_id == org_id)).one_or_none()
    if r is None:
        raise NotFound("import task", task_id)
    return _info(r)


@dataclass(frozen=True, slots=True)
class TaskPage:
    items: list[ImportTaskInfo]
    next_after: tuple[Any, str] | None  # (created_at, id) of the last item when more follow


def list_tasks(
    store: Store,
    org_id: str,
    *,
    limit: int = 100,
    after: tuple[Any, str] | None = None,
) -> TaskPage:
    """Newest first, a keyset page of at most ``limit``; ``after`` is the previous page's
    ``next_after``."""
    query = _select().where(t.c.org_id == org_id)
    if after is not None:
        bound = sa.tuple_(sa.literal(after[0], Timestamp()), sa.literal(after[1], ID))
        query = query.where(sa.tuple_(t.c.created_at, t.c.id) < bound)
    query = query.order_by(t.c.created_at.desc(), t.c.id.desc()).limit(limit + 1)
    with store.read() as conn:
        rows = conn.execute(query).all()
    items = [_info(r) for r in rows[:limit]]
    more = len(rows) > limit
    return TaskPage(items, (items[-1].created_at, items[-1].id) if more else None)


def _transition(
    store: Store,
    task_id: str,
    expected: tuple[str, ...],
    status: str,
    *,
    wait: float | None = None,
    **values: Any,
) -> bool:
    now = utcnow()
    values.update(status=status, updated_at=now)
    if status in FINISHED:
        values["finished_at"] = now
    with store.write(wait=wait) as conn:
        done = conn.execute(
            t.update().where(t.c.id == task_id, t.c.status.in_(expected)).values(**values)
        ).rowcount
    return bool(done)


# ------------------------------------------------------------------------------------ running

_live: dict[str, tuple[int, int]] = {}  # task id -> (bytes done, rows done), this process
_live_lock = threading.Lock()
_sqlite_writer = threading.Lock()  # one import at a time per process on SQLite (one writer)


class _Stop(Exception):
    """The import must stop: the server is stopping, or the task is no longer ours."""

    def __init__(self, requeue: bool) -> None:
        super().__init__("import stopped")
        self.requeue = requeue


class _Tracker:
    """Counts bytes read and rows written; publishes them; stops the import when asked."""

    def __init__(self, store: Store, task_id: str, cancel_event: threading.Event | None) -> None:
        self.store = store
        self.task_id = task_id
        self.cancel_event = cancel_event
        self.persist = not store.is_sqlite  # SQLite's one writer is the import itself
        self.bytes_done = 0
        self.rows_done = 0
        self.last = 0.0

    def read(self, n: int) -> None:
        self.bytes_done += n
        self.tick()

    def rows(self, n: int) -> None:
        self.rows_done = n
        self.tick()

    def tick(self) -> None:
        _check_stop(self.cancel_event)
        now = time.monotonic()
        if now - self.last < PROGRESS_EVERY:
            return
        self.last = now
        with _live_lock:
            _live[self.task_id] = (self.bytes_done, self.rows_done)
        if self.persist:
            try:
                with self.store.write(wait=PROGRESS_WAIT) as conn:
                    mine = conn.execute(
                        t.update().where(t.c.id == self.task_id, t.c.status == "IN_PROGRESS"),
                        {
                            "bytes_done": self.bytes_done,
                            "rows_done": self.rows_done,
                            "updated_at": utcnow(),
                        },
                    ).rowcount
            except Busy:
                mine = 1  # another writer holds the catalog: this tick is skipped
            if not mine:
                raise _Stop(requeue=False)


class _Metered(io.RawIOBase):
    """A raw file that reports every read to a :class:`_Tracker`."""

    def __init__(self, raw: io.RawIOBase, tracker: _Tracker) -> None:
        self._raw = raw
        self._tracker = tracker

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._raw.readinto(buffer) or 0
        self._tracker.read(n)
        return n


@contextmanager
def _writer_turn(store: Store, org_id: str, cancel_event: threading.Event | None) -> Iterator[None]:
    """Wait for this import's turn: one at a time per process on SQLite (one writer), one at a
    time per organization on PostgreSQL (a session advisory lock, so across servers too).

    Two imports of one organization at once would both create the datasets, projects, users and
    fields they name and the later commit would fail on the duplicate, so they take turns.
    """
    if store.is_sqlite:
        while not _sqlite_writer.acquire(timeout=0.2):
            _check_stop(cancel_event)
        try:
            yield
        finally:
            _sqlite_writer.release()
        return
    digest = hashlib.sha256(f"labelport-import:{org_id}".encode()).digest()
    key = int.from_bytes(digest[:8], "big", signed=True)
    conn = store.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        while not conn.execute(sa.select(sa.func.pg_try_advisory_lock(key))).scalar():
            _check_stop(cancel_event)
            time.sleep(0.2)
        try:
            yield
        finally:
            try:
                conn.execute(sa.select(sa.func.pg_advisory_unlock(key)))
            except Exception:
                conn.invalidate()  # closing the session is what releases the lock then
                raise
    finally:
        conn.close()


def _check_stop(cancel_event: threading.Event | None) -> None:
    if cancel_event is not None and cancel_event.is_set():
        raise _Stop(requeue=True)


def _import(
    store: Store,
    settings: Settings | None,
    task: ImportTaskInfo,
    stream: IO[bytes],
    tracker: _Tracker,
) -> ImportResult:
    o, name = task.options, task.file_name
    strict = bool(o.get("strict"))
    max_line_bytes = None if settings is None else settings.max_line_bytes
    if task.source == "labelbox":
        return services.import_labelbox(
            store,
            task.org_id,
            stream,
            file=name,
            dataset=o.get("dataset"),
            media_type=o.get("media_type"),
            strict=strict,
            max_line_bytes=max_line_bytes,
            on_progress=tracker.rows,
        )
    if task.source == "vertex":
        return services.import_vertex(
            store,
            task.org_id,
            stream,
            file=name,
            dataset=o["dataset"],
            annotation_set=o.get("annotation_set"),
            objective=o.get("objective"),
            strict=strict,
            max_line_bytes=max_line_bytes,
            on_progress=tracker.rows,
        )
    if task.source == "diffgram":
        return services.import_diffgram(
            store,
            task.org_id,
            stream,
            file=name,
            dataset=o.get("dataset"),
            strict=strict,
            on_progress=tracker.rows,
        )
    return services.import_rows(
        store,
        task.org_id,
        stream,
        file=name,
        dataset=o["dataset"],
        file_format=o.get("format"),
        media_type=o.get("media_type"),
        strict=strict,
        max_line_bytes=max_line_bytes,
        on_progress=tracker.rows,
    )


def execute(
    store: Store,
    settings: Settings | None,
    task_id: str,
    *,
    cancel_event: threading.Event | None = None,
) -> ImportTaskInfo:
    """Run an import task to its end and return its final record.

    The task pool claims the task (``QUEUED → IN_PROGRESS``) before calling this; a QUEUED task
    is claimed here, and a finished one is left alone. ``settings`` gives the longest line the
    importers read (``LABELPORT_MAX_LINE_BYTES``; None: the default).

    An unexpected failure is logged in full here; the task's ``error_message`` says in plain
    words what failed, never the statement or the values that made it fail.
    """
    with store.read() as conn:
        r = conn.execute(_select().where(t.c.id == task_id)).one_or_none()
    if r is None:
        raise NotFound("import task", task_id)
    task = _info(r)
    if task.status == "QUEUED":
        claimed = _transition(
            store,
            task_id,
            ("QUEUED",),
            "IN_PROGRESS",
            started_at=utcnow(),
            heartbeat_at=utcnow(),
            attempts=t.c.attempts + 1,
        )
        if not claimed:
            return get(store, task.org_id, task_id)
    elif task.status != "IN_PROGRESS":
        return task
    path = Path(task.location)
    tracker = _Tracker(store, task_id, cancel_event)
    try:
        if not path.is_file():
            # deleted, or on another server's disk
            raise Gone(f"the uploaded file of this import is gone ({path.name}); upload it again")
        with _writer_turn(store, task.org_id, cancel_event), path.open("rb", buffering=0) as raw:
            stream = io.BufferedReader(_Metered(raw, tracker), buffer_size=READ_BUFFER)
            result = _import(store, settings, task, stream, tracker)
    except _Stop as stop:
        if stop.requeue:
            _transition(
                store,
                task_id,
                ("IN_PROGRESS",),
                "QUEUED",
                bytes_done=0,
                rows_done=0,
                started_at=None,
                attempts=t.c.attempts - 1,  # a server stopping is not a failed attempt
            )
        return get(store, task.org_id, task_id)
    except InvalidRecords as exc:
        _finish(
            store,
            task_id,
            path,
            "FAILED",
            errors=[
                {"line": e.line, "field": e.field, "reason": e.reason}
                for e in exc.errors[:MAX_ERRORS]
            ],
            error_count=exc.total,
            error_message=exc.message.splitlines()[0],
            bytes_done=tracker.bytes_done,
            rows_done=0,
        )
        return get(store, task.org_id, task_id)
    except LabelportError as exc:
        _finish(store, task_id, path, "FAILED", error_message=exc.message, rows_done=0)
        return get(store, task.org_id, task_id)
    except Exception as exc:
        log.exception("import task %s (%s) failed unexpectedly", task_id, task.file_name)
        _finish(
            store,
            task_id,
            path,
            "FAILED",
            error_message=f"internal error: {_failure(exc)} while importing {task.file_name}; "
            "nothing was imported (the server log has the details)",
            rows_done=0,
        )
        return get(store, task.org_id, task_id)
    finally:
        with _live_lock:
            _live.pop(task_id, None)
    _finish(
        store,
        task_id,
        path,
        "COMPLETE",
        summary={**result.to_json(), "seconds": round(result.seconds, 3)},
        bytes_done=task.bytes_total,
        rows_done=result.rows,
    )
    return get(store, task.org_id, task_id)


def _failure(exc: Exception) -> str:
    """What failed, in plain words: never the message, which may hold SQL and values."""
    if isinstance(exc, sa.exc.DBAPIError):
        return f"the database refused the import ({type(exc.orig).__name__})"
    if isinstance(exc, sa.exc.SQLAlchemyError):
        return f"a database operation failed ({type(exc).__name__})"
    if isinstance(exc, OSError):
        return f"reading the uploaded file failed ({exc.strerror or type(exc).__name__})"
    if isinstance(exc, MemoryError):
        return "the server ran out of memory"
    return f"an unexpected {type(exc).__name__}"


def _finish(store: Store, task_id: str, path: Path, status: str, **values: Any) -> None:
    """End the task (if it is still ours), then delete the uploaded file. If the end cannot be
    written, the file stays: the task is run again (imports are idempotent) once recovered."""
    _transition(store, task_id, ("IN_PROGRESS",), status, wait=FINISH_WAIT, **values)
    try:
        path.unlink(missing_ok=True)
    except OSError:
        log.warning("could not delete the uploaded file %s", path, exc_info=True)
