"""Export artifacts in object stores (moto in server mode for s3://, the GCS emulator for gs://).

An export to ``LABELPORT_BLOB_URL=s3://…`` or ``gs://…`` is written to a local spool, published
to ``<blob URL>/exports/<task id>/`` when complete and read back from there: the files are those
of the same export to ``file://``, byte for byte, and every reader gives the same answers.
"""

from __future__ import annotations

import random
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from labelport import services
from labelport.export.artifacts import Artifacts, local_copy, open_folder
from labelport.export.destinations import STAGING_PREFIX
from labelport.export.folders import RemoteFolder
from labelport.export.manifest import MANIFEST, read_manifest, stream_info, verify
from labelport.export.spec import Scope
from labelport.export.stream_reader import StreamReader
from labelport.server.compat.labelbox import streams
from labelport.services import export_tasks
from labelport.settings import Settings, load_settings
from labelport.store import Store, open_store
from tests.export.object_stores import BlobStore, make_blob_store
from tests.factories import import_rows, simple_row

PROJECT = "cproject00000000000000001"
SHARD = 3000  # bytes: several shards for a few dozen rows


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[tuple[Store, str]]:
    store = open_store(f"sqlite:///{tmp_path / 'catalog.db'}")
    org = services.create_organization(store, "acme")
    import_rows(store, org.id, [simple_row(i, project=PROJECT) for i in range(40)])
    yield store, org.id
    store.dispose()


def settings_for(tmp_path: Path, blob: BlobStore) -> Settings:
    return load_settings({}, home=str(tmp_path / "home"), **blob.overrides)


def export(
    store: Store, org_id: str, artifacts: Artifacts, **options: Any
) -> export_tasks.TaskInfo:
    task = services.start_export(store, org_id, Scope("project", PROJECT), {"label_details": True})
    return export_tasks.execute(store, artifacts, task.id, shard_bytes=SHARD, **options)


def test_a_published_export_is_the_file_export_byte_for_byte(
    catalog: tuple[Store, str], tmp_path: Path, blob_store: BlobStore
) -> None:
    store, org_id = catalog
    cfg = settings_for(tmp_path, blob_store)
    artifacts = Artifacts.for_settings(cfg)
    here = export(store, org_id, Artifacts.local(tmp_path / "local"))
    there = export(store, org_id, artifacts, settings=cfg)
    assert here.status == there.status == "COMPLETE", there.error_message
    assert there.location == f"{blob_store.url}/exports/{there.id}"
    assert (there.result_bytes, there.result_lines) == (here.result_bytes, here.result_lines)

    local = Path(str(here.location))
    published = blob_store.files()
    assert not any(STAGING_PREFIX in name for name in published)  # staging cleaned up
    prefix = f"exports/{there.id}/"
    assert sorted(published) == sorted(prefix + p.name for p in local.iterdir())
    shards = [p.name for p in local.iterdir() if p.name != MANIFEST]
    assert len([s for s in shards if s.startswith("result-")]) > 2
    for name in shards:  # shards and line indexes
        assert published[prefix + name] == (local / name).read_bytes(), name
    remote_manifest = orjson.loads(published[prefix + MANIFEST])
    assert remote_manifest["streams"] == read_manifest(local)["streams"]
    assert remote_manifest["task_id"] == there.id
    # the spool keeps nothing once published
    assert list(artifacts.root.iterdir()) == []

    folder = open_folder(str(there.location), cfg)
    assert isinstance(folder, RemoteFolder)
    with local_copy(folder) as copy:
        assert verify(copy).ok
    assert folder.names() == sorted(name.removeprefix(prefix) for name in published)


def test_reading_a_published_stream_is_reading_the_local_one(
    catalog: tuple[Store, str], tmp_path: Path, blob_store: BlobStore
) -> None:
    store, org_id = catalog
    cfg = settings_for(tmp_path, blob_store)
    here = export(store, org_id, Artifacts.local(tmp_path / "local"))
    there = export(store, org_id, Artifacts.for_settings(cfg), settings=cfg)
    info = stream_info(read_manifest(Path(str(here.location))), "result")
    local = StreamReader(Path(str(here.location)), info)
    remote = StreamReader(open_folder(str(there.location), cfg), info)
    assert [remote.line_offset(n) for n in range(info.lines + 1)] == [
        local.line_offset(n) for n in range(info.lines + 1)
    ]
    for start in (0, 1, 17, info.lines - 1):
        assert list(remote.iter_lines(start)) == list(local.iter_lines(start))
    rng = random.Random(5)
    for _ in range(10):
        a = rng.randrange(info.bytes)
        b = rng.randrange(a, info.bytes + 1)
        assert b"".join(remote.iter_bytes(a, b, chunk=700)) == b"".join(local.iter_bytes(a, b))
        assert remote.read_range(a, b) == local.read_range(a, b)
    # the Labelbox surface's chunks: found through the index by bisection
    for offset in (0, 1234, info.bytes - 1):
        assert streams.chunk_at_offset(remote, offset, 2500) == streams.chunk_at_offset(
            local, offset, 2500
        )
    assert streams.chunk_from_line(remote, 30, 900) == streams.chunk_from_line(local, 30, 900)


