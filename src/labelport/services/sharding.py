"""Sharded exports on Celery workers: one snapshot, shards run in parallel, stitched in order.

With ``LABELPORT_RUNNER=celery`` on PostgreSQL, the worker that runs an export task becomes its
**coordinator** (:func:`coordinate`). In the export's read transaction it publishes the snapshot
(``pg_export_snapshot()``), counts the rows and, when there are more than ``SHARD_ROWS``, cuts
the export order into key ranges of about that many rows. Each range is a row of
``export_shard`` (QUEUED) and a ``labelport.shard`` message to the workers.

Any worker — the coordinator included, so an export never waits for a free worker — **claims** a
queued shard with a conditional update (``QUEUED → IN_PROGRESS``, one more attempt), exports its
range from the coordinator's snapshot into a part folder (:func:`execute_shard`), publishes it
to the artifact store and records it COMPLETE with the part's manifest. A shard's worker beats
the shard's heartbeat while it runs.

The coordinator, meanwhile, stitches the finished parts in order into the export's streams and
watches the others:

* a shard whose worker went silent for ``STALE_AFTER`` seconds (killed) or that failed is queued
  again and sent again; each attempt writes a part folder of its own, and only the attempt that
  is recorded COMPLETE is stitched, so a part is never counted twice nor half-written;
* a shard that has failed ``max_attempts`` times fails the task, with the shard's last reason;
* a canceled task stops the coordinator at its next check; it deletes the shard records, so the
  shards still running stop at their next page.

If the coordinator itself dies, its snapshot dies with it: the task's own recovery (the pool's
heartbeat) runs the task again from the start, and the new run replaces the old run's shards.
The result is exactly the single-process export of the snapshot (see
:mod:`labelport.export.sharded`).
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from labelport.errors import LabelportError
from labelport.export import engine, sharded
from labelport.export import plan as planning
from labelport.export.artifacts import Artifacts
from labelport.export.engine import Canceled
from labelport.export.spec import ExportSpec
from labelport.store import Store
from labelport.store import schema as s
from labelport.times import utcnow

log = logging.getLogger("labelport.tasks")

MAX_SHARDS = 512
SHARD_ATTEMPTS = 3  # runs of one shard before the task fails
POLL = 0.2  # seconds the coordinator waits when it has nothing to run or stitch
BEAT_EVERY = 1.0  # seconds between a shard's heartbeats (and progress writes)

RAN, DROPPED = "ran", "dropped"

sh = s.export_shard
SendShard = Callable[[str, int, int], None]  # (task id, run, shard n): a message to the workers
Progress = Callable[[int, int | None], None]


class ShardFailed(LabelportError):
    """A shard failed on every attempt: the export task fails with this reason."""


@dataclass(frozen=True, slots=True)
class Sharding:
    """How a worker's exports are sharded.

    ``shard_rows``: rows per shard (an export of no more runs in one piece); ``send`` hands a
    shard to the other workers (None: the coordinator runs every shard itself); ``worker`` names
    this process in the shard records.
    """

    shard_rows: int
    send: SendShard | None
    worker: str
    stale_after: float = 30.0
    max_attempts: int = SHARD_ATTEMPTS
    poll: float = POLL
    page_size: int = engine.PAGE_SIZE


def part_name(task_id: str, run: int, n: int, attempt: int) -> str:
    """The folder (in the artifact store, beside the exports) of one attempt at one shard."""
    return f"{task_id}.part-{run}-{n}-{attempt}"


# ---------------------------------------------------------------------------------- coordinator


def coordinate(
    store: Store,
    artifacts: Artifacts,
    task_id: str,
    run: int,
    org_id: str,
    spec: ExportSpec,
    directory: Path,
    sharding: Sharding,
    *,
    progress: Progress,
    shard_bytes: int = engine.SHARD_BYTES,
) -> engine.Outcome:
    """Export ``spec`` into ``directory`` (like :func:`~labelport.export.engine.run_export`),
    in shards run by any worker when it has more than ``sharding.shard_rows`` rows."""
    with engine.writing(directory, shard_bytes=shard_bytes) as out:
        with store.read() as conn:  # held until the last shard has read the snapshot
            snapshot_at = utcnow()
            snapshot = sharded.export_snapshot(conn)
            plan = planning.resolve(conn, org_id, spec)
            total = planning.count(conn, plan)
            wanted = min(MAX_SHARDS, -(-total // sharding.shard_rows))
            if wanted <= 1:
                engine.export_pages(
                    conn, plan, out.result, out.errors, out.counts, sharding.page_size, progress
                )
                return out.complete(plan, task_id, snapshot_at, total)
            spans = sharded.ranges(sharded.boundaries(conn, plan, total, wanted))
            board = Board(store, artifacts, task_id, run)
            board.open(spans, snapshot, snapshot_at)
            log.info("export %s: %d rows in %d shards", task_id, total, len(spans))
            try:
                _drive(board, out, sharding, len(spans), total, progress)
            finally:
                board.close()
        return out.complete(plan, task_id, snapshot_at, total)


def _drive(
    board: Board,
    out: engine.Output,
    sharding: Sharding,
    count: int,
    total: int,
    progress: Progress,
) -> None:
    if sharding.send is not None:
        for n in range(1, count):  # shard 0 is the coordinator's own first piece of work
            sharding.send(board.task_id, board.run, n)
    last = 0.0

    def report() -> None:
        nonlocal last
        if time.monotonic() - last >= BEAT_EVERY:
            progress(board.rows_done(), total)  # raises Canceled when the task was canceled
            last = time.monotonic()

    stitched = 0
    while stitched < count:
        report()
        shard = board.get(stitched)
        if shard.status == "COMPLETE":  # stitch as soon as the next part in order is there
            sharded.stitch(out, shard.part, board.artifacts.folder(shard.location))
            board.artifacts.discard(shard.location)
            stitched += 1
            continue
        mine = board.claim(sharding.worker)
        if mine is not None:
            execute_shard(
                board.store, board.artifacts, board.task_id, board.run, mine, sharding.worker,
                page_size=sharding.page_size, claimed=True, on_beat=report,
            )  # fmt: skip
            continue
        board.recover(sharding.stale_after, sharding.max_attempts, sharding.send)
        time.sleep(sharding.poll)
    progress(total, total)


@dataclass
class Board:
    """The shard records of one run of one export task."""

    store: Store
    artifacts: Artifacts
    task_id: str
    run: int

    def open(self, spans: list[sharded.Span], snapshot: str, snapshot_at: datetime) -> None:
        clear(self.store, self.artifacts, self.task_id)  # an earlier run's, if it died
        now = utcnow()
        rows = [
            {
                "task_id": self.task_id,
                "n": n,
                "run": self.run,
                "shards": len(spans),
                "snapshot": snapshot,
                "snapshot_at": snapshot_at,
                "low": sharded.key_to_json(low),
                "high": sharded.key_to_json(high),
                "status": "QUEUED",
                "attempts": 0,
                "rows_done": 0,
                "updated_at": now,
            }
            for n, (low, high) in enumerate(spans)
        ]
        with self.store.write() as conn:
            conn.execute(sh.insert(), rows)

    def close(self) -> None:
        clear(self.store, self.artifacts, self.task_id)

    def _mine(self) -> sa.ColumnElement[bool]:
        return sa.and_(sh.c.task_id == self.task_id, sh.c.run == self.run)

    def get(self, n: int) -> Any:
        with self.store.read() as conn:
            row = conn.execute(sa.select(sh).where(self._mine(), sh.c.n == n)).one_or_none()
        if row is None:
            raise Canceled  # the records were cleared: the task was canceled or re-run
        return row

    def rows_done(self) -> int:
        with self.store.read() as conn:
            done = conn.execute(
                sa.select(sa.func.coalesce(sa.func.sum(sh.c.rows_done), 0)).where(self._mine())
            ).scalar_one()
        return int(done)

    def claim(self, worker: str) -> int | None:
        """Claim the first queued shard; its number, or None when none is queued."""
        while True:
            with self.store.read() as conn:
                n = conn.execute(
                    sa.select(sa.func.min(sh.c.n)).where(self._mine(), sh.c.status == "QUEUED")
                ).scalar_one_or_none()
            if n is None:
                return None
            if _take(self.store, self.task_id, self.run, int(n), worker) is not None:
                return int(n)

    def recover(self, stale_after: float, max_attempts: int, send: SendShard | None) -> None:
        """Queue again a shard that failed or whose worker went silent; fail the task when a
        shard has used up its attempts."""
        cutoff = utcnow() - timedelta(seconds=stale_after)
        with self.store.read() as conn:
            rows = conn.execute(
                sa.select(sh).where(self._mine(), sh.c.status.in_(("IN_PROGRESS", "FAILED")))
            ).all()
        for row in rows:
            if row.status == "IN_PROGRESS":
                if _naive(row.heartbeat_at or row.updated_at) >= _naive(cutoff):
                    continue
                reason = f"its worker ({row.worker}) stopped answering"
            else:
                reason = row.error_message or "it failed"
            if row.attempts >= max_attempts:
                raise ShardFailed(
                    f"shard {row.n + 1} of {row.shards} failed {row.attempts} times; "
                    f"the last time: {reason}"
                )
            with self.store.write() as conn:
                changed = conn.execute(
                    sh.update()
                    .where(
                        self._mine(),
                        sh.c.n == row.n,
                        sh.c.status == row.status,
                        sh.c.attempts == row.attempts,
                    )
                    .values(status="QUEUED", error_message=reason, rows_done=0, updated_at=utcnow())
                ).rowcount
            if changed:
                log.warning(
                    "export %s: shard %d of %d queued again (%s; attempt %d of %d)",
                    self.task_id, row.n + 1, row.shards, reason, row.attempts + 1, max_attempts,
                )  # fmt: skip
                if send is not None:
                    send(self.task_id, self.run, row.n)


def clear(store: Store, artifacts: Artifacts, task_id: str) -> None:
    """Delete a task's shard records and the part folders they point to, and the parts a dead
    run left in this machine's spool."""
    with store.write() as conn:
        locations = conn.execute(
            sa.select(sh.c.location).where(sh.c.task_id == task_id, sh.c.location.is_not(None))
        ).scalars()
        gone = list(locations)
        conn.execute(sh.delete().where(sh.c.task_id == task_id))
    for location in gone:
        artifacts.discard(location)
    for leftover in artifacts.root.glob(f"{task_id}.part-*"):
        shutil.rmtree(leftover, ignore_errors=True)


