"""The schema on both stores. (Catalogs of earlier versions and their upgrade to the head:
test_migrations.py.)"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone

import sqlalchemy as sa

from labelport import services
from labelport.store import migrations, open_store
from labelport.store import schema as s


def test_migrated_to_head_and_reopen_is_a_noop(store, database):
    assert store.version() == migrations.HEAD
    again = open_store(database.url)
    assert again.upgrade() == []
    again.dispose()


def test_every_table_exists(store):
    with store.read() as conn:
        tables = set(sa.inspect(conn).get_table_names())
    assert set(s.metadata.tables) <= tables


def _indexed_columns(conn, table):
    return [tuple(ix["column_names"]) for ix in sa.inspect(conn).get_indexes(table)] + [
        tuple(uq["column_names"]) for uq in sa.inspect(conn).get_unique_constraints(table)
    ]


def test_indexes_for_every_export_filter(store):
    with store.read() as conn:
        data_row = _indexed_columns(conn, "data_row")
        label = _indexed_columns(conn, "label")
        pdr = _indexed_columns(conn, "project_data_row")
    assert ("org_id", "global_key") in data_row
    assert ("org_id", "last_activity_at") in data_row
    assert ("dataset_id", "created_at", "id") in data_row
    assert ("org_id", "created_at") in label
    assert ("project_id", "workflow_status") in pdr
    assert ("batch_id",) in pdr
    assert ("data_row_id",) in pdr


def test_timestamps_are_utc_with_milliseconds(store):
    plus_two = timezone(timedelta(hours=2))
    when = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=plus_two)
    with store.write() as conn:
        conn.execute(s.organization.insert(), {"id": "o1", "name": "o", "created_at": when})
    with store.read() as conn:
        back = conn.execute(sa.select(s.organization.c.created_at)).scalar_one()
    assert back == datetime(2024, 5, 1, 10, 0, 0, 123000, tzinfo=UTC)
    assert back.tzinfo is not None


def test_write_rolls_back_on_error(store):
    try:
        with store.write() as conn:
            conn.execute(
                s.organization.insert(), {"id": "o1", "name": "o", "created_at": datetime.now(UTC)}
            )
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    with store.read() as conn:
        assert (
            conn.execute(sa.select(sa.func.count()).select_from(s.organization)).scalar_one() == 0
        )


def test_a_large_write_has_a_large_sqlite_page_cache_and_gives_it_back(store, monkeypatch):
    import labelport.store as store_module

    sizes = []
    real = store_module.Store.write

    def write(self, **kw):  # the cache size inside each write transaction
        with real(self, **kw) as conn:
            if self.is_sqlite:
                sizes.append(conn.exec_driver_sql("PRAGMA cache_size").scalar())
            yield conn

    monkeypatch.setattr(store_module.Store, "write", contextmanager(write))
    from tests.factories import import_rows, simple_row

    org = services.create_organization(store, "acme")
    import_rows(store, org.id, [simple_row(0)])  # imports write large
    with store.write():
        pass
    if store.is_sqlite:
        assert -store_module.LARGE_CACHE_KIB in sizes
        assert sizes[-1] == store_module.SQLITE_DEFAULT_CACHE  # given back
        assert store_module.LARGE_CACHE_KIB > -store_module.SQLITE_DEFAULT_CACHE


def _indexdef(conn, name):
    if conn.dialect.name == "sqlite":
        return conn.execute(
            sa.text("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = :n"), {"n": name}
        ).scalar_one_or_none()
    return conn.execute(
        sa.text(
            "SELECT indexdef FROM pg_indexes WHERE indexname = :n AND schemaname = current_schema()"
        ),
        {"n": name},
    ).scalar_one_or_none()


def test_a_new_catalog_has_the_export_order_indexes(store, database):
    with store.read() as conn:
        definition = _indexdef(conn, "ix_data_row_org_id_created_at_id")
        label_index = _indexdef(conn, "ix_label_project_id_created_at")
    assert definition is not None and label_index is not None
    assert ('COLLATE "C"' in definition) == (database.kind == "postgres"), definition
