"""The server's task pool: limits, recovery of tasks whose worker died, dedup, cancel, restarts.

Most tests drive a :class:`TaskPool` of their own (``run_pending`` is one scheduling pass), with
the engine held at its first page by a gate so that "running" is a state a test can look at. The
last test is the real thing: a ``labelport serve`` process killed with SIGKILL in the middle of
an export, and a new server process that finishes it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from labelport import services
from labelport.export.artifacts import Artifacts
from labelport.export.manifest import verify
from labelport.export.spec import Scope
from labelport.services import export_tasks
from labelport.settings import load_settings
from labelport.store import Store, open_store
from labelport.store import schema as s
from labelport.tasks.pool import TaskPool
from labelport.times import utcnow
from tests.factories import PROJECT, import_rows, simple_row

OTHER_PROJECT = "cproject00000000000000002"


class Gate:
    """Holds every export at its first page until opened."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import labelport.export.engine as engine

        self.reached = threading.Semaphore(0)
        self.open = threading.Event()
        real = engine.page_lines  # each page of an export

        def held(*args: Any, **kwargs: Any) -> Any:
            self.reached.release()
            self.open.wait(30)
            return real(*args, **kwargs)

        monkeypatch.setattr(engine, "page_lines", held)

    def wait_reached(self, n: int = 1) -> None:
        for _ in range(n):
            assert self.reached.acquire(timeout=30), "an export never reached its first page"


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Gate:
    return Gate(monkeypatch)


@pytest.fixture
def make_pool(store: Store, tmp_path: Path) -> Iterator[Callable[..., TaskPool]]:
    settings = load_settings({}, home=str(tmp_path / "home"))
    pools: list[TaskPool] = []

    def make(**options: Any) -> TaskPool:
        options.setdefault("workers", 4)
        pool = TaskPool(store, settings, Artifacts.local(tmp_path / "exports", settings), **options)
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        pool.shutdown(wait=True)


def foreign_row(n: int) -> dict[str, Any]:
    """A row for a second organization (its own dataset; global key ``o-<n>``)."""
    row = simple_row(n, prefix="o")
    row["data_row"]["details"]["dataset_id"] = "cdataset00000000000000009"
    return row


def queue(store: Store, org_id: str, scope: Scope, key: str) -> export_tasks.TaskInfo:
    """A new queued export of the row with global key ``key`` in ``scope``."""
    spec = services.export_spec(store, org_id, scope, None, {"global_keys": [key]})
    return export_tasks.create(store, org_id, spec, reuse_running=False)


def statuses(store: Store, ids: list[str]) -> dict[str, str]:
    t = s.export_task
    with store.read() as conn:
        rows = conn.execute(sa.select(t.c.id, t.c.status).where(t.c.id.in_(ids))).all()
    return {row.id: row.status for row in rows}


def wait_for(condition: Callable[[], bool], timeout: float = 30, what: str = "it") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def drain(pool: TaskPool, store: Store, ids: list[str]) -> None:
    """Schedule until every task in ``ids`` has finished."""

    def finished() -> bool:
        pool.run_pending()
        return all(v in export_tasks.FINISHED for v in statuses(store, ids).values())

    wait_for(finished, 60, "the tasks to finish")


def set_running(store: Store, task_id: str, *, attempts: int, beat_age: float) -> None:
    """Make a task look like a worker is running it whose last beat was ``beat_age`` s ago."""
    beat = utcnow() - timedelta(seconds=beat_age)
    with store.write() as conn:
        conn.execute(
            s.export_task.update().where(s.export_task.c.id == task_id),
            {
                "status": "IN_PROGRESS",
                "attempts": attempts,
                "heartbeat_at": beat,
                "started_at": beat,
                "updated_at": beat,
                "progress_done": 50,
            },
        )


# --------------------------------------------------------------------------------- limits


