"""The real ``labelbox`` SDK (7.17.0), unmodified, against a live labelport serve.

Every export flow of the SDK runs with every param of its scope and every filter it has; the
rows it receives are compared with labelport's own export of the same spec and, where every
param is on, with the rows that were imported.
"""

from __future__ import annotations

import io
import json
import threading
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import orjson
import pytest

from labelport import services
from labelport.export.manifest import read_manifest
from labelport.export.spec import Scope, every_param
from labelport.server.compat.labelbox import exports, streams
from labelport.services import export_tasks, queries
from tests.export import test_scopes_and_filters as base

from . import data
from .conftest import BROKEN_PROJECT, SLICE_FILTERS, SLICE_NAME, TIMEZONE, Site

lb = pytest.importorskip("labelbox")
lbox_exceptions = pytest.importorskip("lbox.exceptions")

RESULT = "RESULT"


def rows_of(task: Any, stream: str = RESULT) -> list[dict[str, Any]]:
    return [out.json for out in task.get_buffered_stream(lb.StreamType(stream))]


def exported(task: Any) -> list[dict[str, Any]]:
    """What the SDK gets: the task is COMPLETE at once (no 2 s poll), streamed in full."""
    assert task.status == "COMPLETE"  # finished inside the mutation
    task.wait_till_done()
    assert task.status == "COMPLETE"
    return rows_of(task)


# What the SDK sends of "every param" (reference §2.2): catalog-side exports have no
# includeModelRunDetails, and DataRow.export no includePredictions either.
NOT_SENT = {
    "dataset": {"model_run_details"},
    "catalog": {"model_run_details"},
    "slice": {"model_run_details"},
    "data_rows": {"model_run_details", "predictions"},
}


def sent(kind: str, **options: bool) -> dict[str, Any]:
    """The params of ``every_param(kind)`` that the SDK passes on to the server."""
    every = every_param(kind, **options)
    return {k: v for k, v in every.items() if k not in NOT_SENT.get(kind, set())}


def ids(rows: list[dict[str, Any]]) -> list[str]:
    return [r["data_row"]["id"] for r in rows]


def tasks_of(site: Site) -> list[str]:
    store, org = site.live.store, site.live.org.id
    return [t.id for t in export_tasks.list_tasks(store, org, include_archived=True, limit=1000)]


# ------------------------------------------------------------------------------------ getters


def test_getters_map_labelport_entities(site: Site) -> None:
    client = site.client()
    project = client.get_project(base.P1)
    assert (project.uid, project.name, project.data_row_count) == (base.P1, "boxes", 8)
    assert project.media_type == lb.MediaType.Image
    assert project.last_activity_time == max(base.activity_at(n) for n in base.MEMBERS[base.P1])
    assert project.created_at.tzinfo is not None
    for media in data.MEDIA:
        got = client.get_project(data.media_project(media))
        assert got.media_type == lb.MediaType(media)
        assert got.name == f"{media.lower()} project ✎"
    assert client.get_project(data.media_project("TMS_GEO")).media_type == lb.MediaType.Tms_Geo

    dataset = client.get_dataset(data.MEDIA_DATASET)
    assert (dataset.name, dataset.row_count) == (data.MEDIA_DATASET_NAME, len(data.MEDIA))

    run = client.get_model_run(base.RUN1)
    assert (run.name, run.model_id) == ("baseline", base.MODEL)

    row = client.get_data_row(data.media_row_id("TEXT"))
    source = data.media_row(0, "TEXT")
    assert row.row_data == source["data_row"]["row_data"]
    assert (row.global_key, row.external_id) == ("clé-text-日本", "外部-0")
    assert row.media_attributes == source["media_attributes"]
    parsed = {f.schema_id: f.value for f in row.metadata}
    assert parsed[data.TAG_FIELD] == "étiquette text ✓"
    assert parsed[data.SCORE_FIELD] == 0.5
    assert parsed[data.SPLIT_FIELD] == data.VALID  # an enum resolves to its option
    assert data.WHEN_FIELD in parsed
    raw = {f["name"]: f for f in row.metadata_fields}
    assert raw["split"]["kind"] == "CustomMetadataEnum"
    assert raw["split"]["value"] == {"schemaId": data.VALID, "schemaName": "valid"}
    ontology = client.get_data_row_metadata_ontology()
    assert {f.name for f in ontology.custom_fields} >= {"tag", "score", "when", "split"}

    by_id = client.get_catalog_slice(site.slice_id)
    by_name = client.get_catalog_slice(slice_name=SLICE_NAME)
    assert by_id.uid == by_name.uid == site.slice_id
    assert json.loads(by_id.filter) == SLICE_FILTERS

    user = client.get_user()
    assert user.email == "editor@acme.test"
    assert client.execute("query CurrentUserPyApi { user { timezone } }")["user"] == {
        "timezone": TIMEZONE
    }
    assert client.get_organization().name == "acme"


