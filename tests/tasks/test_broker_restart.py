"""A broker restart does not lose queued exports: real processes on a private ``redis-server``.

Each test starts a redis-server of its own (``/usr/bin/redis-server``, on a free 127.0.0.1 port,
its files in the test's tmp dir; never the machine's shared Redis), a live server with
``LABELPORT_RUNNER=celery`` on it and, only after the broker was restarted, a ``labelport
worker``:

* a broker that keeps its messages (append-only file, fsync on every write) gives them back after
  the restart, and the worker runs them: nothing is sent twice;
* a broker that keeps nothing loses them; the server sends again what stayed QUEUED in the catalog
  (``LABELPORT_RESEND_AFTER``), and the worker runs that.

Skipped (a failure with ``CI=true``) without PostgreSQL or without ``/usr/bin/redis-server``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest
import redis

from labelport.export.manifest import verify
from labelport.services import export_tasks
from labelport.settings import load_settings
from labelport.tasks.pool import Dispatch
from tests.conftest import IN_CI, Database
from tests.factories import import_rows, simple_row
from tests.live import LiveServer, start_server
from tests.tasks.test_celery import Process, Workers, global_keys, wait_export, wait_for
from tests.tasks.test_celery import pg as pg  # the fixture: a PostgreSQL schema for this test

QUEUE = load_settings({}).queue  # this broker is private to the test: the default queue

REDIS_SERVER = Path("/usr/bin/redis-server")
ROWS = 200
# Different params, so that the exports are not merged into one task.
PARAMS: tuple[dict[str, Any], ...] = ({}, {"label_details": True}, {"attachments": True})
RESEND_AFTER = 3  # seconds, for the test where the broker loses its messages
EXPORT_TIMEOUT = 30.0


def require_redis_server() -> Path:
    if not os.access(REDIS_SERVER, os.X_OK):
        message = f"{REDIS_SERVER} is not installed (Debian's redis-server package)"
        if IN_CI:
            pytest.fail(
                f"CI=true makes the broker restart tests mandatory. {message}", pytrace=False
            )
        print(f"skipping: {message}")
        pytest.skip(message)
    return REDIS_SERVER


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class PrivateRedis:
    """A redis-server of this test's own on a free 127.0.0.1 port, its files in ``folder``.

    ``persistent``: an append-only file fsynced on every write, so a restart keeps every message;
    otherwise nothing is kept on disk and a restart loses them all. No RDB snapshots either way.
    """

    def __init__(self, binary: Path, folder: Path, *, persistent: bool) -> None:
        self.binary = binary
        self.folder = folder
        self.persistent = persistent
        self.port = free_port()
        self.log = folder / "redis.log"
        self.process: Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        if self.persistent:
            persistence = ["--appendonly", "yes", "--appendfsync", "always"]
        else:
            persistence = ["--appendonly", "no"]
        return [
            str(self.binary),
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--dir",
            str(self.folder),
            "--save",
            "",
            "--daemonize",
            "no",
            *persistence,
        ]

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)

    def start(self) -> None:
        assert self.process is None, "redis-server is already running"
        with self.log.open("ab") as out:
            process = subprocess.Popen(
                self.command(),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.process = process

        def ready() -> bool:
            assert process.poll() is None, f"redis-server exited:\n{self.log.read_text()}"
            try:
                with self.client() as client:
                    return bool(client.ping())
            except redis.exceptions.ConnectionError:  # not listening yet, or loading its file
                return False

        wait_for(ready, 10, f"redis-server on port {self.port}")

    def stop(self) -> None:
        """Stop it the way a service manager does (SIGTERM) and wait until it has exited."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def restart(self) -> None:
        self.stop()
        assert not listening(self.port), f"redis-server still answers on port {self.port}"
        self.start()

    def messages(self) -> list[bytes]:
        """The messages waiting in the workers' queue."""
        with self.client() as client:
            return list(client.lrange(QUEUE, 0, -1))

    def queued(self) -> int:
        with self.client() as client:
            return int(client.llen(QUEUE))


class Sends:
    """Wraps the server's ``dispatch``: how many times each task was sent to the broker."""

    def __init__(self, dispatch: Dispatch) -> None:
        self.dispatch = dispatch
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, kind: str, task_id: str) -> None:
        self.dispatch(kind, task_id)  # counted once it reached the broker
        with self._lock:
            self.counts[task_id] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.counts)


@dataclass
class Setup:
    live: LiveServer
    workers: Workers
    broker: PrivateRedis
    sends: Sends


class Make(Protocol):
    def __call__(self, *, persistent: bool, resend_after: str) -> Setup: ...


