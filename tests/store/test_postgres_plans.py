"""PostgreSQL at scale: every export filter's row query uses an index, pages stream from a cursor.

A catalog of a few thousand data rows (enough that the planner prefers an index to reading the
table, after ANALYZE) is written once for the module, through the loader's COPY writer. Each
filter's row query — the exact statement :func:`labelport.export.plan.pages` runs, declared as
a cursor as the driver does — is EXPLAINed, and the plan must reach ``data_row`` through an index
(never a sequential scan) and use the index that serves the filter.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles

from labelport import services
from labelport.export import plan as planning
from labelport.export.spec import Scope
from labelport.store import Store, open_store
from labelport.store import schema as s
from tests.conftest import Database

pytestmark = pytest.mark.postgres

ROWS = 40_000
FEW = 400  # every FEW-th row is in P_FEW and in RUN: 100 rows
BASE = datetime(2024, 1, 1, tzinfo=UTC)
DS_BIG, DS_SMALL = "ds-big", "ds-small"  # 39,900 and 100 rows
P_ALL, P_FEW = "proj-all", "proj-few"  # every row; 100 rows
RUN, RUN_ALL = "run-few", "run-all"  # 100 rows; every row
BATCHES = ROWS // 100  # of P_ALL, 100 rows each


# about what an image row carries: data rows are a few hundred bytes wide
MEDIA_ATTRIBUTES = {
    "width": 1920,
    "height": 1080,
    "mime_type": "image/jpeg",
    "exif_rotation": "1",
    "asset_type": "image",
    "camera": {"make": "Example", "model": "Dashcam 3000", "lens": "wide 2.8mm f/1.8"},
    "location": {"lat": 48.137154, "lon": 11.576124, "source": "gps"},
}


def row_id(i: int) -> str:
    return f"crow{i:021d}"


class Explain(sa.sql.expression.Executable, sa.sql.expression.ClauseElement):
    """``EXPLAIN DECLARE c CURSOR FOR <select>``: the plan of the query as a cursor runs it."""

    inherit_cache = False

    def __init__(self, select: sa.Select[Any]) -> None:
        self.select = select


@compiles(Explain, "postgresql")
def _explain(element: Explain, compiler: Any, **kw: Any) -> str:
    return "EXPLAIN DECLARE lp_plan CURSOR FOR " + compiler.process(element.select, **kw)


def populate(store: Store, org_id: str) -> None:
    now = BASE
    with store.write() as conn:
        bulk = store.bulk(conn)
        bulk.insert(
            s.dataset,
            [
                {"id": ds, "org_id": org_id, "name": ds, "created_at": now, "updated_at": now}
                for ds in (DS_BIG, DS_SMALL)
            ],
        )
        bulk.insert(
            s.project,
            [
                {"id": p, "org_id": org_id, "name": p, "created_at": now, "updated_at": now}
                for p in (P_ALL, P_FEW)
            ],
        )
        bulk.insert(
            s.batch,
            [
                {"id": f"batch-{b}", "org_id": org_id, "project_id": P_ALL, "name": f"b{b}"}
                | {"created_at": now}
                for b in range(BATCHES)
            ],
        )
        bulk.insert(s.model, [{"id": "mdl", "org_id": org_id, "name": "m", "created_at": now}])
        bulk.insert(
            s.model_run,
            [
                {"id": run, "org_id": org_id, "model_id": "mdl", "name": run}
                | {"created_at": now, "updated_at": now}
                for run in (RUN, RUN_ALL)
            ],
        )
        rows, pdr, labels, runs = [], [], [], []
        for i in range(ROWS):
            rid = row_id(i)
            created = BASE + timedelta(seconds=i)
            rows.append(
                {
                    "id": rid,
                    "org_id": org_id,
                    "dataset_id": DS_SMALL if i % FEW == 0 else DS_BIG,
                    "global_key": f"key-{i}",
                    "external_id": None,
                    "row_data": f"https://media.example.test/bucket/street/2024/{i:08d}.jpg",
                    "media_attributes": MEDIA_ATTRIBUTES,
                    "media_type": "IMAGE",
                    "created_at": created,
                    "updated_at": created,
                    "last_activity_at": BASE + timedelta(hours=i),
                }
            )
            # 1 row in 1,000 IN_REWORK, the rest spread over the other statuses
            status = "IN_REWORK" if i % 1000 == 7 else ("TO_LABEL", "IN_REVIEW", "DONE")[i % 3]
            pdr.append(
                {
                    "project_id": P_ALL,
                    "data_row_id": rid,
                    "workflow_status": status,
                    "batch_id": f"batch-{i % BATCHES}",
                    "position": 0,
                    "updated_at": now,
                }
            )
            runs.append(
                {
                    "model_run_id": RUN_ALL,
                    "data_row_id": rid,
                    "run_data_row_id": f"mra-{i}",
                    "split": "TRAINING",
                    "position": 1,
                }
            )
            if i % FEW == 1:
                pdr.append(
                    {
                        "project_id": P_FEW,
                        "data_row_id": rid,
                        "workflow_status": "DONE",
                        "batch_id": None,
                        "position": 1,
                        "updated_at": now,
                    }
                )
                runs.append(
                    {
                        "model_run_id": RUN,
                        "data_row_id": rid,
                        "run_data_row_id": f"mr-{i}",
                        "split": "TRAINING",
                        "position": 0,
                    }
                )
            for project in (P_ALL, P_FEW) if i % FEW == 1 else (P_ALL,):
                labels.append(
                    {
                        "id": f"lab-{project}-{i}",
                        "org_id": org_id,
                        "project_id": project,
                        "data_row_id": rid,
                        "position": 0,
                        "label_kind": "Default",
                        "version": "1.0.0",
                        "annotations": {"objects": []},
                        "created_at": BASE + timedelta(days=1, hours=i),
                        "updated_at": BASE,
                        "reviews": [],
                    }
                )
        bulk.insert(s.data_row, rows)
        bulk.insert(s.project_data_row, pdr)
        bulk.insert(s.label, labels)
        bulk.insert(s.model_run_data_row, runs)
    # What autovacuum would do soon anyway, done now so that the plans do not depend on when it
    # runs: statistics, and the visibility map (index-only scans).
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in s.metadata.tables:
            conn.exec_driver_sql(f'VACUUM ANALYZE "{table}"')


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, str]]:
    db = Database("postgres", Path(tmp_path_factory.mktemp("plans")))
    store = open_store(db.url)
    try:
        org = services.create_organization(store, "acme")
        other = services.create_organization(store, "other")
        populate(store, org.id)
        # a second organization, so that the org's rows are not the whole table
        with store.write() as conn:
            conn.execute(
                s.dataset.insert(),
                {"id": "ds-other", "org_id": other.id, "name": "o"}
                | {"created_at": BASE, "updated_at": BASE},
            )
        yield store, org.id
    finally:
        store.dispose()
        db.drop()


def window(start: datetime, hours: int) -> list[str]:
    return [start.isoformat(), (start + timedelta(hours=hours)).isoformat()]


KEYS = [f"key-{i}" for i in range(100, 4000, 200)]
IDS = [row_id(i) for i in range(50, 5000, 250)]
MIDDLE = BASE + timedelta(hours=3000)

# (scope, filters, the index the plan must use: one of these)
CASES: dict[str, tuple[Scope, dict[str, Any], str | tuple[str, ...]]] = {
    "catalog last_activity_at": (
        Scope("catalog"),
        {"last_activity_at": window(MIDDLE, 30)},
        "ix_data_row_org_id_last_activity_at",
    ),
    "dataset last_activity_at": (
        Scope("dataset", id=DS_BIG),
        {"last_activity_at": window(MIDDLE, 30)},
        "ix_data_row_org_id_last_activity_at",
    ),
    "project last_activity_at": (
        Scope("project", id=P_ALL),
        {"last_activity_at": window(MIDDLE, 30)},
        "ix_data_row_org_id_last_activity_at",
    ),
    "catalog label_created_at": (
        Scope("catalog"),
        {"label_created_at": window(MIDDLE + timedelta(days=1), 30)},
        "ix_label_org_id_created_at",
    ),
    "project label_created_at": (
        Scope("project", id=P_ALL),
        {"label_created_at": window(MIDDLE + timedelta(days=1), 30)},
        "ix_label_project_id_created_at",
    ),
    "project workflow_status": (
        Scope("project", id=P_ALL),
        {"workflow_status": "InRework"},
        "ix_project_data_row_project_id_workflow_status",
    ),
    "project batch_ids": (
        Scope("project", id=P_ALL),
        {"batch_ids": ["batch-7"]},
        "ix_project_data_row_batch_id",
    ),
    "catalog global_keys": (
        Scope("catalog"),
        {"global_keys": KEYS},
        "uq_data_row_org_id_global_key",
    ),
    "project global_keys": (
        Scope("project", id=P_ALL),
        {"global_keys": KEYS},
        "uq_data_row_org_id_global_key",
    ),
    "catalog data_row_ids": (Scope("catalog"), {"data_row_ids": IDS}, "pk_data_row"),
    "dataset data_row_ids": (Scope("dataset", id=DS_BIG), {"data_row_ids": IDS}, "pk_data_row"),
    "data rows by id": (Scope("data_rows", data_row_ids=tuple(IDS)), {}, "pk_data_row"),
    "data rows by global key": (
        Scope("data_rows", global_keys=tuple(KEYS)),
        {},
        "uq_data_row_org_id_global_key",
    ),
    "dataset scope": (Scope("dataset", id=DS_SMALL), {}, "ix_data_row_dataset_id_created_at_id"),
    "project scope": (
        Scope("project", id=P_FEW),
        {},
        ("pk_project_data_row", "ix_project_data_row_project_id_workflow_status"),
    ),
    "model run scope": (Scope("model_run", id=RUN), {}, "pk_model_run_data_row"),
}


def plan_of(store: Store, org_id: str, scope: Scope, filters: dict[str, Any]) -> str:
    spec = services.export_spec(store, org_id, scope, None, filters)
    with store.read() as conn:
        plan = planning.resolve(conn, org_id, spec)
        query = planning.ordered(plan, conn.dialect.name)
        return "\n".join(r[0] for r in conn.execute(Explain(query)))


@pytest.mark.parametrize("case", list(CASES))
def test_each_filter_reaches_data_rows_through_an_index(
    catalog: tuple[Store, str], case: str
) -> None:
    store, org_id = catalog
    scope, filters, wanted = CASES[case]
    text = plan_of(store, org_id, scope, filters)
    assert not re.search(r"Seq Scan on data_row\b", text), text
    indexes = (wanted,) if isinstance(wanted, str) else wanted
    assert any(f"using {index} on" in text or f"on {index} " in text for index in indexes), text


def test_an_unselective_export_reads_in_order_from_the_index(
    catalog: tuple[Store, str],
) -> None:
    """A whole-scope export walks an export-order index (id part COLLATE "C"): no sort at all,
    so the first rows leave at once however many rows there are."""
    store, org_id = catalog
    ordered = re.compile(r"using ix_data_row_(org|dataset)_id_created_at_id on data_row")
    for scope in (Scope("catalog"), Scope("dataset", id=DS_BIG), Scope("dataset", id=DS_SMALL)):
        text = plan_of(store, org_id, scope, {})
        assert ordered.search(text), text
        assert "Sort" not in text and "Seq Scan" not in text, text


def test_pages_stream_through_a_server_side_cursor(catalog: tuple[Store, str]) -> None:
    store, org_id = catalog
    spec = services.export_spec(store, org_id, Scope("catalog"), None, None)
    with store.read() as conn:
        plan = planning.resolve(conn, org_id, spec)
        pages = planning.pages(conn, plan, size=500)
        first = next(pages)
        cursors = conn.exec_driver_sql("SELECT statement, is_holdable FROM pg_cursors").all()
        second = next(pages)
        rest = sum(len(page) for page in pages)
        after = conn.exec_driver_sql("SELECT count(*) FROM pg_cursors").scalar_one()
    assert len(first) == planning.FIRST_PAGE and len(second) == 500
    assert len(first) + len(second) + rest == ROWS
    assert first[:3] == [row_id(0), row_id(1), row_id(2)]
    # the query is held by a cursor on the server, not read whole into the client
    assert len(cursors) == 1, cursors
    statement, holdable = cursors[0]
    assert statement.lstrip().upper().startswith("DECLARE") and "data_row" in statement
    assert holdable is False
    assert after == 0  # closed once read