def test_limits_per_project_and_per_organization_hold_the_rest_queued_until_a_slot_frees(
    store: Store, org: services.Organization, make_pool: Callable[..., TaskPool], gate: Gate
) -> None:
    import_rows(store, org.id, [simple_row(n, project=PROJECT) for n in range(6)])
    import_rows(
        store, org.id, [simple_row(n, project=OTHER_PROJECT, prefix="b") for n in range(3)], "b"
    )
    other = services.create_organization(store, "other")
    import_rows(store, other.id, [foreign_row(n) for n in range(2)], "o")

    a = [queue(store, org.id, Scope("project", PROJECT), f"row-{n}").id for n in range(4)]
    b = [queue(store, org.id, Scope("project", OTHER_PROJECT), f"b-{n}").id for n in range(3)]
    elsewhere = queue(store, other.id, Scope("catalog"), "o-0").id
    pool = make_pool(workers=10, per_project=2, per_org=3)

    assert pool.run_pending() == 4
    first = statuses(store, [*a, *b, elsewhere])
    # two of project A (its limit), then one of B (the organization's limit of three)...
    assert [first[i] for i in a] == ["IN_PROGRESS", "IN_PROGRESS", "QUEUED", "QUEUED"]
    assert [first[i] for i in b] == ["IN_PROGRESS", "QUEUED", "QUEUED"]
    # ...while another organization's export is not held back by them
    assert first[elsewhere] == "IN_PROGRESS"
    gate.wait_reached(4)
    assert pool.run_pending() == 0  # nothing more while they run

    gate.open.set()
    drain(pool, store, [*a, *b, elsewhere])
    tasks = {i: export_tasks.get(store, org.id, i) for i in [*a, *b]}
    assert {t.status for t in tasks.values()} == {"COMPLETE"}
    assert [tasks[i].result_lines for i in a] == [1, 1, 1, 1]
    # the held ones ran later: each started after one of the first ones had finished
    first_done = min(tasks[i].finished_at for i in a[:2])
    assert all(tasks[i].started_at >= first_done for i in a[2:])


def test_a_long_queue_of_one_organization_does_not_hide_another_organizations_task(
    store: Store, org: services.Organization, make_pool: Callable[..., TaskPool], gate: Gate
) -> None:
    import_rows(store, org.id, [simple_row(n) for n in range(1)])
    other = services.create_organization(store, "other")
    import_rows(store, other.id, [foreign_row(0)], "o")
    busy = [queue(store, org.id, Scope("catalog"), "row-0").id for _ in range(60)]
    late = queue(store, other.id, Scope("catalog"), "o-0").id
    pool = make_pool(workers=2, per_org=1)

    assert pool.run_pending() == 2
    now = statuses(store, [*busy, late])
    assert now[late] == "IN_PROGRESS"
    assert sum(v == "IN_PROGRESS" for v in now.values()) == 2
    gate.wait_reached(2)
    gate.open.set()
    for task_id in busy[1:]:
        export_tasks.cancel(store, org.id, task_id)


# ------------------------------------------------------------------------------- recovery


def test_a_task_whose_worker_died_is_run_again_to_complete(
    store: Store, org: services.Organization, make_pool: Callable[..., TaskPool], tmp_path: Path
) -> None:
    import_rows(store, org.id, [simple_row(n) for n in range(30)])
    dead = services.start_export(store, org.id, Scope("catalog"))
    alive = services.start_export(store, org.id, Scope("catalog"), None, {"global_keys": ["x"]})
    set_running(store, dead.id, attempts=1, beat_age=3600)
    set_running(store, alive.id, attempts=1, beat_age=0)  # another server's, beating
    leftover = tmp_path / "exports" / f"{dead.id}.partial"
    leftover.mkdir(parents=True)
    (leftover / "result-00000.ndjson").write_bytes(b'{"half": ')

    pool = make_pool(stale_after=10, poll_interval=0.05)
    pool.start()
    wait_for(lambda: statuses(store, [dead.id])[dead.id] == "COMPLETE", what="the re-run")

    done = export_tasks.get(store, org.id, dead.id)
    assert done.attempts == 2 and done.result_lines == 30
    assert done.location is not None and verify(Path(done.location)).ok
    assert not leftover.exists()
    untouched = export_tasks.get(store, org.id, alive.id)
    assert untouched.status == "IN_PROGRESS" and untouched.attempts == 1


