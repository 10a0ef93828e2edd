"""Faithful round trips: what a source carried comes back exactly, and nothing else does.

Rows of every data type (tests/imports/strategies.py) are thinned out at random: optional keys
left out, values given as ``null``, floats given as integers, splits and workflow statuses in
every spelling Labelbox and its users write, unknown fields anywhere. Exported with every param,
each row is its source again: keys, presence, JSON types and spellings (key order aside).
"""

from __future__ import annotations

import io
import os
import random
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labelport import services, vocab
from labelport.export.artifacts import Artifacts
from labelport.export.manifest import read_manifest, stream_info, verify
from labelport.export.spec import Scope, every_param
from labelport.export.stream_reader import StreamReader
from labelport.services import export_tasks
from labelport.store import Store
from labelport.store import schema as s
from tests.factories import wipe
from tests.imports.strategies import row

EVERY_PARAM = every_param("data_rows", interpolated_frames=False)

# object -> (keys that may be left out, keys that may be null)
_OPTIONAL = {
    "row": (
        ("media_attributes", "attachments", "metadata_fields", "embeddings", "projects"),
        ("media_attributes", "attachments", "metadata_fields", "embeddings"),
    ),
    "data_row": (("global_key", "external_id", "details"), ("global_key", "external_id")),
    "details": (
        ("dataset_name", "created_at", "updated_at", "last_activity_at", "created_by"),
        ("created_at", "updated_at", "last_activity_at", "created_by"),
    ),
    "project": (("labels", "project_details", "project_tags"), ("labels",)),
    "project_details": (
        (
            "ontology_id",
            "task_id",
            "task_name",
            "workflow_status",
            "priority",
            "selected_label_id",
            "consensus_expected_label_count",
            "workflow_history",
        ),
        (
            "task_id",
            "task_name",
            "workflow_status",
            "priority",
            "selected_label_id",
            "consensus_expected_label_count",
            "workflow_history",
        ),
    ),
    "label": (
        ("label_kind", "version", "label_details", "performance_details", "annotations"),
        ("label_kind", "version", "annotations"),
    ),
    "label_details": (
        ("created_at", "updated_at", "created_by", "content_last_updated_at", "reviews"),
        ("created_at", "updated_at", "created_by", "content_last_updated_at", "reviews"),
    ),
    "performance_details": (
        (
            "seconds_to_create",
            "seconds_to_review",
            "skipped",
            "benchmark_score",
            "consensus_score",
            "consensus_labels",
            "performance_details_v2",
        ),
        ("seconds_to_create", "skipped", "consensus_labels", "performance_details_v2"),
    ),
    "run": (
        ("run_data_row_id", "labels", "predictions", "split"),
        ("run_data_row_id", "labels", "predictions", "split"),
    ),
    "run_label": (("label_kind", "version", "annotations"), ("label_kind", "version")),
}


def _status_spellings(stored: str) -> list[str]:
    filter_form = vocab.FILTER_SPELLINGS[stored]
    return [stored, stored.lower(), filter_form, filter_form.lower(), filter_form.upper()]


def _thin(rnd: random.Random, value: dict[str, Any], kind: str) -> None:
    """Leave keys out, null them, add an unknown field: each at random."""
    optional, nullable = _OPTIONAL[kind]
    for key in optional:
        if key in value and rnd.random() < 0.2:
            del value[key]
    for key in nullable:
        if key in value and rnd.random() < 0.15:
            value[key] = None
    if rnd.random() < 0.15:
        value["x_future_" + kind] = rnd.choice([1, 2.5, "new", None, [1, {"a": True}], {"b": []}])


