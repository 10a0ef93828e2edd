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
