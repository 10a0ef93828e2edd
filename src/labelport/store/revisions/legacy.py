"""The migrations from before Alembic, frozen: they bring a catalog stamped 1–9 in its
``schema_version`` table to version 10, which is what the baseline revision (0010) makes.

Until Alembic, a new catalog was ``schema.metadata.create_all`` of its day stamped with the
newest version, and each migration here was a step from one version to the next. The steps used
to build tables from the live schema (``schema.import_task.create``...), so that a later edit of
``schema.py`` changed what an old step built; here every table, index and trigger is written out
as its version had it, and nothing comes from :mod:`labelport.store.schema`.

Triggers: migrations 6, 7 and 8 installed the export-ready triggers of ``triggers.py``, which did
not change from version 6 to 10 but for PostgreSQL's ``toast_tuple_target`` on
``export_cache`` (added at version 6 without a migration; migration 7 re-made the table). So the
steps here leave them out and :func:`upgrade` installs version 10's, once, after the last step.
That also mends migration 8 on SQLite, which as written failed on every catalog that had the
triggers: its rebuild of ``project_data_row`` renamed a table that other tables' triggers name
(SQLite checks them on ``RENAME``), so no SQLite catalog from before version 8 could be upgraded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

LEGACY_HEAD = 10  # the version the baseline revision stands for

Step = Callable[[sa.Connection], None]

_ID = sa.String(64)
_TIMESTAMP = sa.DateTime(timezone=True)  # labelport.store.types.Timestamp's DDL
_JSON = sa.Text  # labelport.store.types.JsonText's DDL


def _metadata(*referred: str) -> sa.MetaData:
    """A MetaData of its own for one version's tables, with the naming convention of the schema
    and stubs of the tables they refer to (created never)."""
    metadata = sa.MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    for name in referred:
        sa.Table(name, metadata, sa.Column("id", _ID, primary_key=True))
    return metadata


def _fk(column: str, target: str, **kw: Any) -> sa.Column[Any]:
    return sa.Column(column, _ID, sa.ForeignKey(target), **kw)


def _count(name: str) -> sa.Column[Any]:
    return sa.Column(name, sa.BigInteger, nullable=False, server_default="0")


def _export_scope(conn: sa.Connection) -> None:
    """2: export tasks keep their whole scope and timezone."""
    conn.exec_driver_sql("ALTER TABLE export_task ADD COLUMN scope TEXT")
    conn.exec_driver_sql("ALTER TABLE export_task ADD COLUMN timezone VARCHAR(64)")


_IMPORT_TASK_3 = sa.Table(
    "import_task",
    _metadata("organization", "app_user"),
    sa.Column("id", _ID, primary_key=True),
    _fk("org_id", "organization.id", nullable=False),
    _fk("created_by_id", "app_user.id"),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("options", _JSON, nullable=False),
    sa.Column("file_name", sa.String(1000), nullable=False),
    sa.Column("location", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("bytes_total", sa.BigInteger, nullable=False),
    _count("bytes_done"),
    _count("rows_done"),
    sa.Column("summary", _JSON),
    sa.Column("errors", _JSON),
    _count("error_count"),
    sa.Column("error_message", sa.Text),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("heartbeat_at", _TIMESTAMP),
    sa.Column("created_at", _TIMESTAMP, nullable=False),
    sa.Column("updated_at", _TIMESTAMP, nullable=False),
    sa.Column("started_at", _TIMESTAMP),
    sa.Column("finished_at", _TIMESTAMP),
    sa.Index(None, "org_id", "created_at"),
    sa.Index(None, "status"),
)


def _server(conn: sa.Connection) -> None:
    """3: server: task options, output and recovery; dataset labels and kind; import tasks."""
    timestamp = _TIMESTAMP.compile(dialect=conn.dialect)
    for column in (
        "export_task ADD COLUMN options TEXT",
        "export_task ADD COLUMN output TEXT",
        "export_task ADD COLUMN attempts INTEGER DEFAULT 0 NOT NULL",
        f"export_task ADD COLUMN heartbeat_at {timestamp}",
        "dataset ADD COLUMN labels TEXT",
        "dataset ADD COLUMN kind VARCHAR(16)",
    ):
        conn.exec_driver_sql(f"ALTER TABLE {column}")
    _IMPORT_TASK_3.create(conn)


def _export_indexes(conn: sa.Connection) -> None:
    """4: indexes for export filters and order at scale: labels by project and creation time;
    on PostgreSQL the export-order indexes get their id part in byte order (``COLLATE "C"``)."""
    conn.exec_driver_sql(
        "CREATE INDEX IF NOT EXISTS ix_label_project_id_created_at"
        " ON label (project_id, created_at)"
    )
    if conn.dialect.name == "postgresql":
        for first in ("dataset_id", "org_id"):
            name = f"ix_data_row_{first}_created_at_id"
            conn.exec_driver_sql(f'DROP INDEX IF EXISTS "{name}"')
            conn.exec_driver_sql(
                f'CREATE INDEX {name} ON data_row ({first}, created_at, (id COLLATE "C"))'
            )


_EXPORT_SHARD_5 = sa.Table(
    "export_shard",
    _metadata(),
    sa.Column("task_id", _ID, primary_key=True),
    sa.Column("n", sa.Integer, primary_key=True),
    sa.Column("run", sa.Integer, nullable=False),
    sa.Column("shards", sa.Integer, nullable=False),
    sa.Column("snapshot", sa.String(64), nullable=False),
    sa.Column("snapshot_at", _TIMESTAMP, nullable=False),
    sa.Column("low", _JSON),
    sa.Column("high", _JSON),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("worker", sa.String(255)),
    _count("rows_done"),
    sa.Column("location", sa.Text),
    sa.Column("part", _JSON),
    sa.Column("error_message", sa.Text),
    sa.Column("heartbeat_at", _TIMESTAMP),
    sa.Column("updated_at", _TIMESTAMP, nullable=False),
)


def _export_shards(conn: sa.Connection) -> None:
    """5: shards of sharded exports."""
    _EXPORT_SHARD_5.create(conn)


def _export_cache(*parts: str) -> sa.Table:
    return sa.Table(
        "export_cache",
        _metadata(),
        sa.Column("data_row_id", _ID, primary_key=True),
        sa.Column("org_id", _ID, nullable=False),
        *(sa.Column(part, sa.LargeBinary, nullable=False) for part in parts),
    )


_EXPORT_CACHE_6 = _export_cache("body")
_EXPORT_CACHE_7 = _export_cache("tally", "layout", "line")


def _export_ready_rows(conn: sa.Connection) -> None:
    """6: export-ready rows (their triggers: see the module docs)."""
    _EXPORT_CACHE_6.create(conn)


def _export_ready_parts(conn: sa.Connection) -> None:
    """7: export-ready rows keep line, tally and layout apart; the old entries go (``labelport
    db upgrade`` builds the new ones)."""
    conn.exec_driver_sql("DROP TABLE export_cache")
    _EXPORT_CACHE_7.create(conn)


_PROJECT_DATA_ROW_8 = """
CREATE TABLE project_data_row_v8 (
    project_id VARCHAR(64) NOT NULL REFERENCES project (id),
    data_row_id VARCHAR(64) NOT NULL REFERENCES data_row (id),
    workflow_status VARCHAR(16),
    priority INTEGER,
    batch_id VARCHAR(64) REFERENCES batch (id),
    task_id VARCHAR(64),
    task_name VARCHAR(500),
    consensus_expected_label_count INTEGER,
    selected_label_id VARCHAR(64),
    position INTEGER NOT NULL,
    updated_at DATETIME NOT NULL,
    shape TEXT,
    CONSTRAINT pk_project_data_row PRIMARY KEY (project_id, data_row_id)
)
"""
_PROJECT_DATA_ROW_8_COLUMNS = (
    "project_id, data_row_id, workflow_status, priority, batch_id, task_id, task_name,"
    " consensus_expected_label_count, selected_label_id, position, updated_at"
)
_PROJECT_DATA_ROW_8_INDEXES = (
    "CREATE INDEX ix_project_data_row_project_id_workflow_status"
    " ON project_data_row (project_id, workflow_status)",
    "CREATE INDEX ix_project_data_row_batch_id ON project_data_row (batch_id)",
    "CREATE INDEX ix_project_data_row_data_row_id ON project_data_row (data_row_id)",
)
_SHAPED = ("data_row", "label", "model_run_data_row", "model_run_label", "prediction")


def _source_shapes(conn: sa.Connection) -> None:
    """8: imported rows keep their source's shape (absent keys, nulls, exact values, unknown
    fields), and a membership's workflow status may be unknown (NULL)."""
    inspector = sa.inspect(conn)

    def has_shape(table: str) -> bool:
        return any(c["name"] == "shape" for c in inspector.get_columns(table))

    for table in _SHAPED:
        if not has_shape(table):
            conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN shape TEXT")
    if has_shape("project_data_row"):
        return
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("ALTER TABLE project_data_row ADD COLUMN shape TEXT")
        conn.exec_driver_sql(
            "ALTER TABLE project_data_row ALTER COLUMN workflow_status DROP NOT NULL"
        )
        return
    # SQLite cannot drop NOT NULL: the table is built again. The triggers go first (those of
    # project and batch name project_data_row); upgrade() installs them again at the end.
    for (name,) in conn.exec_driver_sql(
        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'export_cache_%'"
    ).all():
        conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
    conn.exec_driver_sql(_PROJECT_DATA_ROW_8)
    conn.exec_driver_sql(
        f"INSERT INTO project_data_row_v8 ({_PROJECT_DATA_ROW_8_COLUMNS})"
        f" SELECT {_PROJECT_DATA_ROW_8_COLUMNS} FROM project_data_row"
    )
    conn.exec_driver_sql("DROP TABLE project_data_row")
    conn.exec_driver_sql("ALTER TABLE project_data_row_v8 RENAME TO project_data_row")
    for statement in _PROJECT_DATA_ROW_8_INDEXES:
        conn.exec_driver_sql(statement)


