"""Schema migrations, applied automatically when a store opens and by ``labelport db upgrade``.

A new database gets the current schema in one step and is stamped with the newest version; an
existing one runs each migration newer than its stamp, in order, in one transaction. A schema change
therefore means: edit ``schema.py`` *and* append a step here that brings an older database to it.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from labelport.store import schema, triggers
from labelport.times import utcnow

Step = Callable[[sa.Connection], None]


def _initial(conn: sa.Connection) -> None:
    schema.metadata.create_all(conn)


def _export_scope(conn: sa.Connection) -> None:
    conn.execute(sa.text("ALTER TABLE export_task ADD COLUMN scope TEXT"))
    conn.execute(sa.text("ALTER TABLE export_task ADD COLUMN timezone VARCHAR(64)"))


def _server(conn: sa.Connection) -> None:
    for column in (
        "export_task ADD COLUMN options TEXT",
        "export_task ADD COLUMN output TEXT",
        "export_task ADD COLUMN attempts INTEGER DEFAULT 0 NOT NULL",
        f"export_task ADD COLUMN heartbeat_at {_timestamp(conn)}",
        "dataset ADD COLUMN labels TEXT",
        "dataset ADD COLUMN kind VARCHAR(16)",
    ):
        conn.execute(sa.text(f"ALTER TABLE {column}"))
    schema.import_task.create(conn)


def _export_indexes(conn: sa.Connection) -> None:
    """Indexes for export at scale: labels by project and creation time; on PostgreSQL the
    export-order indexes get their id part in byte order (``COLLATE "C"``)."""
    for index in schema.label.indexes:
        if index.name == "ix_label_project_id_created_at":
            index.create(conn, checkfirst=True)
    if conn.dialect.name == "postgresql":
        for name, variants in schema.EXPORT_ORDER_INDEXES.items():
            conn.execute(sa.text(f'DROP INDEX IF EXISTS "{name}"'))
            variants["postgresql"].create(conn)


def _export_shards(conn: sa.Connection) -> None:
    schema.export_shard.create(conn)


def _export_cache(conn: sa.Connection) -> None:
    schema.export_cache.create(conn)
    triggers.install(conn)


def _export_cache_lines(conn: sa.Connection) -> None:
    """Entries keep their line, tally and layout in columns of their own (FORMAT 3): the old
    entries go, and ``labelport db upgrade`` builds the new ones."""
    conn.execute(sa.text("DROP TABLE export_cache"))
    schema.export_cache.create(conn)
    triggers.install(conn)


# project_data_row as migration 8 leaves it, written out here (not taken from schema.py) so that
# this step builds the same table whatever later versions change.
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
_PROJECT_DATA_ROW_8_INDEXES = (
    "CREATE INDEX ix_project_data_row_project_id_workflow_status"
    " ON project_data_row (project_id, workflow_status)",
    "CREATE INDEX ix_project_data_row_batch_id ON project_data_row (batch_id)",
    "CREATE INDEX ix_project_data_row_data_row_id ON project_data_row (data_row_id)",
)


def _source_shapes(conn: sa.Connection) -> None:
    """Imported rows keep their source's shape (absent keys, nulls, exact values, unknown
    fields), and a membership's workflow status may be unknown (NULL)."""
    inspector = sa.inspect(conn)

    def has_shape(table: str) -> bool:  # step 1 builds today's tables (shape included)
        return any(c["name"] == "shape" for c in inspector.get_columns(table))

    for table in ("data_row", "label", "model_run_data_row", "model_run_label", "prediction"):
        if not has_shape(table):
            conn.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN shape TEXT"))
    if has_shape("project_data_row"):
        pass
    elif conn.dialect.name == "postgresql":
        conn.execute(sa.text("ALTER TABLE project_data_row ADD COLUMN shape TEXT"))
        conn.execute(
            sa.text("ALTER TABLE project_data_row ALTER COLUMN workflow_status DROP NOT NULL")
        )
    else:  # SQLite cannot drop NOT NULL: the table is built again
        conn.exec_driver_sql(_PROJECT_DATA_ROW_8)
        conn.exec_driver_sql(
            "INSERT INTO project_data_row_v8 (project_id, data_row_id, workflow_status, priority,"
            " batch_id, task_id, task_name, consensus_expected_label_count, selected_label_id,"
            " position, updated_at) SELECT project_id, data_row_id, workflow_status, priority,"
            " batch_id, task_id, task_name, consensus_expected_label_count, selected_label_id,"
            " position, updated_at FROM project_data_row"
        )
        conn.exec_driver_sql("DROP TABLE project_data_row")
        conn.exec_driver_sql("ALTER TABLE project_data_row_v8 RENAME TO project_data_row")
        for statement in _PROJECT_DATA_ROW_8_INDEXES:
            conn.exec_driver_sql(statement)
    triggers.install(conn)