OVERVIEW_PROJECT = "covwproject00000000000001"
BATCHES = ("covwbatch0000000000000001", "covwbatch0000000000000002")


def overview_row(n: int, status: str | None, batch: int, label: str | None) -> dict[str, Any]:
    """A row of the overview project: ``status`` None leaves ``project_details`` out (its
    status is unknown); ``label`` "skipped" gives it a skipped label, None no label."""
    entry: dict[str, Any] = {"name": "overview ✓", "labels": []}
    if label is not None:
        entry["labels"] = [
            {
                "id": f"covwlabel{n:016d}",
                "annotations": {"objects": [], "classifications": [], "relationships": []},
                "performance_details": {"skipped": label == "skipped"},
            }
        ]
    if status is not None:
        entry["project_details"] = {
            "workflow_status": status,
            "batch_id": BATCHES[batch],
            "batch_name": f"batch {batch}",
        }
    return {
        "data_row": {"id": f"covwrow{n:018d}", "row_data": f"https://m.test/ovw/{n}.jpg"},
        "projects": {OVERVIEW_PROJECT: entry},
    }


def test_project_overview_counts_each_status_and_leaves_unknown_ones_out(site: Site) -> None:
    store = site.live.store
    other = services.find_organization(store, "other")
    rows = [
        overview_row(0, "DONE", 0, "done"),
        overview_row(1, "InReview", 0, "done"),  # a filter spelling, counted as IN_REVIEW
        overview_row(2, "in_rework", 1, "done"),
        overview_row(3, "TO_LABEL", 1, None),
        overview_row(4, None, 0, "done"),  # no project_details: unknown status
        overview_row(5, None, 0, "skipped"),
    ]
    body = b"".join(orjson.dumps(r) + b"\n" for r in rows)
    services.import_labelbox(store, other.id, io.BytesIO(body), file="overview.ndjson")

    project = site.other_client().get_project(OVERVIEW_PROJECT)
    overview = project.get_overview()
    assert overview.model_dump() == {
        "to_label": 1,
        "in_review": 1,
        "in_rework": 1,
        "skipped": 1,
        "done": 1,
        "issues": None,  # labelport keeps no issues: unknown, not 0
        "labeled": 4,
        "total_data_rows": 6,  # the two rows of unknown status are in no other count
    }
    in_batch = project.get_overview(batch_ids=[BATCHES[1]])
    assert (in_batch.to_label, in_batch.in_rework, in_batch.done) == (1, 1, 0)
    assert (in_batch.total_data_rows, in_batch.labeled) == (2, 1)
    detailed = project.get_overview(details=True, batch_ids=[BATCHES[0]])
    assert detailed.in_review == {"data": [{"Initial review task": 1}], "total": 1}
    assert detailed.in_rework == {"data": [{"Rework": 0}], "total": 0}
    # the same counts as REST, where the unknown rows have a count of their own
    native = queries.get_project(store, other.id, OVERVIEW_PROJECT)
    assert native["workflow_status_counts"] == {
        "TO_LABEL": 1,
        "IN_REVIEW": 1,
        "IN_REWORK": 1,
        "DONE": 1,
        "UNKNOWN": 2,
    }
    raw = site.other_client().execute(
        "query { project(where: {id: $id}) { workstreamStateCounts { state count } } }".replace(
            "$id", f'"{OVERVIEW_PROJECT}"'
        ),
        experimental=True,
    )
    assert {"state": "Unknown", "count": 2} in raw["project"]["workstreamStateCounts"]