_EXTERNAL_ALIAS_9 = sa.Table(
    "external_alias",
    _metadata("organization"),
    _fk("org_id", "organization.id", nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("alias", sa.String(255), nullable=False),
    sa.Column("target_id", _ID, nullable=False),
    sa.PrimaryKeyConstraint("org_id", "kind", "alias"),
    sa.Index(None, "org_id", "kind", "target_id"),
)


def _external_aliases(conn: sa.Connection) -> None:
    """9: other systems' ids (Diffgram project and job ids) per organization."""
    _EXTERNAL_ALIAS_9.create(conn, checkfirst=True)


def _import_sources(conn: sa.Connection) -> None:
    """10: export-ready rows remember the import record they were written from."""
    columns = sa.inspect(conn).get_columns("export_cache")
    if not any(c["name"] == "source" for c in columns):
        blob = sa.LargeBinary().compile(dialect=conn.dialect)
        conn.exec_driver_sql(f"ALTER TABLE export_cache ADD COLUMN source {blob}")


STEPS: tuple[tuple[int, Step], ...] = (
    (2, _export_scope),
    (3, _server),
    (4, _export_indexes),
    (5, _export_shards),
    (6, _export_ready_rows),
    (7, _export_ready_parts),
    (8, _source_shapes),
    (9, _external_aliases),
    (10, _import_sources),
)


def version(conn: sa.Connection) -> int | None:
    """The catalog's version in ``schema_version``; None without that table (or a row in it)."""
    if not sa.inspect(conn).has_table("schema_version"):
        return None
    value = conn.exec_driver_sql("SELECT max(version) FROM schema_version").scalar()
    return None if value is None else int(value)


def upgrade(conn: sa.Connection, version: int) -> list[int]:
    """Bring a catalog at ``version`` to :data:`LEGACY_HEAD`, stamping each step in
    ``schema_version`` as before; returns the versions applied."""
    applied = []
    for number, step in STEPS:
        if number > version:
            step(conn)
            conn.execute(
                sa.text(
                    "INSERT INTO schema_version (version, applied_at)"
                    " VALUES (:v, CURRENT_TIMESTAMP)"
                ),
                {"v": number},
            )
            applied.append(number)
    if applied:
        install_triggers(conn)
    return applied


# The export-ready triggers as triggers.py made them at version 10 (see the module docs): tables
# whose rows belong to one data row (the column naming it), and the names shown in exported rows
# (table, columns, the rows showing a given id).
_ROW_TABLES_10 = (
    ("data_row", "id"),
    ("data_row_metadata", "data_row_id"),
    ("data_row_embedding", "data_row_id"),
    ("project_data_row", "data_row_id"),
    ("label", "data_row_id"),
    ("workflow_history", "data_row_id"),
    ("model_run_data_row", "data_row_id"),
    ("model_run_label", "data_row_id"),
    ("prediction", "data_row_id"),
)
_NAME_TABLES_10 = (
    ("dataset", ("name",), "SELECT id FROM data_row WHERE dataset_id = {}"),
    (
        "project",
        ("name", "ontology_id", "tags"),
        "SELECT data_row_id FROM project_data_row WHERE project_id = {}",
    ),
    ("batch", ("name",), "SELECT data_row_id FROM project_data_row WHERE batch_id = {}"),
    ("metadata_field", ("name",), "SELECT data_row_id FROM data_row_metadata WHERE schema_id = {}"),
    (
        "embedding",
        ("name", "dimensions", "is_custom"),
        "SELECT data_row_id FROM data_row_embedding WHERE embedding_id = {}",
    ),
    (
        "model",
        ("name",),
        "SELECT mr.data_row_id FROM model_run_data_row mr JOIN model_run r"
        " ON r.id = mr.model_run_id WHERE r.model_id = {}",
    ),
    (
        "model_run",
        ("name", "model_id"),
        "SELECT data_row_id FROM model_run_data_row WHERE model_run_id = {}",
    ),
    (
        "app_user",
        ("email",),
        "SELECT id FROM data_row WHERE created_by_id = {0}"
        " UNION SELECT data_row_id FROM label WHERE created_by_id = {0}",
    ),
)
_PG_FORGET_ROWS_10 = """
CREATE OR REPLACE FUNCTION export_cache_forget_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    EXECUTE 'DELETE FROM export_cache c USING (SELECT DISTINCT ' || quote_ident(TG_ARGV[0])
      || ' AS k FROM new_rows) n WHERE c.data_row_id = n.k';
  END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    EXECUTE 'DELETE FROM export_cache c USING (SELECT DISTINCT ' || quote_ident(TG_ARGV[0])
      || ' AS k FROM old_rows) n WHERE c.data_row_id = n.k';
  END IF;
  RETURN NULL;
END $$
"""
_PG_FORGET_USERS_10 = """
CREATE OR REPLACE FUNCTION export_cache_forget_users() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE 'DELETE FROM export_cache WHERE data_row_id IN (' || TG_ARGV[0] || ')' USING NEW.id;
  RETURN NULL;
END $$
"""


def install_triggers(conn: sa.Connection) -> None:
    """(Re-)create version 10's export-ready triggers (and on PostgreSQL their functions and
    ``export_cache``'s storage setting)."""
    if conn.dialect.name == "postgresql":
        _install_postgres(conn)
    else:
        _install_sqlite(conn)


def _install_sqlite(conn: sa.Connection) -> None:
    forget = "DELETE FROM export_cache WHERE data_row_id"
    for table, column in _ROW_TABLES_10:
        for event, rows in (("INSERT", "= NEW.{0}"), ("DELETE", "= OLD.{0}")):
            conn.exec_driver_sql(
                f"CREATE TRIGGER IF NOT EXISTS export_cache_{table}_{event.lower()}"
                f" AFTER {event} ON {table} BEGIN {forget} {rows.format(column)}; END"
            )
        conn.exec_driver_sql(
            f"CREATE TRIGGER IF NOT EXISTS export_cache_{table}_update AFTER UPDATE ON {table}"
            f" BEGIN {forget} IN (OLD.{column}, NEW.{column}); END"
        )
    for table, columns, users in _NAME_TABLES_10:
        changed = " OR ".join(f"OLD.{col} IS NOT NEW.{col}" for col in columns)
        conn.exec_driver_sql(
            f"CREATE TRIGGER IF NOT EXISTS export_cache_{table}_rename"
            f" AFTER UPDATE OF {', '.join(columns)} ON {table} WHEN {changed}"
            f" BEGIN {forget} IN ({users.format('NEW.id')}); END"
        )


def _install_postgres(conn: sa.Connection) -> None:
    conn.exec_driver_sql("ALTER TABLE export_cache SET (toast_tuple_target = 8160)")
    conn.exec_driver_sql(_PG_FORGET_ROWS_10)
    conn.exec_driver_sql(_PG_FORGET_USERS_10)
    for table, column in _ROW_TABLES_10:
        for event, tables in (
            ("INSERT", "NEW TABLE AS new_rows"),
            ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
            ("DELETE", "OLD TABLE AS old_rows"),
        ):
            name = f"export_cache_{table}_{event.lower()}"
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            conn.exec_driver_sql(
                f"CREATE TRIGGER {name} AFTER {event} ON {table} REFERENCING {tables}"
                f" FOR EACH STATEMENT EXECUTE FUNCTION export_cache_forget_rows('{column}')"
            )
    for table, columns, users in _NAME_TABLES_10:
        name = f"export_cache_{table}_rename"
        changed = " OR ".join(f"OLD.{col} IS DISTINCT FROM NEW.{col}" for col in columns)
        query = users.format("$1").replace("'", "''")
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        conn.exec_driver_sql(
            f"CREATE TRIGGER {name} AFTER UPDATE OF {', '.join(columns)} ON {table}"
            f" FOR EACH ROW WHEN ({changed})"
            f" EXECUTE FUNCTION export_cache_forget_users('{query}')"
        )
