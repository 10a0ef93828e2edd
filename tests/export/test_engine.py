"""The engine end to end: the round-trip law, one point in time, cancel, ERRORS, shards, order."""

from __future__ import annotations

import hashlib
import io
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labelport import services
from labelport.export.artifacts import Artifacts
from labelport.export.manifest import read_manifest, stream_info, verify
from labelport.export.spec import Scope, every_param
from labelport.export.stream_reader import StreamReader
from labelport.services import export_tasks
from labelport.store import Store
from tests.factories import PROJECT, import_rows, simple_row
from tests.imports.strategies import row

EVERY_PARAM = every_param("data_rows", interpolated_frames=False)


def read_rows(location: str | None) -> list[dict[str, Any]]:
    assert location is not None
    directory = Path(location)
    info = stream_info(read_manifest(directory), "result")
    return [orjson.loads(line) for line in StreamReader(directory, info).iter_lines()]


def run(
    store: Store,
    org_id: str,
    root: Path,
    scope: Scope,
    params: dict[str, Any] | None = None,
    filters: dict[str, Any] | None = None,
    **options: Any,
) -> export_tasks.TaskInfo:
    task = services.start_export(store, org_id, scope, params, filters)
    return export_tasks.execute(store, Artifacts.local(root), task.id, **options)


# ------------------------------------------------------------------------------ round-trip law


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(rows=st.lists(row(), min_size=1, max_size=4, unique_by=lambda r: r["data_row"]["id"]))
def test_export_with_every_param_gives_back_the_imported_rows(
    store: Store, org: services.Organization, tmp_path: Path, rows: list[dict[str, Any]]
) -> None:
    keys = [r["data_row"].get("global_key") for r in rows if r["data_row"].get("global_key")]
    if len(keys) != len(set(keys)):
        return  # two rows with one global key are refused; covered by the import tests
    import_rows(store, org.id, rows)
    ids = tuple(r["data_row"]["id"] for r in rows)
    done = run(store, org.id, tmp_path, Scope("data_rows", data_row_ids=ids), EVERY_PARAM)
    assert done.status == "COMPLETE", done.error_message
    back = {r["data_row"]["id"]: r for r in read_rows(done.location)}
    assert back == {r["data_row"]["id"]: r for r in rows}
    assert verify(Path(str(done.location))).ok


# -------------------------------------------------------------------------- one point in time


def test_rows_written_during_an_export_are_wholly_out(
    store: Store, org: services.Organization, tmp_path: Path
) -> None:
    import_rows(store, org.id, [simple_row(n, project=PROJECT) for n in range(10)])
    writes: list[int] = []

    def write_meanwhile(done: int, total: int | None) -> None:
        if writes:
            return
        # Another connection commits new rows, and a label on a row not yet exported.
        import_rows(store, org.id, [simple_row(n, project=PROJECT) for n in range(100, 105)], "w")
        changed = simple_row(9, project=PROJECT)
        changed["projects"][PROJECT]["labels"][0]["id"] = "clabelchanged000000000001"
        changed["projects"][PROJECT]["labels"].append(
            simple_row(8, project=PROJECT)["projects"][PROJECT]["labels"][0]
        )
        import_rows(store, org.id, [changed], "w2")
        writes.append(done)

    done = run(
        store,
        org.id,
        tmp_path,
        Scope("project", PROJECT),
        {"label_details": True},
        page_size=2,
        progress=write_meanwhile,
    )
    assert writes == [2]  # the writes happened after the first page
    rows = read_rows(done.location)
    assert [r["data_row"]["global_key"] for r in rows] == [f"row-{n}" for n in range(10)]
    last = rows[-1]["projects"][PROJECT]["labels"]
    assert [lab["id"] for lab in last] == [
        simple_row(9, project=PROJECT)["projects"][PROJECT]["labels"][0]["id"]
    ]
    assert done.progress_total == 10
    # ... and the next export sees them.
    again = read_rows(run(store, org.id, tmp_path, Scope("project", PROJECT)).location)
    assert len(again) == 15


