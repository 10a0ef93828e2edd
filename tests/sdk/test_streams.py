"""The streams of an export through the SDK (:mod:`labelport.sdk.streams`) against a live server
(SQLite and PostgreSQL): totals, rows from any line or byte as they arrive, the callback form,
and row reading that survives dropped connections.

Connections are dropped for real by a small TCP proxy in front of the server (tests/sdk/proxy.py).
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

import pytest

from labelport.sdk import InvalidRequestError
from tests.sdk.live_exports import ROWS, finished_task, line_starts, native, sdk
from tests.sdk.proxy import Proxy

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
