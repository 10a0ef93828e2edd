"""Catalogs made by every earlier schema version, upgraded to the head, are new catalogs.

Each file in ``catalogs/`` holds the statements an earlier labelport ran to make a new catalog
(``make_catalogs.py`` wrote them from the git history, per version and dialect). A test replays
one, puts a few rows in it, opens it (which migrates it) and compares it with a catalog made new
by the revisions: the same tables, columns (type, nullability, default), keys, indexes,
constraints, triggers (and on PostgreSQL trigger functions and storage settings), and the rows
are still there. A new catalog in turn is compared with the live schema (``schema.py`` and
``triggers.py``): a change to either without a revision fails here.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from labelport.store import Store, migrations, open_store, triggers
from labelport.store import schema as s
from tests.conftest import Database

CATALOGS = Path(__file__).with_name("catalogs")
KINDS = {"sqlite": "sqlite", "postgresql": "postgres"}  # file dialect -> Database kind


def _catalog_params() -> list[Any]:
    params = []
    for path in sorted(CATALOGS.glob("v*.sql")):
        name, dialect = path.name.removesuffix(".sql").rsplit(".", 1)
        marks = [pytest.mark.postgres] if dialect == "postgresql" else []
        params.append(pytest.param(path, id=f"{name}-{dialect}", marks=marks))
    return params


def statements(path: Path) -> list[str]:
    """The blocks of a .sql file (each ended by a line holding ``;``), comment lines dropped."""
    out = []
    for block in path.read_text().split("\n;\n"):
        lines = [line for line in block.strip().splitlines() if not line.startswith("--")]
        if lines:
            out.append("\n".join(lines))
    return out


def _version_of(path: Path) -> int:
    return int(path.name[1:3])


@pytest.fixture
def made(request: pytest.FixtureRequest, tmp_path: Path):
    """(the catalog file, a database holding what it made); ``request.param`` is the file."""
    path = request.param
    db = Database(KINDS[path.name.removesuffix(".sql").rsplit(".", 1)[1]], tmp_path)
    st = open_store(db.url, migrate=False)
    try:
        with st.write() as conn:
            for statement in statements(path):
                conn.exec_driver_sql(statement)
        yield path, db, st
    finally:
        st.dispose()
        db.drop()


# ---------------------------------------------------------------- what a catalog is made of


def _sql(text: str | None, schema: str | None) -> str | None:
    if text is None:
        return None
    if schema:
        text = text.replace(f'"{schema}".', "").replace(f"{schema}.", "")
    return " ".join(text.split())


def _default(value: str | None) -> str | None:
    """A column default as both dialects spell it whichever way it was written: ``DEFAULT 0``
    (a migration's ALTER) and ``DEFAULT '0'`` (SQLAlchemy's DDL) are the same default."""
    return None if value is None else value.strip("()").strip("'\"")


def describe(conn: sa.Connection) -> dict[str, Any]:
    """Everything that makes the catalog's schema, as comparable values."""
    inspector = sa.inspect(conn)
    dialect = conn.dialect
    schema = conn.exec_driver_sql("SELECT current_schema()").scalar() if _pg(conn) else None
    out: dict[str, Any] = {}
    for table in sorted(inspector.get_table_names()):
        out[table] = {
            "columns": {
                c["name"]: (
                    c["type"].compile(dialect=dialect),
                    c["nullable"],
                    _default(c["default"]),
                )
                for c in inspector.get_columns(table)
            },
            "primary key": inspector.get_pk_constraint(table)["constrained_columns"],
            "foreign keys": sorted(
                (tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]))
                for f in inspector.get_foreign_keys(table)
            ),
            "unique": sorted(
                (u["name"], tuple(u["column_names"]))
                for u in inspector.get_unique_constraints(table)
            ),
            "checks": sorted(
                (c["name"], _sql(c["sqltext"], schema))
                for c in inspector.get_check_constraints(table)
            ),
        }
    if _pg(conn):
        out["indexes"] = _rows(
            conn,
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()",
            schema,
        )
        out["triggers"] = _rows(
            conn,
            "SELECT t.tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t"
            " JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE NOT t.tgisinternal AND n.nspname = current_schema()",
            schema,
        )
        out["functions"] = _rows(
            conn,
            "SELECT p.proname, pg_get_functiondef(p.oid) FROM pg_proc p"
            " JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = current_schema()",
            schema,
        )
        out["storage"] = _rows(
            conn,
            "SELECT c.relname, array_to_string(c.reloptions, ',') FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = current_schema() AND c.reloptions IS NOT NULL",
            schema,
        )
    else:
        for kind in ("index", "trigger"):
            out[f"{kind}es" if kind == "index" else "triggers"] = _rows(
                conn,
                "SELECT name, tbl_name || ': ' || sql FROM sqlite_master"
                f" WHERE type = '{kind}' AND sql IS NOT NULL",
                None,
            )
    return out


