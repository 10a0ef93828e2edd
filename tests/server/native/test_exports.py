"""Native REST exports: create, poll, list, read streams by line/byte/Range, cancel, archive.

Against a live server (``server`` fixture) on SQLite and PostgreSQL. Tests that need a task to
stay QUEUED stop the server's pool first; one test runs an export with tiny shards right here
(``export_tasks.execute``) so that reads cross shard boundaries.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from labelport.export.artifacts import Artifacts
from labelport.services import export_tasks
from tests.factories import PROJECT, import_rows, simple_row

API = "/api/v1/exports"


def wait_finished(http: httpx.Client, task_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        task: dict[str, Any] = http.get(f"{API}/{task_id}").json()
        if task["status"] in export_tasks.FINISHED:
            return task
        assert time.monotonic() < deadline, f"export {task_id} is still {task['status']}"
        time.sleep(0.05)


def error(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()["error"]
    return body


def project_rows(n: int) -> list[dict[str, Any]]:
    return [simple_row(i, project=PROJECT) for i in range(n)]


# ---------------------------------------------------------------------------- create, read


def test_an_export_runs_and_its_result_reads_from_any_line_byte_or_range(server: Any) -> None:
    import_rows(server.store, server.org.id, project_rows(120))
    with server.client("editor") as http:
        created = http.post(
            API,
            json={
                "scope": {"kind": "project", "id": PROJECT},
                "params": {"label_details": True},
                "name": "nightly",
            },
        )
        assert created.status_code == 201, created.text
        assert created.json()["reused"] is False
        task_id = created.json()["id"]
        assert created.headers["location"] == f"{API}/{task_id}"
        assert created.json()["status"] in ("QUEUED", "IN_PROGRESS")
        task = wait_finished(http, task_id)

    assert task["status"] == "COMPLETE"
    assert task["progress"] == {"done": 120, "total": 120, "percent": 100.0}
    assert task["result"]["lines"] == 120 and task["errors"] == {"bytes": 0, "lines": 0}
    assert task["created_by"] == "editor@acme.test" and task["name"] == "nightly"
    assert task["counts"]["data_rows"] == 120 and task["counts"]["labels"] == {PROJECT: 120}
    assert task["counts"]["annotations"] == {"ImageBoundingBox": 120}
    assert task["finished_at"] and task["started_at"] and task["created_at"]
    assert "location" not in task  # a server path is not the caller's business
    assert set(task["links"]) >= {"result", "errors", "manifest", "files", "expires_at"}

    with server.client("viewer") as http:
        manifest = http.get(f"{API}/{task_id}/manifest").json()
        assert manifest["counts"] == task["counts"]
        assert manifest["params"]["label_details"] is True

        whole = http.get(f"{API}/{task_id}/streams/result")
        body = whole.content
        assert whole.status_code == 200
        assert whole.headers["content-type"].startswith("application/x-ndjson")
        assert whole.headers["x-total-lines"] == "120"
        assert whole.headers["x-total-bytes"] == str(len(body)) == str(task["result"]["bytes"])
        assert whole.headers["accept-ranges"] == "bytes"
        assert hashlib.sha256(body).hexdigest() == task["streams"]["result"]["sha256"]
        lines = body.splitlines(keepends=True)
        assert len(lines) == 120 and b'"global_key":"row-7"' in lines[7]
        starts = [0]
        for line in lines:
            starts.append(starts[-1] + len(line))

        def read(**params: Any) -> httpx.Response:
            response: httpx.Response = http.get(f"{API}/{task_id}/streams/result", params=params)
            return response

        page = read(line=7, limit=3)
        assert page.content == b"".join(lines[7:10])
        assert page.headers["x-next-line"] == "10"
        assert page.headers["x-next-offset"] == str(starts[10])
        assert read(line=118).content == b"".join(lines[118:])
        assert read(line=120).content == b""
        assert read(offset=starts[50]).content == body[starts[50] :]
        # from inside a line, that partial line counts as the first one
        inside = read(offset=starts[50] + 5, limit=2)
        assert inside.content == body[starts[50] + 5 : starts[52]]
        assert inside.headers["x-next-line"] == "52"
        assert read(limit=1).content == lines[0]

        for params, field in [
            ({"line": 121}, "query:line"),
            ({"offset": len(body) + 1}, "query:offset"),
            ({"offset": 1, "line": 1}, "query:line"),
            ({"line": -1}, "query:line"),
            ({"lines": 3}, "query:lines"),
        ]:
            bad = read(**params)
            assert bad.status_code == 400, params
            assert error(bad)["field"] == field

        def ranged(value: str, **headers: str) -> httpx.Response:
            url = f"{API}/{task_id}/streams/result"
            response: httpx.Response = http.get(url, headers={"Range": value, **headers})
            return response

        size = len(body)
        first = ranged("bytes=0-99")
        assert first.status_code == 206 and first.content == body[:100]
        assert first.headers["content-range"] == f"bytes 0-99/{size}"
        assert ranged("bytes=-50").content == body[-50:]
        assert ranged(f"bytes={size - 10}-").content == body[-10:]
        assert ranged(f"bytes=5-{size + 100}").content == body[5:]
        for unsatisfiable in (f"bytes={size}-", "bytes=10-5", "bytes=-0", "bytes=x-1"):
            refused = ranged(unsatisfiable)
            assert refused.status_code == 416, unsatisfiable
            assert refused.headers["content-range"] == f"bytes */{size}"
        assert ranged("bytes=0-1,5-6").status_code == 200  # several ranges: the whole body
        etag = whole.headers["etag"]
        assert ranged("bytes=0-9", **{"If-Range": etag}).status_code == 206
        stale = ranged("bytes=0-9", **{"If-Range": '"other"'})
        assert stale.status_code == 200 and stale.content == body
        both = http.get(
            f"{API}/{task_id}/streams/result", params={"line": 1}, headers={"Range": "bytes=0-1"}
        )
        assert both.status_code == 400 and error(both)["field"] == "header:range"

        head = http.head(f"{API}/{task_id}/streams/result")
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-length"] == str(size)

        empty = http.get(f"{API}/{task_id}/streams/errors", headers={"Range": "bytes=0-"})
        assert empty.status_code == 200 and empty.content == b""
        assert empty.headers["x-total-lines"] == empty.headers["x-total-bytes"] == "0"
        assert http.get(f"{API}/{task_id}/streams/everything").status_code == 404


def test_reads_cross_shard_boundaries_as_seeks(server: Any) -> None:
    server.pool.shutdown(wait=True)  # this export runs here, with shards of 2 kB
    import_rows(server.store, server.org.id, [simple_row(i) for i in range(60)])
    with server.client("editor") as http:
        task_id = http.post(API, json={"scope": {"kind": "catalog"}}).json()["id"]
    done = export_tasks.execute(
        server.store,
        Artifacts.for_settings(server.settings),
        task_id,
        shard_bytes=2000,
        page_size=7,
    )
    assert done.status == "COMPLETE"
    manifest = export_tasks.manifest_of(server.store, server.org.id, task_id)
    files = manifest["streams"]["result"]["files"]
    assert len(files) > 3
    directory = Path(str(done.location))
    body = b"".join((directory / f["name"]).read_bytes() for f in files)
    lines = body.splitlines(keepends=True)
    with server.client("viewer") as http:
        url = f"{API}/{task_id}/streams/result"
        assert http.get(url).content == body
        for f in files[1:]:
            at = f["first_line"]
            got = http.get(url, params={"line": at - 1, "limit": 2})
            assert got.content == lines[at - 1] + lines[at]  # the last and first of two shards
            cross = f["first_byte"]
            ranged = http.get(url, headers={"Range": f"bytes={cross - 3}-{cross + 2}"})
            assert ranged.status_code == 206 and ranged.content == body[cross - 3 : cross + 3]


# ------------------------------------------------------------------------------- mistakes

BAD_REQUESTS: list[tuple[dict[str, Any], str, str]] = [
    ({"params": {"nope": True}}, "body:params.nope", "nope"),
    ({"params": {"predictions": True}}, "body:params.predictions", "predictions"),
    ({"params": {"label_details": "yes"}}, "body:params.label_details", "true or false"),
    ({"filters": {"workflow_status": "Sleeping"}}, "body:filters.workflow_status", "Sleeping"),
    (
        {"filters": {"last_activity_at": ["2024-02-01", "2024-01-01"]}},
        "body:filters.last_activity_at",
        "after the end",
    ),
    ({"params": []}, "body:params", "dictionary"),
    ({"format": "vertex"}, "body:format", "/vertex"),
    ({"format": "diffgram"}, "body:format", "/diffgram"),
    ({"format": "csv"}, "body:format", "unknown export format"),
    ({"colour": "red"}, "body:colour", "Extra inputs"),
    ({"name": "a\x00b"}, "body:name", "NUL"),
    ({"filters": {"global_keys": ["\ud800"]}}, "body:filters.global_keys[0]", "surrogate"),
    ({"scope": {"kind": "planet"}}, "body:scope", "planet"),
    ({"scope": {"kind": "project"}}, "body:scope", "needs the project id"),
    ({"scope": {"kind": "catalog", "ids": ["x"]}}, "body:scope.ids", "Extra inputs"),
    (
        {"scope": {"kind": "model_run", "id": "r"}, "filters": {"batch_ids": ["b"]}},
        "body:filters.batch_ids",
        "not available",
    ),
    ({"scope": None}, "body:scope", "valid dictionary"),
]


def test_every_mistake_in_a_request_is_a_400_naming_the_field_and_nothing_is_queued(
    server: Any,
) -> None:
    import_rows(server.store, server.org.id, project_rows(2))
    with server.client("editor") as http:
        for change, field, words in BAD_REQUESTS:
            body = {"scope": {"kind": "project", "id": PROJECT}, **change}
            raw = json.dumps(body).encode()  # ASCII: a lone surrogate travels as \\ud800
            response = http.post(API, content=raw, headers={"content-type": "application/json"})
            assert response.status_code == 400, (change, response.text)
            problem = error(response)
            assert problem["field"] == field, (change, problem)
            assert words in problem["message"], (change, problem)
            assert problem["type"] in ("InvalidSpec", "InvalidInput")
        missing = http.post(API, json={"scope": {"kind": "project", "id": "cnosuchproject"}})
        assert missing.status_code == 404 and "cnosuchproject" in error(missing)["message"]
        unknown = http.post(API, params={"dry_run": "1"}, json={"scope": {"kind": "catalog"}})
        assert unknown.status_code == 400 and error(unknown)["field"] == "query:dry_run"
        assert http.post(API, content=b"{not json").status_code == 400
        assert http.get(API).json() == {"exports": [], "next_cursor": None}


# ----------------------------------------------------------------------- roles, orgs, dedup


def test_viewers_read_editors_change_and_other_organizations_see_nothing(server: Any) -> None:
    import_rows(server.store, server.org.id, project_rows(3))
    with server.client("editor") as http:
        task_id = http.post(API, json={"scope": {"kind": "project", "id": PROJECT}}).json()["id"]
        wait_finished(http, task_id)
    reads = [
        f"{API}",
        f"{API}/{task_id}",
        f"{API}/{task_id}/manifest",
        f"{API}/{task_id}/links",
        f"{API}/{task_id}/streams/result",
    ]
    changes = [f"{API}/{task_id}/cancel", f"{API}/{task_id}/archive"]
    with server.client("viewer") as http:
        for path in reads:
            assert http.get(path).status_code == 200, path
        assert http.post(API, json={"scope": {"kind": "catalog"}}).status_code == 403
        for path in changes:
            assert http.post(path).status_code == 403, path
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {server.other_org_key}"}
    ) as http:
        assert http.get(API).json()["exports"] == []
        for path in reads[1:]:
            response = http.get(path)
            assert response.status_code == 404, path
            assert error(response)["type"] == "NotFound"
        for path in changes:
            assert http.post(path).status_code == 404, path
    with server.client(role="") as http:
        assert http.get(f"{API}/{task_id}").status_code == 401


def test_identical_requests_share_a_task_cancel_and_archive(server: Any) -> None:
    server.pool.shutdown(wait=True)  # everything stays QUEUED
    import_rows(server.store, server.org.id, project_rows(3))
    ask = {"scope": {"kind": "project", "id": PROJECT}, "params": {"attachments": True}}
    with server.client("editor") as http:
        first = http.post(API, json=ask)
        again = http.post(API, json=ask)
        assert (first.status_code, again.status_code) == (201, 200)
        assert again.json()["id"] == first.json()["id"] and again.json()["reused"] is True
        other = http.post(API, json={**ask, "params": {"embeddings": True}})
        assert other.status_code == 201 and other.json()["id"] != first.json()["id"]
        a, b = first.json()["id"], other.json()["id"]

        for path in ("manifest", "links", "streams/result"):
            early = http.get(f"{API}/{a}/{path}")
            assert early.status_code == 409 and "QUEUED" in error(early)["message"], path
        assert http.get(f"{API}/{a}").json()["links"] is None

        canceled = http.post(f"{API}/{a}/cancel")
        assert canceled.status_code == 200 and canceled.json()["status"] == "CANCELED"
        assert http.post(f"{API}/{a}/cancel").status_code == 409
        assert http.post(API, json=ask).status_code == 201  # the old one is finished

        assert http.post(f"{API}/{b}/archive").status_code == 409  # still queued
        http.post(f"{API}/{b}/cancel")
        archived = http.post(f"{API}/{b}/archive")
        assert archived.status_code == 200 and archived.json()["archived"] is True
        listed = [t["id"] for t in http.get(API).json()["exports"]]
        assert b not in listed and a in listed
        everything = http.get(API, params={"include_archived": "true"}).json()["exports"]
        assert b in [t["id"] for t in everything]
        back = http.post(f"{API}/{b}/archive", params={"undo": "true"})
        assert back.json()["archived"] is False
        assert b in [t["id"] for t in http.get(API).json()["exports"]]


def test_cancel_stops_a_running_export(server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import labelport.export.engine as engine

    reached, release = threading.Event(), threading.Event()
    real = engine.page_lines  # each page of an export

    def held(*args: Any, **kwargs: Any) -> Any:
        reached.set()
        release.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(engine, "page_lines", held)
    import_rows(server.store, server.org.id, project_rows(20))
    with server.client("editor") as http:
        task_id = http.post(API, json={"scope": {"kind": "catalog"}}).json()["id"]
        assert reached.wait(30)
        assert http.get(f"{API}/{task_id}").json()["status"] == "IN_PROGRESS"
        canceled = http.post(f"{API}/{task_id}/cancel")
        assert canceled.json()["status"] == "CANCELED"
        release.set()
        deadline = time.monotonic() + 30
        while task_id in server.pool.running:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        final = http.get(f"{API}/{task_id}").json()
    assert final["status"] == "CANCELED" and final["result"]["lines"] is None
    root = Artifacts.for_settings(server.settings).root
    assert not (root / task_id).exists() and not (root / f"{task_id}.partial").exists()


def test_the_list_pages_newest_first_and_filters(server: Any) -> None:
    server.pool.shutdown(wait=True)
    import_rows(server.store, server.org.id, [simple_row(i) for i in range(5)])
    with server.client("editor") as http:
        made = [
            http.post(
                API, json={"scope": {"kind": "catalog"}, "filters": {"global_keys": [f"row-{i}"]}}
            ).json()["id"]
            for i in range(5)
        ]
        dataset = http.post(
            API, json={"scope": {"kind": "dataset", "id": "cdataset00000000000000001"}}
        ).json()["id"]
        http.post(f"{API}/{made[0]}/cancel")

        seen: list[str] = []
        cursor = None
        for _ in range(4):
            params: dict[str, Any] = {"limit": 2}
            if cursor:
                params["cursor"] = cursor
            page = http.get(API, params=params).json()
            assert len(page["exports"]) <= 2
            seen += [t["id"] for t in page["exports"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == [dataset, *reversed(made)]

        def ids(**params: Any) -> list[str]:
            return [t["id"] for t in http.get(API, params=params).json()["exports"]]

        assert ids(scope_kind="dataset") == [dataset]
        assert ids(scope_kind="dataset", scope_id="cdataset00000000000000001") == [dataset]
        assert ids(scope_kind="dataset", scope_id="other") == []
        assert ids(status="CANCELED") == [made[0]]
        assert ids(status="QUEUED") == [dataset, *reversed(made[1:])]
        listed = http.get(API).json()["exports"][0]
        assert listed["status"] == "QUEUED" and listed["result"] == {"bytes": None, "lines": None}
        for bad_params, field in [
            ({"status": "DONE"}, "query:status"),
            ({"scope_kind": "galaxy"}, "query:scope_kind"),
            ({"cursor": "garbage"}, "query:cursor"),
            ({"limit": 0}, "query:limit"),
            ({"limit": 501}, "query:limit"),
            ({"sort": "asc"}, "query:sort"),
        ]:
            bad = http.get(API, params=bad_params)
            assert bad.status_code == 400 and error(bad)["field"] == field, bad_params


def test_a_data_rows_scope_beyond_the_id_cap_is_a_400_before_any_work(server: Any) -> None:
    ids = [f"r{i}" for i in range(2001)]
    with server.client("editor") as http:
        refused = http.post(API, json={"scope": {"kind": "data_rows", "data_row_ids": ids}})
        assert refused.status_code == 400
        assert "at most 2,000" in refused.json()["error"]["message"]
        assert http.get(API).json()["exports"] == []
