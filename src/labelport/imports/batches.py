"""Writing one batch of rows: a few set-based statements per table, never one per row.

A batch's rows are resolved against the catalog in one read (by id and by global key), their
table rows are raw tuples (:mod:`labelport.imports.table_rows`: no per-value processing), and
each table is written in one statement or a few (``COPY`` on PostgreSQL). Sections a row leaves
out keep what the catalog has; sections it carries replace what was there (for a row new to the
catalog there is nothing to replace, and no delete is made).

Rows an import wrote from the very same record, unchanged since, are skipped (see
:meth:`BatchWriter.write`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

import orjson
import sqlalchemy as sa

from labelport.errors import RecordError
from labelport.imports import shaping
from labelport.imports.base import Problem
from labelport.imports.canonical import CheckedRow, infer_media_type
from labelport.imports.entities import Entities
from labelport.imports.table_rows import ChildRows, Raw, TableRows, position
from labelport.store import Store
from labelport.store import schema as s
from labelport.store.bulk import (
    DATA_ROW,
    EMBEDDING,
    HISTORY,
    LABEL,
    MEMBERSHIP,
    METADATA,
    RUN_LABEL,
    RUN_ROW,
    Written,
    document,
)


class ExportReady(Protocol):
    """Where the export-ready rows of imported data rows are kept (:mod:`labelport.export.cache`
    satisfies it): refreshed inside the import's transaction; rows whose entries say they are
    unchanged since the same source record are skipped."""

    def fill(
        self,
        conn: sa.Connection,
        org_id: str,
        ids: Iterable[str] | None = None,
        sources: Mapping[str, bytes | None] | None = None,
        built: Mapping[str, Entry] | None = None,
    ) -> int: ...

    def build(self, written: Written) -> dict[str, Entry]: ...

    def unchanged(
        self, conn: sa.Connection, org_id: str, digests: Mapping[str, bytes]
    ) -> set[str]: ...

    def incomplete(self, conn: sa.Connection, org_id: str) -> bool: ...


Entry = tuple[bytes, bytes, bytes]  # an export-ready entry: tally, layout, line
BACKGROUND = ("postgresql",)  # the databases whose batch writes run on a thread of their own


class _LineProblem(Exception):
    def __init__(self, line: int, problem: Problem) -> None:
        super().__init__(str(problem))
        self.line = line
        self.problem = problem


# A batch row on its way: (id, the row, its media type, whether the catalog had it, whether it
# may have had it: its sections are then replaced, not only written).
_Resolved = tuple[str, CheckedRow, str, bool, bool]


class BatchWriter:
    """Writes the batches of one import (one transaction)."""

    def __init__(
        self,
        store: Store,
        conn: sa.Connection,
        entities: Entities,
        *,
        media_type: str | None,
        file: str,
        ready: ExportReady,
    ) -> None:
        self.store = store
        self.conn = conn
        self.entities = entities
        self.bulk = entities.bulk
        self.org_id = entities.org_id
        self.file = file
        self.ready = ready
        self.tables = TableRows(
            self.bulk, self.org_id, entities.default_dataset, media_type, entities.now
        )
        self.rows = 0  # distinct rows written so far (as the writes in the background finish)
        self.seen_table = False
        # PostgreSQL: a batch's writes run on a thread of their own (the server does the work,
        # the thread waits for it without the GIL) while the next batch is read and checked.
        self._background = (
            ThreadPoolExecutor(1, thread_name_prefix="labelport-import")
            if store.dialect in BACKGROUND
            else None
        )
        self._writing: Future[None] | None = None
        self._inflight: set[str] = set()  # ids and "gk:" keys of the rows being written
        self._batch_done = False  # the writes in the background are a batch's last
        self.on_written: Callable[[int], None] | None = None  # told the rows written so far
        entities.before_statement = self.settle  # no entity is looked up or changed meanwhile

    # ------------------------------------------------------------------------------- writing

    def settle(self) -> None:
        """Wait for the writes in the background: the catalog is then as the batches so far
        left it (raises what the writes raised)."""
        writing, self._writing = self._writing, None
        self._inflight.clear()
        if writing is not None:
            writing.result()
            self._written_batch()

    def _written_batch(self) -> None:
        if self._batch_done:
            self._batch_done = False
            if self.on_written is not None:
                self.on_written(self.rows)

    def close(self) -> None:
        """Wait for the writes in the background and stop its thread (the transaction may end
        then). Call it however the import ends."""
        try:
            self.settle()
        finally:
            if self._background is not None:
                self._background.shutdown(wait=True)

    def _run(self, job: Callable[[], None], names: set[str], batch: bool = False) -> None:
        """Run ``job`` (writes of the rows ``names``; ``batch``: all of a batch's): on
        PostgreSQL in the background, after the writes before it. ``on_written`` hears of a
        batch's rows once they are written."""
        self.settle()
        if self._background is None:
            job()
            self._batch_done = batch
            self._written_batch()
            return
        self._writing = self._background.submit(job)
        self._inflight = names
        self._batch_done = batch

    # ------------------------------------------------------------------------------- batches

    def write(self, batch: list[tuple[int, CheckedRow]]) -> list[RecordError]:
        """Write one batch; return problems found against the catalog (nothing written then).

        A row that an import wrote from the very same record (and context), and that nothing
        changed since, is left as it is: writing it again would give the same catalog. If the
        batch's other rows change one of those after all, the whole batch is written in file
        order, as if nothing had been skipped."""
        if self._inflight and not self._inflight.isdisjoint(self._names(batch)):
            self.settle()  # rows of the batch being written: read them as written
        skipped = self._unchanged(batch)
        fresh = [x for x in batch if x[1].id not in skipped] if skipped else batch
        errors, job = self._write(fresh) if fresh else ([], None)
        written = job.ids if job is not None else []
        if skipped and job is not None:
            self._run(job, set())  # written first: do they change a row that looked unchanged?
            self.settle()
            job = None
            kept = self._unchanged([x for x in batch if x[1].id in skipped])
            if kept != skipped:
                errors, job = self._write(batch)
                written = job.ids if job is not None else []
                skipped = set()
        if errors:
            return errors
        ids = [*written, *skipped]

        def write_and_count() -> None:
            if job is not None:
                job()
            self.rows += self._first_seen(ids)

        self._run(write_and_count, self._names(batch), batch=True)
        return []

    def _names(self, batch: list[tuple[int, CheckedRow]]) -> set[str]:
        """The ids and global keys (``"gk:"`` + key) by which the batch's rows are found."""
        names = {r.id if r.id else self.tables.new_id(r) for _, r in batch}
        names.update("gk:" + r.global_key for _, r in batch if r.global_key)
        return names

    def _unchanged(self, batch: list[tuple[int, CheckedRow]]) -> set[str]:
        """Rows of ``batch`` (named by id, once) written from their record and unchanged since."""
        times = Counter(r.id for _, r in batch)
        digests = {
            r.id: r.digest
            for _, r in batch
            if r.id is not None and r.digest is not None and times[r.id] == 1
        }
        return self.ready.unchanged(self.conn, self.org_id, digests) if digests else set()

    def _write(self, batch: list[tuple[int, CheckedRow]]) -> tuple[list[RecordError], _Job | None]:
        """Make ready the writes of ``batch``: the problems found against the catalog, or the
        writes to make (in order, after the writes before them)."""
        errors: list[RecordError] = []
        existing, present = self._existing(batch)
        rows: list[list[Any]] = []
        resolved: list[_Resolved] = []
        seen_keys: dict[str, str] = {}
        lines: dict[str, int] = {}
        for line, row in batch:
            inferred = infer_media_type(row)
            try:
                rid, old = self._resolve(row, existing, seen_keys)
                values = self.tables.values(row, rid, old, inferred, self.entities)
            except Problem as problem:
                errors.append(RecordError(self.file, line, problem.field, problem.reason))
                continue
            lines[rid] = line
            rows.append(values)
            resolved.append(
                (rid, row, inferred, old is not None, old is not None or rid in present)
            )
        if errors:
            return errors, None
        if len({r[0] for r in rows}) < len(rows):  # one row twice in a batch: the later wins
            last = {r[0]: i for i, r in enumerate(rows)}
            rows = [r for i, r in enumerate(rows) if last[r[0]] == i]
            resolved = [x for i, x in enumerate(resolved) if last[x[0]] == i]
        children = ChildRows()
        for rid, row, inferred, _, replace in resolved:
            try:
                self.tables.collect(rid, row, inferred, replace, children, self.entities)
            except Problem as problem:
                return [RecordError(self.file, lines[rid], problem.field, problem.reason)], None
        for values, (rid, row, _, existed, _) in zip(rows, resolved, strict=True):
            old = existing.get(rid) if existed else None
            shape = (
                shaping.row_shape(
                    row,
                    children.meta_values.get(rid),
                    old["shape"] if old is not None else None,
                    old is not None,
                )
                if row.shaped
                else None
            )
            values.append(document(shape))
        if children.label_rows:
            try:
                self._refuse_foreign_labels(children.label_rows, lines)
            except _LineProblem as lp:
                return [RecordError(self.file, lp.line, lp.problem.field, lp.problem.reason)], None
        # Export-ready rows of this batch, in the import's own commit (a later batch that writes
        # one of these rows again forgets its entry through the triggers and builds it again).
        # Those of rows new to the catalog are built from what is written, here, with the names
        # as they are (an entity changes only once the writes are done: Entities waits).
        fresh = {r[0]: r for r, x in zip(rows, resolved, strict=True) if not x[4]}
        built = self.ready.build(self._written(fresh, children)) if fresh else {}
        sources = {x[0]: x[1].digest for x in resolved}
        return [], _Job(self, rows, children, sources, built)

    def _seen_key(self, key: str | None, rid: str, seen: dict[str, str]) -> None:
        """Refuse a global key used by two rows of the batch."""
        if key is not None:
            other = seen.setdefault(key, rid)
            if other != rid:
                raise Problem(
                    "data_row.global_key",
                    f"global key {key!r} is used by two rows of this file ({other}, {rid})",
                )

    def _resolve(
        self, row: CheckedRow, existing: dict[str, Any], seen_keys: dict[str, str]
    ) -> tuple[str, Any]:
        """The id ``row`` is written under and the catalog's row of it (None: new)."""
        by_key = existing.get("gk:" + row.global_key) if row.global_key else None
        if row.id is not None:
            rid = row.id
            old = existing.get(rid)
            if old is not None and old["org_id"] != self.org_id:
                raise Problem("data_row.id", f"data row {rid} belongs to another organization")
            if by_key is not None and by_key["id"] != rid:
                raise Problem(
                    "data_row.global_key",
                    f"global key {row.global_key!r} already belongs to data row {by_key['id']}",
                )
        elif by_key is not None:
            rid, old = by_key["id"], by_key
        else:
            rid = self.tables.new_id(row)
            old = existing.get(rid)
        self._seen_key(row.global_key, rid, seen_keys)
        row.id = rid
        return rid, old

    def _existing(self, batch: list[tuple[int, CheckedRow]]) -> tuple[dict[str, Any], set[str]]:
        """Catalog rows the batch names, by id and by ``"gk:" + global key``; and which of the
        ids rows get (their own, or derived) are taken in the catalog."""
        d = s.data_row.c
        ids = [r.id for _, r in batch if r.id]
        keys = [r.global_key for _, r in batch if r.global_key]
        derived = [self.tables.new_id(r) for _, r in batch if not r.id]
        queries = []
        if ids:
            queries.append(sa.select(s.data_row).where(self.bulk.one_of(d.id, ids)))
        if keys:
            queries.append(
                sa.select(s.data_row).where(
                    d.org_id == self.org_id, self.bulk.one_of(d.global_key, keys)
                )
            )
        found: dict[str, Any] = {}
        for query in queries:
            for rec in self.conn.execute(query).mappings():
                found[rec["id"]] = rec
                if rec["global_key"] is not None and rec["org_id"] == self.org_id:
                    found["gk:" + rec["global_key"]] = rec
        present = {k for k in found if not k.startswith("gk:")}
        if derived:
            query = sa.select(d.id).where(self.bulk.one_of(d.id, derived))
            present.update(self.conn.execute(query).scalars())
        return found, present

    def _children(self, b: ChildRows) -> None:
        bulk = self.bulk
        bulk.delete_in(s.data_row_metadata, "data_row_id", b.meta_replace)
        bulk.insert_rows(s.data_row_metadata, METADATA, b.meta_rows)
        bulk.delete_in(s.data_row_embedding, "data_row_id", b.emb_replace)
        bulk.insert_rows(s.data_row_embedding, EMBEDDING, b.emb_rows)
        pdr_keys = ["project_id", "data_row_id"]
        bulk.upsert_rows(s.project_data_row, MEMBERSHIP, b.pdr_full, pdr_keys)
        bulk.upsert_rows(s.project_data_row, MEMBERSHIP, b.pdr_default, pdr_keys, update=False)
        bulk.delete_pairs(s.workflow_history, ("project_id", "data_row_id"), b.history_replace)
        bulk.insert_rows(s.workflow_history, HISTORY, b.history_rows)
        bulk.delete_pairs(s.label, ("project_id", "data_row_id"), b.label_replace)
        bulk.upsert_rows(s.label, LABEL, b.label_rows, ["id"])
        bulk.upsert_rows(
            s.model_run_data_row, RUN_ROW, b.mrdr_rows, ["model_run_id", "data_row_id"]
        )
        bulk.delete_pairs(s.model_run_label, ("model_run_id", "data_row_id"), b.run_replace)
        bulk.delete_pairs(s.prediction, ("model_run_id", "data_row_id"), b.predictions_replace)
        bulk.upsert_rows(s.model_run_label, RUN_LABEL, b.run_labels, ["model_run_id", "id"])
        bulk.upsert_rows(s.prediction, RUN_LABEL, b.predictions, ["model_run_id", "id"])

    def _refuse_foreign_labels(self, label_rows: list[Raw], lines: dict[str, int]) -> None:
        ids = [r[0] for r in label_rows]
        foreign = (
            self.conn.execute(
                sa.select(s.label.c.id).where(
                    self.bulk.one_of(s.label.c.id, ids), s.label.c.org_id != self.org_id
                )
            )
            .scalars()
            .first()
        )
        if foreign is not None:
            owner = next(r for r in label_rows if r[0] == foreign)
            raise _LineProblem(
                lines.get(owner[3], 0),
                Problem(
                    "projects.labels.id",
                    f"label {foreign} belongs to another organization",
                ),
            )

    def _written(self, rows: dict[str, list[Any]], b: ChildRows) -> Written:
        """What this batch wrote of the rows new to the catalog (``rows``), for the export-ready
        rows. A row sharing a label or model-run row with another row of the batch (its later
        copy won) is left out: what it has is then read back."""
        e = self.entities
        written = Written(
            datasets=e.datasets,
            fields=e.fields,
            emails=e.emails,
            embedding_names=e.embeddings,
            batches=e.batches,
            models=e.models,
            model_runs=e.runs,
        )
        shared: set[str] = set()
        for table, id_at, row_at in (
            (b.label_rows, (0,), 3),
            (b.run_labels, (0, 1), 2),
            (b.predictions, (0, 1), 2),
            (b.mrdr_rows, (0, 1), 1),
        ):
            keys = Counter(tuple(r[i] for i in id_at) for r in table)
            if len(keys) < len(table):
                repeated = {k for k, n in keys.items() if n > 1}
                shared.update(r[row_at] for r in table if tuple(r[i] for i in id_at) in repeated)
        for rid, values in rows.items():
            if rid not in shared:
                written.rows[rid] = tuple(values)
        fresh = written.rows
        for into, table, row_at in (
            (written.metadata, b.meta_rows, 0),
            (written.embeddings, b.emb_rows, 0),
            (written.memberships, b.pdr_full, 1),
            (written.memberships, b.pdr_default, 1),
            (written.history, b.history_rows, 1),
            (written.labels, b.label_rows, 3),
            (written.runs, b.mrdr_rows, 1),
            (written.run_labels, b.run_labels, 2),
            (written.predictions, b.predictions, 2),
        ):
            for r in table:
                if r[row_at] in fresh:
                    into.setdefault(r[row_at], []).append(r)
        for rid in written.memberships:  # a row's projects in their order (full and default)
            written.memberships[rid].sort(key=position)
        projects = {m[0] for ms in written.memberships.values() for m in ms}
        written.projects = {
            pid: (e.project_names[pid], e.projects[pid], e.project_tags.get(pid))
            for pid in projects
        }
        return written

    def _first_seen(self, ids: list[str]) -> int:
        """How many of ``ids`` this import writes for the first time (a temporary table of the
        ids written so far, in the import's transaction: memory stays flat however long the
        file). One statement per batch."""
        raw = self.conn.connection.driver_connection
        assert raw is not None
        cursor = raw.cursor()
        try:
            if self.store.is_sqlite:
                if not self.seen_table:
                    cursor.execute(
                        "CREATE TEMP TABLE IF NOT EXISTS lp_import_seen (id TEXT PRIMARY KEY)"
                    )
                    cursor.execute("DELETE FROM lp_import_seen")
                    self.seen_table = True
                cursor.execute(
                    "INSERT OR IGNORE INTO lp_import_seen (id) SELECT value FROM json_each(?)",
                    (orjson.dumps(ids).decode(),),
                )
            else:
                if not self.seen_table:
                    cursor.execute(
                        "CREATE TEMP TABLE IF NOT EXISTS lp_import_seen (id TEXT PRIMARY KEY)"
                        " ON COMMIT DROP"
                    )
                    self.seen_table = True
                cursor.execute(
                    "INSERT INTO lp_import_seen (id) SELECT unnest(%s::text[])"
                    " ON CONFLICT DO NOTHING",
                    (ids,),
                )
            return int(cursor.rowcount)
        finally:
            cursor.close()


class _Job:
    """The writes of one batch (its rows, child rows and export-ready entries)."""

    def __init__(
        self,
        writer: BatchWriter,
        rows: list[list[Any]],
        children: ChildRows,
        sources: dict[str, bytes | None],
        built: dict[str, Entry],
    ) -> None:
        self.writer = writer
        self.rows = rows
        self.children = children
        self.sources = sources
        self.built = built
        self.ids = [r[0] for r in rows]

    def __call__(self) -> None:
        w = self.writer
        w.bulk.upsert_rows(s.data_row, DATA_ROW, self.rows, ["id"])
        w._children(self.children)
        w.ready.fill(w.conn, w.org_id, self.ids, self.sources, self.built)