def _pg(conn: sa.Connection) -> bool:
    return conn.dialect.name == "postgresql"


def _rows(conn: sa.Connection, query: str, schema: str | None) -> dict[str, str | None]:
    return {name: _sql(text, schema) for name, text in conn.exec_driver_sql(query).all()}


def _differences(got: dict[str, Any], want: dict[str, Any]) -> list[str]:
    out = []
    for key in sorted(got.keys() | want.keys()):
        if key not in got or key not in want:
            out.append(f"{key}: only in the {'new' if key in want else 'upgraded'} catalog")
        elif isinstance(want[key], dict):
            out += [f"{key}.{d}" for d in _differences(got[key], want[key])]
        elif got[key] != want[key]:
            out.append(f"{key}: upgraded {got[key]!r}, new {want[key]!r}")
    return out


_NEW: dict[str, dict[str, Any]] = {}  # dialect -> describe() of a new catalog


def new_catalog(kind: str, tmp_path: Path) -> dict[str, Any]:
    if kind not in _NEW:
        db = Database(kind, tmp_path / "new")
        st = open_store(db.url)
        try:
            with st.read() as conn:
                _NEW[kind] = describe(conn)
        finally:
            st.dispose()
            db.drop()
    return _NEW[kind]


# ---------------------------------------------------------------- a few rows of every version

WHEN = datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=UTC)
ROWS: tuple[tuple[str, dict[str, Any]], ...] = (  # in the order they go in
    ("organization", {"id": "o1", "name": "acme", "timezone": "UTC", "created_at": WHEN}),
    (
        "app_user",
        {"id": "u1", "org_id": "o1", "email": "a@x.test", "role": "admin", "created_at": WHEN},
    ),
    (
        "dataset",
        {
            "id": "d1",
            "org_id": "o1",
            "name": "images",
            "created_at": WHEN,
            "updated_at": WHEN,
            "created_by_id": "u1",
            "labels": {"team": "a"},
            "kind": "image",
        },
    ),
    (
        "data_row",
        {
            "id": "r1",
            "org_id": "o1",
            "dataset_id": "d1",
            "global_key": "g1",
            "row_data": "https://x.test/1.jpg",
            "media_type": "IMAGE",
            "media_attributes": {"width": 10},
            "created_at": WHEN,
            "updated_at": WHEN,
            "created_by_id": "u1",
            "last_activity_at": WHEN,
        },
    ),
    (
        "ontology",
        {"id": "n1", "org_id": "o1", "name": "cars", "created_at": WHEN, "updated_at": WHEN},
    ),
    (
        "project",
        {
            "id": "p1",
            "org_id": "o1",
            "name": "boxes",
            "ontology_id": "n1",
            "tags": ["a"],
            "created_at": WHEN,
            "updated_at": WHEN,
        },
    ),
    ("batch", {"id": "b1", "org_id": "o1", "project_id": "p1", "name": "b", "created_at": WHEN}),
    (
        "project_data_row",
        {
            "project_id": "p1",
            "data_row_id": "r1",
            "workflow_status": "DONE",
            "priority": 2,
            "batch_id": "b1",
            "position": 0,
            "updated_at": WHEN,
        },
    ),
    (
        "label",
        {
            "id": "l1",
            "org_id": "o1",
            "project_id": "p1",
            "data_row_id": "r1",
            "position": 0,
            "label_kind": "Default",
            "version": "1.0.0",
            "annotations": {"objects": [{"name": "car"}]},
            "created_at": WHEN,
            "updated_at": WHEN,
            "reviews": [],
            "seconds_to_create": 1.5,
        },
    ),
    (
        "export_task",
        {
            "id": "t1",
            "org_id": "o1",
            "scope_kind": "project",
            "scope_id": "p1",
            "params": {"labels": True},
            "filters": {},
            "format": "labelbox",
            "fingerprint": "f" * 64,
            "status": "COMPLETE",
            "progress_done": 1,
            "archived": False,
            "created_at": WHEN,
            "updated_at": WHEN,
            "scope": {"project_id": "p1"},
            "timezone": "UTC",
        },
    ),
    (
        "export_cache",  # from version 7 on (version 6's entries go at 7, by design)
        {"data_row_id": "r1", "org_id": "o1", "tally": b"t", "layout": b"l", "line": b"{}"},
    ),
)