def test_after_max_attempts_a_task_ends_failed_with_the_reason(
    store: Store, org: services.Organization, make_pool: Callable[..., TaskPool], tmp_path: Path
) -> None:
    import_rows(store, org.id, [simple_row(1)])
    task = services.start_export(store, org.id, Scope("catalog"))
    pool = make_pool(stale_after=5, max_attempts=2)

    set_running(store, task.id, attempts=1, beat_age=60)
    assert pool.recover() == [task.id]
    assert export_tasks.get(store, org.id, task.id).status == "QUEUED"  # one more try

    set_running(store, task.id, attempts=2, beat_age=60)  # ...and it died again
    leftover = tmp_path / "exports" / f"{task.id}.partial"
    leftover.mkdir(parents=True)
    assert pool.recover() == [task.id]
    failed = export_tasks.get(store, org.id, task.id)
    assert failed.status == "FAILED" and failed.finished_at is not None
    assert failed.error_message is not None
    assert "stopped (the server was stopped or crashed) 2 times" in failed.error_message
    assert not leftover.exists()
    assert pool.recover() == []  # a finished task is left alone


# ------------------------------------------------------------------------ dedup and cancel


def test_an_identical_request_returns_the_running_task(
    store: Store, org: services.Organization, make_pool: Callable[..., TaskPool], gate: Gate
) -> None:
    import_rows(store, org.id, [simple_row(n) for n in range(3)])
    first = services.start_export(store, org.id, Scope("catalog"), {"attachments": True})
    again = services.start_export(store, org.id, Scope("catalog"), {"attachments": True})
    assert again.id == first.id and again.status == "QUEUED"
    pool = make_pool()
    pool.run_pending()
    gate.wait_reached()
    running = services.start_export(store, org.id, Scope("catalog"), {"attachments": True})
    assert running.id == first.id and running.status == "IN_PROGRESS"
    different = services.start_export(store, org.id, Scope("catalog"), {"embeddings": True})
    assert different.id != first.id
    gate.open.set()
    drain(pool, store, [first.id, different.id])
    after = services.start_export(store, org.id, Scope("catalog"), {"attachments": True})
    assert after.id != first.id and after.status == "QUEUED"  # that one is finished


def test_cancel_stops_a_running_export_and_leaves_no_artifacts(
    store: Store,
    org: services.Organization,
    make_pool: Callable[..., TaskPool],
    gate: Gate,
    tmp_path: Path,
) -> None:
    import_rows(store, org.id, [simple_row(n) for n in range(20)])
    task = services.start_export(store, org.id, Scope("catalog"))
    pool = make_pool()
    pool.run_pending()
    gate.wait_reached()
    assert pool.running == [task.id]
    canceled = pool.cancel(org.id, task.id)
    assert canceled.status == "CANCELED"
    gate.open.set()
    wait_for(lambda: not pool.running, what="the worker to stop")
    final = export_tasks.get(store, org.id, task.id)
    assert final.status == "CANCELED" and final.location is None and final.result_lines is None
    assert list((tmp_path / "exports").iterdir()) == []


def test_a_stopped_server_puts_its_running_exports_back_in_the_queue(
    store: Store, org: services.Organization, make_pool: Callable[..., TaskPool], gate: Gate
) -> None:
    import_rows(store, org.id, [simple_row(n) for n in range(5)])
    task = services.start_export(store, org.id, Scope("catalog"))
    first = make_pool()
    first.run_pending()
    gate.wait_reached()
    stopper = threading.Thread(target=first.shutdown, kwargs={"wait": False})
    stopper.start()
    wait_for(lambda: statuses(store, [task.id])[task.id] == "QUEUED", what="the requeue")
    gate.open.set()
    stopper.join(30)
    queued = export_tasks.get(store, org.id, task.id)
    assert queued.status == "QUEUED" and queued.attempts == 0 and queued.progress_done == 0
    assert first.run_pending() == 0  # a stopped pool takes nothing

    second = make_pool()
    drain(second, store, [task.id])
    done = export_tasks.get(store, org.id, task.id)
    assert done.status == "COMPLETE" and done.result_lines == 5 and done.attempts == 1


