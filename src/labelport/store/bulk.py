"""Bulk writes for the import loader: ``COPY`` on PostgreSQL, plain statements on SQLite.

A :class:`BulkWriter` lives as long as one write transaction. It offers the three shapes of write
the loader makes, with the same results on both databases:

:meth:`BulkWriter.insert`
    Plain inserts (a key conflict is an error). PostgreSQL: ``COPY table FROM STDIN``.
:meth:`BulkWriter.upsert`
    Insert, and on a key conflict update the other columns (or leave the row). PostgreSQL: the
    rows are ``COPY``-ed into a temporary staging table (``ON COMMIT DROP``, created once per
    transaction), then ``INSERT … SELECT … ON CONFLICT`` moves them in one set-based statement,
    so an upsert still never duplicates a row, even against a concurrent import.
:meth:`BulkWriter.delete_pairs`
    Delete the rows matching any of a list of (a, b) key pairs. PostgreSQL: one statement over
    two arrays (``unnest``) instead of one statement per pair.

Before ``COPY``, every value goes through its column type's bind processing (JSON documents are
serialized, timestamps normalized to UTC milliseconds), exactly as a SQLAlchemy insert would.

A key repeated within one call behaves as the statements did when run one row after the other:
for an update-upsert the last copy wins, for a do-nothing upsert the first one (PostgreSQL
refuses a set-based ``ON CONFLICT DO UPDATE`` that meets the same key twice, so repeats are
dropped before the copy).

Why not a ``COPY`` straight into the real tables for rows that look new? Two imports of the same
rows at once would then fail on the key instead of one waiting for the other and updating, as
``INSERT … ON CONFLICT`` does. The staging copy costs little: a temporary table is not
WAL-logged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

Row = Mapping[str, Any]
STAGE_PREFIX = "lp_stage_"


class BulkWriter:
    """Bulk inserts, upserts and pair deletes inside the open transaction of ``conn``."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
        self.postgres = conn.dialect.name == "postgresql"
        self._staged: set[str] = set()
        self._processors: dict[tuple[str, tuple[str, ...]], list[Callable[[Any], Any] | None]] = {}
        self._quote = conn.dialect.identifier_preparer.quote

    # ---------------------------------------------------------------------------------- public

    def insert(self, table: sa.Table, rows: Sequence[Row]) -> None:
        """Insert ``rows`` (every row has the same keys); a duplicate key is an error."""
        if not rows:
            return
        if not self.postgres:
            self._sqlite_many(table.insert(), table, rows)
            return
        columns = list(rows[0])
        self._copy(self._quote(table.name), table, columns, rows)

    def upsert(
        self,
        table: sa.Table,
        rows: Sequence[Row],
        keys: Iterable[str],
        *,
        update: bool = True,
    ) -> None:
        """Insert ``rows``; on a key conflict update the other columns (or leave the row)."""
        if not rows:
            return
        keys = list(keys)
        if not self.postgres:
            statement = upsert_statement(self.conn, table, rows[0], keys, update)
            self._sqlite_many(statement, table, rows)
            return
        rows = _unique(rows, keys, keep_last=update)
        columns = list(rows[0])
        stage = self._stage(table)
        self._copy(stage, table, columns, rows)
        q = self._quote
        names = ", ".join(q(c) for c in columns)
        others = [c for c in columns if c not in keys]
        conflict = f"ON CONFLICT ({', '.join(q(k) for k in keys)}) "
        if update and others:
            conflict += "DO UPDATE SET " + ", ".join(f"{q(c)} = EXCLUDED.{q(c)}" for c in others)
        else:
            conflict += "DO NOTHING"
        self.conn.exec_driver_sql(
            f"INSERT INTO {q(table.name)} ({names}) SELECT {names} FROM {stage} {conflict}"
        )
        self.conn.exec_driver_sql(f"TRUNCATE {stage}")

    def delete_pairs(
        self, table: sa.Table, columns: tuple[str, str], pairs: Sequence[tuple[str, str]]
    ) -> None:
        """Delete the rows of ``table`` whose ``columns`` equal one of ``pairs``."""
        if not pairs:
            return
        a, b = (table.c[name] for name in columns)
        if not self.postgres:
            self.conn.execute(
                table.delete().where(a == sa.bindparam("_a"), b == sa.bindparam("_b")),
                [{"_a": x, "_b": y} for x, y in pairs],
            )
            return
        firsts = sa.bindparam("_a", [x for x, _ in pairs], type_=postgresql.ARRAY(sa.Text))
        seconds = sa.bindparam("_b", [y for _, y in pairs], type_=postgresql.ARRAY(sa.Text))
        wanted = sa.select(sa.func.unnest(firsts, seconds).table_valued("x", "y").render_derived())
        self.conn.execute(table.delete().where(sa.tuple_(a, b).in_(wanted)))

    # ------------------------------------------------------------------------------- internals

    def _stage(self, table: sa.Table) -> str:
        """The staging table of ``table`` in this transaction (created at first use; another
        writer in the same transaction shares it, and empties it after each use too)."""
        stage = self._quote(STAGE_PREFIX + table.name)
        if stage not in self._staged:
            self.conn.exec_driver_sql(
                f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} "
                f"(LIKE {self._quote(table.name)} INCLUDING DEFAULTS) ON COMMIT DROP"
            )
            self._staged.add(stage)
        return stage

    def _sqlite_many(self, statement: sa.Insert, table: sa.Table, rows: Sequence[Row]) -> None:
        """``statement`` for every row through the driver's ``executemany``: compiled once, the
        values bound by their column types' processors (as SQLAlchemy would), without its
        per-row parameter handling (most of a bulk write's time in Python)."""
        columns = list(rows[0])
        compiled = statement.compile(dialect=self.conn.dialect, column_keys=columns)
        order = list(compiled.positiontup or ())
        processors = dict(zip(columns, self._processors_of(table, columns), strict=True))
        pairs = [(c, processors.get(c)) for c in order]
        values = [tuple(row[c] if p is None else p(row[c]) for c, p in pairs) for row in rows]
        raw = self.conn.connection.driver_connection
        assert raw is not None
        dbapi = self.conn.dialect.loaded_dbapi
        cursor = raw.cursor()
        try:
            cursor.executemany(compiled.string, values)
        except dbapi.Error as exc:  # the errors a SQLAlchemy statement would have raised
            raise sa.exc.DBAPIError.instance(
                compiled.string, None, exc, dbapi.Error, dialect=self.conn.dialect
            ) from exc
        finally:
            cursor.close()

    def _copy(self, target: str, table: sa.Table, columns: list[str], rows: Sequence[Row]) -> None:
        processors = self._processors_of(table, columns)
        pairs = list(zip(columns, processors, strict=True))
        statement = f"COPY {target} ({', '.join(self._quote(c) for c in columns)}) FROM STDIN"
        raw = self.conn.connection.driver_connection
        assert raw is not None
        dbapi = self.conn.dialect.loaded_dbapi
        try:
            with raw.cursor() as cursor, cursor.copy(statement) as copy:
                write = copy.write_row
                for row in rows:
                    write([row[c] if p is None else p(row[c]) for c, p in pairs])
        except dbapi.Error as exc:  # the errors a SQLAlchemy statement would have raised
            raise sa.exc.DBAPIError.instance(
                statement, None, exc, dbapi.Error, dialect=self.conn.dialect
            ) from exc

    def _processors_of(
        self, table: sa.Table, columns: list[str]
    ) -> list[Callable[[Any], Any] | None]:
        key = (table.name, tuple(columns))
        found = self._processors.get(key)
        if found is None:
            dialect = self.conn.dialect
            # the dialect's own implementation (SQLite's DATETIME writes its fixed text form;
            # the generic type would hand the driver a datetime to format as it likes)
            found = [table.c[c].type.dialect_impl(dialect).bind_processor(dialect) for c in columns]
            self._processors[key] = found
        return found


def upsert_statement(
    conn: sa.Connection, table: sa.Table, row: Row, keys: list[str], update: bool
) -> sa.Insert:
    """``INSERT … ON CONFLICT (keys) DO UPDATE | DO NOTHING`` for rows shaped like ``row``."""
    stmt = (sqlite.insert if conn.dialect.name == "sqlite" else postgresql.insert)(table)
    columns = [c for c in row if c not in keys]
    if update and columns:
        return stmt.on_conflict_do_update(
            index_elements=keys, set_={c: stmt.excluded[c] for c in columns}
        )
    return stmt.on_conflict_do_nothing(index_elements=keys)


def _unique(rows: Sequence[Row], keys: list[str], *, keep_last: bool) -> Sequence[Row]:
    """``rows`` with one row per key: the last (``keep_last``) or the first of each."""
    seen: dict[tuple[Any, ...], int] = {}
    for i, row in enumerate(rows):
        key = tuple(row[k] for k in keys)
        if keep_last or key not in seen:
            seen[key] = i
    if len(seen) == len(rows):
        return rows
    return [rows[i] for i in sorted(seen.values())]
