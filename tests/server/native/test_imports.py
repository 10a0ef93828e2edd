"""Imports by upload through a live server: the file as the body, options checked before the
upload is taken, the task polled to its end, the rows then visible through the API."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from labelport import services
from labelport.services import import_tasks
from tests.cli.malformed import CASES, V1_ROWS

SET = "aiplatform.googleapis.com/annotation_set_name"
VERTEX = [
    {
        "imageGcsUri": "gs://bucket/produce/1.jpg",
        "boundingBoxAnnotations": [
            {
                "displayName": "Tomato",
                "xMin": 0.3,
                "yMin": 0.3,
                "xMax": 0.7,
                "yMax": 0.6,
                "annotationResourceLabels": {SET: "8066716590760001536"},
            }
        ],
        "dataItemResourceLabels": {"aiplatform.googleapis.com/ml_use": "training"},
    },
    {
        "imageGcsUri": "gs://bucket/produce/2.jpg",
        "boundingBoxAnnotations": [
            {
                "displayName": "Leaf",
                "xMin": 0.1,
                "yMin": 0.2,
                "xMax": 0.4,
                "yMax": 0.9,
                "annotationResourceLabels": {SET: "8066716590760001536"},
            }
        ],
        "dataItemResourceLabels": {"aiplatform.googleapis.com/ml_use": "test"},
    },
]


def labelbox_row(n: int) -> dict[str, Any]:
    return {
        "data_row": {
            "global_key": f"upload-{n}",
            "external_id": f"photo-{n}.jpg",
            "row_data": f"https://media.test/upload/{n}.jpg",
        },
        "media_attributes": {"mime_type": "image/jpeg"},
        "metadata_fields": [{"schema_name": "camera", "value": f"cam-{n}"}],
    }


def lines(records: list[Any]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in records)


def wait(http: httpx.Client, task_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        task: dict[str, Any] = http.get(f"/api/v1/imports/{task_id}").json()
        if task["status"] in ("COMPLETE", "FAILED"):
            return task
        assert time.monotonic() < deadline, task
        time.sleep(0.05)


def error_of(response: httpx.Response, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    return error


def uploads(server: Any) -> list[Path]:
    folder = import_tasks.uploads_dir(server.settings)
    return sorted(folder.iterdir()) if folder.exists() else []


def test_a_labelbox_upload_is_imported_and_its_rows_are_served(server: Any) -> None:
    body = lines([labelbox_row(n) for n in range(3)])
    with server.client("editor") as http:
        answer = http.post(
            "/api/v1/imports",
            params={"source": "labelbox", "dataset": "uploads", "file_name": "photos.ndjson"},
            content=body,
        )
        assert answer.status_code == 202, answer.text
        queued = answer.json()
        assert answer.headers["location"] == f"/api/v1/imports/{queued['id']}"
        assert (queued["source"], queued["options"], queued["file_name"]) == (
            "labelbox",
            {"dataset": "uploads"},
            "photos.ndjson",
        )
        assert queued["progress"]["bytes_total"] == len(body)
        assert queued["created_by"] == "editor@acme.test"

        done = wait(http, queued["id"])
        assert done["status"] == "COMPLETE", done
        assert done["summary"]["rows"] == 3
        assert done["progress"] == {
            "bytes_done": len(body),
            "bytes_total": len(body),
            "rows_done": 3,
            "percent": 100.0,
        }
        assert (done["errors"], done["error_count"], done["error_message"]) == ([], 0, None)
        assert done["started_at"] and done["finished_at"]
        assert uploads(server) == []  # the uploaded file is gone once imported

    with server.client("viewer") as http:
        [dataset] = http.get("/api/v1/datasets", params={"name": "uploads"}).json()["items"]
        rows = http.get(f"/api/v1/datasets/{dataset['id']}/data-rows").json()["items"]
        assert sorted(r["global_key"] for r in rows) == ["upload-0", "upload-1", "upload-2"]
        one = http.get("/api/v1/data-rows", params={"global_key": "upload-1"}).json()
        assert (one["external_id"], one["media_type"]) == ("photo-1.jpg", "IMAGE")
        assert [m["value"] for m in one["metadata_fields"]] == ["cam-1"]
        listed = http.get("/api/v1/imports").json()
        assert [t["id"] for t in listed["items"]] == [queued["id"]]


def test_a_vertex_upload_brings_rows_and_an_annotation_set(server: Any) -> None:
    with server.client("editor") as http:
        answer = http.post(
            "/api/v1/imports",
            params={"source": "vertex", "dataset": "produce", "annotation_set": "produce boxes"},
            content=lines(VERTEX),
        )
        assert answer.status_code == 202, answer.text
        done = wait(http, answer.json()["id"])
        assert done["status"] == "COMPLETE", done
        assert (done["summary"]["rows"], done["summary"]["labels"]) == (2, 2)
        assert done["summary"]["annotation_sets"] == ["8066716590760001536"]
        assert done["file_name"] == "upload.jsonl"

        row = http.get("/api/v1/data-rows", params={"global_key": "gs://bucket/produce/2.jpg"})
        assert row.status_code == 200, row.text
        assert row.json()["dataset_name"] == "produce"
        assert row.json()["row_data"] == "gs://bucket/produce/2.jpg"
        [annotation_set] = http.get("/api/v1/annotation-sets").json()["items"]
        assert (annotation_set["display_name"], annotation_set["objective"]) == (
            "produce boxes",
            "image_bounding_box",
        )
        [project] = http.get("/api/v1/projects").json()["items"]
        assert project["id"] == annotation_set["project_id"]
        assert project["label_count"] == 2


def test_a_bad_line_fails_the_import_with_its_line_and_imports_nothing(server: Any) -> None:
    records: list[Any] = [labelbox_row(n) for n in range(4)]
    records[2] = {"data_row": {"global_key": "broken"}}  # no row_data
    body = lines(records[:3]) + b"{this is not json\n" + lines(records[3:])
    with server.client("editor") as http:
        answer = http.post(
            "/api/v1/imports", params={"source": "labelbox", "dataset": "never"}, content=body
        )
        assert answer.status_code == 202, answer.text
        failed = wait(http, answer.json()["id"])
    assert failed["status"] == "FAILED"
    assert failed["error_count"] == 2
    assert [(e["line"], e["field"]) for e in failed["errors"]] == [
        (3, "data_row.row_data"),
        (4, ""),
    ]
    assert "not valid JSON" in failed["errors"][1]["reason"]
    assert "nothing was imported" in failed["error_message"]
    assert failed["summary"] is None
    assert uploads(server) == []
    with server.client("viewer") as http:
        assert http.get("/api/v1/datasets", params={"name": "never"}).json()["items"] == []
        gone = http.get("/api/v1/data-rows", params={"global_key": "upload-0"})
        assert error_of(gone, 404)["type"] == "NotFound"


def test_csv_rows_by_content_type(server: Any) -> None:
    body = b"row_data,global_key\nhttps://media.test/a.txt,csv-a\nhttps://media.test/b.txt,csv-b\n"
    with server.client("editor") as http:
        answer = http.post(
            "/api/v1/imports",
            params={"source": "rows", "dataset": "notes", "media_type": "text"},
            content=body,
            headers={"content-type": "text/csv"},
        )
        assert answer.status_code == 202, answer.text
        assert answer.json()["options"] == {
            "dataset": "notes",
            "format": "csv",
            "media_type": "TEXT",
        }
        done = wait(http, answer.json()["id"])
        assert done["status"] == "COMPLETE", done
        row = http.get("/api/v1/data-rows", params={"global_key": "csv-b"}).json()
        assert (row["media_type"], row["row_data"]) == ("TEXT", "https://media.test/b.txt")


BAD_OPTIONS: list[tuple[dict[str, str], str, str]] = [
    ({"source": "excel"}, "query:source", "labelbox"),
    ({}, "query:source", "required"),
    ({"source": "labelbox", "colour": "red"}, "query:colour", "unknown query parameter"),
    ({"source": "vertex", "annotation-set": "x", "dataset": "d"}, "query:annotation-set", ""),
    (
        {"source": "labelbox", "objective": "image_bounding_box"},
        "query:objective",
        "of a labelbox",
    ),
    ({"source": "vertex"}, "query:dataset", "needs"),
    ({"source": "vertex", "dataset": "d", "objective": "poems"}, "query:objective", "poems"),
    ({"source": "rows", "dataset": "d", "media_type": "SMELL"}, "query:media_type", "SMELL"),
    ({"source": "rows", "dataset": "d", "format": "xlsx"}, "query:format", ""),
    ({"source": "diffgram", "dataset": ""}, "query:dataset", ""),
    ({"source": "labelbox", "dataset": "a\u0000b"}, "query:dataset", "NUL"),
]


def test_options_are_checked_before_the_upload(server: Any) -> None:
    with server.client("editor") as http:
        for params, field, words in BAD_OPTIONS:
            error = error_of(http.post("/api/v1/imports", params=params, content=b"{}\n"))
            assert error["field"] == field, params
            assert words in error["message"], params
        assert http.get("/api/v1/imports").json()["items"] == []  # no task was made
    assert uploads(server) == []  # and no upload kept


def test_uploads_need_an_editor_a_body_and_stay_in_their_organization(server: Any) -> None:
    with server.client(role="") as http:
        assert error_of(http.post("/api/v1/imports?source=labelbox", content=b"x"), 401)
        assert error_of(http.get("/api/v1/imports"), 401)
    with server.client("viewer") as http:
        denied = http.post("/api/v1/imports?source=labelbox&dataset=d", content=b"{}")
        assert error_of(denied, 403)["type"] == "PermissionDenied"
    with server.client("editor") as http:
        empty = http.post("/api/v1/imports?source=labelbox&dataset=d", content=b"")
        assert "empty" in error_of(empty)["message"]
        made = [
            http.post(
                "/api/v1/imports",
                params={"source": "labelbox", "dataset": "pages"},
                content=lines([labelbox_row(n)]),
            ).json()["id"]
            for n in range(3)
        ]
        for task_id in made:
            assert wait(http, task_id)["status"] == "COMPLETE"
        first = http.get("/api/v1/imports", params={"limit": 2}).json()
        assert [t["id"] for t in first["items"]] == made[::-1][:2]  # newest first
        rest = http.get(
            "/api/v1/imports", params={"limit": 2, "cursor": first["next_cursor"]}
        ).json()
        assert ([t["id"] for t in rest["items"]], rest["next_cursor"]) == ([made[0]], None)
        assert error_of(http.get("/api/v1/imports/cnosuchtask"), 404)["type"] == "NotFound"
    other = {"Authorization": f"Bearer {server.other_org_key}"}
    with httpx.Client(base_url=server.url, headers=other, timeout=30) as http:
        assert error_of(http.get(f"/api/v1/imports/{made[0]}"), 404)
        assert http.get("/api/v1/imports").json() == {"items": [], "next_cursor": None}
    assert uploads(server) == []


@pytest.fixture
def small_server(make_server: Any) -> Iterator[Any]:
    yield make_server(max_upload_bytes="100")


def test_an_upload_over_the_size_cap_is_refused_and_not_kept(small_server: Any) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer
        for _ in range(10):
            yield b"x" * 50

    with small_server.client("editor") as http:
        declared = http.post("/api/v1/imports?source=labelbox&dataset=d", content=b"x" * 101)
        assert error_of(declared, 413)["type"] == "TooLarge"
        streamed = http.post("/api/v1/imports?source=labelbox&dataset=d", content=chunks())
        assert "100" in error_of(streamed, 413)["message"]
        fits = http.post(
            "/api/v1/imports?source=labelbox&dataset=d", content=lines([{"data_row": {}}])
        )
        assert fits.status_code == 202, fits.text
        assert wait(http, fits.json()["id"])["status"] == "FAILED"
        assert http.get("/api/v1/imports").json()["items"][0]["id"] == fits.json()["id"]
        assert len(http.get("/api/v1/imports").json()["items"]) == 1
    assert uploads(small_server) == []


def post(http: httpx.Client, body: bytes, **params: Any) -> dict[str, Any]:
    answer = http.post("/api/v1/imports", params=params, content=body)
    assert answer.status_code == 202, answer.text
    return wait(http, answer.json()["id"])


def test_each_malformed_file_fails_with_its_line_and_stores_nothing(server: Any) -> None:
    with server.client("editor") as http:
        for case in CASES:
            failed = post(
                http, case.body, source=case.source, file_name=case.file_name, **case.options
            )
            assert failed["status"] == "FAILED", (case.id, failed)
            [error] = failed["errors"]
            assert (error["line"], error["field"]) == (case.line, case.field), case.id
            assert error["reason"].startswith(case.reason), (case.id, error)
            assert failed["error_count"] == 1
            assert failed["error_message"] == (
                f"{case.file_name}: 1 invalid record; nothing was imported"
            )
        v1 = post(http, orjson.dumps([V1_ROWS[0]], option=orjson.OPT_INDENT_2), source="labelbox")
        [error] = v1["errors"]
        assert error["reason"].startswith("Labelbox export v1 (legacy)"), v1
    with server.client("viewer") as http:
        assert http.get("/api/v1/datasets").json()["items"] == []
    counts = services.stats(server.store, server.org.id)
    assert (counts["data rows"], counts["datasets"]) == (0, 0)
    assert uploads(server) == []


def test_warnings_are_in_the_summary_and_strict_true_makes_them_errors(server: Any) -> None:
    body = lines([{**labelbox_row(n), "future_field": n} for n in range(2)] + [labelbox_row(2)])
    with server.client("editor") as http:
        strict = post(http, body, source="labelbox", strict="true", file_name="scenes.ndjson")
        assert strict["status"] == "FAILED"
        assert strict["options"] == {"strict": True}
        assert [(e["line"], e["field"]) for e in strict["errors"]] == [
            (1, "future_field"),
            (2, "future_field"),
        ]
        assert strict["errors"][0]["reason"].endswith("(--strict)")
        assert services.stats(server.store, server.org.id)["data rows"] == 0

        done = post(http, body, source="labelbox", file_name="scenes.ndjson")
        assert done["status"] == "COMPLETE", done
        assert done["summary"]["warnings"] == [
            {
                "field": "future_field",
                "reason": "unknown field, kept as given",
                "count": 2,
                "lines": [1, 2],
            }
        ]
        assert done["summary"]["dataset"] == "scenes"  # no dataset given: named after the file
        assert (done["summary"]["rows"], done["summary"]["model_runs"]) == (3, 0)
        [dataset] = http.get("/api/v1/datasets").json()["items"]
        assert dataset["name"] == "scenes"

        refused = http.post(
            "/api/v1/imports", params={"source": "labelbox", "strict": "maybe"}, content=b"{}"
        )
        assert error_of(refused)["field"] == "query:strict"


@pytest.fixture
def short_lines_server(make_server: Any) -> Iterator[Any]:
    yield make_server(max_line_bytes="1024")


def test_a_line_over_the_servers_limit_is_an_error_naming_it(short_lines_server: Any) -> None:
    long = lines([{**labelbox_row(1), "media_attributes": {"note": "n" * 5000}}])
    with short_lines_server.client("editor") as http:
        failed = post(http, lines([labelbox_row(0)]) + long, source="labelbox", dataset="d")
    assert failed["status"] == "FAILED"
    assert failed["errors"] == [
        {
            "line": 2,
            "field": "",
            "reason": "the line is longer than the limit of 1,024 bytes (LABELPORT_MAX_LINE_BYTES)",
        }
    ]
    assert services.stats(short_lines_server.store, short_lines_server.org.id)["data rows"] == 0