def test_a_concurrent_writer_never_shows_half_a_transaction(
    store: Store, org: services.Organization, tmp_path: Path
) -> None:
    import_rows(store, org.id, [simple_row(n, project=PROJECT) for n in range(40)])
    stop = threading.Event()
    committed: list[int] = []

    def writer() -> None:
        batch = 0
        while not stop.is_set():
            base = 1000 + batch * 3
            rows = [simple_row(base + i, project=PROJECT, prefix="w") for i in range(3)]
            import_rows(store, org.id, rows, f"batch{batch}")
            batch += 1
            committed.append(batch)
            time.sleep(0.005)

    class SlowTee(io.BytesIO):
        def write(self, data: Any) -> int:
            time.sleep(0.01)
            return super().write(data)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while not committed:
            time.sleep(0.005)
        done = run(store, org.id, tmp_path, Scope("project", PROJECT), page_size=4, tee=SlowTee())
    finally:
        stop.set()
        thread.join()
    rows = read_rows(done.location)
    from_writer = [r for r in rows if r["data_row"]["global_key"].startswith("w-")]
    assert len(from_writer) % 3 == 0  # whole batches only
    assert len(committed) * 3 > len(from_writer)  # the writer did commit during the export
    for r in from_writer:  # a row and its label came in together
        assert len(r["projects"][PROJECT]["labels"]) == 1
    assert done.result_lines == len(rows) == done.progress_total


# -------------------------------------------------------------------------- cancel and errors


def test_cancel_mid_export_leaves_nothing(
    store: Store, org: services.Organization, tmp_path: Path
) -> None:
    import_rows(store, org.id, [simple_row(n) for n in range(6)])
    event = threading.Event()

    def cancel_after_first_page(done: int, total: int | None) -> None:
        event.set()

    task = services.start_export(store, org.id, Scope("catalog"))
    root = tmp_path / "exports"
    done = export_tasks.execute(
        store,
        Artifacts.local(root),
        task.id,
        page_size=2,
        progress=cancel_after_first_page,
        cancel_event=event,
    )
    assert done.status == "CANCELED"
    assert done.finished_at is not None and done.location is None
    assert list(root.iterdir()) == []  # not even the partial folder


def test_cancel_from_another_connection_stops_the_export(
    store: Store, org: services.Organization, tmp_path: Path
) -> None:
    import_rows(store, org.id, [simple_row(n) for n in range(6)])
    task = services.start_export(store, org.id, Scope("catalog"))
    calls: list[int] = []

    def cancel_elsewhere(done: int, total: int | None) -> None:
        calls.append(done)
        export_tasks.cancel(store, org.id, task.id)

    import labelport.export.engine as engine

    old = engine.PROGRESS_EVERY
    engine.PROGRESS_EVERY = 0.0
    try:
        done = export_tasks.execute(
            store, Artifacts.local(tmp_path), task.id, page_size=1, progress=cancel_elsewhere
        )
    finally:
        engine.PROGRESS_EVERY = old
    assert done.status == "CANCELED"
    assert calls == [1]  # stopped at the next page
    with pytest.raises(Exception, match="already CANCELED"):
        export_tasks.cancel(store, org.id, task.id)


def test_a_row_that_cannot_be_assembled_goes_to_errors(
    store: Store, org: services.Organization, tmp_path: Path
) -> None:
    video = simple_row(3, project=PROJECT)
    video["media_attributes"] = {"mime_type": "video/mp4", "frame_count": 30}
    video["projects"][PROJECT]["labels"][0]["label_kind"] = "Video"
    video["projects"][PROJECT]["labels"][0]["annotations"] = {
        "frames": {},
        "segments": {},
        "key_frame_feature_map": {},
        "classifications": [],
    }
    import_rows(store, org.id, [simple_row(1, project=PROJECT), video, simple_row(5)])
    with store.write() as conn:  # damage one stored document
        conn.execute(
            sa.text("UPDATE label SET annotations = :bad WHERE data_row_id = :id"),
            {"bad": '{"frames": ', "id": video["data_row"]["id"]},
        )
    done = run(store, org.id, tmp_path, Scope("project", PROJECT), {"interpolated_frames": True})
    assert done.status == "COMPLETE"
    assert done.result_lines == 1 and done.error_lines == 1
    directory = Path(str(done.location))
    manifest = read_manifest(directory)
    errors = list(StreamReader(directory, stream_info(manifest, "errors")).iter_lines())
    failed = orjson.loads(errors[0])
    assert failed["data_row_id"] == video["data_row"]["id"]
    assert "JSONDecodeError" in failed["error"]
    assert manifest["counts"]["errors"] == 1
    assert verify(directory).ok