def put_rows(conn: sa.Connection) -> list[tuple[str, dict[str, Any]]]:
    """Insert the rows of :data:`ROWS` that the catalog's version can hold (the columns it has);
    returns what went in."""
    inspector = sa.inspect(conn)
    written = []
    for name, row in ROWS:
        if not inspector.has_table(name):
            continue
        columns = {c["name"]: c for c in inspector.get_columns(name)}
        kept = {k: v for k, v in row.items() if k in columns}
        required = {n for n, c in columns.items() if not c["nullable"] and c["default"] is None}
        if not required <= kept.keys():
            continue
        conn.execute(s.metadata.tables[name].insert(), kept)
        written.append((name, kept))
    return written


def read_back(conn: sa.Connection, name: str, row: dict[str, Any]) -> dict[str, Any] | None:
    table = s.metadata.tables[name]
    key = [table.c[c.name] == row[c.name] for c in table.primary_key.columns]
    found = conn.execute(sa.select(*(table.c[k] for k in row)).where(*key)).mappings().first()
    return None if found is None else dict(found)


# ---------------------------------------------------------------- the tests


@pytest.mark.parametrize("made", _catalog_params(), indirect=True)
def test_an_earlier_catalog_upgrades_to_what_a_new_one_is(made, tmp_path):
    path, db, st = made
    version = _version_of(path)
    with st.write() as conn:
        written = put_rows(conn)
        if version == 6:  # an entry of version 6's layout: it goes at 7 (db upgrade builds anew)
            conn.exec_driver_sql(
                "INSERT INTO export_cache (data_row_id, org_id, body) VALUES ('r1', 'o1', 'old')"
            )
    assert st.version() == f"{version:04d}"
    assert {name for name, _ in written} >= {"organization", "data_row", "label", "export_task"}

    upgraded = open_store(db.url)  # opening migrates
    try:
        assert upgraded.version() == migrations.HEAD
        with upgraded.read() as conn:
            shape = describe(conn)
            assert [read_back(conn, name, row) for name, row in written] == [
                row for _, row in written
            ]
            history = conn.exec_driver_sql("SELECT version FROM schema_version").scalars().all()
            entries = conn.execute(sa.select(s.export_cache.c.data_row_id)).scalars().all()
        assert entries == (["r1"] if version >= 7 else [])
        assert max(history) == 10 and sorted(history) == sorted(set(history))
        differences = _differences(shape, new_catalog(db.kind, tmp_path))
        assert not differences, "\n".join(differences)
        _forgets_when_its_row_changes(upgraded)
        assert upgraded.upgrade() == []  # and once is enough
    finally:
        upgraded.dispose()


def _forgets_when_its_row_changes(st: Store) -> None:
    """The export-ready triggers work on the upgraded catalog: an entry goes when its row does."""
    entry = {"data_row_id": "r1", "org_id": "o1", "tally": b"", "layout": b"", "line": b""}
    with st.write() as conn:
        conn.execute(s.export_cache.delete())
        conn.execute(s.export_cache.insert(), entry)
        conn.execute(s.project.update().values(name="renamed"))  # a name trigger
    with st.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(s.export_cache)).scalar() == 0


