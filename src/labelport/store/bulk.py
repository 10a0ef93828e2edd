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
    Delete the rows matching any of a list of (a, b) key pairs: one statement over the pairs
    (a JSON array on SQLite, two arrays on PostgreSQL) instead of one per pair.

Rows come in two forms. Mappings (column -> value) go through their column types' bind
processing (JSON documents serialized, timestamps normalized to UTC milliseconds), exactly as a
SQLAlchemy insert would. Tuples in a given column order (:meth:`BulkWriter.insert_rows`,
:meth:`BulkWriter.upsert_rows`) are *raw*: already what the driver takes, made with
:meth:`BulkWriter.timestamp` and :func:`document` — the loader's form, which costs no per-value
processing at all (that processing was most of a bulk write's time in Python).

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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

Row = Mapping[str, Any]
RawRow = Sequence[Any]
STAGE_PREFIX = "lp_stage_"
SQLITE_ROWS = 256  # rows per statement on SQLite (see BulkWriter._sqlite_many)
SQLITE_LIMIT_VARIABLE_NUMBER = 9  # sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER
_MILLI = 1000


# The raw rows of a bulk load (:class:`Written`, and the loader's writes): their columns, in order.
DATA_ROW = (
    "id",
    "org_id",
    "dataset_id",
    "global_key",
    "external_id",
    "row_data",
    "media_type",
    "media_attributes",
    "attachments",
    "created_at",
    "updated_at",
    "created_by_id",
    "last_activity_at",
    "shape",
)
METADATA = ("data_row_id", "position", "schema_id", "value")
EMBEDDING = ("data_row_id", "embedding_id", "position", "vectors")
MEMBERSHIP = (
    "project_id",
    "data_row_id",
    "workflow_status",
    "priority",
    "batch_id",
    "task_id",
    "task_name",
    "consensus_expected_label_count",
    "selected_label_id",
    "position",
    "updated_at",
    "shape",
)
HISTORY = ("project_id", "data_row_id", "position", "created_at", "entry")
LABEL = (
    "id",
    "org_id",
    "project_id",
    "data_row_id",
    "position",
    "label_kind",
    "version",
    "annotations",
    "created_at",
    "updated_at",
    "created_by_id",
    "content_last_updated_at",
    "reviews",
    "seconds_to_create",
    "seconds_to_review",
    "skipped",
    "performance_v2",
    "benchmark_reference_label",
    "benchmark_score",
    "consensus_score",
    "consensus_label_count",
    "consensus_labels",
    "shape",
)
RUN_ROW = ("model_run_id", "data_row_id", "run_data_row_id", "split", "position", "shape")
RUN_LABEL = (
    "model_run_id",
    "id",
    "data_row_id",
    "position",
    "label_kind",
    "version",
    "annotations",
    "shape",
)


@dataclass(slots=True)
class Written:
    """Data rows a bulk load has just written, whole: for each, its raw rows of every table
    (in the column orders above, in position order), and the names they show as the catalog
    holds them now (``emails`` of user ids; ``projects``: name, ontology id and tags as stored;
    ``runs``: name and model id).

    Only rows the catalog did not have before qualify (nothing of them is kept from before), so
    what was written is all there is: whoever keeps derived data of rows (the export-ready rows)
    can build it from this instead of reading it back."""

    rows: dict[str, RawRow] = field(default_factory=dict)  # data_row, by id
    metadata: dict[str, list[RawRow]] = field(default_factory=dict)  # by data-row id
    embeddings: dict[str, list[RawRow]] = field(default_factory=dict)
    memberships: dict[str, list[RawRow]] = field(default_factory=dict)
    history: dict[str, list[RawRow]] = field(default_factory=dict)
    labels: dict[str, list[RawRow]] = field(default_factory=dict)
    runs: dict[str, list[RawRow]] = field(default_factory=dict)
    run_labels: dict[str, list[RawRow]] = field(default_factory=dict)
    predictions: dict[str, list[RawRow]] = field(default_factory=dict)
    datasets: Mapping[str, str] = field(default_factory=dict)  # id -> name
    fields: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # id -> (kind, name)
    emails: Mapping[str, str] = field(default_factory=dict)
    embedding_names: Mapping[str, tuple[str, int, bool]] = field(default_factory=dict)
    projects: Mapping[str, tuple[str, str, str | None]] = field(default_factory=dict)
    batches: Mapping[str, str] = field(default_factory=dict)
    models: Mapping[str, str] = field(default_factory=dict)
    model_runs: Mapping[str, tuple[str, str]] = field(default_factory=dict)


_TEXT_ARRAY = postgresql.ARRAY(sa.Text)


def document(value: Any) -> str | None:
    """A JSON document in its stored (raw) form, as the ``JsonText`` columns write it."""
    return None if value is None else orjson.dumps(value).decode()


class BulkWriter:
    """Bulk inserts, upserts and pair deletes inside the open transaction of ``conn``."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
        self.postgres = conn.dialect.name == "postgresql"
        self._staged: set[str] = set()
        self._processors: dict[tuple[str, tuple[str, ...]], list[Callable[[Any], Any] | None]] = {}
        self._statements: dict[tuple[Any, ...], str] = {}
        self._types: dict[str, dict[str, int]] = {}
        self._quote = conn.dialect.identifier_preparer.quote

    # ---------------------------------------------------------------------------- raw values

    def timestamp(self, value: datetime | None) -> Any:
        """``value`` as a ``Timestamp`` column stores it (UTC, milliseconds): SQLite's text form
        (``2024-01-01 00:00:00.000000``), or the instant itself for PostgreSQL's ``COPY``."""
        if value is None:
            return None
        if value.tzinfo is not UTC:
            value = (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).astimezone(
                UTC
            )
        if value.microsecond % _MILLI:
            value = value.replace(microsecond=value.microsecond // _MILLI * _MILLI)
        if self.postgres:
            return value
        return value.replace(tzinfo=None).isoformat(" ", "microseconds")

    def one_of(
        self, column: sa.ColumnElement[Any], values: Sequence[str]
    ) -> sa.ColumnElement[bool]:
        """``column IN values`` with the values bound as one parameter (an array on PostgreSQL,
        a JSON array on SQLite): one statement text whatever their number, no list of
        hundreds of parameters to render, bind and plan each time."""
        if self.postgres:
            return column == sa.any_(sa.bindparam(None, list(values), type_=_TEXT_ARRAY))
        listed = sa.bindparam(None, orjson.dumps(list(values)).decode(), type_=sa.Text)
        return column.in_(sa.select(sa.column("value")).select_from(sa.func.json_each(listed)))

    # ---------------------------------------------------------------------------------- public

    def insert(self, table: sa.Table, rows: Sequence[Row]) -> None:
        """Insert ``rows`` (every row has the same keys); a duplicate key is an error."""
        if rows:
            columns = tuple(rows[0])
            self.insert_rows(table, columns, self._raw(table, columns, rows))

    def upsert(
        self,
        table: sa.Table,
        rows: Sequence[Row],
        keys: Iterable[str],
        *,
        update: bool = True,
    ) -> None:
        """Insert ``rows``; on a key conflict update the other columns (or leave the row)."""
        if rows:
            columns = tuple(rows[0])
            raw = self._raw(table, columns, rows)
            self.upsert_rows(table, columns, raw, keys, update=update)

    def insert_rows(self, table: sa.Table, columns: Sequence[str], rows: Sequence[RawRow]) -> None:
        """Insert raw ``rows`` (tuples in the order of ``columns``); a duplicate key is an
        error."""
        if not rows:
            return
        if self.postgres:
            self._copy(self._quote(table.name), table, columns, rows)
        else:
            self._sqlite_many(table, tuple(columns), None, False, rows)

    def upsert_rows(
        self,
        table: sa.Table,
        columns: Sequence[str],
        rows: Sequence[RawRow],
        keys: Iterable[str],
        *,
        update: bool = True,
    ) -> None:
        """Insert raw ``rows``; on a key conflict update the other columns (or leave the row)."""
        if not rows:
            return
        columns, keys = tuple(columns), tuple(keys)
        if not self.postgres:
            self._sqlite_many(table, columns, keys, update, rows)
            return
        at = [columns.index(k) for k in keys]
        rows = _unique(rows, at, keep_last=update)
        stage = self._stage(table)
        self._copy(stage, table, columns, rows)
        self._execute(self._statement(table, columns, keys, update))
        self._execute(f"TRUNCATE {stage}")

    def delete_pairs(
        self,
        table: sa.Table,
        columns: tuple[str, str],
        pairs: Sequence[tuple[str, str]],
    ) -> None:
        """Delete the rows of ``table`` whose ``columns`` equal one of ``pairs``."""
        if not pairs:
            return
        q = self._quote
        a, b = (q(name) for name in columns)
        if not self.postgres:
            self._execute(
                f"DELETE FROM {q(table.name)} WHERE ({a}, {b}) IN"
                " (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]')"
                " FROM json_each(?))",
                (orjson.dumps(list(pairs)).decode(),),
            )
            return
        self._execute(
            f"DELETE FROM {q(table.name)} WHERE ({a}, {b}) IN"
            " (SELECT * FROM unnest(%s::text[], %s::text[]))",
            ([x for x, _ in pairs], [y for _, y in pairs]),
        )

    def delete_in(self, table: sa.Table, column: str, values: Sequence[str]) -> None:
        """Delete the rows of ``table`` whose ``column`` is one of ``values`` (one statement)."""
        if not values:
            return
        q = self._quote
        where = "IN (SELECT value FROM json_each(?))" if not self.postgres else "= ANY(%s)"
        value: Any = orjson.dumps(list(values)).decode() if not self.postgres else list(values)
        self._execute(f"DELETE FROM {q(table.name)} WHERE {q(column)} {where}", (value,))

    # ------------------------------------------------------------------------------- internals

    def _statement(
        self,
        table: sa.Table,
        columns: tuple[str, ...],
        keys: tuple[str, ...] | None,
        update: bool,
        rows: int = 1,
    ) -> str:
        """The text of an insert (``keys`` None) or upsert of ``columns`` into ``table``: of
        ``rows`` rows of positional values on SQLite, ``INSERT … SELECT`` from the staging table
        on PostgreSQL."""
        cache_key = (table.name, columns, keys, update, rows)
        found = self._statements.get(cache_key)
        if found is not None:
            return found
        q = self._quote
        names = ", ".join(q(c) for c in columns)
        if keys is None:
            conflict = ""
        else:
            others = [c for c in columns if c not in keys]
            conflict = f" ON CONFLICT ({', '.join(q(k) for k in keys)}) "
            if update and others:
                conflict += "DO UPDATE SET " + ", ".join(
                    f"{q(c)} = excluded.{q(c)}" for c in others
                )
            else:
                conflict += "DO NOTHING"
        if self.postgres:
            source = f"SELECT {names} FROM {self._stage(table)}"
        else:
            one = f"({', '.join('?' for _ in columns)})"
            source = "VALUES " + ", ".join([one] * rows)
        found = self._statements[cache_key] = (
            f"INSERT INTO {q(table.name)} ({names}) {source}{conflict}"
        )
        return found

    def _raw(self, table: sa.Table, columns: tuple[str, ...], rows: Sequence[Row]) -> list[RawRow]:
        """Mapping rows as raw tuples, through their columns' bind processing."""
        processors = self._processors_of(table, columns)
        if not any(processors):
            return [tuple(row[c] for c in columns) for row in rows]
        pairs = list(zip(columns, processors, strict=True))
        return [
            tuple(row[c] if p is None or row[c] is None else p(row[c]) for c, p in pairs)
            for row in rows
        ]

    def _stage(self, table: sa.Table) -> str:
        """The staging table of ``table`` in this transaction (created at first use; another
        writer in the same transaction shares it, and empties it after each use too)."""
        stage = self._quote(STAGE_PREFIX + table.name)
        if stage not in self._staged:
            self._execute(
                f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} "
                f"(LIKE {self._quote(table.name)} INCLUDING DEFAULTS) ON COMMIT DROP"
            )
            self._staged.add(stage)
        return stage

    def _execute(self, statement: str, parameters: Sequence[Any] = ()) -> None:
        """One statement through the driver's own connection (never SQLAlchemy's: a batch's
        writes may run on a thread of their own while the import goes on with SQLAlchemy)."""
        raw = self.conn.connection.driver_connection
        assert raw is not None
        dbapi = self.conn.dialect.loaded_dbapi
        cursor = raw.cursor()
        try:
            cursor.execute(statement, tuple(parameters))
        except dbapi.Error as exc:  # the errors a SQLAlchemy statement would have raised
            raise sa.exc.DBAPIError.instance(
                statement, None, exc, dbapi.Error, dialect=self.conn.dialect
            ) from exc
        finally:
            cursor.close()

    def _sqlite_many(
        self,
        table: sa.Table,
        columns: tuple[str, ...],
        keys: tuple[str, ...] | None,
        update: bool,
        rows: Sequence[RawRow],
    ) -> None:
        """``rows`` written by statements of many rows each (``VALUES (…), (…), …``).

        Not ``executemany``: a statement of one row that fires a trigger (the export-ready
        rows' triggers fire on every row table) runs in a statement savepoint of its own, which
        copies every page it changes aside first: three quarters of the time of a row went
        there. One statement of hundreds of rows pays that once. The rows go in in order, so a
        key repeated in one statement acts as it would one row after the other."""
        raw = self.conn.connection.driver_connection
        assert raw is not None
        dbapi = self.conn.dialect.loaded_dbapi
        per = self._rows_per_statement(raw, len(columns))
        cursor = raw.cursor()
        statement = ""
        try:
            for at in range(0, len(rows), per):
                part = rows[at : at + per]
                statement = self._statement(table, columns, keys, update, len(part))
                cursor.execute(statement, [value for row in part for value in row])
        except dbapi.Error as exc:  # the errors a SQLAlchemy statement would have raised
            raise sa.exc.DBAPIError.instance(
                statement, None, exc, dbapi.Error, dialect=self.conn.dialect
            ) from exc
        finally:
            cursor.close()

    @staticmethod
    def _rows_per_statement(raw: Any, columns: int) -> int:
        """Rows per statement: up to :data:`SQLITE_ROWS`, within the driver's parameter limit."""
        try:
            limit = int(raw.getlimit(SQLITE_LIMIT_VARIABLE_NUMBER))
        except (AttributeError, TypeError, ValueError):
            limit = 999  # SQLite's limit before 3.32
        return max(1, min(SQLITE_ROWS, limit // max(1, columns)))

    def _copy(
        self, target: str, table: sa.Table, columns: Sequence[str], rows: Sequence[RawRow]
    ) -> None:
        """``COPY`` in PostgreSQL's binary format: no value is written out as text to be
        parsed again (a bytea doubled in size as hex), each is sent as its column type takes
        it."""
        names = ", ".join(self._quote(c) for c in columns)
        statement = f"COPY {target} ({names}) FROM STDIN (FORMAT BINARY)"
        raw = self.conn.connection.driver_connection
        assert raw is not None
        dbapi = self.conn.dialect.loaded_dbapi
        try:
            types = self._column_types(raw, table)
            with raw.cursor() as cursor, cursor.copy(statement) as copy:
                copy.set_types([types[c] for c in columns])
                write = copy.write_row
                for row in rows:
                    write(row)
        except dbapi.Error as exc:  # the errors a SQLAlchemy statement would have raised
            raise sa.exc.DBAPIError.instance(
                statement, None, exc, dbapi.Error, dialect=self.conn.dialect
            ) from exc

    def _column_types(self, raw: Any, table: sa.Table) -> dict[str, int]:
        """The type (OID) of each column of ``table`` as the database has it, read once."""
        found = self._types.get(table.name)
        if found is None:
            with raw.cursor() as cursor:
                cursor.execute(
                    "SELECT attname, atttypid::int FROM pg_attribute"
                    " WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
                    (self._quote(table.name),),
                )
                found = self._types[table.name] = dict(cursor.fetchall())
        return found

    def _processors_of(
        self, table: sa.Table, columns: tuple[str, ...]
    ) -> list[Callable[[Any], Any] | None]:
        key = (table.name, columns)
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


def _unique(rows: Sequence[RawRow], at: list[int], *, keep_last: bool) -> Sequence[RawRow]:
    """``rows`` with one row per key (the values at positions ``at``): the last
    (``keep_last``) or the first of each."""
    seen: dict[tuple[Any, ...], int] = {}
    for i, row in enumerate(rows):
        key = tuple(row[k] for k in at)
        if keep_last or key not in seen:
            seen[key] = i
    if len(seen) == len(rows):
        return rows
    return [rows[i] for i in sorted(seen.values())]
