"""Export tasks through the SDK against a live server (SQLite and PostgreSQL): waiting (and its
timeout, failure and cancel), totals, rows from any line or byte as they arrive, the callback
form, and downloads that survive dropped connections and are checked against the manifest.

Connections are dropped for real by a small TCP proxy in front of the server (tests/sdk/proxy.py).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from labelport import services
from labelport.export.artifacts import Artifacts
from labelport.sdk import (
    ChecksumMismatch,
    Client,
    ExportCanceled,
    ExportFailed,
    ExportNotReady,
    ExportTask,
    ExportTimeout,
    InvalidRequestError,
    NetworkError,
)
from labelport.services import export_tasks
from tests.factories import PROJECT, import_rows, simple_row
from tests.sdk.proxy import Proxy

ROWS = 120


@pytest.fixture
def rows(server: Any) -> Any:
    """A project of ROWS rows on the server."""
    import_rows(server.store, server.org.id, [simple_row(n, project=PROJECT) for n in range(ROWS)])
    return server


@pytest.fixture
def proxy(server: Any) -> Iterator[Proxy]:
    front = Proxy(server.url)
    yield front
    front.close()


def sdk(url: str, server: Any, role: str = "editor", **options: Any) -> Client:
    return Client(url, server.keys[role], backoff=0.0, **options)


def finished_task(client: Client) -> ExportTask:
    return client.get_project(PROJECT).export(params={"label_details": True}).wait_till_done(30)


def native(server: Any, task_id: str, stream: str = "result") -> bytes:
    with server.client("viewer") as http:
        body: bytes = http.get(f"/api/v1/exports/{task_id}/streams/{stream}").content
    return body


def line_starts(body: bytes) -> list[int]:
    starts = [0]
    for line in body.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    return starts


# ---------------------------------------------------------------------------- waiting


def test_wait_till_done_raises_on_timeout_and_reports_progress(rows: Any) -> None:
    rows.pool.shutdown(wait=True)  # the export stays QUEUED until this test runs it
    with sdk(rows.url, rows) as client:
        task = client.get_project(PROJECT).export(name="later")
        assert task.status == "QUEUED" and task.name == "later" and not task.reused
        assert task.progress.done == 0 and task.progress.total is None
        again = client.get_project(PROJECT).export(name="later")
        assert again.reused and again.id == task.id  # identical request: the same task

        started = time.monotonic()
        with pytest.raises(ExportTimeout) as late:
            task.wait_till_done(timeout=0.3)
        assert 0.25 <= time.monotonic() - started < 5
        assert late.value.task is task and "QUEUED" in str(late.value)
        with pytest.raises(ExportNotReady):
            task.get_total_file_size()
        with pytest.raises(ExportNotReady):
            task.has_result()
        with pytest.raises(ExportNotReady):
            task.manifest()

        runner = threading.Timer(
            0.3,
            export_tasks.execute,
            (rows.store, Artifacts.for_settings(rows.settings), task.id),
        )
        runner.start()
        seen: list[Any] = []
        assert task.wait_till_done(timeout=30, on_progress=seen.append) is task
        runner.join()
        assert task.status == "COMPLETE" and task.done
        assert task.progress.done == ROWS and task.progress.percent == 100.0
        assert seen[0].done == 0 and seen[-1].done == ROWS and len(seen) >= 2
        assert task.counts is not None and task.counts["data_rows"] == ROWS
        assert task.finished_at is not None and task.created_at is not None


def test_a_failed_or_canceled_export_raises(rows: Any) -> None:
    rows.pool.shutdown(wait=True)
    slice_id = services.save_slice(rows.store, rows.org.id, "some", {"global_keys": ["row-1"]})
    with sdk(rows.url, rows) as client:
        doomed = client.get_slice(slice_id).export()
        with rows.store.write() as conn:  # the slice becomes unusable before the export runs
            conn.execute(
                sa.text("UPDATE catalog_slice SET filters = :f WHERE id = :id"),
                {"f": '{"workflow_status": "Done"}', "id": slice_id},
            )
        export_tasks.execute(rows.store, Artifacts.for_settings(rows.settings), doomed.id)
        with pytest.raises(ExportFailed) as failed:
            doomed.wait_till_done(timeout=10)
        assert not isinstance(failed.value, ExportCanceled)
        assert failed.value.reason and "invalid filter" in failed.value.reason
        assert doomed.status == "FAILED" and doomed.error_message == failed.value.reason
        with pytest.raises(ExportFailed):
            list(doomed.rows())
        with pytest.raises(ExportFailed):
            doomed.has_errors()

        queued = client.catalog().export()
        assert queued.cancel() is queued and queued.status == "CANCELED"
        with pytest.raises(ExportCanceled):
            queued.wait_till_done()


# ------------------------------------------------------------------------------ rows


def test_rows_from_any_line_or_byte_and_the_callback_form(rows: Any) -> None:
    with sdk(rows.url, rows, "viewer") as viewer, sdk(rows.url, rows) as client:
        made = finished_task(client)
        task = viewer.get_export(made.id)  # a viewer reads what an editor exported
        body = native(rows, task.id)
        lines = body.splitlines(keepends=True)
        starts = line_starts(body)
        assert task.get_total_file_size() == len(body) == task.get_total_file_size("RESULT")
        assert task.get_total_lines() == ROWS and task.has_result() and not task.has_errors()
        assert task.get_total_lines("errors") == 0

        def keys(stream: Any) -> list[str]:
            return [row["data_row"]["global_key"] for row in stream]

        assert keys(task) == [f"row-{n}" for n in range(ROWS)]
        assert b"".join(task.rows().lines()) == body
        assert keys(task.rows(line=100)) == [f"row-{n}" for n in range(100, ROWS)]
        assert keys(task.rows().with_line(7).with_limit(3)) == ["row-7", "row-8", "row-9"]
        assert list(task.rows(line=ROWS)) == [] and list(task.rows(limit=0)) == []
        # from a byte: the first whole row starting there or after
        assert keys(task.rows(offset=starts[50], limit=2)) == ["row-50", "row-51"]
        assert keys(task.rows().with_offset(starts[50] + 1).with_limit(2)) == ["row-51", "row-52"]
        assert keys(task.rows(offset=starts[50] - 1, limit=1)) == ["row-50"]
        assert list(task.rows(offset=len(body))) == []
        assert b"".join(task.rows(offset=starts[3]).lines()) == b"".join(lines[3:])
        assert b"".join(task.iter_bytes(offset=starts[3] + 5)) == body[starts[3] + 5 :]

        stream = task.rows().with_line(117)
        assert keys(stream) == keys(stream) == ["row-117", "row-118", "row-119"]  # re-iterable

        seen: list[str] = []
        count = task.stream("result", on_row=lambda row: seen.append(row["data_row"]["id"]))
        assert count == ROWS and len(seen) == ROWS and seen[0] == "crow000000000000000000000"
        assert task.stream("result", on_row=seen.append, line=119) == 1
        assert task.stream("errors", on_row=seen.append) == 0

        for bad in (
            lambda: list(task.rows(line=ROWS + 1)),
            lambda: list(task.rows(offset=len(body) + 1)),
            lambda: task.rows(line=1, offset=1),
            lambda: task.rows(line=-1),
            lambda: task.rows("everything"),
            lambda: task.stream("result"),
        ):
            with pytest.raises(InvalidRequestError):
                bad()

        manifest = task.manifest()
        assert manifest["streams"]["result"]["sha256"] == hashlib.sha256(body).hexdigest()
        assert manifest["task_id"] == task.id and manifest["counts"]["data_rows"] == ROWS
        assert set(task.links()) >= {"result", "errors", "manifest"}


def test_an_empty_export_streams_nothing_and_downloads_an_empty_file(
    rows: Any, tmp_path: Path
) -> None:
    with sdk(rows.url, rows) as client:
        task = client.catalog().export(filters={"global_keys": ["none-such"]})
        task.wait_till_done(timeout=30)
        assert not task.has_result() and task.get_total_lines() == 0
        assert list(task) == [] and task.stream(on_row=print) == 0
        got = task.download(tmp_path / "empty.ndjson")
        assert got.bytes == 0 and (tmp_path / "empty.ndjson").read_bytes() == b""
        assert got.sha256 == hashlib.sha256(b"").hexdigest()


def test_rows_come_out_as_they_arrive_not_after_the_whole_body(rows: Any, proxy: Proxy) -> None:
    with sdk(proxy.url, rows) as client:
        task = finished_task(client)
        total = task.get_total_file_size()
        proxy.hold(after=2000)  # the answer's head and the first row or so, then nothing
        rows_seen: list[dict[str, Any]] = []
        first = threading.Event()

        def consume() -> None:
            for row in task:
                rows_seen.append(row)
                first.set()

        reader = threading.Thread(target=consume, daemon=True)
        reader.start()
        assert first.wait(10), "no row came out while the rest of the body was held back"
        assert not proxy.released.is_set() and len(rows_seen) < ROWS
        assert rows_seen[0]["data_row"]["global_key"] == "row-0"
        proxy.released.set()
        reader.join(30)
        assert len(rows_seen) == ROWS and total > 2000 * 10


# ------------------------------------------------------------------- dropped connections


def test_row_reading_resumes_after_a_dropped_connection(rows: Any, proxy: Proxy) -> None:
    with sdk(proxy.url, rows) as client:
        task = finished_task(client)
        body = native(rows, task.id)
        proxy.cut(times=2, after=9000)
        assert b"".join(task.rows().lines()) == body
        assert proxy.cuts == 2
        heads = proxy.marked_heads()
        assert len(heads) == 3 and "offset=" in heads[1].split("\r\n")[0]

        proxy.cut(times=1, after=6000)  # from a line: where it started comes from the headers
        assert [r["data_row"]["global_key"] for r in task.rows(line=30, limit=60)] == [
            f"row-{n}" for n in range(30, 90)
        ]
        assert proxy.cuts == 3


def test_a_download_resumes_with_range_and_is_checked_against_the_manifest(
    rows: Any, proxy: Proxy, tmp_path: Path
) -> None:
    target = tmp_path / "out" / "result.ndjson"
    target.parent.mkdir()
    with sdk(proxy.url, rows) as client:
        task = finished_task(client)
        body = native(rows, task.id)
        sha256 = task.manifest()["streams"]["result"]["sha256"]
        assert len(body) > 60_000

        proxy.cut(times=3, after=20_000)
        calls: list[tuple[int, int]] = []
        got = task.download(target, on_progress=lambda done, total: calls.append((done, total)))
        assert proxy.cuts == 3 and got.reconnects == 3 and got.resumed_from == 0
        assert target.read_bytes() == body
        assert hashlib.sha256(target.read_bytes()).hexdigest() == got.sha256 == sha256
        assert (got.bytes, got.lines, got.path) == (len(body), ROWS, target)
        ranges = [h for h in proxy.marked_heads() if "range: bytes=" in h.lower()]
        assert len(ranges) == 3  # each reconnect asked only for the bytes it lacked
        assert calls[-1] == (len(body), len(body)) and calls[0] == (0, len(body))
        assert list(target.parent.iterdir()) == [target]  # no partial file left

        # what an interrupted earlier run left on disk is picked up, not fetched again
        partial = target.with_name(f"{target.name}.{task.id}-result.partial")
        partial.write_bytes(body[:33_333])
        again = task.download(target)
        assert again.resumed_from == 33_333 and target.read_bytes() == body
        assert "range: bytes=33333-" in proxy.marked_heads()[-1].lower()

        # bytes on disk that are not the export's: the check fails, nothing is kept
        target.unlink()
        partial.write_bytes(b"X" + body[1:1000])
        with pytest.raises(ChecksumMismatch, match="sha256"):
            task.download(target)
        assert not target.exists() and not partial.exists()

        errors = task.download(tmp_path / "errors.ndjson", "errors")
        assert errors.bytes == 0 and (tmp_path / "errors.ndjson").read_bytes() == b""


def test_a_connection_that_keeps_dropping_gives_up_with_a_network_error(
    rows: Any, proxy: Proxy, tmp_path: Path
) -> None:
    with sdk(proxy.url, rows, max_retries=2) as client:
        task = finished_task(client)
        proxy.cut(times=10, after=100)  # never gets past the answer's head
        with pytest.raises(NetworkError, match="no answer"):
            task.download(tmp_path / "x.ndjson")
        assert proxy.cuts == 3  # the first try and two reconnects without progress
        assert not (tmp_path / "x.ndjson").exists()
        partial = tmp_path / f"x.ndjson.{task.id}-result.partial"
        assert partial.is_file()  # kept for the next try to resume


class NoRange(httpx.BaseTransport):
    """The network, but Range headers never reach the server (a proxy that drops them)."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.dropped = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if "range" in request.headers:
            del request.headers["range"]
            self.dropped += 1
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def test_a_download_starts_over_when_the_server_will_not_resume(
    rows: Any, proxy: Proxy, tmp_path: Path
) -> None:
    transport = NoRange()
    with sdk(proxy.url, rows, transport=transport) as client:
        task = finished_task(client)
        body = native(rows, task.id)
        proxy.cut(times=1, after=20_000)
        got = task.download(tmp_path / "all.ndjson")
        assert transport.dropped == 1 and got.reconnects == 1  # answered 200: the whole again
        assert (tmp_path / "all.ndjson").read_bytes() == body and got.bytes == len(body)

        proxy.cut(times=1, after=9_000)  # rows do not repeat either
        assert b"".join(task.iter_bytes(offset=100)) == body[100:]
        assert transport.dropped == 3  # the first read (from byte 100) and the reconnect