def test_a_folder_left_by_an_earlier_run_is_replaced(
    catalog: tuple[Store, str], tmp_path: Path, blob_store: BlobStore
) -> None:
    store, org_id = catalog
    cfg = settings_for(tmp_path, blob_store)
    task = services.start_export(store, org_id, Scope("project", PROJECT), None)
    left = f"{blob_store.root}/exports/{task.id}"
    blob_store.fs.pipe(f"{left}/result-00000.ndjson", b"half of a dead run's upload\n")
    blob_store.fs.pipe(f"{left}/stale.txt", b"x")
    done = export_tasks.execute(store, Artifacts.for_settings(cfg), task.id, settings=cfg)
    assert done.status == "COMPLETE", done.error_message
    files = blob_store.files(f"exports/{task.id}")
    assert f"exports/{task.id}/stale.txt" not in files
    assert files[f"exports/{task.id}/result-00000.ndjson"].count(b"\n") == 40


def test_an_export_canceled_before_or_while_publishing_leaves_nothing(
    catalog: tuple[Store, str],
    tmp_path: Path,
    blob_store: BlobStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store, org_id = catalog
    cfg = settings_for(tmp_path, blob_store)
    artifacts = Artifacts.for_settings(cfg)

    def cancel_first(task: export_tasks.TaskInfo) -> None:
        export_tasks.cancel(store, org_id, task.id)  # after the export, before the upload

    done = export(store, org_id, artifacts, settings=cfg, written=cancel_first)
    assert done.status == "CANCELED"
    assert blob_store.files() == {}

    real_publish = Artifacts.publish

    def publish_then_cancel(self: Artifacts, task_id: str, directory: Path) -> str:
        location = real_publish(self, task_id, directory)
        assert blob_store.files(f"exports/{task_id}")  # it was up...
        export_tasks.cancel(store, org_id, task_id)  # ...when the cancel came
        return location

    monkeypatch.setattr(Artifacts, "publish", publish_then_cancel)
    done = export(store, org_id, artifacts, settings=cfg)
    assert done.status == "CANCELED" and done.location is None
    assert blob_store.files() == {}  # the cancel won: the published folder went
    assert list(artifacts.root.iterdir()) == []


def test_a_store_that_refuses_the_upload_fails_the_task(
    catalog: tuple[Store, str],
    tmp_path: Path,
    moto_server: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store, org_id = catalog
    blob = make_blob_store("s3", moto_server, monkeypatch)
    cfg = load_settings(
        {},
        home=str(tmp_path / "home"),
        blob_url="s3://no-such-bucket-here/artifacts",
        s3_endpoint=blob.endpoint,
    )
    artifacts = Artifacts.for_settings(cfg)
    done = export(store, org_id, artifacts, settings=cfg)
    assert done.status == "FAILED"
    assert done.error_message is not None
    assert done.error_message.startswith(
        f"cannot publish the export to s3://no-such-bucket-here/artifacts/exports/{done.id}: "
    )
    assert list(artifacts.root.iterdir()) == []  # nothing left in the spool


def test_publishing_a_large_file_holds_one_block_not_the_file(
    tmp_path: Path, moto_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    blob = make_blob_store("s3", moto_server, monkeypatch)
    cfg = load_settings({}, home=str(tmp_path / "home"), **blob.overrides)
    artifacts = Artifacts.for_settings(cfg)
    directory = artifacts.directory("task1")
    directory.mkdir(parents=True)
    size = 80 * 2**20
    line = b"x" * 1023 + b"\n"
    with (directory / "result-00000.ndjson").open("wb") as out:
        for _ in range(size // len(line)):
            out.write(line)
    (directory / MANIFEST).write_bytes(b"{}\n")
    tracemalloc.start()
    try:
        location = artifacts.publish("task1", directory)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert location == f"{blob.url}/exports/task1"
    blob.fs.invalidate_cache()
    assert blob.fs.size(f"{blob.root}/exports/task1/result-00000.ndjson") == size
    assert peak < size / 2, f"peak {peak / 2**20:.0f} MiB while uploading {size / 2**20:.0f} MiB"
    assert not directory.exists()


def test_file_blob_urls_keep_writing_in_place(tmp_path: Path) -> None:
    cfg = load_settings({}, home=str(tmp_path / "home"), blob_url=(tmp_path / "b").as_uri())
    artifacts = Artifacts.for_settings(cfg)
    assert artifacts.is_local and artifacts.root == tmp_path / "b" / "exports"
    assert artifacts.location("t1") == str(tmp_path / "b" / "exports" / "t1")
    directory = artifacts.directory("t1")
    directory.mkdir(parents=True)
    assert artifacts.publish("t1", directory) == str(directory) and directory.is_dir()


@pytest.mark.parametrize(
    ("url", "message"),
    [("ftp://h/x", "use file://, s3:// or gs://"), ("s3:///x", "names no bucket")],
)
def test_bad_blob_urls(tmp_path: Path, url: str, message: str) -> None:
    from labelport.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match=message):
        Artifacts.for_settings(load_settings({}, home=str(tmp_path), blob_url=url))
