"""The Celery runner: real ``labelport worker`` processes on the machine's Redis and RabbitMQ.

The server (``LABELPORT_RUNNER=celery``) only sends tasks; the workers run them from the catalog
on PostgreSQL. Skipped when PostgreSQL (mandatory with ``CI=true``) or a broker is unreachable.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from labelport.export.manifest import read_manifest, stream_info, verify
from labelport.export.stream_reader import StreamReader
from labelport.services import export_tasks
from tests.conftest import IN_CI, Database
from tests.factories import PROJECT, import_rows, simple_row

REDIS_URL = os.environ.get("LABELPORT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
AMQP_URL = os.environ.get("LABELPORT_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
BROKERS = {"redis": REDIS_URL, "amqp": AMQP_URL}
PORTS = {"redis": 6379, "amqp": 5672}

# The brokers and the workers' queue are shared: with pytest-xdist these tests run on one worker.
pytestmark = pytest.mark.xdist_group("shared-brokers")

# A worker whose pages are slow, so that an export is still running when the test acts.
SLOW_WORKER = """
import sys, time
import labelport.export.engine as engine
real = engine.page_lines
def slow(*args, **kwargs):
    time.sleep(0.25)
    return real(*args, **kwargs)
engine.page_lines = slow
from labelport.cli import cli
cli(sys.argv[1:], prog_name="labelport")
"""
# A slow worker that lets one export per project run at a time.
LIMITED_WORKER = SLOW_WORKER.replace(
    "from labelport.cli import cli",
    "from labelport.tasks.pool import TaskPool\n"
    "TaskPool.__init__.__kwdefaults__['per_project'] = 1\n"
    "from labelport.cli import cli",
)
FAST_WORKER = "import sys\nfrom labelport.cli import cli\ncli(sys.argv[1:], prog_name='labelport')"

Process = subprocess.Popen[bytes]


def require_broker(kind: str) -> str:
    host, port = "127.0.0.1", PORTS[kind]
    try:
        with socket.create_connection((host, port), timeout=2):
            pass
    except OSError as exc:
        message = f"the {kind} broker on {host}:{port} is not reachable: {exc}"
        if IN_CI:
            pytest.fail(f"CI=true makes the Celery tests mandatory. {message}", pytrace=False)
        pytest.skip(message)
    return BROKERS[kind]


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


class Workers:
    """``labelport worker`` subprocesses (each in a session of its own, so SIGKILL takes all)."""

    def __init__(self, env: dict[str, str], folder: Path) -> None:
        self.env = env
        self.folder = folder
        self.processes: list[Process] = []
        self.logs: list[Path] = []

    def start(self, *, slow: bool = False, concurrency: int = 1, script: str = "") -> int:
        n = len(self.processes)
        log = self.folder / f"worker-{n}.log"
        script = script or (SLOW_WORKER if slow else FAST_WORKER)
        command = [sys.executable, "-c", script, "worker", "-c", str(concurrency)]
        with log.open("wb") as out:
            process = subprocess.Popen(
                [*command, "--log-level", "info"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes.append(process)
        self.logs.append(log)

        def ready() -> bool:
            assert process.poll() is None, f"the worker exited:\n{log.read_text()}"
            return " ready." in log.read_text()

        wait_for(ready, 30, f"worker {n} to be ready")
        return n

    def ran(self, n: int, task_id: str) -> bool:
        return f"task {task_id}: ran" in self.logs[n].read_text()

    def running(self, task_id: str) -> list[int]:
        return [
            n
            for n, log in enumerate(self.logs)
            if f"task {task_id}: received" in log.read_text() and self.processes[n].poll() is None
        ]

    def kill(self, n: int) -> None:
        os.killpg(self.processes[n].pid, signal.SIGKILL)
        self.processes[n].wait(10)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[Database]:
    db = Database("postgres", tmp_path)
    yield db
    db.drop()


@pytest.fixture
def cluster(pg: Database, tmp_path: Path) -> Iterator[Callable[..., tuple[Any, Workers]]]:
    """``cluster(broker, shard_rows=...)``: a live server with RUNNER=celery and a (not yet
    started) worker set, sharing the catalog and the home (artifacts and uploads)."""
    from tests.live import start_server

    started: list[tuple[Any, Workers]] = []

    def make(broker: str, shard_rows: int = 50_000) -> tuple[Any, Workers]:
        url = require_broker(broker)
        home = tmp_path / "home"
        queue = f"labelport-test-{uuid.uuid4().hex[:12]}"  # other runs may share the broker
        live = start_server(
            pg.url, home, runner="celery", broker_url=url, stale_after="2", queue=queue
        )
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("LABELPORT_")},
            "LABELPORT_DATABASE_URL": pg.url,
            "LABELPORT_HOME": str(home),
            "LABELPORT_RUNNER": "celery",
            "LABELPORT_BROKER_URL": url,
            "LABELPORT_QUEUE": queue,
            "LABELPORT_STALE_AFTER": "2",
            "LABELPORT_SHARD_ROWS": str(shard_rows),
        }
        workers = Workers(env, tmp_path)
        started.append((live, workers))
        return live, workers

    yield make
    for live, workers in started:
        workers.stop()
        live.stop()


def wait_export(http: httpx.Client, task_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        task: dict[str, Any] = http.get(f"/api/v1/exports/{task_id}").json()
        if task["status"] in export_tasks.FINISHED:
            return task
        assert time.monotonic() < deadline, f"export {task_id} is still {task['status']}"
        time.sleep(0.1)


def global_keys(location: str) -> list[str]:
    folder = Path(location)
    reader = StreamReader(folder, stream_info(read_manifest(folder), "result"))
    return [orjson.loads(line)["data_row"]["global_key"] for line in reader.iter_lines()]


def test_the_celery_runner_needs_a_broker_and_the_worker_needs_the_celery_runner(
    tmp_path: Path,
) -> None:
    from click.testing import CliRunner

    from labelport.cli import cli
    from labelport.errors import ConfigurationError
    from labelport.server.app import create_app
    from labelport.settings import load_settings

    with pytest.raises(ConfigurationError, match="LABELPORT_BROKER_URL"):
        create_app(load_settings({}, home=str(tmp_path), runner="celery"))
    env = {"LABELPORT_HOME": str(tmp_path), "LABELPORT_RUNNER": "inline"}
    result = CliRunner().invoke(cli, ["worker"], env=env)
    assert result.exit_code == ConfigurationError.exit_code
    assert "LABELPORT_RUNNER=celery" in result.output
    help_text = CliRunner().invoke(cli, ["worker", "--help"]).output
    assert "--concurrency" in help_text


@pytest.mark.postgres
def test_exports_and_imports_made_through_the_api_run_on_two_worker_processes(
    cluster: Callable[[str], tuple[Any, Workers]],
) -> None:
    live, workers = cluster("redis")
    import_rows(live.store, live.org.id, [simple_row(n) for n in range(300)])
    workers.start(slow=True)
    workers.start(slow=True)
    with live.client("editor") as http:
        ids = []
        for params in ({}, {"label_details": True}, {"attachments": True}):
            body = {"scope": {"kind": "catalog"}, "params": params}
            created = http.post("/api/v1/exports", json=body)
            assert created.status_code == 201, created.text
            ids.append(created.json()["id"])
        for task_id in ids:
            done = wait_export(http, task_id)
            assert done["status"] == "COMPLETE", done
            task = export_tasks.get(live.store, live.org.id, task_id)
            assert task.location is not None and verify(Path(task.location)).ok
            assert task.result_lines == 300
            assert set(global_keys(task.location)) == {f"row-{n}" for n in range(300)}
        # an import, once the exports are done (it adds rows)
        upload = b"".join(orjson.dumps(simple_row(n, prefix="new")) + b"\n" for n in range(20))
        imported = http.post(
            "/api/v1/imports", params={"source": "labelbox", "dataset": "up"}, content=upload
        )
        assert imported.status_code == 202, imported.text
        import_id = imported.json()["id"]
        deadline = time.monotonic() + 60
        while (task := http.get(f"/api/v1/imports/{import_id}").json())["status"] not in (
            "COMPLETE",
            "FAILED",
        ):
            assert time.monotonic() < deadline, task
            time.sleep(0.1)
        assert task["status"] == "COMPLETE", task
        assert task["summary"]["rows"] == 20
    assert live.pool.running == []  # the server ran nothing itself
    ran_by = {n for n in range(2) for task_id in ids if workers.ran(n, task_id)}
    assert ran_by == {0, 1}  # both workers took exports (each runs one at a time)
    assert any(workers.ran(n, import_id) for n in range(2))


@pytest.mark.postgres
@pytest.mark.parametrize("broker", ["redis", "amqp"])
def test_a_worker_killed_mid_export_loses_nothing(
    cluster: Callable[[str], tuple[Any, Workers]], broker: str
) -> None:
    live, workers = cluster(broker)
    rows = 1200
    import_rows(live.store, live.org.id, [simple_row(n) for n in range(rows)])
    workers.start(slow=True)
    workers.start(slow=True)  # each runs one task at a time: one runs it, one is idle
    with live.client("editor") as http:
        created = http.post("/api/v1/exports", json={"scope": {"kind": "catalog"}})
        assert created.status_code == 201, created.text
        task_id = created.json()["id"]

        def underway() -> bool:
            task = export_tasks.get(live.store, live.org.id, task_id)
            assert task.status in ("QUEUED", "IN_PROGRESS"), task.status
            return task.status == "IN_PROGRESS" and task.progress_done > 0

        wait_for(underway, 30, "the export to be under way")
        running = workers.running(task_id)
        assert len(running) == 1
        first, second = running[0], 1 - running[0]
        workers.kill(first)
        orphan = export_tasks.get(live.store, live.org.id, task_id)
        assert orphan.status == "IN_PROGRESS" and orphan.attempts == 1
        assert 0 < orphan.progress_done < rows

        done = wait_export(http, task_id)
        assert done["status"] == "COMPLETE", done
    task = export_tasks.get(live.store, live.org.id, task_id)
    assert task.attempts == 2 and task.result_lines == rows
    assert workers.ran(second, task_id)
    assert task.location is not None and verify(Path(task.location)).ok
    assert not Path(task.location + ".partial").exists()
    keys = global_keys(task.location)
    assert len(keys) == rows and set(keys) == {f"row-{n}" for n in range(rows)}


@pytest.mark.postgres
def test_a_worker_holds_an_export_back_while_its_project_is_at_its_limit(
    cluster: Callable[[str], tuple[Any, Workers]],
) -> None:
    live, workers = cluster("redis")
    import_rows(live.store, live.org.id, [simple_row(n, project=PROJECT) for n in range(300)])
    workers.start(script=LIMITED_WORKER, concurrency=2)
    scope = {"kind": "project", "id": PROJECT}
    with live.client("editor") as http:
        ids = [
            http.post("/api/v1/exports", json={"scope": scope, "params": params}).json()["id"]
            for params in ({}, {"label_details": True})
        ]
        for task_id in ids:
            assert wait_export(http, task_id)["status"] == "COMPLETE"
    first, second = sorted(
        (export_tasks.get(live.store, live.org.id, i) for i in ids), key=lambda t: t.started_at
    )
    assert first.finished_at is not None and second.started_at is not None
    assert first.finished_at <= second.started_at  # one at a time, as the limit says
    assert "at its limit; deferred" in workers.logs[0].read_text()
    assert first.attempts == second.attempts == 1


# ------------------------------------------------------------------------------ sharded exports

SHARDED_BODY = {"scope": {"kind": "catalog"}, "params": {"label_details": True}}


def single_process_sha256(live: Any, tmp_path: Path) -> str:
    """The RESULT hash of the same export run in this process (the data is unchanged)."""
    from labelport import services
    from labelport.export.engine import run_export
    from labelport.export.spec import Scope

    spec = services.export_spec(
        live.store, live.org.id, Scope("catalog", None), SHARDED_BODY["params"], None
    )
    outcome = run_export(live.store, live.org.id, spec, tmp_path / "reference")
    return str(outcome.manifest["streams"]["result"]["sha256"])


def shards_done_by(workers: Workers, n: int, task_id: str) -> int:
    return workers.logs[n].read_text().count(f"export {task_id}: shard ")


def shard_workers(live: Any, task_id: str) -> dict[int, str]:
    """Running shards of the task: n -> worker name."""
    import sqlalchemy as sa

    from labelport.store import schema as s

    sh = s.export_shard
    with live.store.read() as conn:
        rows = conn.execute(
            sa.select(sh.c.n, sh.c.worker).where(
                sh.c.task_id == task_id, sh.c.status == "IN_PROGRESS"
            )
        ).all()
    return {row.n: row.worker for row in rows}


def two_slow_workers(cluster: Callable[..., tuple[Any, Workers]], rows: int) -> tuple[Any, Workers]:
    """A cluster with shards of 100 rows, ``rows`` rows and two slow workers running."""
    live, workers = cluster("redis", shard_rows=100)
    import_rows(live.store, live.org.id, [simple_row(n) for n in range(rows)])
    workers.start(slow=True)
    workers.start(slow=True)
    return live, workers


def assert_whole(live: Any, task: export_tasks.TaskInfo, rows: int, tmp_path: Path) -> None:
    """Every row once, verified, and the bytes of the single-process export."""
    assert task.location is not None and verify(Path(task.location)).ok
    keys = global_keys(task.location)
    assert len(keys) == rows and set(keys) == {f"row-{n}" for n in range(rows)}  # no duplicates
    manifest = read_manifest(Path(task.location))
    assert manifest["streams"]["result"]["sha256"] == single_process_sha256(live, tmp_path)


@pytest.mark.postgres
def test_a_sharded_export_runs_on_both_workers_and_equals_the_single_process_export(
    cluster: Callable[..., tuple[Any, Workers]], tmp_path: Path
) -> None:
    rows = 700
    live, workers = two_slow_workers(cluster, rows)
    with live.client("editor") as http:
        created = http.post("/api/v1/exports", json=SHARDED_BODY)
        assert created.status_code == 201, created.text
        task_id = created.json()["id"]
        done = wait_export(http, task_id)
    assert done["status"] == "COMPLETE", done
    task = export_tasks.get(live.store, live.org.id, task_id)
    assert task.location is not None and verify(Path(task.location)).ok
    assert task.result_lines == rows and task.progress_done == rows
    manifest = read_manifest(Path(task.location))
    assert manifest["streams"]["result"]["sha256"] == single_process_sha256(live, tmp_path)
    coordinator = workers.running(task_id)
    assert len(coordinator) == 1
    other = 1 - coordinator[0]
    done_here = [shards_done_by(workers, n, task_id) for n in range(2)]
    assert sum(done_here) == 7  # 700 rows in shards of 100, each done once
    assert done_here[other] >= 1, workers.logs[other].read_text()  # the other worker helped
    assert done_here[coordinator[0]] >= 1
    assert sorted(p.name for p in Path(task.location).parent.iterdir()) == [task_id]


@pytest.mark.postgres
def test_a_worker_killed_mid_shard_loses_nothing(
    cluster: Callable[..., tuple[Any, Workers]], tmp_path: Path
) -> None:
    rows = 800
    live, workers = two_slow_workers(cluster, rows)
    with live.client("editor") as http:
        task_id = http.post("/api/v1/exports", json=SHARDED_BODY).json()["id"]
        wait_for(lambda: len(workers.running(task_id)) == 1, 30, "a coordinator")
        other = 1 - workers.running(task_id)[0]
        name = f":{workers.processes[other].pid}"

        def helping() -> bool:
            return any(w.endswith(name) for w in shard_workers(live, task_id).values())

        wait_for(helping, 30, "the other worker to run a shard")
        workers.kill(other)  # SIGKILL in the middle of its shard
        done = wait_export(http, task_id)
    assert done["status"] == "COMPLETE", done
    task = export_tasks.get(live.store, live.org.id, task_id)
    assert task.attempts == 1  # the task itself never stopped: only the shard was redone
    coordinator_log = workers.logs[1 - other].read_text()
    assert "queued again (its worker (" in coordinator_log
    assert "stopped answering" in coordinator_log
    assert_whole(live, task, rows, tmp_path)


@pytest.mark.postgres
def test_a_coordinator_killed_mid_export_is_run_again_from_the_start(
    cluster: Callable[..., tuple[Any, Workers]], tmp_path: Path
) -> None:
    rows = 600
    live, workers = two_slow_workers(cluster, rows)
    with live.client("editor") as http:
        task_id = http.post("/api/v1/exports", json=SHARDED_BODY).json()["id"]
        wait_for(lambda: len(shard_workers(live, task_id)) == 2, 30, "two shards running")
        coordinator = workers.running(task_id)
        assert len(coordinator) == 1
        workers.kill(coordinator[0])
        done = wait_export(http, task_id)
    assert done["status"] == "COMPLETE", done
    task = export_tasks.get(live.store, live.org.id, task_id)
    assert task.attempts == 2  # run again, from a new snapshot, by the surviving worker
    assert workers.ran(1 - coordinator[0], task_id)
    assert_whole(live, task, rows, tmp_path)
    leftovers = [p.name for p in Path(task.location).parent.iterdir() if p.name != task_id]
    assert leftovers == []


@pytest.mark.postgres
def test_a_shard_that_keeps_failing_fails_the_task_with_the_reason(
    cluster: Callable[..., tuple[Any, Workers]],
) -> None:
    """The last shard names a snapshot PostgreSQL does not know: every run of it fails, on
    whichever worker takes it, and after three the export fails with PostgreSQL's reason."""
    import sqlalchemy as sa

    from labelport.store import schema as s

    live, workers = cluster("redis", shard_rows=100)
    import_rows(live.store, live.org.id, [simple_row(n) for n in range(600)])
    workers.start(slow=True)
    workers.start(slow=True)
    sh = s.export_shard
    with live.client("editor") as http:
        task_id = http.post("/api/v1/exports", json=SHARDED_BODY).json()["id"]

        def planned() -> bool:
            with live.store.write() as conn:
                return bool(
                    conn.execute(
                        sh.update()
                        .where(sh.c.task_id == task_id, sh.c.n == 5, sh.c.status == "QUEUED")
                        .values(snapshot="00000003-0000BAD0-1")
                    ).rowcount
                )

        wait_for(planned, 30, "the shards to be planned")
        done = wait_export(http, task_id)
    assert done["status"] == "FAILED", done
    message = export_tasks.get(live.store, live.org.id, task_id).error_message
    assert message is not None
    assert message.startswith("shard 6 of 6 failed 3 times; the last time: ")
    assert "snapshot" in message
    logs = "".join(log.read_text() for log in workers.logs)
    assert logs.count(f"export {task_id}: shard 6 failed") == 3
    with live.store.read() as conn:
        left = conn.execute(sa.select(sa.func.count()).where(sh.c.task_id == task_id)).scalar()
    assert left == 0
    home = Path(live.settings.home)
    assert not [p for p in home.rglob(f"{task_id}*")]  # no export folder, no part
