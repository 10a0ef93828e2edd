"""Sharded export tasks (``labelport.services.sharding``) on PostgreSQL, without a broker.

The coordinator runs as ``export_tasks.execute(..., sharding=...)`` does in a Celery worker; "other
workers" are threads that run :func:`sharding.execute_shard` for the shards ``send`` hands them.
The real multi-process runs (Celery workers, SIGKILL) are in ``test_celery.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from labelport import services
from labelport.export.artifacts import Artifacts
from labelport.export.engine import run_export
from labelport.export.manifest import read_manifest, verify
from labelport.export.spec import Scope
from labelport.services import export_tasks, sharding
from labelport.services.sharding import Sharding
from labelport.settings import load_settings
from labelport.store import Store
from labelport.store import schema as s
from tests.export.object_stores import BlobStore
from tests.factories import PROJECT, import_rows, simple_row

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.parametrize("database", ["postgres"], indirect=True),
]

ROWS = 230
PARAMS = {"label_details": True, "project_details": True}


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.name != "manifest.json"}


def stable(manifest: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in manifest.items() if k not in ("snapshot_at", "finished_at", "task_id")}


@pytest.fixture
def catalog(store: Store, org: services.Organization) -> Store:
    rows = [simple_row(n, project=PROJECT) for n in range(ROWS)]
    rows[11]["data_row"]["global_key"] = "ünïcode-key"
    import_rows(store, org.id, rows)
    return store


@pytest.fixture
def helpers() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(2, thread_name_prefix="other-worker") as pool:
        yield pool


def new_task(store: Store, org_id: str) -> export_tasks.TaskInfo:
    spec = services.export_spec(store, org_id, Scope("project", PROJECT), PARAMS, None)
    task = export_tasks.create(store, org_id, spec)
    with store.write() as conn:  # what the pool's claim does
        conn.execute(
            s.export_task.update()
            .where(s.export_task.c.id == task.id)
            .values(status="IN_PROGRESS", attempts=1)
        )
    return export_tasks.get(store, org_id, task.id)


def single(store: Store, org_id: str, folder: Path) -> Any:
    spec = services.export_spec(store, org_id, Scope("project", PROJECT), PARAMS, None)
    return run_export(store, org_id, spec, folder, shard_bytes=20_000)


def shard_rows(store: Store) -> int:
    with store.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(s.export_shard)).scalar())


def test_a_sharded_task_equals_the_single_process_export_byte_for_byte(
    catalog: Store, org: services.Organization, tmp_path: Path, helpers: ThreadPoolExecutor
) -> None:
    artifacts = Artifacts.local(tmp_path / "exports")
    others: list[Future[str]] = []

    def send(task_id: str, run: int, n: int) -> None:
        others.append(
            helpers.submit(sharding.execute_shard, catalog, artifacts, task_id, run, n, "other")
        )

    task = new_task(catalog, org.id)
    board = Sharding(shard_rows=40, send=send, worker="coordinator", poll=0.01)
    done = export_tasks.execute(
        catalog, artifacts, task.id, claimed=True, sharding=board, shard_bytes=20_000
    )
    assert done.status == "COMPLETE", done.error_message
    assert len(others) == 5  # 230 rows in 6 shards: the coordinator keeps the first
    outcomes = [future.result() for future in others]
    assert set(outcomes) <= {sharding.RAN, sharding.DROPPED}

    reference = single(catalog, org.id, tmp_path / "single")
    assert done.location is not None
    out = Path(done.location)
    assert len(reference.result.files) > 2  # stitched output crosses file boundaries
    assert files(out) == files(tmp_path / "single")
    assert stable(read_manifest(out)) == stable(reference.manifest)
    assert read_manifest(out)["task_id"] == task.id
    assert verify(out).ok
    assert done.result_lines == ROWS and done.progress_done == ROWS
    assert shard_rows(catalog) == 0  # the records go with the run
    assert sorted(p.name for p in (tmp_path / "exports").iterdir()) == [task.id]  # no parts


def test_one_worker_alone_runs_every_shard(
    catalog: Store, org: services.Organization, tmp_path: Path
) -> None:
    artifacts = Artifacts.local(tmp_path / "exports")
    sent: list[int] = []
    task = new_task(catalog, org.id)
    board = Sharding(
        shard_rows=50, send=lambda _t, _r, n: sent.append(n), worker="alone", poll=0.01
    )
    done = export_tasks.execute(catalog, artifacts, task.id, claimed=True, sharding=board)
    assert done.status == "COMPLETE", done.error_message
    assert sent == [1, 2, 3, 4]  # nobody took them: the coordinator did
    reference = single(catalog, org.id, tmp_path / "single")
    assert done.location is not None
    assert (
        read_manifest(Path(done.location))["streams"]["result"]["sha256"]
        == (reference.manifest["streams"]["result"]["sha256"])
    )


def test_a_small_export_is_not_sharded(
    catalog: Store, org: services.Organization, tmp_path: Path
) -> None:
    sent: list[int] = []
    task = new_task(catalog, org.id)
    board = Sharding(shard_rows=ROWS, send=lambda _t, _r, n: sent.append(n), worker="w")
    done = export_tasks.execute(
        catalog, Artifacts.local(tmp_path / "e"), task.id, claimed=True, sharding=board
    )
    assert done.status == "COMPLETE" and done.result_lines == ROWS
    assert sent == []


def test_a_shard_that_keeps_failing_fails_the_task_with_its_reason(
    catalog: Store, org: services.Organization, tmp_path: Path
) -> None:
    """Shard 3 names a snapshot PostgreSQL does not know: every run of it fails."""
    artifacts = Artifacts.local(tmp_path / "exports")
    sent: list[int] = []

    def send(task_id: str, run: int, n: int) -> None:
        sent.append(n)
        if n == 2 and sent.count(2) == 1:
            with catalog.write() as conn:
                conn.execute(
                    s.export_shard.update()
                    .where(s.export_shard.c.task_id == task_id, s.export_shard.c.n == 2)
                    .values(snapshot="00000003-0000BAD0-1")
                )

    task = new_task(catalog, org.id)
    board = Sharding(shard_rows=60, send=send, worker="w", poll=0.01, max_attempts=3)
    done = export_tasks.execute(catalog, artifacts, task.id, claimed=True, sharding=board)
    assert done.status == "FAILED"
    assert done.error_message is not None
    assert done.error_message.startswith("shard 3 of 4 failed 3 times; the last time: ")
    assert "snapshot" in done.error_message  # PostgreSQL's own reason
    assert sent.count(2) == 3  # sent once, and again after each of the first two failures
    assert done.location is None
    assert shard_rows(catalog) == 0
    assert list((tmp_path / "exports").iterdir()) == []  # no parts, no partial export


def test_a_canceled_task_stops_its_shards(
    catalog: Store, org: services.Organization, tmp_path: Path
) -> None:
    artifacts = Artifacts.local(tmp_path / "exports")
    task = new_task(catalog, org.id)

    def send(task_id: str, run: int, n: int) -> None:
        if n == 3:
            export_tasks.cancel(catalog, org.id, task_id)

    board = Sharding(shard_rows=40, send=send, worker="w", poll=0.01)
    done = export_tasks.execute(catalog, artifacts, task.id, claimed=True, sharding=board)
    assert done.status == "CANCELED"
    assert shard_rows(catalog) == 0
    assert list((tmp_path / "exports").iterdir()) == []


def test_a_shard_message_of_an_earlier_run_is_dropped(
    catalog: Store, org: services.Organization, tmp_path: Path
) -> None:
    artifacts = Artifacts.local(tmp_path / "exports")
    stale: list[str] = []
    task = new_task(catalog, org.id)

    def send(task_id: str, run: int, n: int) -> None:
        stale.append(sharding.execute_shard(catalog, artifacts, task_id, run - 1, n, "late"))

    board = Sharding(shard_rows=80, send=send, worker="w", poll=0.01)
    done = export_tasks.execute(catalog, artifacts, task.id, claimed=True, sharding=board)
    assert done.status == "COMPLETE" and done.result_lines == ROWS
    assert stale == [sharding.DROPPED, sharding.DROPPED]


def test_parts_travel_through_the_object_store_and_are_removed(
    catalog: Store,
    org: services.Organization,
    tmp_path: Path,
    helpers: ThreadPoolExecutor,
    blob_store: BlobStore,
) -> None:
    """With LABELPORT_BLOB_URL on S3 or GCS, workers on other machines share parts through it."""
    cfg = load_settings({}, home=str(tmp_path / "home"), **blob_store.overrides)
    artifacts = Artifacts.for_settings(cfg)
    seen: list[str] = []

    def send(task_id: str, run: int, n: int) -> None:
        def other() -> str:
            outcome = sharding.execute_shard(catalog, artifacts, task_id, run, n, "other")
            seen.extend(blob_store.files("exports"))  # what is in the bucket meanwhile
            return outcome

        helpers.submit(other)

    task = new_task(catalog, org.id)
    board = Sharding(shard_rows=60, send=send, worker="coordinator", poll=0.01)
    done = export_tasks.execute(
        catalog, artifacts, task.id, claimed=True, sharding=board, settings=cfg
    )
    assert done.status == "COMPLETE", done.error_message
    assert done.location == f"{blob_store.url}/exports/{task.id}"
    assert any(f"{task.id}.part-1-" in name for name in seen)  # parts went through the bucket
    reference = single(catalog, org.id, tmp_path / "single")
    published = blob_store.files("exports")
    assert {name.split("/")[1] for name in published} == {task.id}  # no part is left
    manifest = orjson.loads(published[f"exports/{task.id}/manifest.json"])
    assert (
        manifest["streams"]["result"]["sha256"]
        == (reference.manifest["streams"]["result"]["sha256"])
    )
    assert list(artifacts.root.iterdir()) == []  # nor anything in the spool