def test_a_new_catalog_is_the_live_schema(database, tmp_path):
    """The revisions make what schema.py and triggers.py declare: a change to either needs a
    revision (docs/dev/migrations.md)."""
    live = Database(database.kind, tmp_path / "live")
    st = open_store(live.url, migrate=False)
    try:
        with st.write() as conn:
            s.metadata.create_all(conn)
            triggers.install(conn)
        with st.read() as conn:
            declared = describe(conn)
    finally:
        st.dispose()
        live.drop()
    made = dict(new_catalog(database.kind, tmp_path))
    assert made.pop("alembic_version")["columns"].keys() == {"version_num"}
    made["indexes"] = {k: v for k, v in made["indexes"].items() if "alembic" not in k}
    differences = _differences(made, declared)
    assert not differences, "\n".join(differences)


def test_a_new_catalog_is_at_the_head_and_its_history_starts_at_the_baseline(store):
    assert store.version() == migrations.HEAD
    with store.read() as conn:
        assert migrations.revision(conn) == migrations.HEAD
        history = conn.exec_driver_sql("SELECT version FROM schema_version").scalars().all()
    assert history == [10]  # the legacy table ends at 10 in every catalog


@pytest.mark.parametrize("made", [p for p in _catalog_params() if "v03-" in p.id], indirect=True)
def test_db_upgrade_names_the_versions_it_applies(made, tmp_path):
    from click.testing import CliRunner

    from labelport.cli import cli

    _path, db, _st = made
    env = {"LABELPORT_DATABASE_URL": db.url, "LABELPORT_HOME": str(tmp_path / "home")}
    result = CliRunner().invoke(cli, ["db", "upgrade"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    applied = ", ".join(f"{n:04d}" for n in range(4, 11))
    assert f"applied migration(s) {applied} to a catalog at version 0003" in result.output
    assert f"schema at version {migrations.HEAD}" in result.output
    again = CliRunner().invoke(cli, ["db", "upgrade"], env=env, catch_exceptions=False)
    assert f"schema already at version {migrations.HEAD}" in again.output


def test_a_catalog_newer_than_this_labelport_is_refused_with_its_version(store, database):
    from labelport.errors import ConfigurationError

    with store.write() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(ConfigurationError, match="at schema version 9999"):
        open_store(database.url)


@pytest.mark.parametrize("made", [p for p in _catalog_params() if "v02-" in p.id], indirect=True)
def test_a_failed_migration_changes_nothing(made):
    """Every step runs in the one write transaction: a failure leaves the catalog as it was."""
    from labelport.errors import ConfigurationError

    _path, db, st = made
    with st.write() as conn:  # in the way of migration 3, after it has altered export_task
        conn.exec_driver_sql("CREATE TABLE import_task (id VARCHAR(64) PRIMARY KEY)")
    with pytest.raises((ConfigurationError, sa.exc.DBAPIError), match="import_task"):
        open_store(db.url)
    assert st.version() == "0002"
    with st.read() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("export_task")}
        assert "options" not in columns
        assert not sa.inspect(conn).has_table("alembic_version")


def test_catalog_files_cover_every_earlier_version():
    versions = {(_version_of(p), p.name.rsplit(".", 2)[1]) for p in CATALOGS.glob("v*.sql")}
    for dialect in ("sqlite", "postgresql"):
        expected = set(range(1, 11)) - ({8} if dialect == "sqlite" else set())  # see the files
        assert {v for v, d in versions if d == dialect} == expected
    assert re.fullmatch(r"\d{4}", migrations.HEAD)


@pytest.mark.postgres
def test_processes_opening_a_new_catalog_at_once_all_get_it(tmp_path):
    """A server and its workers may open a new PostgreSQL catalog at the same moment: one
    migrates it, the others wait for it (an advisory lock) and find it done."""
    from concurrent.futures import ThreadPoolExecutor

    db = Database("postgres", tmp_path)

    def opened(_n: int) -> str | None:
        st = open_store(db.url)
        try:
            return st.version()
        finally:
            st.dispose()

    try:
        with ThreadPoolExecutor(4) as pool:
            assert list(pool.map(opened, range(4))) == [migrations.HEAD] * 4
    finally:
        db.drop()
