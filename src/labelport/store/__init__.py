"""The catalog store: an engine on SQLite (default) or PostgreSQL, migrated on open.

``Store.read()`` gives a connection inside one read transaction (one consistent snapshot: SQLite
under WAL, PostgreSQL REPEATABLE READ). ``Store.write()`` gives a write transaction (SQLite
``BEGIN IMMEDIATE``, so writers queue instead of failing half-way).

A writer waits for the lock at most the *write wait*: :attr:`Store.write_wait` (60 s: the CLI,
task workers), or less where someone is waiting for an answer (:func:`waiting_at_most`, which the
server sets per request). Past it, ``Store.write()`` raises :class:`~labelport.errors.Busy`
(503 with ``Retry-After``) and nothing was written.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from labelport.errors import Busy, ConfigurationError
from labelport.store import migrations, schema
from labelport.store.bulk import BulkWriter, upsert_statement

__all__ = ["WRITE_WAIT", "Store", "open_store", "schema", "waiting_at_most"]


SQLITE_DEFAULT_CACHE = -2000  # SQLite's own default: 2,000 KiB
# SQLite page cache of a large write transaction (KiB): 1 GiB, or an eighth of the memory
LARGE_CACHE_KIB = min(
    1024 * 1024, os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 8 // 1024
)


WRITE_WAIT = 60.0  # seconds a writer with nobody waiting on it queues for the lock
_WAIT_CAP: ContextVar[float | None] = ContextVar("labelport_write_wait", default=None)


@contextmanager
def waiting_at_most(seconds: float) -> Iterator[None]:
    """Writes in this context (this request) queue for the lock at most ``seconds``."""
    token = _WAIT_CAP.set(seconds)
    try:
        yield
    finally:
        _WAIT_CAP.reset(token)


class Store:
    def __init__(self, engine: sa.Engine, *, write_wait: float = WRITE_WAIT) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.write_wait = write_wait

    def _wait(self, wait: float | None) -> float:
        if wait is not None:
            return wait
        cap = _WAIT_CAP.get()
        return self.write_wait if cap is None else min(cap, self.write_wait)

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @contextmanager
    def write(self, *, large: bool = False, wait: float | None = None) -> Iterator[sa.Connection]:
        """One write transaction; committed on success, rolled back on any exception.

        The lock is waited for at most ``wait`` seconds (default: the write wait, see the module
        docs); then :class:`~labelport.errors.Busy`.

        ``large`` (imports): on SQLite the connection's page cache may grow to
        :data:`LARGE_CACHE_KIB` for this transaction. With the default 2 MB, a transaction
        writing millions of rows spills its changed pages into the WAL again and again (a 1M-row
        import had written a 5.8 GB WAL and read 430 GB after 25 minutes); the cache only grows
        as far as the transaction touches pages.
        """
        seconds = self._wait(wait)
        try:
            conn = self.engine.connect().execution_options(labelport_write=True)
        except sa.exc.TimeoutError as exc:  # every pooled connection is taken
            raise Busy("the catalog has no free connection; try again shortly") from exc
        driver = conn.connection.driver_connection if self.is_sqlite else None
        try:
            if driver is not None:
                driver.execute(f"PRAGMA busy_timeout={int(seconds * 1000)}")
                if large:
                    driver.execute(f"PRAGMA cache_size=-{LARGE_CACHE_KIB}")
            with conn.begin():
                if driver is None:
                    conn.exec_driver_sql(f"SET LOCAL lock_timeout = {max(1, int(seconds * 1000))}")
                yield conn
        except sa.exc.OperationalError as exc:
            if not _lock_wait_ran_out(exc):
                raise
            raise Busy(
                f"the catalog is busy with another write (waited {seconds:g} s); "
                "nothing was changed, try again shortly",
                retry_after=max(1, math.ceil(min(seconds, 5))),
            ) from exc
        finally:
            if driver is not None and large:
                driver.execute(f"PRAGMA cache_size={SQLITE_DEFAULT_CACHE}")  # frees the pages
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

    def upgrade(self) -> list[str]:
        """Apply pending migrations; returns the schema versions applied. A catalog already at
        the head is only read (and Alembic not even imported): opening it never queues behind a
        writer (a long import)."""
        with self.read() as conn:
            if not migrations.pending(conn):
                return []
        with self.write() as conn:
            return migrations.upgrade(conn)

    def version(self) -> str | None:
        """The schema version (``0010``: see :mod:`labelport.store.migrations`)."""
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


def _lock_wait_ran_out(exc: sa.exc.OperationalError) -> bool:
    """SQLite's busy timeout passed, or PostgreSQL's ``lock_timeout`` (SQLSTATE 55P03)."""
    if getattr(exc.orig, "sqlstate", None) == "55P03":
        return True
    text = str(exc.orig)
    return "database is locked" in text or "database is busy" in text


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


def open_store(database_url: str, *, migrate: bool = True, write_wait: float = WRITE_WAIT) -> Store:
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
    store = Store(engine, write_wait=write_wait)
    if migrate:
        try:
            store.upgrade()
        except sa.exc.OperationalError as exc:
            engine.dispose()
            raise ConfigurationError(
                f"cannot open the catalog at {url.render_as_string(hide_password=True)}: {exc.orig}"
            ) from exc
        except BaseException:  # a migration that failed (rolled back): no connection left open
            engine.dispose()
            raise
    return store
