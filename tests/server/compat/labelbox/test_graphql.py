"""``/graphql`` spoken directly (httpx): error shapes and codes, UInt64 in both forms, chunks
by offset and line, signed range links, and who sees which task."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from labelport.export.spec import Scope
from labelport.server.compat.labelbox import catalog, streams
from labelport.services import authenticate, export_spec, export_tasks
from tests.export import test_scopes_and_filters as base

from .conftest import Site

CATALOG_EXPORT = """mutation exportDataRowsInCatalogPyApi($input: ExportDataRowsInCatalogInput!)
{exportDataRowsInCatalog(input: $input){taskId isStreamable}}"""
PROJECT_EXPORT = """mutation exportDataRowsInProjectPyApi($input: ExportDataRowsInProjectInput!)
{exportDataRowsInProject(input: $input){taskId isStreamable}}"""
HEADER = """query GetExportMetadataHeaderPyApi($where: WhereUniqueIdInput,
$streamType: TaskStreamType!){task(where: $where)
{exportMetadataHeader(streamType: $streamType){totalSize totalLines}}}"""
FROM_OFFSET = """query GetExportFileFromOffsetPyApi($where: WhereUniqueIdInput,
$streamType: TaskStreamType!, $offset: UInt64!){task(where: $where)
{exportFileFromOffset(streamType: $streamType, offset: $offset)
{offsets {start end} lines {start end} file}}}"""
FROM_LINE = """query GetExportFileFromLinePyApi($where: WhereUniqueIdInput,
$streamType: TaskStreamType!, $line: UInt64!){task(where: $where)
{exportFileFromLine(streamType: $streamType, line: $line)
{offsets {start end} lines {start end} file}}}"""
TASKS = """query GetUserCreatedTasksPyApi($param_0: ID!, $param_1: ID!){user(where: {id: $param_1})
{createdTasks(where: {id: $param_0} skip: 0 first: 100){completionPercentage createdAt errors
metadata name result status status type id updatedAt}}}"""


def gql(
    site: Site, query: str, variables: Any = None, *, role: str = "editor", key: str | None = None
) -> httpx.Response:
    token = key or site.live.keys[role]
    return httpx.post(
        f"{site.url}/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["extensions"]["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    return dict(error)


def export_catalog(
    site: Site,
    params: dict[str, Any] | None = None,
    query: list[Any] | None = None,
    role: str = "editor",
) -> httpx.Response:
    return gql(
        site,
        CATALOG_EXPORT,
        {
            "input": {
                "taskName": None,
                "isStreamableReady": True,
                "filters": {"searchQuery": {"scope": None, "query": query or []}},
                "params": params if params is not None else {"includeMetadata": True},
                "streamable": True,
            }
        },
        role=role,
    )


@pytest.fixture
def task_id(site: Site) -> str:
    answer = export_catalog(site)
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["exportDataRowsInCatalog"]["isStreamable"] is True
    return str(answer.json()["data"]["exportDataRowsInCatalog"]["taskId"])


def where(task: str, stream: str = "RESULT", **more: Any) -> dict[str, Any]:
    return {"where": {"id": task}, "streamType": stream, **more}


# ------------------------------------------------------------------------------ task and header


def test_task_fields_and_header(site: Site, task_id: str) -> None:
    me = authenticate(site.live.store, site.live.keys["editor"])
    answer = gql(site, TASKS, {"param_0": task_id, "param_1": me.user_id})
    assert answer.status_code == 200
    (task,) = answer.json()["data"]["user"]["createdTasks"]
    assert task["id"] == task_id
    assert (task["type"], task["status"], task["errors"], task["result"]) == (
        "export-data-rows",
        "COMPLETE",
        None,
        None,
    )
    assert task["completionPercentage"] == 100.0
    assert task["createdAt"].endswith("Z") and len(task["createdAt"]) == 24
    header = gql(site, HEADER, where(task_id)).json()["data"]["task"]["exportMetadataHeader"]
    done = export_tasks.get(site.live.store, site.live.org.id, task_id)
    assert done.result_lines == 21
    assert header == {"totalSize": done.result_bytes, "totalLines": 21}
    empty = gql(site, HEADER, where(task_id, "ERRORS")).json()["data"]["task"]
    assert empty == {"exportMetadataHeader": None}


def test_a_task_that_is_not_complete_has_no_header_and_no_chunks(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the task pool must not finish the task before it is canceled
    monkeypatch.setattr(export_tasks, "execute", lambda *args, **kwargs: None)
    me = authenticate(site.live.store, site.live.keys["editor"])
    spec = export_spec(site.live.store, me.org_id, Scope("project", base.P2), {"embeddings": True})
    queued = export_tasks.create(
        site.live.store, me.org_id, spec, user_id=me.user_id, reuse_running=False
    )
    canceled = export_tasks.cancel(site.live.store, me.org_id, queued.id)
    assert canceled.status == "CANCELED"
    task = gql(site, HEADER, where(canceled.id)).json()["data"]["task"]
    assert task == {"exportMetadataHeader": None}
    error = error_of(
        gql(site, FROM_OFFSET, where(canceled.id, offset="0")), 200, "MALFORMED_REQUEST"
    )
    assert "CANCELED" in error["errors"][0]["error"]


# ----------------------------------------------------------------------------- chunks, UInt64


def test_uint64_takes_strings_and_numbers(site: Site, task_id: str) -> None:
    def chunk(query: str, variables: dict[str, Any]) -> dict[str, Any]:
        answer = gql(site, query, variables)
        assert answer.status_code == 200, answer.text
        (info,) = answer.json()["data"]["task"].values()
        # the signed link's expiry may differ by a second between two answers
        return {**info, "file": info["file"].split("?")[0]}

    by_string = chunk(FROM_OFFSET, where(task_id, offset="0"))
    assert by_string == chunk(FROM_OFFSET, where(task_id, offset=0))
    assert by_string["offsets"]["start"] == 0 and by_string["lines"] == {"start": 0, "end": 20}
    assert chunk(FROM_LINE, where(task_id, line=3)) == chunk(FROM_LINE, where(task_id, line="3"))
    for literal in ('"0"', "0"):
        inline = FROM_OFFSET.replace(", $offset: UInt64!", "").replace("$offset", literal)
        assert chunk(inline, where(task_id)) == by_string
    for bad in (-1, "-1", "1.5", 1.5, "", "0x10", "١", True, 2**64, None):
        error = error_of(
            gql(site, FROM_OFFSET, where(task_id, offset=bad)), 400, "GRAPHQL_VALIDATION_FAILED"
        )
        assert "offset" in error["message"]


def test_chunks_by_offset_and_line_are_whole_lines(
    site: Site, task_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(streams, "CHUNK_BYTES", 1)  # one line per chunk
    done = export_tasks.get(site.live.store, site.live.org.id, task_id)
    whole = httpx.get(
        f"{site.url}/api/v1/exports/{task_id}/streams/result",
        headers={"Authorization": f"Bearer {site.live.keys['editor']}"},
    ).content
    lines = whole.splitlines(keepends=True)
    starts = [sum(len(x) for x in lines[:i]) for i in range(len(lines))]
    for n in (0, 5, 20):
        for offset in (starts[n], starts[n] + len(lines[n]) // 2, starts[n] + len(lines[n]) - 1):
            info = gql(site, FROM_OFFSET, where(task_id, offset=str(offset))).json()["data"][
                "task"
            ]["exportFileFromOffset"]
            assert info["offsets"] == {"start": starts[n], "end": starts[n] + len(lines[n]) - 1}
            assert info["lines"] == {"start": n, "end": n}
            body = httpx.get(info["file"])  # no key: the link is the permission
            assert body.status_code == 200
            assert body.content == lines[n]
            assert len(body.content) == info["offsets"]["end"] - info["offsets"]["start"] + 1
        by_line = gql(site, FROM_LINE, where(task_id, line=n)).json()["data"]["task"][
            "exportFileFromLine"
        ]
        assert by_line["offsets"]["start"] == starts[n] and by_line["lines"]["start"] == n
    for query, key, value in ((FROM_OFFSET, "offset", done.result_bytes), (FROM_LINE, "line", 21)):
        error = error_of(gql(site, query, where(task_id, **{key: value})), 200, "MALFORMED_REQUEST")
        assert "out of range" in error["errors"][0]["error"]
    error_of(gql(site, FROM_OFFSET, where(task_id, "ERRORS", offset=0)), 200, "MALFORMED_REQUEST")


def test_range_links_are_signed(site: Site, task_id: str) -> None:
    info = gql(site, FROM_OFFSET, where(task_id, offset=0)).json()["data"]["task"][
        "exportFileFromOffset"
    ]
    link = info["file"]
    assert f"/downloads/exports/{task_id}/result/range/0-{info['offsets']['end']}?" in link
    assert httpx.get(link).status_code == 200
    changed = link.replace("/range/0-", "/range/1-")
    assert httpx.get(changed).status_code == 403
    assert httpx.get(link.split("?")[0]).status_code == 403
    past_end = link.replace(f"-{info['offsets']['end']}?", f"-{info['offsets']['end'] + 1}?")
    assert httpx.get(past_end).status_code == 403  # the signature covers the range


def test_an_export_whose_files_are_gone(site: Site, task_id: str) -> None:
    done = export_tasks.get(site.live.store, site.live.org.id, task_id)
    for shard in Path(str(done.location)).glob("result-*.ndjson"):
        shard.unlink()
    answer = gql(site, FROM_OFFSET, where(task_id, offset=0))
    error = error_of(answer, 200, "INTERNAL_SERVER_ERROR")
    assert error["extensions"]["exception"] == {"status": 422}  # UnprocessableEntityError
    assert "no longer on this server" in error["message"]


# ------------------------------------------------------------------------------- error shapes


def test_request_errors(site: Site) -> None:
    url = f"{site.url}/graphql"
    error = error_of(
        httpx.post(url, json={"query": "{ organization { id } }"}), 401, "AUTHENTICATION_ERROR"
    )
    assert "API key" in error["message"]
    error_of(gql(site, "{ organization { id } }", key="lp_x_y"), 401, "AUTHENTICATION_ERROR")
    auth = {"Authorization": f"Bearer {site.live.keys['viewer']}"}
    error_of(httpx.get(url, headers=auth), 405, "BAD_REQUEST")
    error_of(httpx.post(url, content=b"{not json", headers=auth), 400, "BAD_REQUEST")
    error_of(httpx.post(url, json=["query"], headers=auth), 400, "BAD_REQUEST")
    error_of(gql(site, "query {", role="viewer"), 400, "GRAPHQL_PARSE_FAILED")
    error_of(
        gql(site, "{ organization { nope } }", role="viewer"), 400, "GRAPHQL_VALIDATION_FAILED"
    )
    error_of(gql(site, HEADER, {"where": {"id": "x"}}), 400, "GRAPHQL_VALIDATION_FAILED")
    ok = gql(site, "{ organization { name timezone } }", role="viewer")
    assert ok.status_code == 200
    assert ok.json() == {"data": {"organization": {"name": "acme", "timezone": "Asia/Tokyo"}}}


def test_resolver_errors(site: Site) -> None:
    error_of(gql(site, '{ project(where: {id: "nope"}) { id name } }'), 200, "RESOURCE_NOT_FOUND")
    error_of(
        gql(
            site, f'{{ project(where: {{id: "{base.P1}"}}) {{ id }} }}', key=site.live.other_org_key
        ),
        200,
        "RESOURCE_NOT_FOUND",
    )
    error = error_of(export_catalog(site, {"includeEverything": True}), 200, "MALFORMED_REQUEST")
    assert error["errors"] == [
        {"error": error["errors"][0]["error"], "field": "params.includeEverything"}
    ]
    assert "unknown export param" in error["errors"][0]["error"]
    error = error_of(
        export_catalog(site, None, [{"type": "nearby", "ids": ["x"]}]), 200, "MALFORMED_REQUEST"
    )
    assert "unknown search filter 'nearby'" in error["errors"][0]["error"]
    bad_zone = {
        "type": "labeled_at",
        "value": {
            "operator": "BETWEEN",
            "timezone": "Mars/Olympus",
            "value": {"min": "2024-01-01", "max": "2024-02-01"},
        },
    }
    error = error_of(export_catalog(site, None, [bad_zone]), 200, "MALFORMED_REQUEST")
    assert "Mars/Olympus" in error["errors"][0]["error"]
    error_of(export_catalog(site, role="viewer"), 200, "AUTHORIZATION_ERROR")
    project_input = {"input": {"filters": {"projectId": base.P1}, "params": {}}}
    error_of(
        gql(site, PROJECT_EXPORT, project_input, key=site.live.other_org_key),
        200,
        "RESOURCE_NOT_FOUND",
    )
    one = {"type": "dataset", "ids": [base.DS_A], "operator": "is"}
    error_of(
        export_catalog(site, None, [one, {**one, "ids": [base.DS_B]}]), 200, "MALFORMED_REQUEST"
    )


def test_a_server_fault_is_a_500_that_says_little(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any) -> Any:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(catalog, "organization", broken)
    error = error_of(gql(site, "{ organization { id } }"), 500, "INTERNAL_SERVER_ERROR")
    assert "secret" not in error["message"]


# -------------------------------------------------------------------------------- task owners


def test_tasks_are_seen_only_by_their_creator(site: Site, task_id: str) -> None:
    store = site.live.store
    editor = authenticate(store, site.live.keys["editor"])
    admin = authenticate(store, site.live.keys["admin"])
    other = authenticate(store, site.live.other_org_key)
    error_of(gql(site, HEADER, where(task_id), role="admin"), 200, "RESOURCE_NOT_FOUND")
    error_of(
        gql(site, HEADER, where(task_id), key=site.live.other_org_key), 200, "RESOURCE_NOT_FOUND"
    )
    as_admin = gql(site, TASKS, {"param_0": task_id, "param_1": editor.user_id}, role="admin")
    assert as_admin.json() == {"data": {"user": {"createdTasks": []}}}
    own = gql(site, TASKS, {"param_0": task_id, "param_1": admin.user_id}, role="admin")
    assert own.json() == {"data": {"user": {"createdTasks": []}}}
    error_of(
        gql(site, TASKS, {"param_0": task_id, "param_1": other.user_id}), 200, "RESOURCE_NOT_FOUND"
    )
    listed = gql(site, "{ user { createdTasks(skip: 0, first: 1) { id } } }").json()
    assert len(listed["data"]["user"]["createdTasks"]) == 1
    later = gql(site, "{ user { createdTasks(skip: 1, first: 1000) { id } } }").json()
    assert task_id in [
        t["id"]
        for t in listed["data"]["user"]["createdTasks"] + later["data"]["user"]["createdTasks"]
    ]