@pytest.fixture
def private_broker(pg: Database, tmp_path: Path) -> Iterator[Make]:
    """``make(persistent=..., resend_after=...)``: a private redis-server, a live server with
    RUNNER=celery on it and a (not yet started) worker set, all stopped at teardown."""
    binary = require_redis_server()
    with contextlib.ExitStack() as cleanup:  # runs every step, even when one of them fails

        def make(*, persistent: bool, resend_after: str) -> Setup:
            folder = tmp_path / "redis"
            folder.mkdir()
            broker = PrivateRedis(binary, folder, persistent=persistent)
            cleanup.callback(broker.stop)
            broker.start()
            home = tmp_path / "home"
            live = start_server(
                pg.url,
                home,
                runner="celery",
                broker_url=broker.url,
                stale_after="2",
                resend_after=resend_after,
            )
            cleanup.callback(live.stop)
            sends = Sends(live.pool.dispatch)
            live.pool.dispatch = sends
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith("LABELPORT_")},
                "LABELPORT_DATABASE_URL": pg.url,
                "LABELPORT_HOME": str(home),
                "LABELPORT_RUNNER": "celery",
                "LABELPORT_BROKER_URL": broker.url,
                "LABELPORT_STALE_AFTER": "2",
            }
            workers = Workers(env, tmp_path)
            cleanup.callback(workers.stop)  # callbacks run last in, first out: workers first
            return Setup(live=live, workers=workers, broker=broker, sends=sends)

        yield make


def create_exports(http: httpx.Client) -> list[str]:
    ids = []
    for params in PARAMS:
        created = http.post(
            "/api/v1/exports", json={"scope": {"kind": "catalog"}, "params": params}
        )
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    assert len(set(ids)) == len(PARAMS)
    return ids


def wait_in_broker(setup: Setup, ids: list[str]) -> None:
    """Every export was sent exactly once and its message is waiting in the broker."""
    wait_for(lambda: setup.broker.queued() >= len(ids), 10, "the messages to reach the broker")
    assert setup.sends.snapshot() == dict.fromkeys(ids, 1)
    assert setup.broker.queued() == len(ids)
    assert_messages_for(setup.broker.messages(), ids)


def assert_messages_for(messages: list[bytes], ids: list[str]) -> None:
    for task_id in ids:
        assert sum(task_id.encode() in m for m in messages) == 1, (task_id, messages)


def assert_all_queued(live: LiveServer, ids: list[str]) -> None:
    statuses = [export_tasks.get(live.store, live.org.id, i).status for i in ids]
    assert statuses == ["QUEUED"] * len(ids)


def assert_exported(http: httpx.Client, live: LiveServer, ids: list[str]) -> None:
    """All of ``ids`` complete within ``EXPORT_TIMEOUT`` seconds, with every row."""
    deadline = time.monotonic() + EXPORT_TIMEOUT
    for task_id in ids:
        done = wait_export(http, task_id, timeout=max(deadline - time.monotonic(), 0.1))
        assert done["status"] == "COMPLETE", done
        task = export_tasks.get(live.store, live.org.id, task_id)
        assert task.location is not None
        assert verify(Path(task.location)).ok
        assert task.result_lines == ROWS
        keys = global_keys(task.location)
        assert len(keys) == ROWS and set(keys) == {f"row-{n}" for n in range(ROWS)}
        assert task.attempts == 1


def received(workers: Workers, task_id: str) -> int:
    return sum(log.read_text().count(f"task {task_id}: received") for log in workers.logs)


@pytest.mark.postgres
def test_queued_exports_survive_a_restart_of_a_broker_that_keeps_its_messages(
    private_broker: Make,
) -> None:
    setup = private_broker(persistent=True, resend_after="600")  # the server never re-sends
    live, workers, broker = setup.live, setup.workers, setup.broker
    import_rows(live.store, live.org.id, [simple_row(n) for n in range(ROWS)])
    with live.client("editor") as http:
        ids = create_exports(http)  # no worker yet: they stay QUEUED, their messages wait
        wait_in_broker(setup, ids)
        assert_all_queued(live, ids)

        broker.restart()
        assert broker.queued() == len(ids)  # read back from the append-only file
        assert_messages_for(broker.messages(), ids)
        assert_all_queued(live, ids)

        workers.start()
        assert_exported(http, live, ids)
    assert setup.sends.snapshot() == dict.fromkeys(ids, 1)  # the kept messages did it
    assert broker.queued() == 0
    assert [received(workers, i) for i in ids] == [1] * len(ids)
    assert live.pool.running == []  # the server ran nothing itself


@pytest.mark.postgres
def test_a_broker_that_lost_its_messages_gets_them_again_from_the_catalog(
    private_broker: Make,
) -> None:
    setup = private_broker(persistent=False, resend_after=str(RESEND_AFTER))
    live, workers, broker = setup.live, setup.workers, setup.broker
    import_rows(live.store, live.org.id, [simple_row(n) for n in range(ROWS)])
    with live.client("editor") as http:
        ids = create_exports(http)
        wait_in_broker(setup, ids)

        broker.restart()
        assert broker.queued() == 0  # the messages are gone with the broker
        # ...and it was the restart that lost them, not a re-send that came too early
        assert setup.sends.snapshot() == dict.fromkeys(ids, 1)
        assert not list(broker.folder.glob("*.rdb")) and not list(broker.folder.glob("*.aof"))
        assert_all_queued(live, ids)

        workers.start()
        assert_exported(http, live, ids)  # within EXPORT_TIMEOUT of the worker being ready
    sends = setup.sends.snapshot()
    assert set(sends) == set(ids) and all(n >= 2 for n in sends.values()), sends  # sent again
    assert all(received(workers, i) >= 1 for i in ids)
    assert live.pool.running == []
