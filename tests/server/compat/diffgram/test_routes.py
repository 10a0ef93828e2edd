"""The /diffgram surface over HTTP: auth and scoping, to_file checks, export states, listing."""

from __future__ import annotations

import io
from typing import Any

import httpx
import orjson
import pytest

from labelport import services
from labelport.services import export_tasks

from .helpers import PSID, Acme, load, packets, pause, run_queued

# The project by its Diffgram project_string_id: the alias its import left
WALRUS = f"/diffgram/api/walrus/project/{PSID}/export"


@pytest.fixture
def acme(server: Any) -> Acme:
    return load(server)


def client(server: Any, role: str = "editor", auth: Any = "pair") -> httpx.Client:
    if auth == "pair":
        auth = server.key_pairs[role]
    return httpx.Client(base_url=server.url, auth=auth, timeout=30)


def diffgram_error(response: httpx.Response, status: int, field: str, words: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["log"]["success"] is False
    assert words in body["log"]["error"][field], body


def to_file(http: httpx.Client, **body: Any) -> httpx.Response:
    return http.post(f"{WALRUS}/to_file", json={"kind": "Annotations", **body})


# ------------------------------------------------------------------------------ who may ask


def test_credentials_roles_and_organizations(server: Any, acme: Acme):
    path = f"/diffgram/api/v1/project/{PSID}/labels-schema"
    with client(server, auth=None) as http:
        diffgram_error(http.get(path), 401, "auth", "HTTP Basic credentials are required")
    with client(server, auth=(server.key_pairs["editor"][0], "wrong")) as http:
        diffgram_error(http.get(path), 401, "auth", "unknown or revoked API key")
    with client(server, "viewer") as http:
        assert http.get(path).status_code == 200
        diffgram_error(to_file(http, source="job", job_id=acme.job_id), 403, "permission", "editor")
    other = server.other_org_key.removeprefix("lp_").split("_", 1)
    with client(server, auth=tuple(other)) as http:
        diffgram_error(http.get(path), 404, "not_found", f"project not found: {PSID}")
        diffgram_error(
            http.post(f"/diffgram/api/v1/job/{acme.job_id}/builder/info", json={}),
            404,
            "not_found",
            "job not found",
        )


def test_a_project_is_named_by_id_or_by_its_unique_name(server: Any, acme: Acme):
    with client(server) as http:
        by_name = http.get("/diffgram/api/v1/project/Acme Vision/labels-schema")
        assert by_name.status_code == 200 and by_name.json()[0]["name"] == "Acme Vision schema"
        diffgram_error(
            http.get("/diffgram/api/v1/project/nope/labels-schema"), 404, "not_found", "nope"
        )


# ------------------------------------------------------------------------------ to_file


MISTAKES = [
    ({"kind": "TF Records"}, "kind", "TF Records exports are not supported"),
    ({"kind": "PDF"}, "kind", "Invalid kind 'PDF'"),
    ({"source": "job"}, "job_id", "job_id is required for source job"),
    ({"source": "task"}, "task_id", "task_id is required for source task"),
    ({"source": "folder"}, "source", "Invalid source 'folder'"),
    ({"return_type": "yaml"}, "return_type", "must be data or url"),
    ({"ann_is_complete": "yes"}, "ann_is_complete", "true, false or null"),
    ({"colour": 1}, "colour", "unknown field 'colour'"),
]


def test_to_file_mistakes_are_400s_naming_the_field(server: Any):
    with client(server) as http:
        for body, field, words in MISTAKES:
            diffgram_error(to_file(http, **body), 400, field, words)
        missing_kind = http.post(f"{WALRUS}/to_file", json={"source": "job", "job_id": "x"})
        diffgram_error(missing_kind, 400, "kind", "kind is required")
    assert export_tasks.list_tasks(server.store, server.org.id) == []  # nothing was started


def test_to_file_checks_its_job_directory_and_task(
    server: Any, acme: Acme, monkeypatch: pytest.MonkeyPatch
):
    with client(server) as http:
        diffgram_error(to_file(http, source="job", job_id="cnope"), 404, "not_found", "job")
        diffgram_error(to_file(http, source="task", task_id="cnope"), 404, "not_found", "task")
        # the SDK's session header names the directory when the body does not
        by_header = http.post(
            f"{WALRUS}/to_file",
            json={"kind": "Annotations", "source": "directory"},
            headers={"directory_id": "cnope"},
        )
        diffgram_error(by_header, 404, "not_found", "directory not found: cnope")
        empty = to_file(http, source="directory", directory_id=acme.dataset_id)
        assert empty.status_code == 200
        # only files that are not complete, when all of them are complete: Diffgram's refusal
        with server.store.write() as conn:
            from labelport.store import schema as s

            conn.execute(s.project_data_row.update(), {"workflow_status": "DONE"})
        diffgram_error(
            to_file(http, source="directory", directory_id=acme.dataset_id, ann_is_complete=False),
            400,
            "directory_id",
            "File List is Empty",
        )


# ------------------------------------------------------------------------------ export states


def test_not_ready_then_complete_then_archived(server: Any, acme: Acme):
    pause(server)
    with client(server) as http:
        started = to_file(http, source="task", task_id=acme.rows["503"], return_type="url")
        assert started.status_code == 200
        export = started.json()["export"]
        assert (export["status"], export["status_text"], export["source"]) == (
            "init",
            "Queued",
            "task",
        )
        assert export["task"] == {"id": acme.rows["503"], "file_id": 503}
        link = http.post(f"{WALRUS}/link", json={"id": export["id"], "return_type": "url"})
        assert link.status_code == 400
        body = link.json()
        assert set(body) == {"error", "export", "info", "success"}  # Diffgram's exact shape
        assert body["error"] == {"export": "Export not ready yet."}
        assert (body["info"], body["success"]) == ({}, False)
        assert body["export"]["id"] == export["id"] and body["export"]["status"] == "init"

        run_queued(server, export["id"])
        status = http.get(f"{WALRUS}/{export['id']}/status").json()["export"]
        assert (status["status"], status["percent_complete"], status["file_list_length"]) == (
            "complete",
            100.0,
            1,
        )
        url = http.post(f"{WALRUS}/link", json={"id": export["id"], "return_type": "url"}).json()
        assert sorted(packets(httpx.get(url).json())) == ["503"]
    with client(server, "viewer") as viewer:  # reading an export is a viewer's right: list,
        assert viewer.get(f"{WALRUS}/{export['id']}/status").status_code == 200  # status, link
        assert viewer.get(f"{WALRUS}/working_dir/list").status_code == 200
        link = viewer.post(f"{WALRUS}/link", json={"id": export["id"], "return_type": "url"})
        assert link.status_code == 200
    with client(server) as http:
        data = http.post(f"{WALRUS}/link", json={"id": export["id"], "return_type": "data"})
        assert data.headers["content-type"] == "application/json"
        assert sorted(packets(data.json())) == ["503"]
        diffgram_error(
            http.post(f"{WALRUS}/link", json={"id": export["id"], "format": "YAML"}),
            400,
            "format",
            "YAML exports are not written",
        )

        listed = http.get(f"{WALRUS}/working_dir/list").json()
        assert [e["id"] for e in listed["export_list"]] == [export["id"]]
        diffgram_error(
            http.post(f"{WALRUS}/update", json={"id": export["id"], "mode": "DELETE"}),
            400,
            "error",
            "mode must be ARCHIVE",
        )
        archived = http.post(f"{WALRUS}/update", json={"id": export["id"], "mode": "ARCHIVE"})
        assert archived.json()["export"]["archived"] is True
        assert http.get(f"{WALRUS}/working_dir/list").json() == {
            "success": True,
            "export_list": [],
        }
        # still readable by id, and not from another project's path
        assert http.get(f"{WALRUS}/{export['id']}/status").status_code == 200
        other = services.stats(server.store, server.org.id)  # the catalog is untouched
        assert other["export tasks"] == 1


def test_files_that_cannot_be_written_are_reported(server: Any, acme: Acme):
    """A PDF in a Diffgram project: listed in failed_files, and said in status_text."""
    pdf = {
        "data_row": {"global_key": "a-pdf", "row_data": "https://x.test/doc.pdf"},
        "media_type": "PDF",
        "media_attributes": {"mime_type": "application/pdf"},
        "projects": {
            acme.project_id: {
                "name": "Acme Vision",
                "labels": [],
                "project_details": {"workflow_status": "DONE"},
            }
        },
    }
    services.import_labelbox(
        server.store,
        server.org.id,
        io.BytesIO(orjson.dumps(pdf)),
        file="pdf.ndjson",
        dataset="Luckfrill",
    )
    with client(server) as http:
        response = to_file(http, wait_for_export_generation=True)
        assert response.status_code == 200, response.text
        doc = response.json()
        info = doc["export_info"]
        assert info["file_list_length"] == 4 and len(packets(doc)) == 3
        [failed] = info["failed_files"]
        assert failed["global_key"] == "a-pdf"
        assert failed["reason"].startswith(
            "a file of type application/pdf has no Diffgram export form"
        )
        [listed] = http.get(f"{WALRUS}/working_dir/list").json()["export_list"]
    assert listed["status"] == "complete"
    assert listed["status_text"].startswith("Complete; 1 of 4 files could not be exported")
    assert listed["labelport"]["failed_file_count"] == 1


# ------------------------------------------------------------------------------ SDK helpers


def test_directory_files_and_label_ids(server: Any, acme: Acme):
    with client(server, "viewer") as http:
        view = http.get(f"/diffgram/api/project/{PSID}/user/legacy/working_dir/view")
        assert view.json()["working_dir"]["directory_id"] == acme.dataset_id
        page = http.post(
            f"/diffgram/api/project/{PSID}/user/sdk/file/list",
            json={"metadata": {"file_view_mode": "ids_only", "limit": 2, "page": 1}},
        ).json()
        assert page["file_list"] == [501, 502]
        assert (page["metadata"]["next_page"], page["metadata"]["total_pages"]) == (2, 2)
        exists = f"/diffgram/api/v1/project/{PSID}/file/exists"
        assert http.post(exists, json={"file_id_list": [503, 501]}).json()["result"] == {
            "exists": True
        }
        assert http.post(exists, json={"file_id_list": [504]}).json()["result"] == {"exists": False}
        names = http.get(f"/diffgram/api/v1/project/{PSID}/labels/view/name_to_file_id")
        assert names.json()["name_to_file_id"]["car"] == 11
