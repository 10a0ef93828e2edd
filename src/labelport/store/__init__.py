"""The catalog store: an engine on SQLite (default) or PostgreSQL, migrated on open.

``Store.read()`` gives a connection inside one read transaction (one consistent snapshot: SQLite
under WAL, PostgreSQL REPEATABLE READ). ``Store.write()`` gives a write transaction (SQLite
``BEGIN IMMEDIATE``, so writers queue instead of failing half-way).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from labelport.errors import ConfigurationError
from labelport.store import migrations, schema
from labelport.store.bulk import BulkWriter, upsert_statement

__all__ = ["Store", "open_store", "schema"]


SQLITE_DEFAULT_CACHE = -2000  # SQLite's own default: 2,000 KiB
# SQLite page cache of a large write transaction (KiB): 1 GiB, or an eighth of the memory
LARGE_CACHE_KIB = min(
    1024 * 1024, os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 8 // 1024
)


class Store:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @contextmanager
    def write(self, *, large: bool = False) -> Iterator[sa.Connection]:
        """One write transaction; committed on success, rolled back on any exception.

        ``large`` (imports): on SQLite the connection's page cache may grow to
        :data:`LARGE_CACHE_KIB` for this transaction. With the default 2 MB, a transaction
        writing millions of rows spills its changed pages into the WAL again and again (a 1M-row
        import had written a 5.8 GB WAL and read 430 GB after 25 minutes); the cache only grows
        as far as the transaction touches pages.
        """
        conn = self.engine.connect().execution_options(labelport_write=True)
        raw = conn.connection.driver_connection if large and self.is_sqlite else None
        try:
            if raw is not None:
                raw.execute(f"PRAGMA cache_size=-{LARGE_CACHE_KIB}")
            with conn.begin():
                yield conn
        finally:
            if raw is not None:
                raw.execute(f"PRAGMA cache_size={SQLITE_DEFAULT_CACHE}")  # frees the pages
            conn.close()

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """One read transaction over a consistent snapshot."""
        conn = self.engine.connect()
        if not self.is_sqlite:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        try:
            with conn.begin():
                yield conn
        finally:
            conn.close()

    def upgrade(self) -> list[int]:
        with self.write() as conn:
            return migrations.upgrade(conn)

    def version(self) -> int | None:
        with self.read() as conn:
            return migrations.current_version(conn)

    def upsert(
        self,
        conn: sa.Connection,
        table: sa.Table,
        rows: Sequence[Mapping[str, Any]],
        keys: Iterable[str],
        *,
        update: bool = True,
    ) -> None:
        """Insert ``rows``; on a key conflict update the other columns (or leave the row).

        One statement per row set; bulk loads use :meth:`bulk` (``COPY`` on PostgreSQL).
        """
        if not rows:
            return
        conn.execute(upsert_statement(conn, table, rows[0], list(keys), update), list(rows))

    def bulk(self, conn: sa.Connection) -> BulkWriter:
        """Bulk inserts/upserts/deletes inside ``conn``'s transaction (``COPY`` on PostgreSQL)."""
        return BulkWriter(conn)

    def refresh_statistics(self) -> None:
        """Refresh the planner's statistics after a bulk change (a sampled ANALYZE).

        Without them a freshly filled PostgreSQL table looks empty to the planner (nested loops
        over a million rows), and SQLite picks a scan of the organization's rows over a
        primary-key lookup.
        """
        if self.is_sqlite:
            with self.write() as conn:
                conn.exec_driver_sql("PRAGMA analysis_limit=1000")
                conn.exec_driver_sql("ANALYZE")
        else:
            tables = ", ".join(f'"{name}"' for name in schema.metadata.tables)
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql(f"ANALYZE {tables}")

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_engine(url: sa.URL) -> sa.Engine:
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"timeout": 60})

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # transactions are begun explicitly below
        cursor = dbapi_conn.cursor()
        # 16 KiB pages (new files only; SQLite ignores it once a table exists): a label of a few
        # kB then fits in its page instead of a chain of overflow pages, which made exports
        # spend ~40% more time reading.
        cursor.execute("PRAGMA page_size=16384")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        write = conn.get_execution_options().get("labelport_write")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def open_store(database_url: str, *, migrate: bool = True) -> Store:
    """Open the catalog at ``database_url`` and (by default) apply pending migrations."""
    try:
        url = sa.make_url(database_url)
    except sa.exc.ArgumentError as exc:
        raise ConfigurationError(f"invalid database URL {database_url!r}: {exc}") from exc
    if url.get_backend_name() == "sqlite":
        engine = _sqlite_engine(url)
    elif url.get_backend_name() == "postgresql":
        try:
            # No server-side prepared statements: a generic plan made while a table was small
            # (the start of an import) would be kept for the whole import — a sequential scan
            # per batch. Batches are large, so planning each statement costs nothing noticeable.
            engine = sa.create_engine(
                url, pool_pre_ping=True, connect_args={"prepare_threshold": None}
            )
        except ModuleNotFoundError as exc:
            raise ConfigurationError(
                "PostgreSQL support needs the 'postgres' extra: pip install 'labelport[postgres]'"
            ) from exc
    else:
        raise ConfigurationError(
            f"unsupported database {url.get_backend_name()!r}; use sqlite:/// or postgresql+psycopg://"
        )
    store = Store(engine)
    if migrate:
        try:
            store.upgrade()
        except sa.exc.OperationalError as exc:
            engine.dispose()
            raise ConfigurationError(
                f"cannot open the catalog at {url.render_as_string(hide_password=True)}: {exc.orig}"
            ) from exc
    return store
