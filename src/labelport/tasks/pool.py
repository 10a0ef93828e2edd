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

With a ``dispatch`` function (``LABELPORT_RUNNER=celery``: :mod:`labelport.tasks.celery`) the pool
runs nothing on its own: its scheduler thread hands each queued task to ``dispatch(kind, id)``
(a message to the Celery broker) instead of claiming it, keeps recovering orphaned tasks and sends
them again, and sends again a task that stayed QUEUED for ``resend_after`` seconds (its message
may have been lost with a broker). A Celery worker process runs the tasks it receives with
:meth:`TaskPool.run_one`, which claims (``QUEUED → IN_PROGRESS``) exactly like the scheduler does
and beats the heartbeat while the task runs; a message for a task that is no longer QUEUED is
dropped, so duplicate or redelivered messages are harmless.
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
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from labelport.errors import Busy
from labelport.export.artifacts import Artifacts
from labelport.services import export_tasks
from labelport.services.sharding import Sharding, execute_shard
from labelport.services.sharding import clear as clear_shards
from labelport.settings import Settings
from labelport.store import Store
from labelport.store import schema as s
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
Dispatch = Callable[[str, str], None]  # (kind name, task id): send the task to a remote worker
RESEND_AFTER = 120.0  # seconds a dispatched task may stay QUEUED before it is sent again
DISPATCH_PAGE = 500  # queued tasks read per kind in one dispatch pass
RAN, DROPPED, DEFERRED = "ran", "dropped", "deferred"  # what run_one did with a task


