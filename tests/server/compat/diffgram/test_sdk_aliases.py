"""The real Diffgram SDK (diffgram==0.15.0) against a live server, by the Diffgram ids an import
kept: ``Project(project_string_id=…)``, ``project.job.get_by_id(<Diffgram job id>)`` and
``generate_export()``, unchanged; two organizations with the same export, each seeing its own."""

from __future__ import annotations

import io
import json
from typing import Any

import diffgram  # type: ignore[import-untyped]
import httpx
import pytest
import sqlalchemy as sa

from labelport import services
from labelport.store import schema as s
from tests.imports.diffgram_samples import PSID, image_packet
from tests.imports.test_diffgram_aliases import job_export

from .helpers import packets
from .test_sdk import close_sdk_pools, connect, rows_of, without_label_details

__all__ = ["close_sdk_pools"]  # the SDK's thread pools are closed after each test here too


def other_org(server: Any) -> tuple[str, tuple[str, str]]:
    """The live server's second organization: its id and its key's (id, secret)."""
    with server.store.read() as conn:
        org_id = conn.execute(
            sa.select(s.organization.c.id).where(s.organization.c.name == "other")
        ).scalar_one()
    key_id, secret = server.other_org_key.removeprefix("lp_").split("_", 1)
    return org_id, (key_id, secret)


def connect_other(server: Any) -> Any:
    _, (key_id, secret) = other_org(server)
    return diffgram.Project(
        project_string_id=PSID,
        client_id=key_id,
        client_secret=secret,
        host=f"{server.url}/diffgram",
    )


def dataset_of(server: Any, org_id: str) -> str:
    with server.store.read() as conn:
        return str(
            conn.execute(sa.select(s.dataset.c.id).where(s.dataset.c.org_id == org_id)).scalar_one()
        )


@pytest.fixture
def imported(server: Any) -> bytes:
    """A Diffgram export of job 7 of project acme-vision, imported into 'acme'."""
    data = job_export()
    services.import_diffgram(server.store, server.org.id, io.BytesIO(data), file="job_7.json")
    return data


def test_the_sdk_exports_an_imported_job_by_its_diffgram_ids(server: Any, imported: bytes):
    project = connect(server, PSID)  # the Diffgram project_string_id
    assert project.directory_id == dataset_of(server, server.org.id)
    assert sorted(project.default_directory.file_id_list) == [501, 502, 503]
    job = project.job.get_by_id(7)  # the Diffgram job id
    assert (job.id, job.name, job.file_count, job.stat_count_complete) == (7, "first pass", 3, 1)

    data = job.generate_export()  # unchanged: kind Annotations, source job, data, waiting
    assert sorted(packets(data)) == ["501", "502", "503"]
    info = data["export_info"]
    assert info["job"] == {"id": 7, "name": "first pass"}  # the job's Diffgram id, kept
    assert info["project"]["project_string_id"] == PSID
    assert (info["source"], info["file_list_length"], info["failed_files"]) == ("job", 3, [])
    # The law through the SDK: the export reads back as the original did (job included).
    again = without_label_details(rows_of(json.dumps(data).encode()))
    assert again == without_label_details(rows_of(imported))

    url = job.generate_export(return_type="url", ann_is_complete=True)
    assert sorted(packets(httpx.get(url).json())) == ["501"]  # the one complete file


def test_two_organizations_import_the_same_export_and_each_sees_its_own(
    server: Any, imported: bytes
):
    other_id, _ = other_org(server)
    with pytest.raises(Exception, match="project not found: acme-vision"):
        connect_other(server)  # acme's aliases are not the other organization's
    smaller = job_export(packets=[("501", image_packet())])  # the same job, one file
    services.import_diffgram(server.store, other_id, io.BytesIO(smaller), file="job_7.json")

    mine, theirs = connect(server, PSID), connect_other(server)
    assert mine.directory_id == dataset_of(server, server.org.id)
    assert theirs.directory_id == dataset_of(server, other_id)
    assert sorted(theirs.default_directory.file_id_list) == [501]
    mine_job, their_job = mine.job.get_by_id(7), theirs.job.get_by_id(7)
    assert (mine_job.file_count, their_job.file_count) == (3, 1)
    assert sorted(packets(mine_job.generate_export())) == ["501", "502", "503"]
    theirs_data = their_job.generate_export()
    assert sorted(packets(theirs_data)) == ["501"]
    assert theirs_data["export_info"]["job"] == {"id": 7, "name": "first pass"}
    assert [e.file_list_length for e in theirs.export.list()] == [1]  # only its own exports


def test_files_and_tasks_by_their_diffgram_file_ids(server: Any, imported: bytes):
    walrus = f"/diffgram/api/walrus/project/{PSID}/export"
    with httpx.Client(base_url=server.url, auth=server.key_pairs["editor"], timeout=30) as http:
        exists = http.post(
            f"/diffgram/api/v1/project/{PSID}/file/exists", json={"file_id_list": [503, 501]}
        )
        assert exists.json()["result"] == {"exists": True}
        missing = http.post(
            f"/diffgram/api/v1/project/{PSID}/file/exists", json={"file_id_list": [501, 504]}
        )
        assert missing.json()["result"] == {"exists": False}
        task = http.post(
            f"{walrus}/to_file",
            json={
                "kind": "Annotations",
                "source": "task",
                "task_id": 503,  # a Diffgram file id
                "wait_for_export_generation": True,
            },
        )
        assert task.status_code == 200, task.text
        assert sorted(packets(task.json())) == ["503"]
        assert task.json()["export_info"]["task"]["file_id"] == 503
        # a Diffgram id of another organization's import is unknown here, and says nothing
        _, other_key = other_org(server)
        job = httpx.post(
            f"{server.url}/diffgram/api/v1/job/7/builder/info", json={}, auth=other_key
        )
        assert job.status_code == 404
        assert job.json()["log"]["error"] == {"not_found": "job not found: 7"}
