"""Export-ready rows (``labelport.export.cache``): the same bytes as the live path, never stale.

Every comparison exports twice from the same catalog: once with the entries the imports built,
once after deleting every entry (so each row is read and built by the live path). The two
RESULT streams and manifests must be identical, for every data type and parameter combination.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labelport import services
from labelport.demo.rows import write_labelbox
from labelport.export import cache, cache_reading
from labelport.export.engine import run_export
from labelport.export.manifest import read_manifest, verify
from labelport.export.spec import PARAMS_BY_SCOPE, Scope, every_param
from labelport.services import activity
from labelport.store import Store
from labelport.store import schema as s
from tests.factories import PROJECT, import_rows, simple_row
from tests.imports.strategies import row

c = s.export_cache


def entries(store: Store) -> int:
    with store.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(c)).scalar_one())


def result_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.glob("result-*.ndjson")))


def stable(folder: Path) -> dict[str, Any]:
    m = read_manifest(folder)
    return {k: v for k, v in m.items() if k not in ("snapshot_at", "finished_at")}


def both_ways(
    store: Store, org_id: str, scope: Scope, params: dict[str, Any], folder: Path
) -> tuple[Path, Path]:
    """(export with the entries, export by the live path); the entries are rebuilt after."""
    spec = services.export_spec(store, org_id, scope, params, None)
    ready, live = folder / "ready", folder / "live"
    run_export(store, org_id, spec, ready)
    with store.write() as conn:
        conn.execute(c.delete())
    run_export(store, org_id, spec, live)
    with store.write() as conn:
        cache.fill(conn, org_id)
    return ready, live


def assert_same(ready: Path, live: Path) -> None:
    assert result_bytes(ready) == result_bytes(live)
    assert stable(ready) == stable(live)
    assert verify(ready).ok


def draw_params(data: st.DataObject, kind: str) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for name in sorted(PARAMS_BY_SCOPE[kind]):
        if name in ("media_type_override", "project_ids", "model_run_ids"):
            continue
        params[name] = data.draw(st.booleans(), label=name)
    return params


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(
    rows=st.lists(row(), min_size=1, max_size=4, unique_by=lambda r: r["data_row"]["id"]),
    data=st.data(),
)
def test_ready_rows_are_the_live_rows_for_every_type_and_param(
    store: Store,
    org: services.Organization,
    tmp_path_factory: pytest.TempPathFactory,
    rows: list[dict[str, Any]],
    data: st.DataObject,
) -> None:
    keys = [r["data_row"].get("global_key") for r in rows if r["data_row"].get("global_key")]
    if len(keys) != len(set(keys)):
        return  # refused by the import; covered there
    import_rows(store, org.id, rows)
    assert entries(store) >= len(rows)  # the import built the entries in its commit
    ids = tuple(r["data_row"]["id"] for r in rows)
    params = draw_params(data, "data_rows")
    projects = sorted({p for r in rows for p in r.get("projects", {})})
    if projects and data.draw(st.booleans(), label="some projects"):
        params["all_projects"] = False
        params["project_ids"] = data.draw(
            st.lists(st.sampled_from(projects), min_size=1, unique=True), label="project_ids"
        )
    runs = sorted(
        {run for r in rows for model in r.get("experiments", {}).values() for run in model["runs"]}
    )
    if runs and data.draw(st.booleans(), label="some model runs"):
        params["all_model_runs"] = False
        params["model_run_ids"] = data.draw(
            st.lists(st.sampled_from(runs), min_size=1, unique=True), label="model_run_ids"
        )
    folder = tmp_path_factory.mktemp("both")
    ready, live = both_ways(store, org.id, Scope("data_rows", data_row_ids=ids), params, folder)
    assert_same(ready, live)


@pytest.fixture
def demo_catalog(store: Store, org: services.Organization) -> str:
    buffer = io.BytesIO()
    write_labelbox(buffer, 3, 11)
    buffer.seek(0)
    services.import_labelbox(store, org.id, buffer, file="demo.ndjson")
    return org.id


def test_every_scope_of_the_demo_catalog_reads_the_same_both_ways(
    store: Store, demo_catalog: str, tmp_path: Path
) -> None:
    org_id = demo_catalog
    with store.read() as conn:
        projects = list(conn.execute(sa.select(s.project.c.id).order_by(s.project.c.id)).scalars())
        runs = list(conn.execute(sa.select(s.model_run.c.id).order_by(s.model_run.c.id)).scalars())
        rows = int(conn.execute(sa.select(sa.func.count()).select_from(s.data_row)).scalar_one())
    assert entries(store) == rows and len(projects) >= 3 and runs
    cases: list[tuple[Scope, dict[str, Any]]] = [
        (Scope("catalog"), every_param("catalog")),
        (Scope("catalog"), {"all_projects": True, "label_details": False}),
        (Scope("catalog"), {"all_model_runs": True, "predictions": False}),
        (Scope("catalog"), {"project_ids": projects[:2], "model_run_ids": runs[:1]}),
    ]
    for pid in projects:
        cases.append((Scope("project", pid), every_param("project")))
        cases.append((Scope("project", pid), {"performance_details": True}))
    for rid in runs:
        cases.append((Scope("model_run", rid), every_param("model_run")))
        cases.append((Scope("model_run", rid), {"model_run_details": False}))
    for n, (scope, params) in enumerate(cases):
        ready, live = both_ways(store, org_id, scope, params, tmp_path / str(n))
        assert_same(ready, live)


def test_tallies_read_the_same_when_few_are_kept_decoded(
    store: Store, demo_catalog: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache_reading, "MEMO", 1)  # every other row's tally is decoded anew
    for n, params in enumerate((every_param("catalog"), {"all_projects": True})):
        ready, live = both_ways(store, demo_catalog, Scope("catalog"), params, tmp_path / str(n))
        assert_same(ready, live)


def read_one(store: Store, org_id: str, folder: Path, rid: str) -> dict[str, Any]:
    spec = services.export_spec(
        store, org_id, Scope("data_rows", data_row_ids=(rid,)), every_param("data_rows"), None
    )
    run_export(store, org_id, spec, folder)
    line = result_bytes(folder).splitlines()[0]
    value: dict[str, Any] = orjson.loads(line)
    return value


def entry_of(store: Store, rid: str) -> bytes | None:
    with store.read() as conn:
        body = conn.execute(sa.select(c.c.line).where(c.c.data_row_id == rid)).scalar()
    return None if body is None else bytes(body)


def test_a_change_to_anything_a_row_shows_forgets_or_rebuilds_its_entry(
    store: Store, org: services.Organization, tmp_path: Path
) -> None:
    import_rows(store, org.id, [simple_row(n, project=PROJECT) for n in range(4)])
    rid = simple_row(0)["data_row"]["id"]
    before = entry_of(store, rid)
    assert before is not None

    # a change through the catalog functions: the entry is built again in the same commit
    activity.set_workflow_status(store, org.id, PROJECT, rid, "DONE")
    after = entry_of(store, rid)
    assert after is not None and after != before
    row0 = read_one(store, org.id, tmp_path / "a", rid)
    assert row0["projects"][PROJECT]["project_details"]["workflow_status"] == "DONE"

    # an import that touches one row leaves the others' entries alone and fills the rest
    untouched = entry_of(store, simple_row(3)["data_row"]["id"])
    changed = simple_row(2, project=PROJECT)
    changed["data_row"]["row_data"] = "https://x.test/changed.jpg"
    import_rows(store, org.id, [changed], "again")
    assert entry_of(store, simple_row(3)["data_row"]["id"]) == untouched
    assert entries(store) == 4
    back = read_one(store, org.id, tmp_path / "e", changed["data_row"]["id"])
    assert back["data_row"]["row_data"] == "https://x.test/changed.jpg"

    # a writer that knows nothing of the cache (plain SQL): the triggers forget the entry
    other = simple_row(1)["data_row"]["id"]
    with store.write() as conn:
        conn.execute(
            s.label.update().where(s.label.c.data_row_id == other).values(label_kind="Custom")
        )
    assert entry_of(store, other) is None
    assert (
        read_one(store, org.id, tmp_path / "b", other)["projects"][PROJECT]["labels"][0][
            "label_kind"
        ]
        == "Custom"
    )

    # a rename shows in every row that names it (here a project, then a dataset)
    with store.write() as conn:
        conn.execute(s.project.update().where(s.project.c.id == PROJECT).values(name="Renamed"))
    assert all(entry_of(store, simple_row(n)["data_row"]["id"]) is None for n in range(4))
    assert read_one(store, org.id, tmp_path / "c", rid)["projects"][PROJECT]["name"] == "Renamed"
    with store.write() as conn:
        cache.fill(conn, org.id)
        conn.execute(s.dataset.update().values(name="Another name"))
    assert entry_of(store, rid) is None
    details = read_one(store, org.id, tmp_path / "d", rid)["data_row"]["details"]
    assert details["dataset_name"] == "Another name"
    # a rename through the service builds the forgotten entries again in its transaction
    dataset_id = simple_row(0)["data_row"]["details"]["dataset_id"]
    services.update_dataset(store, org.id, dataset_id, {"name": "Third name"})
    assert entries(store) == 4
    details = read_one(store, org.id, tmp_path / "e2", rid)["data_row"]["details"]
    assert details["dataset_name"] == "Third name"


def test_a_failed_import_leaves_the_entries_as_they_were(
    store: Store, org: services.Organization
) -> None:
    import_rows(store, org.id, [simple_row(n, project=PROJECT) for n in range(3)])
    with store.read() as conn:
        before = conn.execute(sa.select(c.c.data_row_id, c.c.line).order_by(c.c.data_row_id)).all()
    bad = [simple_row(0, project=PROJECT), {"data_row": {"id": "x"}}]
    with pytest.raises(Exception, match="row_data"):
        import_rows(store, org.id, bad, "bad")
    with store.read() as conn:
        after = conn.execute(sa.select(c.c.data_row_id, c.c.line).order_by(c.c.data_row_id)).all()
    assert [tuple(r) for r in after] == [tuple(r) for r in before]


def test_interpolated_video_rows_take_the_live_path(
    store: Store, org: services.Organization, demo_catalog: str, tmp_path: Path
) -> None:
    with store.read() as conn:
        video = conn.execute(
            sa.select(s.project.c.id).where(s.project.c.media_type == "VIDEO")
        ).scalar()
    assert video is not None
    params = {**every_param("project"), "interpolated_frames": True}
    ready, live = both_ways(store, org.id, Scope("project", video), params, tmp_path)
    assert_same(ready, live)
    frames = [orjson.loads(line) for line in result_bytes(ready).splitlines()]
    assert frames and all(
        "frames" in label["annotations"] for f in frames for label in f["projects"][video]["labels"]
    )
