"""The server's task pool: queued export and import tasks, run from the database on threads.

Tasks live in the database, so any process can create one and the pool of ``labelport serve``
runs it. One scheduler thread:

* **claims** queued tasks oldest first with a conditional update (``QUEUED → IN_PROGRESS``), so two
  servers sharing a catalog never run the same task twice. At most ``per_project`` exports of one
  project and ``per_org`` exports of one organization run at once; the others wait, QUEUED.
* **beats** a heartbeat (``heartbeat_at``) for every task it runs, every couple of seconds.
* **recovers** tasks whose worker died (no beat for ``stale_after`` seconds: the server was killed
  or the machine restarted): each is queued again and re-run from the start — an export's output
  only appears when it is complete, so nothing half-written is ever seen — up to ``max_attempts``
  runs in all; then it is marked FAILED with the reason.

Stopping the pool without waiting (``shutdown(wait=False)``, what ``labelport serve`` does when
it is stopped) puts the exports it was running back in the queue — they stop at their next page
and the next server to start runs them again; that run is not counted as an attempt. (Import
tasks are still stopped as before: their runner owns what happens to a stopped import.)
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from labelport.export.artifacts import Artifacts
from labelport.settings import Settings
from labelport.store import Store
from labelport.store import schema as s
from labelport.tasks import records
from labelport.times import utcnow

log = logging.getLogger("labelport.tasks")

PER_PROJECT = 10
PER_ORG = 20
MAX_ATTEMPTS = 3
HEARTBEAT_EVERY = 2.0  # seconds
STALE_AFTER = 30.0  # seconds without a beat before a running task counts as orphaned
CLAIM_PAGE = 50  # queued tasks read at a time while claiming


@dataclass(frozen=True, slots=True)
class _Kind:
    name: str
    table: sa.Table
    limited: bool  # the per-project / per-organization limits apply


EXPORTS = _Kind("export", s.export_task, limited=True)
IMPORTS = _Kind("import", s.import_task, limited=False)
KINDS = (EXPORTS, IMPORTS)

Runner = Callable[[str, threading.Event], Any]


class TaskPool:
    """Runs the catalog's queued tasks on ``workers`` threads until :meth:`shutdown`."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        root: Path | Artifacts,
        *,
        workers: int = 4,
        per_project: int = PER_PROJECT,
        per_org: int = PER_ORG,
        max_attempts: int = MAX_ATTEMPTS,
        stale_after: float = STALE_AFTER,
        poll_interval: float = 1.0,
    ) -> None:
        self.store = store
        self.settings = settings
        self.artifacts = root if isinstance(root, Artifacts) else Artifacts.local(root, settings)
        self.root = self.artifacts.root
        self.workers = workers
        self.per_project = per_project
        self.per_org = per_org
        self.max_attempts = max_attempts
        self.stale_after = stale_after
        self.poll_interval = poll_interval
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="labelport-task")
        self._running: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self.recover()
        for target, name in ((self._schedule_loop, "scheduler"), (self._beat_loop, "heartbeat")):
            thread = threading.Thread(target=target, name=f"labelport-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def shutdown(self, wait: bool = True) -> None:
        """Stop taking tasks. With ``wait`` the running ones finish; without, running exports
        stop at their next page and go back to the queue for the next server to run."""
        self._stop.set()
        self._wake.set()
        if not wait:
            self._requeue(self.running)
            with self._lock:
                events = list(self._running.values())
            for event in events:
                event.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self._executor.shutdown(wait=True)

    def wake(self) -> None:
        """Look for queued work now (call after creating a task)."""
        self._wake.set()

    @property
    def running(self) -> list[str]:
        with self._lock:
            return list(self._running)

    # ------------------------------------------------------------------ operations

    def cancel(self, org_id: str, task_id: str) -> records.TaskInfo:
        """Cancel an export: a queued one never runs, a running one stops at its next page."""
        info = records.cancel(self.store, org_id, task_id)
        with self._lock:
            event = self._running.get(task_id)
        if event is not None:
            event.set()
        return info

    def stop_local(self, task_id: str) -> None:
        """Signal a task this pool runs to stop (its record was already changed)."""
        with self._lock:
            event = self._running.get(task_id)
        if event is not None:
            event.set()

    def run_pending(self) -> int:
        """One scheduling pass (what the scheduler thread does); returns how many it started."""
        return self._fill()

    def _requeue(self, ids: list[str]) -> None:
        """Put exports this pool runs back in the queue (they are about to be stopped)."""
        if not ids:
            return
        t = EXPORTS.table
        with self.store.write() as conn:
            conn.execute(
                t.update()
                .where(t.c.id.in_(ids), t.c.status == "IN_PROGRESS")
                .values(
                    status="QUEUED",
                    progress_done=0,
                    progress_total=None,
                    heartbeat_at=None,
                    attempts=sa.case((t.c.attempts > 0, t.c.attempts - 1), else_=0),
                    updated_at=utcnow(),
                )
            )

    # ------------------------------------------------------------------ scheduling

    def _schedule_loop(self) -> None:
        last_recovery = 0.0
        while not self._stop.is_set():
            try:
                now = time.monotonic()
                if now - last_recovery >= min(5.0, self.stale_after / 2):
                    self.recover()
                    last_recovery = now
                self._fill()
            except Exception:  # the scheduler must survive a database hiccup
                log.exception("task scheduler pass failed; retrying")
            self._wake.wait(self.poll_interval)
            self._wake.clear()

    def _fill(self) -> int:
        started = 0
        if self._stop.is_set():
            return 0
        for kind in KINDS:
            free = self.workers - len(self.running)
            if free <= 0:
                break
            for task_id in self._claim(kind, free):
                self._launch(kind, task_id)
                started += 1
        return started

    def _claim(self, kind: _Kind, free: int) -> list[str]:
        """Claim up to ``free`` queued tasks, oldest first, within the per-project and
        per-organization limits.

        Tasks of an organization or project that is at its limit are skipped in the query
        itself, and the queue is read in pages until enough are claimed or it ends, so a long
        queue of one busy organization never hides the tasks of another behind it.
        """
        t = kind.table
        per_org: Counter[str] = Counter()
        per_project: Counter[str] = Counter()
        if kind.limited:
            with self.store.read() as conn:
                for org_id, scope_kind, scope_id, n in conn.execute(
                    sa.select(t.c.org_id, t.c.scope_kind, t.c.scope_id, sa.func.count())
                    .where(t.c.status == "IN_PROGRESS")
                    .group_by(t.c.org_id, t.c.scope_kind, t.c.scope_id)
                ):
                    per_org[org_id] += n
                    if scope_kind == "project":
                        per_project[scope_id] += n
        claimed: list[str] = []
        after: tuple[Any, str] | None = None
        while len(claimed) < free:
            query = sa.select(t.c.id, t.c.org_id, t.c.created_at, *_scope_columns(kind)).where(
                t.c.status == "QUEUED"
            )
            if kind.limited:
                full_orgs = [org for org, n in per_org.items() if n >= self.per_org]
                full = [project for project, n in per_project.items() if n >= self.per_project]
                if full_orgs:
                    query = query.where(t.c.org_id.not_in(full_orgs))
                if full:
                    query = query.where(
                        sa.not_(sa.and_(t.c.scope_kind == "project", t.c.scope_id.in_(full)))
                    )
            if after is not None:
                query = query.where(
                    sa.or_(
                        t.c.created_at > after[0],
                        sa.and_(t.c.created_at == after[0], t.c.id > after[1]),
                    )
                )
            with self.store.read() as conn:
                queued = conn.execute(
                    query.order_by(t.c.created_at, t.c.id).limit(CLAIM_PAGE)
                ).all()
            for row in queued:
                if len(claimed) >= free:
                    break
                project = row.scope_id if kind.limited and row.scope_kind == "project" else None
                if kind.limited:
                    if per_org[row.org_id] >= self.per_org:
                        continue
                    if project is not None and per_project[project] >= self.per_project:
                        continue
                if self._take(t, row.id):
                    claimed.append(row.id)
                    per_org[row.org_id] += 1
                    if project is not None:
                        per_project[project] += 1
            if len(queued) < CLAIM_PAGE:
                break
            after = (queued[-1].created_at, queued[-1].id)
        return claimed

    def _take(self, t: sa.Table, task_id: str) -> bool:
        """QUEUED → IN_PROGRESS, if nobody else took it first."""
        now = utcnow()
        with self.store.write() as conn:
            won = conn.execute(
                t.update()
                .where(t.c.id == task_id, t.c.status == "QUEUED")
                .values(
                    status="IN_PROGRESS",
                    started_at=now,
                    updated_at=now,
                    heartbeat_at=now,
                    attempts=t.c.attempts + 1,
                )
            ).rowcount
        return bool(won)

    def _launch(self, kind: _Kind, task_id: str) -> None:
        event = threading.Event()
        with self._lock:
            self._running[task_id] = event
        self._executor.submit(self._run, kind, task_id, event)

    def _run(self, kind: _Kind, task_id: str, event: threading.Event) -> None:
        try:
            if kind is EXPORTS:
                records.execute(
                    self.store,
                    self.artifacts,
                    task_id,
                    cancel_event=event,
                    settings=self.settings,
                    claimed=True,
                )
            else:
                from labelport.tasks import imports  # the import side loads only when used

                imports.execute(self.store, self.settings, task_id, cancel_event=event)
        except Exception:
            log.exception("%s task %s failed", kind.name, task_id)
        finally:
            with self._lock:
                self._running.pop(task_id, None)
            self._wake.set()  # a slot is free

    # ------------------------------------------------------------------ heartbeat and recovery

    @property
    def heartbeat_every(self) -> float:
        """Seconds between beats: often enough that a live task never looks stale to a peer."""
        return min(HEARTBEAT_EVERY, self.stale_after / 3)

    def _beat_loop(self) -> None:
        while not self._stop.wait(self.heartbeat_every):
            try:
                self.beat()
            except Exception:
                log.exception("heartbeat failed; retrying")

    def beat(self) -> None:
        ids = self.running
        if not ids:
            return
        now = utcnow()
        with self.store.write() as conn:
            for kind in KINDS:
                t = kind.table
                conn.execute(
                    t.update()
                    .where(t.c.id.in_(ids), t.c.status == "IN_PROGRESS")
                    .values(heartbeat_at=now)
                )

    def recover(self) -> list[str]:
        """Re-queue (or fail, after ``max_attempts``) running tasks nobody beats for any more."""
        cutoff = utcnow() - timedelta(seconds=self.stale_after)
        mine = set(self.running)
        touched: list[str] = []
        gave_up: list[str] = []
        for kind in KINDS:
            t = kind.table
            with self.store.write() as conn:
                orphans = conn.execute(
                    sa.select(t.c.id, t.c.attempts).where(
                        t.c.status == "IN_PROGRESS",
                        sa.func.coalesce(t.c.heartbeat_at, t.c.updated_at) < cutoff,
                    )
                ).all()
                for task_id, attempts in orphans:
                    if task_id in mine:
                        continue
                    if attempts >= self.max_attempts:
                        values: dict[str, Any] = {
                            "status": "FAILED",
                            "finished_at": utcnow(),
                            "error_message": (
                                f"the worker running this {kind.name} stopped (the server was "
                                f"stopped or crashed) {attempts} times; giving up"
                            ),
                        }
                    else:
                        values = {"status": "QUEUED"}
                        if kind is EXPORTS:
                            values.update(progress_done=0, progress_total=None)
                        else:
                            values.update(rows_done=0, bytes_done=0)
                        log.warning(
                            "%s task %s lost its worker; queued again (attempt %d of %d)",
                            kind.name,
                            task_id,
                            attempts + 1,
                            self.max_attempts,
                        )
                    values["updated_at"] = utcnow()
                    changed = conn.execute(
                        t.update().where(t.c.id == task_id, t.c.status == "IN_PROGRESS"),
                        values,
                    ).rowcount
                    if changed:
                        touched.append(task_id)
                        if kind is EXPORTS and values["status"] == "FAILED":
                            gave_up.append(task_id)
        for task_id in gave_up:  # what the dead worker left half-written
            shutil.rmtree(self.artifacts.partial(task_id), ignore_errors=True)
        if touched:
            self._wake.set()
        return touched


def _scope_columns(kind: _Kind) -> list[Any]:
    t = kind.table
    if kind.limited:
        return [t.c.scope_kind, t.c.scope_id]
    return [sa.literal(None).label("scope_kind"), sa.literal(None).label("scope_id")]