def test_another_organization_sees_none_of_it(site: Site) -> None:
    other = site.other_client()
    for get, key in (
        (other.get_project, base.P1),
        (other.get_dataset, base.DS_A),
        (other.get_model_run, base.RUN1),
        (other.get_data_row, base.rid(1)),
        (other.get_catalog_slice, site.slice_id),
    ):
        with pytest.raises(lbox_exceptions.ResourceNotFoundError):
            get(key)
    with pytest.raises(lbox_exceptions.ResourceNotFoundError):
        other.get_catalog_slice(slice_name=SLICE_NAME)


def test_a_bad_key_and_a_viewer_key(site: Site) -> None:
    with pytest.raises(lbox_exceptions.AuthenticationError):
        site.client(key="lp_nope_nope").get_project(base.P1)
    viewer = site.client("viewer")
    project = viewer.get_project(base.P1)  # reading is fine
    before = tasks_of(site)
    with pytest.raises(lbox_exceptions.AuthorizationError, match="editor role"):
        project.export()
    assert tasks_of(site) == before


# ------------------------------------------------------------------------------ export flows


def test_project_export_with_every_param_and_every_filter(site: Site) -> None:
    project = site.client().get_project(base.P1)
    params = every_param("project")
    cases = [
        (
            {
                "last_activity_at": ["2024-03-05", None],  # Tokyo: excludes row 4, keeps 5
                "label_created_at": [None, "2024-02-10 23:00:00"],
                "workflow_status": "Done",
                "batch_ids": [base.B2],
                "global_keys": [base.gk(n) for n in (2, 4, 5, 8)],
            },
            [5, 8],
        ),
        ({"data_row_ids": [base.rid(5), base.rid(7)], "workflow_status": "InReview"}, [7]),
        ({"workflow_status": "ToLabel", "batch_ids": [base.B1]}, [1]),
        ({"workflow_status": "InRework", "last_activity_at": [None, "2024-03-10"]}, [3]),
    ]
    for filters, expected in cases:
        task = project.export(params=params, filters=filters)
        rows = exported(task)
        assert ids(rows) == base.ordered(expected), filters
        assert rows == site.native_rows(Scope("project", base.P1), params, filters)
        for row in rows:
            assert set(row["projects"]) == {base.P1}
            assert "project_details" in row["projects"][base.P1]
            for label in row["projects"][base.P1]["labels"]:
                assert {"label_details", "performance_details"} <= set(label)


def test_project_export_of_every_media_type_with_interpolated_frames(site: Site) -> None:
    client = site.client()
    for media in data.MEDIA:
        params = every_param("project")
        task = client.get_project(data.media_project(media)).export(params=params)
        rows = exported(task)
        assert rows == site.native_rows(Scope("project", data.media_project(media)), params)
        assert ids(rows) == [data.media_row_id(media)]
        if media == "VIDEO":  # keyframes 13, 18 and 19; 14 to 17 interpolated
            video = rows[0]["projects"][data.media_project(media)]["labels"][0]["annotations"]
            frames = video["frames"]
            assert list(frames) == [str(n) for n in range(13, 20)]
            lefts = [
                next(iter(f["objects"].values()))["bounding_box"]["left"] for f in frames.values()
            ]
            assert lefts == sorted(lefts) and len(set(lefts)) == len(lefts)
        if media == "TEXT":
            assert rows[0]["data_row"]["row_data"].startswith("研究によると")


def test_dataset_export_with_every_param_and_filter(site: Site) -> None:
    dataset = site.client().get_dataset(base.DS_A)
    params = every_param("dataset")
    for filters, expected in (
        (
            {
                "last_activity_at": ["2024-03-01 00:00:00", "2024-03-05"],
                "global_keys": [base.gk(n) for n in range(1, 8)],
            },
            [1, 2, 3, 4],
        ),
        (
            {"label_created_at": ["2024-02-03", "2024-02-17"], "data_row_ids": [base.rid(7)]},
            [7],
        ),
    ):
        task = dataset.export(params=params, filters=filters)
        assert task.name == "Export v2: dataset - street"
        rows = exported(task)
        assert ids(rows) == base.ordered(expected)
        assert rows == site.native_rows(Scope("dataset", base.DS_A), sent("dataset"), filters)


