"""The Celery runner (``LABELPORT_RUNNER=celery``): tasks run in ``labelport worker`` processes.

Task state stays in the database; the broker only carries "run task <id>" messages.

* The server's :class:`~labelport.tasks.pool.TaskPool` is built with :func:`dispatcher`: it never
  runs a task itself, it sends each queued one to the broker (``labelport.run``), re-sends the
  tasks its recovery sweep puts back in the queue, and re-sends a task left QUEUED too long.
* ``labelport worker`` (:func:`run_worker`) consumes those messages on ``concurrency`` threads.
  Each message claims its task with the pool's conditional update (``QUEUED → IN_PROGRESS``) and
  runs :func:`labelport.services.export_tasks.execute` or
  :func:`labelport.services.import_tasks.execute`; a message for a task that is not QUEUED (a
  duplicate, or one redelivered after another worker took the task) is dropped. The worker
  beats the heartbeat of what it runs and runs the same recovery sweep as the server, so a task
  whose worker was killed is queued and sent again, and re-run from the start (the engine
  clears what a dead run left half-written).
* Messages are acknowledged late (``acks_late``, ``reject_on_worker_lost``) and prefetched one at a
  time, so a message whose worker dies before finishing is delivered again by the broker.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

from celery import Celery

from labelport.errors import ConfigurationError
from labelport.export.artifacts import Artifacts
from labelport.services.sharding import Sharding
from labelport.settings import Settings
from labelport.store import Store
from labelport.tasks.pool import DEFERRED, RAN, Dispatch, TaskPool

log = logging.getLogger("labelport.tasks")

TASK_NAME = "labelport.run"
SHARD_TASK = "labelport.shard"
DEFER_SECONDS = 2.0  # how soon an export held back by its limits is asked for again


def make_app(settings: Settings) -> Celery:
    """The Celery app for ``settings.broker_url`` (no result backend: state is in the catalog)."""
    if not settings.broker_url:
        raise ConfigurationError("LABELPORT_RUNNER=celery needs LABELPORT_BROKER_URL")
    app = Celery("labelport", broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_default_queue=settings.queue,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        enable_utc=True,
    )
    return app


class Dispatcher:
    """``dispatch(kind, task_id)`` sends the task to the workers.

    Each message goes on a connection of its own, closed at once (one message per task is
    cheap; kombu's process-wide connection pools would outlive the app that opened them).
    """

    def __init__(self, app: Celery) -> None:
        self.app = app
        self.queue = str(app.conf.task_default_queue)  # settings.queue, see make_app

    def __call__(self, kind: str, task_id: str) -> None:
        with self.app.connection_for_write() as conn:
            producer = self.app.amqp.Producer(conn)
            self.app.send_task(TASK_NAME, args=[kind, task_id], queue=self.queue, producer=producer)

    def send_shard(self, task_id: str, run: int, n: int) -> None:
        """Ask the workers to run shard ``n`` of run ``run`` of a sharded export."""
        with self.app.connection_for_write() as conn:
            producer = self.app.amqp.Producer(conn)
            self.app.send_task(
                SHARD_TASK, args=[task_id, run, n], queue=self.queue, producer=producer
            )


def dispatcher(app: Celery) -> Dispatch:
    """A ``dispatch(kind, task_id)`` that sends the task to the workers."""
    return Dispatcher(app)


def register(app: Celery, pool: TaskPool) -> None:
    """Make ``app``'s workers run tasks on ``pool`` (claim, execute, heartbeat)."""

    @app.task(name=TASK_NAME, bind=True, ignore_result=True, max_retries=None)  # type: ignore[untyped-decorator]
    def run(self: Any, kind: str, task_id: str) -> str:
        log.info("%s task %s: received", kind, task_id)
        outcome = pool.run_one(kind, task_id)
        if outcome == DEFERRED:  # its project or organization is at its limit: ask again soon
            log.info("%s task %s: at its limit; deferred", kind, task_id)
            raise self.retry(countdown=DEFER_SECONDS)
        if outcome == RAN:
            log.info("%s task %s: ran", kind, task_id)
        else:
            log.info("%s task %s is not queued any more; message dropped", kind, task_id)
        return outcome

    @app.task(name=SHARD_TASK, ignore_result=True)  # type: ignore[untyped-decorator]
    def shard(task_id: str, run: int, n: int) -> str:
        outcome = pool.run_shard(task_id, run, n)
        log.info("export %s shard %d (run %d): %s", task_id, n + 1, run, outcome)
        return outcome


def worker_pool(store: Store, settings: Settings, app: Celery, concurrency: int) -> TaskPool:
    """The pool a worker process runs its tasks on (it dispatches only what it recovers).

    On PostgreSQL its exports are sharded: more than ``SHARD_ROWS`` rows are split into shards
    that every worker helps with (:mod:`labelport.services.sharding`)."""
    send = Dispatcher(app)
    sharding = None
    if not store.is_sqlite:
        sharding = Sharding(
            shard_rows=settings.shard_rows,
            send=send.send_shard,
            worker=f"{socket.gethostname()}:{os.getpid()}",
            stale_after=float(settings.stale_after),
        )
    return TaskPool(
        store,
        settings,
        Artifacts.for_settings(settings),
        workers=concurrency,
        stale_after=float(settings.stale_after),
        dispatch=send,
        dispatch_new=False,
        sharding=sharding,
    )


def run_worker(
    store: Store, settings: Settings, *, concurrency: int, loglevel: str = "INFO", **options: Any
) -> int:
    """Run a Celery worker on this process until it is stopped; its exit code."""
    app = make_app(settings)
    pool = worker_pool(store, settings, app, concurrency)
    register(app, pool)
    pool.start()  # heartbeat for running tasks, recovery sweep (+ re-send) of orphaned ones
    worker = app.Worker(
        pool_cls="threads",
        concurrency=concurrency,
        loglevel=loglevel,
        queues=[settings.queue],
        hostname=f"labelport-{os.getpid()}@{socket.gethostname()}",
        without_gossip=True,
        without_mingle=True,
        **options,
    )
    try:
        worker.start()
    finally:
        pool.shutdown(wait=True)
    return int(worker.exitcode or 0)
