"""Export tasks through the SDK (:mod:`labelport.sdk.tasks`) against a live server (SQLite and
PostgreSQL): waiting (and its timeout, failure and cancel), and downloads that survive dropped
connections and are checked against the manifest.

Connections are dropped for real by a small TCP proxy in front of the server (tests/sdk/proxy.py).
"""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from labelport import services
from labelport.export.artifacts import Artifacts
from labelport.sdk import (
    ChecksumMismatch,
    ExportCanceled,
    ExportFailed,
    ExportNotReady,
    ExportTimeout,
    NetworkError,
)
from labelport.services import export_tasks
from tests.factories import PROJECT
from tests.sdk.live_exports import ROWS, finished_task, native, sdk
from tests.sdk.proxy import Proxy

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


# ------------------------------------------------------------------- dropped connections


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