# ------------------------------------------------------------------ shards, order, determinism


def test_shards_tee_and_byte_identical_reexport(
    store: Store, org: services.Organization, tmp_path: Path
) -> None:
    import_rows(store, org.id, [simple_row(n, project=PROJECT) for n in reversed(range(30))])
    tee = io.BytesIO()
    first = run(
        store,
        org.id,
        tmp_path,
        Scope("catalog"),
        {"all_projects": True},
        shard_bytes=2000,
        tee=tee,
    )
    second = run(store, org.id, tmp_path, Scope("catalog"), {"all_projects": True})
    m1 = read_manifest(Path(str(first.location)))
    m2 = read_manifest(Path(str(second.location)))
    assert len(m1["streams"]["result"]["files"]) > 3
    assert len(m2["streams"]["result"]["files"]) == 1
    assert m1["streams"]["result"]["sha256"] == m2["streams"]["result"]["sha256"]
    assert hashlib.sha256(tee.getvalue()).hexdigest() == m1["streams"]["result"]["sha256"]
    rows = read_rows(first.location)
    assert [r["data_row"]["global_key"] for r in rows] == [f"row-{n}" for n in range(30)]
    directory = Path(str(first.location))
    reader = StreamReader(directory, stream_info(m1, "result"))
    line7 = reader.line_offset(7)
    assert b"".join(reader.iter_bytes(line7)).startswith(orjson.dumps(rows[7]))
    assert verify(directory).ok


def test_progress_and_task_record(store: Store, org: services.Organization, tmp_path: Path) -> None:
    import_rows(store, org.id, [simple_row(n) for n in range(5)])
    seen: list[tuple[int, int | None]] = []
    done = run(
        store,
        org.id,
        tmp_path,
        Scope("catalog"),
        page_size=2,
        progress=lambda d, t: seen.append((d, t)),
    )
    assert seen[0] == (2, 5) and seen[-1] == (5, 5)
    assert done.status == "COMPLETE" and done.percent == 100.0
    assert (done.progress_done, done.progress_total) == (5, 5)
    assert done.started_at is not None and done.finished_at >= done.started_at
    listed = export_tasks.list_tasks(store, org.id)
    assert [t.id for t in listed] == [done.id]
    manifest = export_tasks.manifest_of(store, org.id, done.id)
    assert manifest["counts"]["data_rows"] == 5
    assert manifest["scope"] == {"kind": "catalog"}
    archived = export_tasks.archive(store, org.id, done.id)
    assert archived.archived and export_tasks.list_tasks(store, org.id) == []


def test_an_empty_export_has_no_result_stream(
    store: Store, org: services.Organization, tmp_path: Path
) -> None:
    import_rows(store, org.id, [simple_row(1)])
    done = run(store, org.id, tmp_path, Scope("catalog"), None, {"global_keys": ["nope"]})
    assert done.status == "COMPLETE" and done.result_lines == 0
    manifest = read_manifest(Path(str(done.location)))
    assert manifest["streams"]["result"]["files"] == []
    assert sorted(p.name for p in Path(str(done.location)).iterdir()) == ["manifest.json"]
    assert verify(Path(str(done.location))).ok


def test_an_export_that_cannot_run_fails_with_the_reason(
    store: Store, org: services.Organization, tmp_path: Path
) -> None:
    import_rows(store, org.id, [simple_row(1)])
    slice_id = services.save_slice(store, org.id, "recent", {"global_keys": ["row-1"]})
    task = services.start_export(store, org.id, Scope("slice", slice_id))
    with store.write() as conn:  # the slice changes into something unusable before it runs
        conn.execute(
            sa.text("UPDATE catalog_slice SET filters = :f WHERE id = :id"),
            {"f": '{"workflow_status": "Done"}', "id": slice_id},
        )
    root = tmp_path / "exports"
    done = export_tasks.execute(store, Artifacts.local(root), task.id)
    assert done.status == "FAILED"
    assert done.error_message is not None and "invalid filter" in done.error_message
    assert done.finished_at is not None and done.location is None
    assert list(root.iterdir()) == []
    again = export_tasks.execute(
        store, Artifacts.local(root), task.id
    )  # a finished task is left alone
    assert again.status == "FAILED"
