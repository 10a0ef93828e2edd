"""The loader's bulk writer on both stores: COPY on PostgreSQL gives what the statements gave."""

from __future__ import annotations

import io
import threading
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from labelport import services
from labelport.store import Store
from labelport.store import schema as s

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
AWKWARD = [
    "tab\there",
    "new\nline",
    "carriage\rreturn",
    "back\\slash",
    "\\N",  # COPY's NULL marker, as a value
    "\\.",  # COPY's end marker, as a value
    "",
    "quote ' \" , ;",
    "ünïcødé ✓ 漢字 🙂",
    "x" * 1000,
]


@pytest.fixture
def ds(store: Store, org: services.Organization) -> str:
    with store.write() as conn:
        conn.execute(
            s.dataset.insert(),
            {"id": "ds1", "org_id": org.id, "name": "d", "created_at": NOW, "updated_at": NOW},
        )
    return "ds1"


def data_row(org_id: str, n: int, **values: Any) -> dict[str, Any]:
    row = {
        "id": f"row-{n}",
        "org_id": org_id,
        "dataset_id": "ds1",
        "global_key": f"key-{n}",
        "external_id": None,
        "row_data": f"https://media.test/{n}",
        "media_type": "IMAGE",
        "media_attributes": None,
        "attachments": None,
        "created_at": NOW,
        "updated_at": NOW,
        "created_by_id": None,
        "last_activity_at": NOW,
    }
    row.update(values)
    return row


def read(store: Store, table: sa.Table, *columns: str) -> list[tuple[Any, ...]]:
    with store.read() as conn:
        query = sa.select(*(table.c[c] for c in columns)).order_by(table.c[columns[0]])
        return [tuple(r) for r in conn.execute(query)]


def test_awkward_values_arrive_as_given(store: Store, org: services.Organization, ds: str) -> None:
    plus_two = timezone(timedelta(hours=2))
    rows = [
        data_row(
            org.id,
            i,
            external_id=text,
            row_data=text or "-",
            media_attributes={"note": text, "n": i, "f": 0.1, "nested": [None, True]},
            created_at=datetime(2024, 5, 1, 14, 0, 0, 123456, tzinfo=plus_two),
        )
        for i, text in enumerate(AWKWARD)
    ]
    rows.append(data_row(org.id, 99, global_key=None, attachments=[]))
    with store.write() as conn:
        store.bulk(conn).insert(s.data_row, rows)
    back = read(store, s.data_row, "id", "external_id", "row_data", "media_attributes")
    expected = sorted(
        (r["id"], r["external_id"], r["row_data"], r["media_attributes"]) for r in rows
    )
    assert back == expected
    with store.read() as conn:
        created, attachments, key = conn.execute(
            sa.select(s.data_row.c.created_at, s.data_row.c.attachments, s.data_row.c.global_key)
            .where(s.data_row.c.id == "row-0")
            .union_all(
                sa.select(
                    s.data_row.c.created_at, s.data_row.c.attachments, s.data_row.c.global_key
                ).where(s.data_row.c.id == "row-99")
            )
        ).all()[1]
    assert (attachments, key) == ([], None)
    # timestamps are normalized as the column type does: UTC, milliseconds
    assert read(store, s.data_row, "id", "created_at")[0][1] == datetime(
        2024, 5, 1, 12, 0, 0, 123000, tzinfo=UTC
    )
    assert created == NOW


def test_upsert_updates_or_keeps_and_a_repeated_key_acts_in_order(
    store: Store, org: services.Organization, ds: str
) -> None:
    with store.write() as conn:
        store.bulk(conn).insert(s.data_row, [data_row(org.id, 1, external_id="old")])
    with store.write() as conn:
        bulk = store.bulk(conn)
        bulk.upsert(
            s.data_row,
            [
                data_row(org.id, 1, external_id="first"),
                data_row(org.id, 2, external_id="a"),
                data_row(org.id, 2, external_id="b"),  # the same key again: the later wins
            ],
            ["id"],
        )
        # a second call in the same transaction (the staging table is reused)
        bulk.upsert(s.data_row, [data_row(org.id, 3, external_id="c")], ["id"])
    assert read(store, s.data_row, "id", "external_id") == [
        ("row-1", "first"),
        ("row-2", "b"),
        ("row-3", "c"),
    ]
    with store.write() as conn:
        store.bulk(conn).upsert(
            s.data_row,
            [
                data_row(org.id, 1, external_id="ignored"),
                data_row(org.id, 4, external_id="kept"),
                data_row(org.id, 4, external_id="dropped"),  # do-nothing: the first stays
            ],
            ["id"],
            update=False,
        )
    assert read(store, s.data_row, "id", "external_id") == [
        ("row-1", "first"),
        ("row-2", "b"),
        ("row-3", "c"),
        ("row-4", "kept"),
    ]


def test_delete_pairs_removes_exactly_those_pairs(
    store: Store, org: services.Organization, ds: str
) -> None:
    runs = ["run-a", "run-b"]
    with store.write() as conn:
        bulk = store.bulk(conn)
        bulk.insert(s.data_row, [data_row(org.id, n) for n in (1, 2)])
        conn.execute(
            s.model.insert(), {"id": "m", "org_id": org.id, "name": "m"} | {"created_at": NOW}
        )
        for run in runs:
            conn.execute(
                s.model_run.insert(),
                {"id": run, "org_id": org.id, "model_id": "m", "name": run}
                | {"created_at": NOW, "updated_at": NOW},
            )
        bulk.insert(
            s.model_run_data_row,
            [
                {
                    "model_run_id": run,
                    "data_row_id": f"row-{n}",
                    "run_data_row_id": f"{run}-{n}",
                    "split": None,
                    "position": 0,
                }
                for run in runs
                for n in (1, 2)
            ],
        )
    with store.write() as conn:
        # (a, 1) and (b, 2) go; the crossed pairs (a, 2) and (b, 1) stay
        store.bulk(conn).delete_pairs(
            s.model_run_data_row,
            ("model_run_id", "data_row_id"),
            [("run-a", "row-1"), ("run-b", "row-2"), ("run-a", "row-9")],
        )
        store.bulk(conn).delete_pairs(s.model_run_data_row, ("model_run_id", "data_row_id"), [])
    assert read(store, s.model_run_data_row, "run_data_row_id") == [("run-a-2",), ("run-b-1",)]