class TaskPool:
    """Runs the catalog's queued tasks on ``workers`` threads until :meth:`shutdown`."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        artifacts: Artifacts,
        *,
        workers: int = 4,
        per_project: int = PER_PROJECT,
        per_org: int = PER_ORG,
        max_attempts: int = MAX_ATTEMPTS,
        stale_after: float = STALE_AFTER,
        poll_interval: float = 1.0,
        dispatch: Dispatch | None = None,
        dispatch_new: bool = True,
        resend_after: float | None = None,
        sharding: Sharding | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.settings = settings
        self.artifacts = artifacts
        self.root = self.artifacts.root
        self.workers = workers
        self.per_project = per_project
        self.per_org = per_org
        self.max_attempts = max_attempts
        self.stale_after = stale_after
        self.poll_interval = poll_interval
        self.dispatch = dispatch
        self.dispatch_new = dispatch_new
        self.sharding = sharding
        self.resend_after = (
            resend_after if resend_after is not None else max(RESEND_AFTER, 4 * stale_after)
        )
        self.clock = clock  # monotonic seconds: when a task was sent, when it may go again
        self._sent: dict[str, float] = {}  # task id → clock time it was last dispatched
        self._claim_lock = threading.Lock()
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

    def cancel(self, org_id: str, task_id: str) -> export_tasks.TaskInfo:
        """Cancel an export: a queued one never runs, a running one stops at its next page."""
        info = export_tasks.cancel(self.store, org_id, task_id)
        with self._lock:
            event = self._running.get(task_id)
        if event is not None:
            event.set()
        return info

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
                now = self.clock()
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
        if self.dispatch is not None:
            return self._dispatch()
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

    def _dispatch(self) -> int:
        """Send queued tasks to the remote workers; how many were sent.

        New tasks (not sent by this pool yet) go when ``dispatch_new``; any task that has stayed
        QUEUED for ``resend_after`` seconds goes again (at most once per ``resend_after``).
        """
        assert self.dispatch is not None
        now = self.clock()
        cutoff = utcnow() - timedelta(seconds=self.resend_after)
        queued: set[str] = set()
        sent = 0
        for kind in KINDS:
            t = kind.table
            with self.store.read() as conn:
                rows = conn.execute(
                    sa.select(t.c.id, t.c.updated_at)
                    .where(t.c.status == "QUEUED")
                    .order_by(t.c.created_at, t.c.id)
                    .limit(DISPATCH_PAGE)
                ).all()
            for task_id, updated_at in rows:
                queued.add(task_id)
                last = self._sent.get(task_id)
                if last is None:
                    due = self.dispatch_new or _naive(updated_at) < _naive(cutoff)
                else:
                    due = now - last >= self.resend_after and _naive(updated_at) < _naive(cutoff)
                if not due:
                    continue
                self.dispatch(kind.name, task_id)
                self._sent[task_id] = now
                sent += 1
        for task_id in [i for i in self._sent if i not in queued]:
            del self._sent[task_id]  # claimed, finished or canceled: forget it
        return sent

    def run_one(self, kind_name: str, task_id: str) -> str:
        """Claim ``task_id`` and run it in the calling thread (a Celery worker's task body).

        Returns ``"ran"``; ``"dropped"`` when the task is not QUEUED any more (another worker
        took it, it finished or was canceled) or the pool is stopping: the message that asked for
        it is simply dropped; ``"deferred"`` when the export's project or organization is at its
        limit of running exports: it stays QUEUED, to be asked for again a little later.
        """
        if kind_name not in (EXPORTS.name, IMPORTS.name):
            raise ValueError(f"unknown task kind {kind_name!r}")
        kind = EXPORTS if kind_name == EXPORTS.name else IMPORTS
        if self._stop.is_set():
            return DROPPED
        with self._claim_lock:  # the limit check and the claim, one thread at a time
            if kind.limited and self.at_limit(task_id):
                return DEFERRED
            if not self._take(kind.table, task_id):
                return DROPPED
        event = threading.Event()
        with self._lock:
            self._running[task_id] = event
        self._run(kind, task_id, event)
        return RAN

    def run_shard(self, task_id: str, run: int, n: int) -> str:
        """Run shard ``n`` of run ``run`` of a sharded export in the calling thread (a Celery
        worker's ``labelport.shard`` body); ``"dropped"`` when it is not queued any more."""
        if self._stop.is_set() or self.sharding is None:
            return DROPPED  # the coordinator runs what nobody else takes
        return execute_shard(
            self.store,
            self.artifacts,
            task_id,
            run,
            n,
            self.sharding.worker,
            page_size=self.sharding.page_size,
        )

    def at_limit(self, task_id: str) -> bool:
        """Is this queued export's organization or project running as many exports as allowed?

        False for a task that is not QUEUED (there is nothing to hold back)."""
        t = EXPORTS.table
        running = sa.select(sa.func.count()).where(t.c.status == "IN_PROGRESS")
        with self.store.read() as conn:
            row = conn.execute(
                sa.select(t.c.org_id, t.c.scope_kind, t.c.scope_id).where(
                    t.c.id == task_id, t.c.status == "QUEUED"
                )
            ).one_or_none()
            if row is None:
                return False
            in_org = conn.execute(running.where(t.c.org_id == row.org_id)).scalar_one()
            if in_org >= self.per_org:
                return True
            if row.scope_kind != "project":
                return False
            in_project = conn.execute(
                running.where(t.c.scope_kind == "project", t.c.scope_id == row.scope_id)
            ).scalar_one()
            return bool(in_project >= self.per_project)

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
                export_tasks.execute(
                    self.store,
                    self.artifacts,
                    task_id,
                    cancel_event=event,
                    settings=self.settings,
                    claimed=True,
                    sharding=self.sharding,
                )
            else:
                from labelport.services import import_tasks  # the import side loads only when used

                import_tasks.execute(self.store, self.settings, task_id, cancel_event=event)
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
        try:
            self._beat(ids, now)
        except Busy:  # another writer holds the catalog; the next beat tries again
            log.debug("heartbeat skipped: the catalog is busy")

    def _beat(self, ids: list[str], now: datetime) -> None:
        with self.store.write(wait=self.heartbeat_every / 2) as conn:
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
            clear_shards(self.store, self.artifacts, task_id)
        if touched:
            if self.dispatch is not None:
                for kind in KINDS:
                    with self.store.read() as conn:
                        again = conn.execute(
                            sa.select(kind.table.c.id).where(
                                kind.table.c.id.in_(touched), kind.table.c.status == "QUEUED"
                            )
                        ).scalars()
                        requeued = list(again)
                    for task_id in requeued:
                        self.dispatch(kind.name, task_id)
                        self._sent[task_id] = self.clock()
            self._wake.set()
        return touched


def _naive(value: Any) -> Any:
    """Compare timestamps whether or not the database returned them with a time zone."""
    return value.replace(tzinfo=None) if getattr(value, "tzinfo", None) is not None else value


def _scope_columns(kind: _Kind) -> list[Any]:
    t = kind.table
    if kind.limited:
        return [t.c.scope_kind, t.c.scope_id]
    return [sa.literal(None).label("scope_kind"), sa.literal(None).label("scope_id")]