# ---------------------------------------------------------------------------------- shard side


def execute_shard(
    store: Store,
    artifacts: Artifacts,
    task_id: str,
    run: int,
    n: int,
    worker: str,
    *,
    page_size: int = engine.PAGE_SIZE,
    claimed: bool = False,
    on_beat: Callable[[], None] | None = None,
) -> str:
    """Claim shard ``n`` of run ``run`` of an export and export it; ``"dropped"`` when it is
    not queued (done, taken by another worker, or from an earlier run). ``claimed``: the caller
    already took it."""
    with store.read() as conn:
        shard = conn.execute(
            sa.select(sh).where(sh.c.task_id == task_id, sh.c.n == n, sh.c.run == run)
        ).one_or_none()
    if shard is None:
        return DROPPED
    attempt = shard.attempts if claimed else _take(store, task_id, run, n, worker)
    if attempt is None or (claimed and shard.status != "IN_PROGRESS"):
        return DROPPED
    mine = sa.and_(
        sh.c.task_id == task_id,
        sh.c.n == n,
        sh.c.run == run,
        sh.c.attempts == attempt,
        sh.c.status == "IN_PROGRESS",
    )
    name = part_name(task_id, run, n, attempt)
    directory = artifacts.directory(name)
    last = time.monotonic()

    def beat(done: int, _total: int | None) -> None:
        nonlocal last
        if time.monotonic() - last < BEAT_EVERY:
            return
        with store.write() as conn:
            alive = conn.execute(
                sh.update().where(mine).values(rows_done=done, heartbeat_at=utcnow())
            ).rowcount
        if not alive:
            raise Canceled  # canceled, re-run, or given to another worker
        last = time.monotonic()
        if on_beat is not None:
            on_beat()

    from labelport.services import export_tasks  # records runs the coordinator: import it lazily

    try:
        task = export_tasks.find_task(store, task_id)
        with store.read() as conn:
            timezone = conn.execute(
                sa.select(s.export_task.c.timezone).where(s.export_task.c.id == task_id)
            ).scalar_one()
        spec = export_tasks.spec_of(task, timezone or "UTC")
        span = (sharded.key_from_json(shard.low), sharded.key_from_json(shard.high))
        outcome = sharded.export_range(
            store, shard.snapshot, task.org_id, spec, span, directory,
            snapshot_at=shard.snapshot_at, task_id=task_id, page_size=page_size, progress=beat,
        )  # fmt: skip
        location = artifacts.publish(name, directory)
    except Canceled:
        shutil.rmtree(directory, ignore_errors=True)
        return RAN
    except Exception as exc:
        shutil.rmtree(directory, ignore_errors=True)
        reason = exc.message if isinstance(exc, LabelportError) else f"{type(exc).__name__}: {exc}"
        log.warning("export %s: shard %d failed: %s", task_id, n + 1, reason)
        with store.write() as conn:
            conn.execute(
                sh.update()
                .where(mine)
                .values(status="FAILED", error_message=reason, updated_at=utcnow())
            )
        return RAN
    counts = outcome.manifest["counts"]
    with store.write() as conn:
        won = conn.execute(
            sh.update()
            .where(mine)
            .values(
                status="COMPLETE",
                location=location,
                part=outcome.manifest,
                rows_done=counts["data_rows"] + counts["errors"],
                heartbeat_at=utcnow(),
                updated_at=utcnow(),
            )
        ).rowcount
    if not won:  # the shard was given up on meanwhile: this part is nobody's
        artifacts.discard(location)
        return RAN
    log.info(
        "export %s: shard %d of %d (run %d, attempt %d) done by %s: %d rows",
        task_id, n + 1, shard.shards, run, attempt, worker, counts["data_rows"],
    )  # fmt: skip
    return RAN


def _take(store: Store, task_id: str, run: int, n: int, worker: str) -> int | None:
    """QUEUED → IN_PROGRESS for this worker; the attempt it starts, or None if it lost."""
    now = utcnow()
    with store.write() as conn:
        won = conn.execute(
            sh.update()
            .where(sh.c.task_id == task_id, sh.c.n == n, sh.c.run == run, sh.c.status == "QUEUED")
            .values(
                status="IN_PROGRESS",
                attempts=sh.c.attempts + 1,
                worker=worker,
                rows_done=0,
                heartbeat_at=now,
                updated_at=now,
            )
            .returning(sh.c.attempts)
        ).scalar_one_or_none()
    return None if won is None else int(won)


def _naive(value: Any) -> Any:
    return value.replace(tzinfo=None) if getattr(value, "tzinfo", None) is not None else value
