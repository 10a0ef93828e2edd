"""The real Diffgram SDK (diffgram==0.15.0) against a live ``labelport serve``."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from multiprocessing.pool import ThreadPool
from typing import Any

import diffgram  # type: ignore[import-untyped]
import diffgram.core.directory as sdk_directory  # type: ignore[import-untyped]
import httpx
import pytest

from labelport.imports.base import ParsedRow
from labelport.imports.diffgram import convert

from .helpers import Acme, load, original, packets, pause, run_queued


@pytest.fixture
def acme(server: Any) -> Acme:
    return load(server)


@pytest.fixture(autouse=True)
def close_sdk_pools(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The SDK's ``Directory.all_file_ids`` opens a 20-thread pool and never closes it (its
    ``__del__`` then warns at some later garbage collection): close them after each test."""
    made: list[ThreadPool] = []

    class Tracked(ThreadPool):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(sdk_directory, "Pool", Tracked)
    yield
    for pool in made:
        pool.terminate()
        pool.join()


def connect(server: Any, psid: str, role: str = "editor") -> Any:
    key_id, secret = server.key_pairs[role]
    return diffgram.Project(
        project_string_id=psid,
        client_id=key_id,
        client_secret=secret,
        host=f"{server.url}/diffgram",
    )


def rows_of(data: bytes) -> dict[str, dict[str, Any]]:
    items = list(convert(io.BytesIO(data), file="x.json"))
    assert all(isinstance(i, ParsedRow) for i in items), items
    return {i.row["data_row"]["global_key"]: i.row for i in items}  # type: ignore[union-attr]


def without_label_details(rows: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Diffgram exports carry no per-label times: the import dates labels by the export."""
    for row in rows.values():
        for project in row["projects"].values():
            for label in project["labels"]:
                label.pop("label_details")
    return rows


def test_project_constructor_finds_the_directory_and_the_label_ids(server: Any, acme: Acme):
    project = connect(server, acme.project_id)
    assert project.directory_id == acme.dataset_id
    assert project.default_directory.nickname == "Luckfrill"
    assert sorted(project.default_directory.file_id_list) == [501, 502, 503]
    assert project.name_to_file_id == {
        "car": 11,
        "road": 13,
        "person": 12,
        "PERSON": 22,
        "ORG": 21,
    }
    # The project's name works as its string id too.
    assert connect(server, "Acme Vision").directory_id == acme.dataset_id


def test_synchronous_export_of_a_job_as_data_and_as_url(server: Any, acme: Acme):
    project = connect(server, acme.project_id)
    job = project.job.get_by_id(acme.job_id)
    assert (job.name, job.file_count, job.stat_count_complete) == ("first pass", 2, 1)

    data = job.generate_export()  # kind Annotations, source job, return_type data, waiting
    assert sorted(packets(data)) == ["501", "502"]
    info = data["export_info"]
    assert (info["source"], info["file_list_length"], info["failed_files"]) == ("job", 2, [])
    assert info["job"] == {"id": acme.job_id, "name": "first pass"}
    assert info["project"]["project_string_id"] == "acme-vision"  # the Diffgram one, kept
    assert info["check_values"]["canonical"]["lines"] == 2

    url = job.generate_export(return_type="url")
    assert isinstance(url, str) and url.startswith(f"{server.url}/downloads/exports/")
    downloaded = httpx.get(url)  # a signed link: no credentials
    assert downloaded.status_code == 200
    assert packets(downloaded.json()) == packets(data)

    # The law through the SDK: the files read back as the import read the original, now in
    # the job they were exported from (an export's job becomes its files' batch).
    first = without_label_details(rows_of(original()))
    again = without_label_details(rows_of(downloaded.content))
    for row in again.values():
        [project] = row["projects"].values()
        assert project["project_details"].pop("batch_name") == "first pass"
        assert project["project_details"].pop("batch_id")
    assert again == {k: first[k] for k in again}


def test_asynchronous_export_then_access_data(server: Any, acme: Acme):
    project = connect(server, acme.project_id)
    job = project.job.get_by_id(acme.job_id)
    export = job.generate_export(wait_for_export_generation=False)
    assert export.status in ("init", "complete")
    assert (export.kind, export.source, export.ann_is_complete) == ("Annotations", "job", None)
    deadline = time.monotonic() + 20
    while True:  # the SDK has no wait: poll the list, as Diffgram's docs say
        [listed] = [e for e in project.export.list() if e.id == export.id]
        if listed.status == "complete" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert listed.status == "complete", listed.status_text
    assert listed.percent_complete == 100.0 and listed.file_list_length == 2
    data = listed.access_data(return_type="data")
    assert sorted(packets(data)) == ["501", "502"]
    url = listed.access_data()  # return_type url is the SDK's default here
    assert httpx.get(url).json()["export_info"]["id"] == export.id


def test_access_data_before_the_export_is_ready_raises_as_diffgram_does(server: Any, acme: Acme):
    pause(server)
    project = connect(server, acme.project_id)
    export = project.job.get_by_id(acme.job_id).generate_export(wait_for_export_generation=False)
    assert (export.status, export.status_text) == ("init", "Queued")
    with pytest.raises(Exception, match=r"Export not ready yet\.") as caught:
        export.access_data(return_type="data")
    assert '"status":"init"' in str(caught.value)  # the SDK raises with the body's text
    run_queued(server, export.id)
    assert sorted(packets(export.access_data(return_type="data"))) == ["501", "502"]


def test_complete_only_versus_all(server: Any, acme: Acme):
    project = connect(server, acme.project_id)
    job = project.job.get_by_id(acme.job_id)
    complete = job.generate_export(ann_is_complete=True)
    assert sorted(packets(complete)) == ["501"]
    assert complete["export_info"]["ann_is_complete"] is True
    everything = job.generate_export(ann_is_complete=None)
    assert sorted(packets(everything)) == ["501", "502"]
    assert job.generate_export(ann_is_complete=False)["export_info"]["file_list_length"] == 2
    # A directory: False means only the files not complete (as in Diffgram).
    # without a directory_id: the session's directory_id header (the default directory)
    directory = job.generate_export(source="directory")
    assert sorted(packets(directory)) == ["501", "502", "503"]
    assert directory["export_info"]["directory"] == {"id": acme.dataset_id, "nickname": "Luckfrill"}
    assert directory["export_info"]["file_list_length"] == 3  # what was imported
    incomplete = job.generate_export(
        source="directory", directory_id=acme.dataset_id, ann_is_complete=False
    )
    assert sorted(packets(incomplete)) == ["502", "503"]
    exports = project.export.list()
    assert [e.file_list_length for e in exports[:5]] == [2, 3, 2, 2, 1]  # newest first