def test_catalog_export_with_every_param_gives_back_what_was_imported(site: Site) -> None:
    catalog = site.client().get_catalog()
    params = every_param("catalog", interpolated_frames=False)
    rows = exported(catalog.export(params=params))
    images = [
        base.expected_row(
            n,
            base.ALL - {"model_run_details"},
            projects=(base.P1, base.P2),
            runs=(base.RUN1, base.RUN2),
        )
        for n in base.N
    ]
    assert sorted(rows, key=lambda r: r["data_row"]["id"]) == sorted(
        images + data.MEDIA_ROWS, key=lambda r: r["data_row"]["id"]
    )
    assert rows == site.native_rows(Scope("catalog"), sent("catalog", interpolated_frames=False))


def test_catalog_export_with_every_filter(site: Site) -> None:
    catalog = site.client().get_catalog()
    params = every_param("catalog")
    for filters, expected in (
        (
            {
                "label_created_at": ["2024-02-16", "2024-02-20 23:59:59"],
                "last_activity_at": ["2024-03-01", None],
                "data_row_ids": [base.rid(n) for n in base.N],
            },
            [base.rid(n) for n in base.sorted_numbers([6, 7, 8, 9, 10])],
        ),
        (
            {"global_keys": ["clé-text-日本", "clé-video-日本"]},
            [data.media_row_id("TEXT"), data.media_row_id("VIDEO")],
        ),
    ):
        rows = exported(catalog.export(params=params, filters=filters))
        assert ids(rows) == expected
        assert rows == site.native_rows(Scope("catalog"), sent("catalog"), filters)


def test_data_row_export_by_ids_and_by_global_keys(site: Site) -> None:
    client = site.client()
    params = every_param("data_rows")
    on = sent("data_rows")
    wanted = [base.rid(2), data.media_row_id("TEXT"), base.rid(9)]
    task = lb.DataRow.export(
        client, data_rows=[wanted[0], client.get_data_row(wanted[1]), wanted[2]], params=params
    )
    assert task.name == "Export v2: data rows 3"
    rows = exported(task)
    assert sorted(ids(rows)) == sorted(wanted)
    assert rows == site.native_rows(Scope("data_rows", data_row_ids=tuple(wanted)), on)
    keys = ["clé-pdf-日本", base.gk(3)]
    rows = exported(lb.DataRow.export(client, global_keys=keys, params=params))
    assert sorted(r["data_row"]["global_key"] for r in rows) == sorted(keys)
    assert rows == site.native_rows(Scope("data_rows", global_keys=tuple(keys)), on)
    with pytest.raises(ValueError, match="cannot both be empty"):
        lb.DataRow.export(client, params=params)


def test_model_run_export_with_every_param(site: Site) -> None:
    run = site.client().get_model_run(base.RUN1)
    params = every_param("model_run")
    rows = exported(run.export(params=params))
    assert ids(rows) == base.ordered(base.RUNS[base.RUN1])
    assert rows == site.native_rows(Scope("model_run", base.RUN1), params)
    first = rows[0]["experiments"][base.MODEL]["runs"][base.RUN1]
    assert {"predictions", "split"} <= set(first)


def test_catalog_slice_export_with_every_param(site: Site) -> None:
    client = site.client()
    params = every_param("slice")
    for found in (
        client.get_catalog_slice(site.slice_id),
        client.get_catalog_slice(slice_name=SLICE_NAME),
    ):
        rows = exported(found.export(params=params))
        assert rows == site.native_rows(Scope("slice", site.slice_id), sent("slice"))
        # the slice's dates are read in the organization's timezone (Tokyo)
        assert ids(rows) == base.ordered(
            n for n in base.N if base.activity_at(n) >= datetime(2024, 3, 2, 15, tzinfo=UTC)
        )


def test_export_v2_result_and_errors(site: Site) -> None:
    project = site.client().get_project(base.P2)
    params = every_param("project")
    with pytest.warns(DeprecationWarning, match="export_v2"):
        task = project.export_v2(params=params)
    task.wait_till_done()
    assert task.status == "COMPLETE"
    assert task.result == site.native_rows(Scope("project", base.P2), params)
    assert task.errors is None