# ------------------------------------------------------------------- a real server, killed

SLOW_SERVE = """
import sys, time
import labelport.export.engine as engine
real = engine.page_lines
def slow(*args, **kwargs):
    time.sleep(0.4)
    return real(*args, **kwargs)
engine.page_lines = slow
from labelport.cli import cli
cli(sys.argv[1:], prog_name="labelport")
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


Process = subprocess.Popen[bytes]


def _serve(command: list[str], env: dict[str, str], log: Path) -> tuple[Process, str]:
    port = _free_port()
    with log.open("ab") as out:
        process = subprocess.Popen(
            [*command, "serve", "--port", str(port), "--log-level", "warning"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"the server did not start:\n{log.read_text()}")
        time.sleep(0.1)


def _labelport() -> list[str]:
    script = Path(sys.executable).parent / "labelport"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from labelport.cli import main; main()"]


def test_an_export_survives_a_killed_server_process(database: Any, tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LABELPORT_")},
        "LABELPORT_DATABASE_URL": database.url,
        "LABELPORT_HOME": str(home),
        "LABELPORT_STALE_AFTER": "2",
        "LABELPORT_WORKERS": "2",
    }
    store = open_store(database.url)
    processes: list[Process] = []
    try:
        org = services.create_organization(store, "acme")
        uid = services.ensure_user(store, org.id, "editor@acme.test", "editor")
        key = services.create_api_key(store, org.id, uid)
        import_rows(store, org.id, [simple_row(n) for n in range(1500)])

        first, url = _serve([sys.executable, "-c", SLOW_SERVE], env, tmp_path / "first.log")
        processes.append(first)
        headers = {"Authorization": f"Bearer {key}"}
        created = httpx.post(
            f"{url}/api/v1/exports", json={"scope": {"kind": "catalog"}}, headers=headers
        )
        assert created.status_code == 201, created.text
        task_id = created.json()["id"]

        def underway() -> bool:
            task = export_tasks.get(store, org.id, task_id)
            assert task.status in ("QUEUED", "IN_PROGRESS"), task.status
            return task.status == "IN_PROGRESS" and task.progress_done > 0

        wait_for(underway, 30, "the export to be under way")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        orphan = export_tasks.get(store, org.id, task_id)
        assert orphan.status == "IN_PROGRESS" and orphan.attempts == 1  # nobody runs it now

        second, url = _serve(_labelport(), env, tmp_path / "second.log")
        processes.append(second)

        def complete() -> bool:
            return export_tasks.get(store, org.id, task_id).status in export_tasks.FINISHED

        wait_for(complete, 60, "the new server to finish the export")
        done = export_tasks.get(store, org.id, task_id)
        assert done.status == "COMPLETE", done.error_message
        assert done.attempts == 2 and done.result_lines == 1500
        assert done.location is not None and verify(Path(done.location)).ok
        assert not Path(done.location + ".partial").exists()
        rows = httpx.get(
            f"{url}/api/v1/exports/{task_id}/streams/result",
            params={"line": 1499},
            headers=headers,
        )
        assert rows.status_code == 200 and rows.content.count(b"\n") == 1
        assert b'"global_key":"row-1499"' in rows.content
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        store.dispose()


# ------------------------------------------------------- dispatching to remote workers (Celery)


def test_with_a_dispatcher_the_pool_sends_tasks_instead_of_running_them(
    store: Store, org: services.Organization, make_pool: Callable[..., TaskPool]
) -> None:
    import_rows(store, org.id, [simple_row(n) for n in range(10)])
    sent: list[tuple[str, str]] = []
    server = make_pool(dispatch=lambda kind, task_id: sent.append((kind, task_id)))
    first = queue(store, org.id, Scope("catalog"), "row-1")
    second = queue(store, org.id, Scope("catalog"), "row-2")

    assert server.run_pending() == 2 and server.running == []
    assert sent == [("export", first.id), ("export", second.id)]
    assert server.run_pending() == 0  # sent once, not again while it waits its turn
    assert statuses(store, [first.id, second.id]) == {first.id: "QUEUED", second.id: "QUEUED"}

    worker = make_pool(
        dispatch=lambda kind, task_id: sent.append((kind, task_id)), dispatch_new=False
    )
    assert worker.run_pending() == 0  # a worker only sends what it recovers
    assert worker.run_one("export", first.id) == "ran"  # claimed and run in this thread
    done = export_tasks.get(store, org.id, first.id)
    assert done.status == "COMPLETE" and done.attempts == 1 and done.result_lines == 1
    assert worker.run_one("export", first.id) == "dropped"  # a duplicate message
    assert export_tasks.get(store, org.id, first.id).attempts == 1
    with pytest.raises(ValueError):
        worker.run_one("nonsense", second.id)


def test_a_dispatching_pool_sends_a_recovered_task_again(
    store: Store, org: services.Organization, make_pool: Callable[..., TaskPool]
) -> None:
    import_rows(store, org.id, [simple_row(n) for n in range(10)])
    sent: list[tuple[str, str]] = []
    pool = make_pool(dispatch=lambda kind, task_id: sent.append((kind, task_id)), stale_after=10)
    orphan = queue(store, org.id, Scope("catalog"), "row-1")
    assert pool.run_pending() == 1
    set_running(store, orphan.id, attempts=1, beat_age=3600)  # its worker died

    assert pool.recover() == [orphan.id]
    assert sent == [("export", orphan.id), ("export", orphan.id)]
    assert statuses(store, [orphan.id]) == {orphan.id: "QUEUED"}
    assert pool.run_pending() == 0  # just sent


def test_a_task_left_queued_too_long_is_sent_again(
    store: Store, org: services.Organization, make_pool: Callable[..., TaskPool]
) -> None:
    import_rows(store, org.id, [simple_row(n) for n in range(10)])
    sent: list[str] = []
    now = [1000.0]
    pool = make_pool(
        dispatch=lambda kind, task_id: sent.append(task_id), resend_after=0.2, clock=lambda: now[0]
    )
    task = queue(store, org.id, Scope("catalog"), "row-1")
    assert pool.run_pending() == 1
    with store.write() as conn:  # as if its message had been lost with the broker a while ago
        conn.execute(
            s.export_task.update().where(s.export_task.c.id == task.id),
            {"updated_at": utcnow() - timedelta(seconds=60)},
        )
    assert pool.run_pending() == 0 and sent == [task.id]  # not again within resend_after
    now[0] += 0.25
    assert pool.run_pending() == 1 and sent == [task.id, task.id]


def test_a_worker_defers_an_export_whose_project_or_organization_is_at_its_limit(
    store: Store, org: services.Organization, make_pool: Callable[..., TaskPool]
) -> None:
    import_rows(store, org.id, [simple_row(n, project=PROJECT) for n in range(5)])
    busy = queue(store, org.id, Scope("project", PROJECT), "row-1")
    waiting = queue(store, org.id, Scope("project", PROJECT), "row-2")
    elsewhere = queue(store, org.id, Scope("catalog"), "row-3")
    set_running(store, busy.id, attempts=1, beat_age=0)
    worker = make_pool(dispatch=lambda kind, task_id: None, dispatch_new=False, per_project=1)

    assert worker.at_limit(waiting.id) and not worker.at_limit(elsewhere.id)
    assert not worker.at_limit(busy.id)  # not queued: nothing to hold back
    assert worker.run_one("export", waiting.id) == "deferred"
    assert statuses(store, [waiting.id]) == {waiting.id: "QUEUED"}
    assert worker.run_one("export", elsewhere.id) == "ran"

    full_org = make_pool(dispatch=lambda kind, task_id: None, per_org=1)
    assert full_org.at_limit(waiting.id)
    export_tasks.cancel(store, org.id, busy.id)
    assert not full_org.at_limit(waiting.id)
    assert worker.run_one("export", waiting.id) == "ran"
    assert export_tasks.get(store, org.id, waiting.id).status == "COMPLETE"