# external_alias as migration 9 creates it, in a MetaData of its own (not schema.external_alias)
# so that later changes to schema.py do not change what this step builds.
_V9 = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)
sa.Table("organization", _V9, sa.Column("id", sa.String(64), primary_key=True))  # referred to
_EXTERNAL_ALIAS_9 = sa.Table(
    "external_alias",
    _V9,
    sa.Column("org_id", sa.String(64), sa.ForeignKey("organization.id"), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("alias", sa.String(255), nullable=False),
    sa.Column("target_id", sa.String(64), nullable=False),
    sa.PrimaryKeyConstraint("org_id", "kind", "alias"),
    sa.Index(None, "org_id", "kind", "target_id"),
)


def _external_aliases(conn: sa.Connection) -> None:
    """Other systems' ids (a Diffgram project_string_id, job ids) per organization. (Step 1
    builds today's tables, so a catalog made at version 1 by this code has it already.)"""
    _EXTERNAL_ALIAS_9.create(conn, checkfirst=True)


def _import_sources(conn: sa.Connection) -> None:
    """Export-ready rows remember the import record they were written from, so that a
    re-import skips rows that are unchanged. (Steps 1 and 7 build today's table.)"""
    columns = sa.inspect(conn).get_columns("export_cache")
    if not any(c["name"] == "source" for c in columns):
        blob = "BYTEA" if conn.dialect.name == "postgresql" else "BLOB"
        conn.execute(sa.text(f"ALTER TABLE export_cache ADD COLUMN source {blob}"))


def _timestamp(conn: sa.Connection) -> str:
    """The column type our Timestamp has on this connection's dialect."""
    return str(sa.DateTime(timezone=True).compile(dialect=conn.dialect))


MIGRATIONS: tuple[tuple[int, str, Step], ...] = (
    (1, "initial catalog", _initial),
    (2, "export tasks keep their whole scope and timezone", _export_scope),
    (
        3,
        "server: task options, output and recovery; dataset labels and kind; import tasks",
        _server,
    ),
    (4, "indexes for export filters and order at scale", _export_indexes),
    (5, "shards of sharded exports", _export_shards),
    (6, "export-ready rows, kept by triggers", _export_cache),
    (7, "export-ready rows keep line, tally and layout apart", _export_cache_lines),
    (8, "imported rows keep their source's shape; workflow status may be unknown", _source_shapes),
    (9, "other systems' ids (Diffgram project and job ids) per organization", _external_aliases),
    (10, "export-ready rows remember the import record they were written from", _import_sources),
)
HEAD = MIGRATIONS[-1][0]


def current_version(conn: sa.Connection) -> int | None:
    if not sa.inspect(conn).has_table("schema_version"):
        return None
    value = conn.execute(sa.select(sa.func.max(schema.schema_version.c.version))).scalar()
    return int(value) if value is not None else None


def upgrade(conn: sa.Connection) -> list[int]:
    """Bring the database to :data:`HEAD`; returns the versions applied."""
    version = current_version(conn)
    if version is None:
        schema.metadata.create_all(conn)
        triggers.install(conn)
        conn.execute(schema.schema_version.insert(), {"version": HEAD, "applied_at": utcnow()})
        return [HEAD]
    applied = []
    for number, _title, step in MIGRATIONS:
        if number > version:
            step(conn)
            conn.execute(
                schema.schema_version.insert(), {"version": number, "applied_at": utcnow()}
            )
            applied.append(number)
    return applied