def test_wait_till_done_polls_a_task_that_is_still_running(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An export that does not finish within the mutation's short wait is answered in progress;
    the SDK then polls it through ``createdTasks`` until it is COMPLETE. (The task pool's run is
    held at a gate until the SDK has seen the task in progress.)"""
    gate = threading.Event()
    run = export_tasks.execute

    def held(*args: Any, **kwargs: Any) -> Any:
        gate.wait(20)
        return run(*args, **kwargs)

    monkeypatch.setattr(export_tasks, "execute", held)
    monkeypatch.setattr(exports, "INLINE_SECONDS", 0.3)
    project = site.client().get_project(base.P2)
    try:
        task = project.export(params={"attachments": True})
        assert task.status == "IN_PROGRESS"
        with pytest.raises(lb.ExportTask.ExportTaskException, match="not ready"):
            task.has_result()
    finally:
        gate.set()
    task.wait_till_done(timeout_seconds=30)
    assert task.status == "COMPLETE"
    assert rows_of(task) == site.native_rows(Scope("project", base.P2), {"attachments": True})


# ------------------------------------------------------------------------------------ streams


def test_streams_sizes_and_both_stream_forms(site: Site) -> None:
    task = site.client().get_catalog().export(params={"metadata_fields": True})
    task.wait_till_done()
    native = site.native_rows(Scope("catalog"), {"metadata_fields": True})
    lines = [json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in native]
    assert task.has_result() and not task.has_errors()
    assert task.get_total_lines(lb.StreamType.RESULT) == len(native) == 21
    size = task.get_total_file_size(lb.StreamType.RESULT)
    assert size == sum(len(x.encode()) + 1 for x in lines)  # bytes of the UTF-8 NDJSON
    assert task.get_total_file_size(lb.StreamType.ERRORS) is None
    assert task.get_total_lines(lb.StreamType.ERRORS) is None
    received: list[dict[str, Any]] = []
    task.get_buffered_stream(stream_type=lb.StreamType.RESULT).start(
        stream_handler=lambda output: received.append(output.json)
    )
    assert received == [out.json for out in task.get_buffered_stream()] == native
    with pytest.raises(ValueError, match="does not have a ERRORS stream"):
        task.get_buffered_stream(lb.StreamType.ERRORS)


def test_the_errors_stream(site: Site) -> None:
    client = site.other_client()
    task = client.get_project(BROKEN_PROJECT).export(params={"interpolated_frames": True})
    task.wait_till_done()
    assert task.has_errors() and task.has_result()
    assert task.get_total_lines(lb.StreamType.ERRORS) == 1
    errors = rows_of(task, "ERRORS")
    assert [e["data_row_id"] for e in errors] == [site.broken_row]
    assert "JSONDecodeError" in errors[0]["error"]
    handled: list[Any] = []
    task.get_buffered_stream(lb.StreamType.ERRORS).start(stream_handler=handled.append)
    assert [h.json for h in handled] == errors
    assert len(rows_of(task)) == 1
    with pytest.warns(DeprecationWarning):
        v2 = client.get_project(BROKEN_PROJECT).export_v2(params={"interpolated_frames": True})
    v2.wait_till_done()
    assert v2.errors == errors and len(v2.result) == 1


def test_an_empty_export(site: Site) -> None:
    project = site.client().get_project(base.P1)
    task = project.export(filters={"global_keys": ["no such key"]})
    task.wait_till_done()
    assert task.status == "COMPLETE"
    assert not task.has_result() and not task.has_errors()
    assert task.get_total_file_size(lb.StreamType.RESULT) is None
    with pytest.raises(ValueError, match="does not have a RESULT stream"):
        task.get_buffered_stream()
    with pytest.warns(DeprecationWarning):
        v2 = project.export_v2(filters={"global_keys": ["no such key either"]})
    assert v2.result == []


def test_small_chunks_and_many_shards_arrive_whole(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks cut at a few hundred bytes, and exports written in several shards (the task
    pool's writer is given a small shard size): the SDK still gets every row, byte for byte."""
    calls: list[streams.Chunk] = []
    original = streams.chunk_from_line

    def spy(reader: Any, line: int, limit: int = streams.CHUNK_BYTES) -> streams.Chunk:
        chunk = original(reader, line, limit)
        calls.append(chunk)
        return chunk

    monkeypatch.setattr(streams, "chunk_from_line", spy)
    catalog = site.client().get_catalog()
    params = every_param("catalog")
    native = site.native_rows(Scope("catalog"), sent("catalog"))

    monkeypatch.setattr(streams, "CHUNK_BYTES", 600)
    assert exported(catalog.export(params=params)) == native
    assert len(calls) == len(native)  # every row is longer than 600 bytes: one per chunk
    assert [c.first_line for c in calls] == list(range(len(native)))

    monkeypatch.setattr(streams, "CHUNK_BYTES", 4 * 1024 * 1024)
    monkeypatch.setattr(export_tasks, "execute", partial(export_tasks.execute, shard_bytes=4000))
    calls.clear()
    task = catalog.export(params=params, task_name="sharded ✂")
    assert task.name == "sharded ✂"
    assert exported(task) == native
    done = export_tasks.get(site.live.store, site.live.org.id, task.uid)
    shards = read_manifest(Path(str(done.location)))["streams"]["result"]["files"]
    assert len(shards) > 3
    assert [(c.first_byte, c.size) for c in calls] == [
        (s["first_byte"], s["bytes"]) for s in shards
    ]


# ----------------------------------------------------------------------------- who sees tasks


def test_a_task_is_seen_only_by_its_creator(site: Site) -> None:
    mine = site.client()
    task = mine.get_project(base.P1).export()
    assert lb.ExportTask.get_task(mine, task.uid).status == "COMPLETE"
    for other in (site.client("admin"), site.other_client()):
        with pytest.raises(lbox_exceptions.ResourceNotFoundError):
            lb.ExportTask.get_task(other, task.uid)
    mine_user = mine.get_user()
    assert [t.uid for t in mine_user.created_tasks() if t.uid == task.uid] == [task.uid]
    admin_user = site.client("admin").get_user()
    assert task.uid not in [t.uid for t in admin_user.created_tasks()]


# -------------------------------------------------------------------------- refused requests


def test_filters_the_sdk_refuses_never_reach_the_server(site: Site) -> None:
    client = site.client()
    project = client.get_project(base.P1)
    before = tasks_of(site)
    for filters, message in (
        ({"last_activity_at": ["2024/03/01", None]}, "Incorrect format"),
        ({"label_created_at": [None, "yesterday"]}, "Incorrect format"),
        ({"data_row_ids": [base.rid(1)], "global_keys": [base.gk(1)]}, "cannot both be present"),
        ({"workflow_status": "Finished"}, "workflow_status"),
        ({"batch_ids": "not-a-list"}, "expects a list"),
        ({"global_keys": []}, "non-empty list"),
        ({"data_row_ids": [str(i) for i in range(2001)]}, "max of 2000"),
    ):
        with pytest.raises(ValueError, match=message):
            project.export(filters=filters)
    with pytest.raises(ValueError, match="cannot exceed 30"):
        client.get_catalog().export(params={"project_ids": [base.P1] * 31})
    assert tasks_of(site) == before


def test_requests_the_server_refuses_raise_malformed_query(site: Site) -> None:
    client = site.client()
    project = client.get_project(base.P1)
    before = tasks_of(site)
    refused: list[tuple[Any, str]] = [
        (lambda: project.export(filters={"batch_ids": ["no-such-batch"]}), "batch not found"),
        (
            lambda: project.export(filters={"label_created_at": ["2024-03-01", "2024-02-01"]}),
            "is after the end",
        ),
        (
            lambda: project.export(params={"media_type_override": lb.MediaType.Tms_Simple}),
            "not a media type",
        ),
        (
            lambda: client.get_dataset(base.DS_A).export(
                params={"all_projects": True, "project_ids": [base.P1]}
            ),
            "not both",
        ),
        (
            lambda: client.get_catalog().export(params={"model_run_ids": ["nope"]}),
            "model run not found",
        ),
        (
            lambda: client.get_model_run(base.RUN1).export(params={"media_type_override": "GIF"}),
            "not a media type",
        ),
    ]
    for call, message in refused:
        with pytest.raises(lbox_exceptions.MalformedQueryException, match=message):
            call()
    assert tasks_of(site) == before