def test_a_duplicate_key_is_the_database_error_sqlalchemy_raises(
    store: Store, org: services.Organization, ds: str
) -> None:
    with pytest.raises(sa.exc.IntegrityError), store.write() as conn:
        store.bulk(conn).insert(s.data_row, [data_row(org.id, 1), data_row(org.id, 1)])
    assert read(store, s.data_row, "id") == []


ONLY_POSTGRES = pytest.mark.parametrize(
    "database", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


@ONLY_POSTGRES
def test_concurrent_upserts_of_the_same_new_rows_wait_and_update(
    store: Store, org: services.Organization, ds: str, database: Any
) -> None:
    """A second import of the same new rows waits for the first and updates (no key error)."""
    first_in = threading.Event()
    outcome: dict[str, Any] = {}

    def second() -> None:
        first_in.wait(10)
        try:
            with store.write() as conn:
                store.bulk(conn).upsert(
                    s.data_row, [data_row(org.id, n, external_id="second") for n in (1, 2)], ["id"]
                )
            outcome["ok"] = True
        except Exception as exc:  # pragma: no cover - reported below
            outcome["error"] = exc

    thread = threading.Thread(target=second)
    thread.start()
    with store.write() as conn:
        store.bulk(conn).upsert(
            s.data_row, [data_row(org.id, n, external_id="first") for n in (1, 2)], ["id"]
        )
        first_in.set()
        thread.join(0.5)
        assert thread.is_alive()  # it waits on our uncommitted rows
    thread.join(10)
    assert outcome == {"ok": True}
    assert read(store, s.data_row, "id", "external_id") == [
        ("row-1", "second"),
        ("row-2", "second"),
    ]


@ONLY_POSTGRES
def test_imports_on_postgres_copy_instead_of_a_statement_per_row(
    store: Store, org: services.Organization, database: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg

    copies: list[str] = []
    executemany: list[str] = []
    real_copy, real_executemany = psycopg.Cursor.copy, psycopg.Cursor.executemany

    def copy(self: Any, statement: Any, *args: Any, **kwargs: Any) -> Any:
        copies.append(str(statement))
        return real_copy(self, statement, *args, **kwargs)

    def many(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        executemany.append(str(query))
        return real_executemany(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "copy", copy)
    monkeypatch.setattr(psycopg.Cursor, "executemany", many)
    rows = [_row(n) for n in range(700)]  # two batches
    body = b"".join(orjson.dumps(r) + b"\n" for r in rows)
    for _ in range(2):  # a first import and an idempotent second one
        result = services.import_labelbox(store, org.id, io.BytesIO(body), file="in.ndjson")
        assert (result.rows, result.labels) == (700, 700)
    targets = {c.split()[1].strip('"') for c in copies}
    assert {
        "lp_stage_data_row",
        "lp_stage_label",
        "lp_stage_project_data_row",
        "data_row_metadata",
        "workflow_history",
    } <= targets
    assert executemany == []  # no statement per row
    counts = services.stats(store, org.id)
    assert (counts["data rows"], counts["labels"], counts["project data rows"]) == (700, 700, 700)


def _row(n: int) -> dict[str, Any]:
    return {
        "data_row": {
            "id": f"crow{n:021d}",
            "global_key": f"img-{n}.jpg",
            "row_data": f"https://media.test/{n}.jpg",
            "details": {"dataset_name": "street", "created_at": "2024-01-01T00:00:00.000+00:00"},
        },
        "media_attributes": {"mime_type": "image/jpeg"},
        "metadata_fields": [{"schema_name": "tod", "value": "noon\tand\nnight"}],
        "projects": {
            "cprojaaaaaaaaaaaaaaaaaaaa": {
                "name": "boxes",
                "labels": [
                    {
                        "id": f"clab{n:021d}",
                        "annotations": {"objects": [], "classifications": [], "relationships": []},
                    }
                ],
                "project_details": {
                    "workflow_status": "DONE",
                    "workflow_history": [
                        {
                            "action": "Approve",
                            "created_at": "2024-01-02T00:00:00.000+00:00",
                            "created_by": "rev@acme.test",
                        }
                    ],
                },
            }
        },
    }


def test_two_writers_in_one_transaction(store: Store, org: services.Organization, ds: str) -> None:
    with store.write() as conn:
        store.bulk(conn).upsert(s.data_row, [data_row(org.id, 1, external_id="a")], ["id"])
        store.bulk(conn).upsert(s.data_row, [data_row(org.id, 2, external_id="b")], ["id"])
    assert read(store, s.data_row, "id", "external_id") == [("row-1", "a"), ("row-2", "b")]
    with store.write() as conn:  # a new transaction: the staging table starts again
        store.bulk(conn).upsert(s.data_row, [data_row(org.id, 1, external_id="c")], ["id"])
    assert read(store, s.data_row, "id", "external_id") == [("row-1", "c"), ("row-2", "b")]
