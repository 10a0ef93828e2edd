"""Import tasks as records and runs: create, get, list, execute (complete, failed, stopped)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from labelport import services
from labelport.errors import InvalidSpec, NotFound
from labelport.imports import load
from labelport.services import import_tasks
from labelport.settings import load_settings
from labelport.store import Store


def rows(n: int, start: int = 0) -> bytes:
    return b"".join(
        orjson.dumps(
            {"data_row": {"global_key": f"k-{i}", "row_data": f"https://media.test/{i}.jpg"}}
        )
        + b"\n"
        for i in range(start, start + n)
    )


def upload(
    store: Store,
    org: services.Organization,
    tmp_path: Path,
    body: bytes,
    *,
    source: str = "labelbox",
    options: dict[str, Any] | None = None,
    name: str = "f.ndjson",
) -> import_tasks.ImportTaskInfo:
    path = tmp_path / f"upload-{len(list(tmp_path.iterdir()))}"
    path.write_bytes(body)
    return import_tasks.create(
        store,
        org.id,
        None,
        source,
        {"dataset": "d"} if options is None else options,
        name,
        str(path),
        len(body),
    )


def small_batches(monkeypatch: Any, size: int) -> None:
    """The loader writes (and reports progress) every ``size`` rows."""
    real = load.import_items

    def import_items(*args: Any, **kwargs: Any) -> Any:
        return real(*args, **{**kwargs, "batch_size": size})

    monkeypatch.setattr(load, "import_items", import_items)


def data_rows(store: Store, org: services.Organization) -> int:
    return services.stats(store, org.id)["data rows"]


@pytest.fixture
def settings(tmp_path: Path) -> Any:
    return load_settings({}, home=str(tmp_path / "home"))


def test_a_queued_import_runs_to_complete_and_deletes_its_file(
    store: Store, org: services.Organization, tmp_path: Path, settings: Any
) -> None:
    body = rows(3)
    task = upload(store, org, tmp_path, body)
    assert (task.status, task.bytes_total, task.attempts) == ("QUEUED", len(body), 0)
    assert import_tasks.get(store, org.id, task.id) == task

    done = import_tasks.execute(store, settings, task.id)
    assert done.status == "COMPLETE"
    assert done.attempts == 1  # a queued task is claimed by execute itself
    assert done.summary is not None and done.summary["rows"] == 3
    assert (done.bytes_done, done.rows_done, done.percent) == (len(body), 3, 100.0)
    assert not Path(task.location).exists()
    assert data_rows(store, org) == 3
    assert import_tasks.execute(store, settings, task.id) == done  # a finished task is left alone


def test_bad_records_fail_the_task_with_line_numbers_and_leave_nothing(
    store: Store, org: services.Organization, tmp_path: Path, settings: Any
) -> None:
    body = rows(2) + b"[1, 2]\n\n" + rows(1, start=5) + b'{"data_row": {"row_data": 3}}\n'
    task = upload(store, org, tmp_path, body, name="bad.ndjson")
    failed = import_tasks.execute(store, settings, task.id)
    assert failed.status == "FAILED"
    assert failed.error_count == 2
    assert [(e["line"], e["field"]) for e in failed.errors] == [(3, ""), (6, "data_row.row_data")]
    assert "expected a JSON object" in failed.errors[0]["reason"]
    assert failed.error_message == "bad.ndjson: 2 invalid records; nothing was imported"
    assert (failed.summary, failed.rows_done) == (None, 0)
    assert data_rows(store, org) == 0
    assert not Path(task.location).exists()
    assert failed.to_json()["errors"] == failed.errors


def test_a_stopping_server_puts_the_import_back_in_the_queue(
    store: Store, org: services.Organization, tmp_path: Path, settings: Any, monkeypatch: Any
) -> None:
    small_batches(monkeypatch, 10)
    stop = threading.Event()
    seen: list[int] = []
    real = import_tasks._Tracker.rows

    def rows_then_stop(self: Any, n: int) -> None:
        seen.append(n)
        if n >= 20:
            stop.set()  # as TaskPool.shutdown does, half-way through the file
        real(self, n)

    monkeypatch.setattr(import_tasks._Tracker, "rows", rows_then_stop)
    task = upload(store, org, tmp_path, rows(100))
    back = import_tasks.execute(store, settings, task.id, cancel_event=stop)
    assert seen[:2] == [10, 20]
    assert back.status == "QUEUED"
    assert (back.attempts, back.bytes_done, back.rows_done) == (0, 0, 0)
    assert Path(task.location).exists()  # kept for the next run
    assert data_rows(store, org) == 0  # rolled back

    again = import_tasks.execute(store, settings, task.id)
    assert (again.status, again.rows_done) == ("COMPLETE", 100)
    assert data_rows(store, org) == 100


def test_progress_is_visible_while_the_import_runs(
    store: Store, org: services.Organization, tmp_path: Path, settings: Any, monkeypatch: Any
) -> None:
    small_batches(monkeypatch, 50)
    monkeypatch.setattr(import_tasks, "PROGRESS_EVERY", 0.0)
    monkeypatch.setattr(import_tasks, "READ_BUFFER", 4096)
    body = rows(400)
    task = upload(store, org, tmp_path, body)
    observed: list[tuple[str, int, int]] = []
    real = import_tasks._Tracker.rows

    def watch(self: Any, n: int) -> None:
        real(self, n)
        now = import_tasks.get(store, org.id, task.id)  # what a poll of the API would see
        observed.append((now.status, now.bytes_done, now.rows_done))

    monkeypatch.setattr(import_tasks._Tracker, "rows", watch)
    done = import_tasks.execute(store, settings, task.id)
    assert done.status == "COMPLETE"
    assert [o[2] for o in observed] == list(range(50, 401, 50))
    assert {o[0] for o in observed} == {"IN_PROGRESS"}
    byte_counts = [o[1] for o in observed]
    assert byte_counts == sorted(byte_counts)
    assert 0 < byte_counts[0] < len(body)  # read as it goes, not all at once


def test_a_vanished_upload_fails_the_task(
    store: Store, org: services.Organization, tmp_path: Path, settings: Any
) -> None:
    task = upload(store, org, tmp_path, rows(1))
    Path(task.location).unlink()
    failed = import_tasks.execute(store, settings, task.id)
    assert failed.status == "FAILED"
    assert failed.error_message is not None and "gone" in failed.error_message


def test_vertex_and_rows_sources_run_their_importers(
    store: Store, org: services.Organization, tmp_path: Path, settings: Any
) -> None:
    record = {
        "imageGcsUri": "gs://b/1.jpg",
        "classificationAnnotation": {"displayName": "rose"},
    }
    vertex = upload(
        store,
        org,
        tmp_path,
        orjson.dumps(record) + b"\n",
        source="vertex",
        options={"dataset": "flowers", "objective": "image_classification_single_label"},
    )
    done = import_tasks.execute(store, settings, vertex.id)
    assert done.status == "COMPLETE", done.error_message
    assert (done.summary or {})["labels"] == 1
    csv = upload(
        store,
        org,
        tmp_path,
        b"row_data,global_key\nhttps://m.test/a.txt,a\n",
        source="rows",
        options={"dataset": "notes", "format": "csv", "media_type": "text"},
    )
    assert csv.options == {"dataset": "notes", "format": "csv", "media_type": "TEXT"}
    assert import_tasks.execute(store, settings, csv.id).status == "COMPLETE"
    assert data_rows(store, org) == 2


def test_lists_are_newest_first_and_scoped_to_the_organization(
    store: Store, org: services.Organization, tmp_path: Path
) -> None:
    made = [upload(store, org, tmp_path, rows(1)).id for _ in range(3)]
    first = import_tasks.list_tasks(store, org.id, limit=2)
    assert [t.id for t in first.items] == made[::-1][:2]
    assert first.next_after is not None
    rest = import_tasks.list_tasks(store, org.id, limit=2, after=first.next_after)
    assert ([t.id for t in rest.items], rest.next_after) == ([made[0]], None)
    other = services.create_organization(store, "other")
    assert import_tasks.list_tasks(store, other.id).items == []
    with pytest.raises(NotFound):
        import_tasks.get(store, other.id, made[0])


@pytest.mark.parametrize(
    ("source", "options", "field"),
    [
        ("excel", {}, "source"),
        ("labelbox", {"annotation_set": "x"}, "annotation_set"),
        ("labelbox", {"speed": "fast"}, "speed"),
        ("vertex", {}, "dataset"),
        ("rows", {"dataset": "d", "format": "xls"}, "format"),
        ("rows", {"dataset": "d", "media_type": "smell"}, "media_type"),
        ("vertex", {"dataset": "d", "objective": "x"}, "objective"),
        ("diffgram", {"dataset": "  "}, "dataset"),
        ("diffgram", {"dataset": 3}, "dataset"),
        ("labelbox", {"dataset": "x" * 501}, "dataset"),
    ],
)
def test_options_are_checked_like_the_cli_checks_them(
    source: str, options: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidSpec) as info:
        import_tasks.check_options(source, options, prefix="query:")
    assert getattr(info.value, "field", None) == f"query:{field}"


def test_options_are_normalized() -> None:
    assert import_tasks.check_options("labelbox", {"dataset": " d ", "media_type": "image"}) == {
        "dataset": "d",
        "media_type": "IMAGE",
    }
    assert import_tasks.check_options("diffgram", {"dataset": None}) == {}


def test_two_imports_of_one_organization_take_turns(
    store: Store, org: services.Organization, tmp_path: Path, settings: Any, monkeypatch: Any
) -> None:
    # Both files name the same new dataset: run at once, the later commit would hit the
    # dataset the earlier one created. The first to write pauses with its transaction open.
    first_batch = threading.Lock()
    real = import_tasks._Tracker.rows

    def pause_once(self: Any, n: int) -> None:
        if first_batch.acquire(blocking=False):
            time.sleep(0.5)
        real(self, n)

    monkeypatch.setattr(import_tasks._Tracker, "rows", pause_once)
    tasks = [upload(store, org, tmp_path, rows(5, start=10 * i)) for i in range(2)]
    results: dict[str, import_tasks.ImportTaskInfo] = {}

    def run(task_id: str) -> None:
        results[task_id] = import_tasks.execute(store, settings, task_id)

    threads = [threading.Thread(target=run, args=(t.id,)) for t in tasks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert [results[t.id].status for t in tasks] == ["COMPLETE", "COMPLETE"], [
        results[t.id].error_message for t in tasks
    ]
    counts = services.stats(store, org.id)
    assert (counts["datasets"], counts["data rows"]) == (1, 10)


def test_strict_is_a_flag_of_the_line_importers() -> None:
    for value in (True, "true", " TRUE "):
        assert import_tasks.check_options("labelbox", {"strict": value}) == {"strict": True}
    for value in (False, "false", None):
        assert import_tasks.check_options("rows", {"dataset": "d", "strict": value}) == {
            "dataset": "d"
        }
    assert import_tasks.check_options("vertex", {"dataset": "d", "strict": True})["strict"] is True
    for bad in ("yes", 1, ""):
        with pytest.raises(InvalidSpec) as info:
            import_tasks.check_options("labelbox", {"strict": bad}, prefix="query:")
        assert getattr(info.value, "field", None) == "query:strict"
    assert import_tasks.check_options("diffgram", {"strict": True}) == {"strict": True}
    with pytest.raises(InvalidSpec, match="not an option of a diffgram import"):
        import_tasks.check_options("diffgram", {"media_type": "IMAGE"})


def future_rows() -> bytes:
    return b"".join(
        orjson.dumps({"data_row": {"row_data": f"https://media.test/{i}.jpg"}, "future_field": i})
        + b"\n"
        for i in range(3)
    )


def test_the_summary_is_the_import_result_with_its_warnings(
    store: Store, org: services.Organization, tmp_path: Path, settings: Any
) -> None:
    task = upload(store, org, tmp_path, future_rows(), options={}, name="scenes.ndjson")
    done = import_tasks.execute(store, settings, task.id)
    assert done.status == "COMPLETE", done.error_message
    summary = dict(done.summary or {})
    assert isinstance(summary.pop("seconds"), float)
    assert summary == {
        "rows": 3,
        "labels": 0,
        "predictions": 0,
        "model_runs": 0,
        "model_run_labels": 0,
        "annotation_sets": [],
        "warnings": [
            {
                "field": "future_field",
                "reason": "unknown field, kept as given",
                "count": 3,
                "lines": [1, 2, 3],
            }
        ],
        "dataset": "scenes",  # no dataset option: named after the file
    }


def test_strict_makes_the_warnings_errors(
    store: Store, org: services.Organization, tmp_path: Path, settings: Any
) -> None:
    task = upload(store, org, tmp_path, future_rows(), options={"dataset": "d", "strict": True})
    assert task.options == {"dataset": "d", "strict": True}
    failed = import_tasks.execute(store, settings, task.id)
    assert failed.status == "FAILED"
    assert [(e["line"], e["field"]) for e in failed.errors] == [
        (n, "future_field") for n in (1, 2, 3)
    ]
    assert all(e["reason"].endswith("(--strict)") for e in failed.errors)
    assert data_rows(store, org) == 0


def test_the_line_limit_comes_from_the_settings(
    store: Store, org: services.Organization, tmp_path: Path
) -> None:
    settings = load_settings({}, home=str(tmp_path / "home"), max_line_bytes="200")
    long = orjson.dumps({"data_row": {"row_data": "https://m.test/" + "x" * 300}}) + b"\n"
    vertex = b'{"imageGcsUri": "gs://b/1.jpg", "classificationAnnotation": {"displayName": "a"}}'
    for source, first, options in [
        ("labelbox", rows(1), {"dataset": "d"}),
        ("rows", b'{"row_data": "https://m.test/1.jpg"}\n', {"dataset": "d", "format": "jsonl"}),
        (
            "vertex",
            vertex + b"\n",
            {"dataset": "d", "objective": "image_classification_single_label"},
        ),
    ]:
        task = upload(store, org, tmp_path, first + long, source=source, options=options)
        failed = import_tasks.execute(store, settings, task.id)
        assert failed.status == "FAILED", source
        assert failed.errors == [
            {
                "line": 2,
                "field": "",
                "reason": "the line is longer than the limit of 200 bytes "
                "(LABELPORT_MAX_LINE_BYTES)",
            }
        ], source
    assert data_rows(store, org) == 0


@pytest.mark.parametrize(
    ("error", "plain"),
    [
        (
            sa.exc.IntegrityError(
                "INSERT INTO data_row (id, global_key) VALUES (%(id)s, %(gk)s)",
                {"id": "c1", "gk": "secret-key-42"},
                Exception("duplicate key value violates unique constraint"),
            ),
            "the database refused the import (Exception)",
        ),
        (
            RuntimeError("SELECT * FROM api_key WHERE secret = 'secret-key-42'"),
            "an unexpected RuntimeError",
        ),
    ],
)
def test_an_unexpected_failure_is_logged_in_full_but_told_in_plain_words(
    store: Store,
    org: services.Organization,
    tmp_path: Path,
    settings: Any,
    monkeypatch: Any,
    caplog: Any,
    error: Exception,
    plain: str,
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise error

    monkeypatch.setattr(load, "import_items", broken)
    task = upload(store, org, tmp_path, rows(2), name="scenes.ndjson")
    with caplog.at_level("ERROR", logger="labelport.tasks"):
        failed = import_tasks.execute(store, settings, task.id)
    assert failed.status == "FAILED"
    assert failed.error_message == (
        f"internal error: {plain} while importing scenes.ndjson; nothing was imported "
        "(the server log has the details)"
    )
    assert "secret-key-42" in caplog.text  # the log has it all...
    assert failed.errors == [] and failed.summary is None  # ...the task nothing of it
    assert not Path(task.location).exists()
