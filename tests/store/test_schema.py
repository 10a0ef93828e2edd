"""Schema and migrations on both stores."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone

import pytest
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


def test_a_version_1_catalog_is_brought_to_head(store, database):
    with store.write() as conn:  # make it look like a catalog written by version 1
        conn.execute(sa.text("ALTER TABLE export_task DROP COLUMN scope"))
        conn.execute(sa.text("ALTER TABLE export_task DROP COLUMN timezone"))
        for column in ("options", "output", "attempts", "heartbeat_at"):
            conn.execute(sa.text(f"ALTER TABLE export_task DROP COLUMN {column}"))
        conn.execute(sa.text("ALTER TABLE dataset DROP COLUMN labels"))
        conn.execute(sa.text("ALTER TABLE dataset DROP COLUMN kind"))
        conn.execute(sa.text("DROP TABLE import_task"))
        conn.execute(sa.text("DROP TABLE export_shard"))
        conn.execute(sa.text("DROP TABLE export_cache"))
        conn.execute(sa.text("UPDATE schema_version SET version = 1"))
    assert store.version() == 1
    again = open_store(database.url)
    assert again.version() == migrations.HEAD
    with again.read() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("export_task")}
        dataset_columns = {c["name"] for c in sa.inspect(conn).get_columns("dataset")}
        has_imports = sa.inspect(conn).has_table("import_task")
        has_shards = sa.inspect(conn).has_table("export_shard")
        has_cache = sa.inspect(conn).has_table("export_cache")
    again.dispose()
    assert {"scope", "timezone", "options", "output", "attempts", "heartbeat_at"} <= columns
    assert {"labels", "kind"} <= dataset_columns
    assert has_imports and has_shards and has_cache


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


def test_a_version_3_catalog_gets_the_export_indexes(store, database):
    with store.write() as conn:  # the indexes as version 3 made them
        conn.execute(sa.text("DROP INDEX ix_label_project_id_created_at"))
        for first in ("dataset_id", "org_id"):
            name = f"ix_data_row_{first}_created_at_id"
            conn.execute(sa.text(f"DROP INDEX {name}"))
            conn.execute(sa.text(f"CREATE INDEX {name} ON data_row ({first}, created_at, id)"))
        conn.execute(sa.text("DROP TABLE export_shard"))
        conn.execute(sa.text("DROP TABLE export_cache"))
        conn.execute(sa.text("UPDATE schema_version SET version = 3"))
    assert store.version() == 3
    again = open_store(database.url)
    try:
        assert again.version() == migrations.HEAD
        with again.read() as conn:
            label_index = _indexdef(conn, "ix_label_project_id_created_at")
            order = [
                _indexdef(conn, f"ix_data_row_{c}_created_at_id") for c in ("dataset_id", "org_id")
            ]
    finally:
        again.dispose()
    assert label_index is not None and "project_id, created_at" in label_index
    for definition in order:
        assert definition is not None
        # byte order of ids on PostgreSQL, where the database's collation would not give it
        assert ('COLLATE "C"' in definition) == (database.kind == "postgres"), definition


def test_a_new_catalog_has_the_export_order_indexes(store, database):
    with store.read() as conn:
        definition = _indexdef(conn, "ix_data_row_org_id_created_at_id")
        label_index = _indexdef(conn, "ix_label_project_id_created_at")
    assert definition is not None and label_index is not None
    assert ('COLLATE "C"' in definition) == (database.kind == "postgres"), definition


def test_a_version_6_catalog_drops_its_old_entries_and_keeps_forgetting(store, database, org):
    from tests.factories import import_rows, simple_row

    import_rows(store, org.id, [simple_row(n) for n in range(3)])
    with store.write() as conn:  # export_cache as version 6 made it, with an entry of then
        conn.execute(sa.text("DROP TABLE export_cache"))
        conn.execute(
            sa.text(
                "CREATE TABLE export_cache (data_row_id VARCHAR(64) PRIMARY KEY,"
                f" org_id VARCHAR(64) NOT NULL, body {_binary(conn)} NOT NULL)"
            )
        )
        first = conn.execute(sa.select(s.data_row.c.id).order_by(s.data_row.c.id)).scalar()
        conn.execute(
            sa.text("INSERT INTO export_cache VALUES (:r, :o, :b)"),
            {"r": first, "o": org.id, "b": b"old layout"},
        )
        conn.execute(sa.text("UPDATE schema_version SET version = 6"))
    again = open_store(database.url)
    try:
        assert again.version() == migrations.HEAD
        with again.read() as conn:
            columns = {c["name"] for c in sa.inspect(conn).get_columns("export_cache")}
            assert columns == {"data_row_id", "org_id", "tally", "layout", "line", "source"}
            emptied = conn.execute(sa.select(sa.func.count()).select_from(s.export_cache))
            assert emptied.scalar() == 0
        with again.write() as conn:  # an entry of the new layout, then its row changes
            conn.execute(
                s.export_cache.insert(),
                {"data_row_id": first, "org_id": org.id, "tally": b"", "layout": b"", "line": b""},
            )
            conn.execute(
                s.data_row.update().where(s.data_row.c.id == first).values(global_key="renamed")
            )
            left = conn.execute(sa.select(sa.func.count()).select_from(s.export_cache)).scalar()
        assert left == 0  # the triggers still forget it
    finally:
        again.dispose()


def _binary(conn: sa.Connection) -> str:
    return "BLOB" if conn.dialect.name == "sqlite" else "BYTEA"


def test_a_version_8_catalog_gets_the_alias_table(store, database, org):
    with store.write() as conn:  # external_alias did not exist before version 9
        conn.execute(sa.text("DROP TABLE external_alias"))
        conn.execute(sa.text("UPDATE schema_version SET version = 8"))
    again = open_store(database.url)
    try:
        assert again.version() == migrations.HEAD
        with again.read() as conn:
            inspector = sa.inspect(conn)
            columns = {c["name"]: c["nullable"] for c in inspector.get_columns("external_alias")}
            key = inspector.get_pk_constraint("external_alias")["constrained_columns"]
            indexes = [tuple(ix["column_names"]) for ix in inspector.get_indexes("external_alias")]
        assert columns == {"org_id": False, "kind": False, "alias": False, "target_id": False}
        assert columns.keys() == {c.name for c in s.external_alias.columns}  # as schema.py says
        assert key == ["org_id", "kind", "alias"]
        assert ("org_id", "kind", "target_id") in indexes
        alias = {"org_id": org.id, "kind": "diffgram_job", "alias": "7", "target_id": "c1"}
        with again.write() as conn:
            conn.execute(s.external_alias.insert(), alias)
        with pytest.raises(sa.exc.IntegrityError), again.write() as conn:  # one per org and kind
            conn.execute(s.external_alias.insert(), {**alias, "target_id": "c2"})
    finally:
        again.dispose()