def sparse(rnd: random.Random, source: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = orjson.loads(orjson.dumps(source))
    _thin(rnd, out, "row")
    _thin(rnd, out["data_row"], "data_row")
    details = out["data_row"].get("details")
    if isinstance(details, dict):
        _thin(rnd, details, "details")
    for entry in (out.get("projects") or {}).values():
        _thin(rnd, entry, "project")
        pd = entry.get("project_details")
        if isinstance(pd, dict):
            status = pd.get("workflow_status")
            _thin(rnd, pd, "project_details")
            if isinstance(pd.get("workflow_status"), str):
                pd["workflow_status"] = rnd.choice(_status_spellings(str(status)))
            elif rnd.random() < 0.1:
                pd["workflow_status"] = "PAUSED"  # no workflow status: kept as given
        for label in entry.get("labels") or ():
            _thin(rnd, label, "label")
            if isinstance(label.get("label_details"), dict):
                _thin(rnd, label["label_details"], "label_details")
            perf = label.get("performance_details")
            if isinstance(perf, dict):
                _thin(rnd, perf, "performance_details")
                for key in ("seconds_to_create", "seconds_to_review", "benchmark_score"):
                    if isinstance(perf.get(key), float) and rnd.random() < 0.5:
                        perf[key] = int(perf[key])  # an integer stays an integer
    for model in (out.get("experiments") or {}).values():
        for run in model["runs"].values():
            _thin(rnd, run, "run")
            if isinstance(run.get("split"), str):
                run["split"] = rnd.choice([run["split"], run["split"].lower(), "UNASSIGNED"])
            for label in [*(run.get("labels") or ()), *(run.get("predictions") or ())]:
                _thin(rnd, label, "run_label")
    for item in out.get("metadata_fields") or ():
        if rnd.random() < 0.2:
            del item[rnd.choice(["schema_id", "schema_name"])]
    return out


@st.composite
def sparse_rows(draw: st.DrawFn) -> list[dict[str, Any]]:
    rows = draw(st.lists(row(), min_size=1, max_size=4, unique_by=lambda r: r["data_row"]["id"]))
    rnd = draw(st.randoms(use_true_random=False))
    return [sparse(rnd, r) for r in rows]


def import_rows(store: Store, org_id: str, rows: list[dict[str, Any]]) -> Any:
    data = b"".join(orjson.dumps(r) + b"\n" for r in rows)
    return services.import_labelbox(
        store, org_id, io.BytesIO(data), file="sparse.ndjson", dataset="fallback"
    )


def export(store: Store, org_id: str, root: Path, ids: tuple[str, ...]) -> list[dict[str, Any]]:
    task = services.start_export(store, org_id, Scope("data_rows", data_row_ids=ids), EVERY_PARAM)
    done = export_tasks.execute(store, Artifacts.local(root), task.id)
    assert done.status == "COMPLETE", done.error_message
    assert verify(Path(str(done.location))).ok
    directory = Path(str(done.location))
    info = stream_info(read_manifest(directory), "result")
    return [orjson.loads(line) for line in StreamReader(directory, info).iter_lines()]


def differences(got: Any, want: Any, path: str = "") -> Any:
    """Where two JSON values differ (types included): ``(path, got, want)``."""
    if isinstance(got, dict) and isinstance(want, dict):
        for key in got.keys() | want.keys():
            if key not in got or key not in want:
                yield (f"{path}.{key}", got.get(key, "<absent>"), want.get(key, "<absent>"))
            else:
                yield from differences(got[key], want[key], f"{path}.{key}")
    elif isinstance(got, list) and isinstance(want, list) and len(got) == len(want):
        for i, (a, b) in enumerate(zip(got, want, strict=True)):
            yield from differences(a, b, f"{path}[{i}]")
    elif type(got) is not type(want) or got != want:
        yield (path, got, want)


def without_import_only(source: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in source.items() if k != "media_type"}


@settings(
    max_examples=int(os.environ.get("LABELPORT_TEST_EXAMPLES", "30")),
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(rows=sparse_rows())
def test_an_export_gives_back_exactly_what_the_source_carried(
    store: Store, org: services.Organization, tmp_path: Path, rows: list[dict[str, Any]]
) -> None:
    keys = [r["data_row"].get("global_key") for r in rows if r["data_row"].get("global_key")]
    if len(keys) != len(set(keys)):
        return  # two rows with one global key are refused; covered by the import tests
    wipe(store)
    import_rows(store, org.id, rows)
    ids = tuple(r["data_row"]["id"] for r in rows)
    back = {r["data_row"]["id"]: r for r in export(store, org.id, tmp_path, ids)}
    expected = {r["data_row"]["id"]: without_import_only(r) for r in rows}
    assert back == expected, list(differences(back, expected))
    # and the live path (no export-ready entries) gives the same rows
    with store.write() as conn:
        conn.execute(s.export_cache.delete())
    live = {r["data_row"]["id"]: r for r in export(store, org.id, tmp_path, ids)}
    assert live == back


# ------------------------------------------------------------------------- single rules


def image_row(**project: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": "cars", **project}
    return {
        "data_row": {
            "id": "cimg000000000000000000001",
            "row_data": "https://media.test/1.jpg",
            "details": {"dataset_name": "street"},
        },
        "projects": {"cproj00000000000000000001": entry},
    }


LABEL = {
    "id": "clab000000000000000000001",
    "annotations": {"objects": [], "classifications": [], "relationships": []},
    "performance_details": {"seconds_to_create": 4739, "seconds_to_review": 12.5},
}


def project_export(
    store: Store, org_id: str, root: Path, filters: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    params = {"project_details": True, "performance_details": True, "label_details": True}
    task = services.start_export(
        store, org_id, Scope("project", "cproj00000000000000000001"), params, filters
    )
    done = export_tasks.execute(store, Artifacts.local(root), task.id)
    assert done.status == "COMPLETE", done.error_message
    if done.location is None or done.result_lines == 0:
        return []
    directory = Path(str(done.location))
    info = stream_info(read_manifest(directory), "result")
    return [orjson.loads(line) for line in StreamReader(directory, info).iter_lines()]


def test_a_row_without_project_details_has_an_unknown_status_that_no_filter_matches(
    store: Store, org: services.Organization, tmp_path: Path
) -> None:
    import_rows(store, org.id, [image_row(labels=[LABEL])])
    with store.read() as conn:
        assert conn.execute(sa.select(s.project_data_row.c.workflow_status)).scalar_one() is None
    [back] = project_export(store, org.id, tmp_path)
    entry = back["projects"]["cproj00000000000000000001"]
    assert "project_details" not in entry  # not invented
    assert entry["labels"][0]["performance_details"] == {
        "seconds_to_create": 4739,
        "seconds_to_review": 12.5,
    }
    assert type(entry["labels"][0]["performance_details"]["seconds_to_create"]) is int
    for status in ("Done", "ToLabel", "InReview", "InRework"):
        assert project_export(store, org.id, tmp_path, {"workflow_status": status}) == []
    [project] = services_projects(store, org.id)
    assert project["workflow_status_counts"]["UNKNOWN"] == 1
    assert project["workflow_status_counts"]["DONE"] == 0


def services_projects(store: Store, org_id: str) -> list[dict[str, Any]]:
    from labelport.services import queries

    return list(queries.list_projects(store, org_id).items)


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("Done", "DONE"),
        ("done", "DONE"),
        ("IN_REVIEW", "IN_REVIEW"),
        ("InRework", "IN_REWORK"),
        ("to_label", "TO_LABEL"),
    ],
)
def test_a_status_in_any_spelling_is_stored_in_one_and_exported_as_given(
    store: Store, org: services.Organization, tmp_path: Path, given: str, stored: str
) -> None:
    import_rows(store, org.id, [image_row(project_details={"workflow_status": given})])
    with store.read() as conn:
        assert conn.execute(sa.select(s.project_data_row.c.workflow_status)).scalar_one() == stored
    [back] = project_export(store, org.id, tmp_path, {"workflow_status": stored})
    details = back["projects"]["cproj00000000000000000001"]["project_details"]
    assert details == {"workflow_status": given}


def test_unknown_fields_and_values_warn_are_kept_and_strict_refuses_them(
    store: Store, org: services.Organization, tmp_path: Path
) -> None:
    source = image_row(project_details={"workflow_status": "PAUSED", "reviewer_ids": [1, 2]})
    source["cost_center"] = {"code": 7}
    result = import_rows(store, org.id, [source])
    warned = {(w.field, w.count, tuple(w.lines)) for w in result.warnings}
    assert ("cost_center", 1, (1,)) in warned
    assert ("projects.*.project_details.reviewer_ids", 1, (1,)) in warned
    assert any(w.field == "projects.*.project_details.workflow_status" for w in result.warnings)
    [back] = project_export(store, org.id, tmp_path)
    details = back["projects"]["cproj00000000000000000001"]["project_details"]
    assert details == {"workflow_status": "PAUSED", "reviewer_ids": [1, 2]}
    with store.read() as conn:
        assert conn.execute(sa.select(s.project_data_row.c.workflow_status)).scalar_one() is None
    data = orjson.dumps({**source, "data_row": {**source["data_row"], "id": "cimg2"}}) + b"\n"
    from labelport.errors import InvalidRecords

    with pytest.raises(InvalidRecords) as info:
        services.import_labelbox(
            store, org.id, io.BytesIO(data), file="strict.ndjson", dataset="d", strict=True
        )
    fields = {e.field for e in info.value.errors}
    assert "cost_center" in fields
    with store.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(s.data_row)).scalar_one() == 1
