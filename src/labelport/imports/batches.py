"""Writing one batch of checked rows: a few set-based statements per table, never one per row.

A batch's rows are resolved against the catalog in one read (by id and by global key), their
table rows are built as raw tuples (:mod:`labelport.store.bulk`: no per-value processing), and
each table is written in one statement (``COPY`` on PostgreSQL). Sections a row leaves out keep
what the catalog has; sections it carries replace what was there (for a row new to the catalog
there is nothing to replace, and no delete is made).

Rows an import wrote from the very same record, unchanged since, are skipped (see
:meth:`BatchWriter.write`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
import sqlalchemy as sa

from labelport.errors import RecordError
from labelport.ids import derived_id
from labelport.imports import shaping
from labelport.imports.base import Problem
from labelport.imports.canonical import CheckedLabel, CheckedRow, infer_media_type
from labelport.imports.entities import Entities
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

Raw = tuple[Any, ...]


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
        written: Written | None = None,
    ) -> int: ...

    def unchanged(
        self, conn: sa.Connection, org_id: str, digests: Mapping[str, bytes]
    ) -> set[str]: ...

    def incomplete(self, conn: sa.Connection, org_id: str) -> bool: ...


@dataclass(slots=True)
class _ChildRows:
    """Rows to write for one batch, by table; ``*_replace`` name the sets being replaced (of
    rows the catalog had before: a new row has nothing to replace)."""

    meta_rows: list[Raw] = field(default_factory=list)
    meta_replace: list[str] = field(default_factory=list)
    emb_rows: list[Raw] = field(default_factory=list)
    emb_replace: list[str] = field(default_factory=list)
    pdr_full: list[Raw] = field(default_factory=list)
    pdr_default: list[Raw] = field(default_factory=list)
    history_replace: list[tuple[str, str]] = field(default_factory=list)  # (project, row)
    history_rows: list[Raw] = field(default_factory=list)
    label_replace: list[tuple[str, str]] = field(default_factory=list)  # (project, row)
    label_rows: list[Raw] = field(default_factory=list)
    mrdr_rows: list[Raw] = field(default_factory=list)
    run_replace: list[tuple[str, str]] = field(default_factory=list)  # (model run, row)
    predictions_replace: list[tuple[str, str]] = field(default_factory=list)
    meta_values: dict[str, list[Any]] = field(default_factory=dict)  # row -> values as stored
    run_labels: list[Raw] = field(default_factory=list)
    predictions: list[Raw] = field(default_factory=list)


class _LineProblem(Exception):
    def __init__(self, line: int, problem: Problem) -> None:
        super().__init__(str(problem))
        self.line = line
        self.problem = problem


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
        self.default_dataset = entities.default_dataset
        self.media_type = media_type
        self.file = file
        self.ready = ready
        self.now = entities.now
        self.now_raw = self.bulk.timestamp(entities.now)
        self.new_rows = 0  # rows of the last batch written for the first time in this import
        self.seen_table = False

    # ------------------------------------------------------------------------------- batches

    def write(self, batch: list[tuple[int, CheckedRow]]) -> list[RecordError]:
        """Write one batch; return problems found against the catalog (nothing written then).

        A row that an import wrote from the very same record (and context), and that nothing
        changed since, is left as it is: writing it again would give the same catalog. If the
        batch's other rows change one of those after all, the whole batch is written in file
        order, as if nothing had been skipped."""
        skipped = self._unchanged(batch)
        fresh = [x for x in batch if x[1].id not in skipped] if skipped else batch
        errors, written = self._write(fresh) if fresh else ([], [])
        if skipped and not errors and fresh:
            kept = self._unchanged([x for x in batch if x[1].id in skipped])
            if kept != skipped:
                errors, written = self._write(batch)
                skipped = set()
        if errors:
            return errors
        self.new_rows = self._first_seen([*written, *skipped])
        return []

    def _unchanged(self, batch: list[tuple[int, CheckedRow]]) -> set[str]:
        """Rows of ``batch`` (named by id, once) written from their record and unchanged since."""
        times = Counter(r.id for _, r in batch)
        digests = {
            r.id: r.digest
            for _, r in batch
            if r.id is not None and r.digest is not None and times[r.id] == 1
        }
        return self.ready.unchanged(self.conn, self.org_id, digests) if digests else set()

    def _write(self, batch: list[tuple[int, CheckedRow]]) -> tuple[list[RecordError], list[str]]:
        """Write ``batch``: the problems found against the catalog, or the ids written."""
        errors: list[RecordError] = []
        existing = self._existing(batch)
        rows: list[list[Any]] = []
        resolved: list[tuple[str, CheckedRow, str, bool]] = []  # id, row, media type, existed
        seen_keys: dict[str, str] = {}
        for line, row in batch:
            inferred = infer_media_type(row)
            try:
                values, existed = self._row_values(row, existing, seen_keys, inferred)
            except Problem as problem:
                errors.append(RecordError(self.file, line, problem.field, problem.reason))
                continue
            rows.append(values)
            resolved.append((values[0], row, inferred, existed))
        if errors:
            return errors, []
        if len({r[0] for r in rows}) < len(rows):  # one row twice in a batch: the later wins
            last = {r[0]: i for i, r in enumerate(rows)}
            rows = [r for i, r in enumerate(rows) if last[r[0]] == i]
            resolved = [x for i, x in enumerate(resolved) if last[x[0]] == i]
        lines = {str(r.id): line for line, r in batch}
        try:
            children = self._gather(resolved, lines)
        except _LineProblem as lp:
            return [RecordError(self.file, lp.line, lp.problem.field, lp.problem.reason)], []
        for values, (rid, row, _, existed) in zip(rows, resolved, strict=True):
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
        self.bulk.upsert_rows(s.data_row, DATA_ROW, rows, ["id"])
        try:
            self._children(children, lines)
        except _LineProblem as lp:
            return [RecordError(self.file, lp.line, lp.problem.field, lp.problem.reason)], []
        # Export-ready rows of this batch, in the import's own commit (a later batch that writes
        # one of these rows again forgets its entry through the triggers and builds it again).
        ids = [r[0] for r in rows]
        sources = {rid: row.digest for rid, row, _, _ in resolved}
        fresh = {r[0]: r for r, x in zip(rows, resolved, strict=True) if not x[3]}
        written = self._written(fresh, children) if fresh else None
        self.ready.fill(self.conn, self.org_id, ids, sources, written)
        return [], ids

    def _written(self, rows: dict[str, list[Any]], b: _ChildRows) -> Written:
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
            written.memberships[rid].sort(key=_position)
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

    def _existing(self, batch: list[tuple[int, CheckedRow]]) -> dict[str, Any]:
        """Catalog rows the batch names, by id and by ``"gk:" + global key``."""
        d = s.data_row.c
        ids = [r.id for _, r in batch if r.id]
        keys = [r.global_key for _, r in batch if r.global_key]
        queries = []
        if ids:
            queries.append(sa.select(s.data_row).where(d.id.in_(ids)))
        if keys:
            queries.append(
                sa.select(s.data_row).where(d.org_id == self.org_id, d.global_key.in_(keys))
            )
        found: dict[str, Any] = {}
        for query in queries:
            for rec in self.conn.execute(query).mappings():
                found[rec["id"]] = rec
                if rec["global_key"] is not None and rec["org_id"] == self.org_id:
                    found["gk:" + rec["global_key"]] = rec
        return found

    # ---------------------------------------------------------------------------- data rows

    def _row_values(
        self,
        row: CheckedRow,
        existing: dict[str, Any],
        seen_keys: dict[str, str],
        inferred: str,
    ) -> tuple[list[Any], bool]:
        """The raw ``data_row`` values of ``row`` (all but the shape), and whether the catalog
        had it."""
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
            dataset_hint = row.dataset_id or row.dataset_name or self.default_dataset or ""
            rid = derived_id(
                "data-row",
                self.org_id,
                *(
                    ("gk", row.global_key)
                    if row.global_key
                    else ("content", dataset_hint, row.external_id or "", row.row_data)
                ),
            )
            old = existing.get(rid)
        if row.global_key is not None:
            other = seen_keys.setdefault(row.global_key, rid)
            if other != rid:
                raise Problem(
                    "data_row.global_key",
                    f"global key {row.global_key!r} is used by two rows of this file "
                    f"({other}, {rid})",
                )
        row.id = rid
        ts = self.bulk.timestamp
        if old is None:
            dataset_id = self.entities.dataset(row)
            created_at = row.created_at or self.now
            last_activity = row.last_activity_at or max(row.activity_times(), default=self.now)
            return [
                rid,
                self.org_id,
                dataset_id,
                row.global_key,
                row.external_id,
                row.row_data,
                self.media_type or row.media_type or inferred,
                document(row.media_attributes),
                document(row.attachments),
                ts(created_at),
                ts(row.updated_at or created_at),
                self.entities.user(row.created_by) if row.created_by else None,
                ts(last_activity),
            ], False
        dataset_id = (
            self.entities.dataset(row)
            if (row.dataset_id or row.dataset_name)
            else old["dataset_id"]
        )
        created_at = row.created_at or old["created_at"]
        last_activity = row.last_activity_at or max(
            (*row.activity_times(), old["last_activity_at"])
        )
        # forced by the caller, else the row's own, else what the catalog has
        media_type = self.media_type or row.media_type or old["media_type"]

        def keep(new: Any, column: str) -> Any:
            return new if new is not None else old[column]

        return [
            rid,
            self.org_id,
            dataset_id,
            keep(row.global_key, "global_key"),
            keep(row.external_id, "external_id"),
            row.row_data,
            media_type,
            document(keep(row.media_attributes, "media_attributes")),
            document(keep(row.attachments, "attachments")),
            ts(created_at),
            ts(row.updated_at or old["updated_at"]),
            self.entities.user(row.created_by) if row.created_by else old["created_by_id"],
            ts(last_activity),
        ], True

    # ----------------------------------------------------------------------------- children

    def _gather(
        self, rows: list[tuple[str, CheckedRow, str, bool]], lines: dict[str, int]
    ) -> _ChildRows:
        """The child rows of a batch (entities they name are ensured on the way)."""
        b = _ChildRows()
        for rid, row, media_type, existed in rows:
            try:
                self._collect(rid, row, media_type, existed, b)
            except Problem as problem:
                raise _LineProblem(lines.get(rid, 0), problem) from None
        return b

    def _children(self, b: _ChildRows, lines: dict[str, int]) -> None:
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
        if b.label_rows:
            self._refuse_foreign_labels(b.label_rows, lines)
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
                    s.label.c.id.in_(ids), s.label.c.org_id != self.org_id
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

    def _collect(
        self, rid: str, row: CheckedRow, media_type: str, existed: bool, b: _ChildRows
    ) -> None:
        """Gather the child rows of one data row into ``b``; entities are ensured on the way."""
        entities = self.entities
        if row.metadata is not None:
            if existed:
                b.meta_replace.append(rid)
            stored = b.meta_values[rid] = []
            for i, item in enumerate(row.metadata):
                sid, value = entities.metadata_field(item, f"metadata_fields[{i}]")
                stored.append(value)
                b.meta_rows.append((rid, i, sid, document(value)))
        if row.embeddings is not None:
            if existed:
                b.emb_replace.append(rid)
            for i, item in enumerate(row.embeddings):
                entities.embedding(item, f"embeddings[{i}]")
                b.emb_rows.append((rid, item["id"], i, document(item["values"])))
        ts = self.bulk.timestamp
        for position, proj in enumerate(row.projects):
            details = proj.details or {}
            ontology = entities.project(proj.id, proj.name, media_type, details.get("ontology_id"))
            if proj.tags is not None:
                entities.project_tagged(proj.id, proj.tags)
            if details.get("batch_id"):
                entities.batch(details["batch_id"], proj.id, details.get("batch_name"))
            pdr = (
                proj.id,
                rid,
                proj.workflow_status,  # None: unknown, never made up
                details.get("priority"),
                details.get("batch_id"),
                details.get("task_id"),
                details.get("task_name"),
                details.get("consensus_expected_label_count"),
                details.get("selected_label_id"),
                position,
                self.now_raw,
                document(shaping.project_shape(proj)),
            )
            (b.pdr_full if proj.details is not None else b.pdr_default).append(pdr)
            if proj.details is not None:
                if existed:
                    b.history_replace.append((proj.id, rid))
                for i, entry in enumerate(details.get("workflow_history") or ()):
                    b.history_rows.append(
                        (proj.id, rid, i, ts(proj.history_times[i]), document(entry))
                    )
            if proj.labels is None:  # the entry carried no labels: the catalog's stay
                continue
            if existed:
                b.label_replace.append((proj.id, rid))
            for i, lab in enumerate(proj.labels):
                entities.collect_features(ontology, lab.annotations)
                b.label_rows.append(self._label_row(lab, proj.id, rid, i, row))
        for position, run in enumerate(row.runs):
            entities.model_run(run.model_id, run.model_name, run.id, run.name)
            b.mrdr_rows.append(
                (
                    run.id,
                    rid,
                    run.run_data_row_id or derived_id("run-data-row", run.id, rid),
                    run.split,
                    position,
                    document(shaping.run_shape(run)),
                )
            )
            if existed and run.labels is not None:
                b.run_replace.append((run.id, rid))
            if existed and run.predictions is not None:
                b.predictions_replace.append((run.id, rid))
            for rows_out, labels in (
                (b.run_labels, run.labels),
                (b.predictions, run.predictions),
            ):
                for i, lab in enumerate(labels or ()):
                    rows_out.append(
                        (
                            run.id,
                            lab.id,
                            rid,
                            i,
                            lab.label_kind,
                            lab.version,
                            document(lab.annotations),
                            document(shaping.run_label_shape(lab)),
                        )
                    )

    def _label_row(
        self,
        lab: CheckedLabel,
        project_id: str,
        rid: str,
        position: int,
        row: CheckedRow,
    ) -> Raw:
        perf = lab.performance
        created = lab.created_at or row.created_at or self.now
        ts = self.bulk.timestamp
        if perf is None:
            performance: tuple[Any, ...] = (None,) * 9
        else:
            performance = (
                _float(perf.get("seconds_to_create")),
                _float(perf.get("seconds_to_review")),
                perf.get("skipped"),
                document(perf.get("performance_details_v2")),
                perf.get("benchmark_reference_label"),
                _float(perf.get("benchmark_score")),
                _float(perf.get("consensus_score")),
                perf.get("consensus_label_count"),
                document(perf.get("consensus_labels")),
            )
        return (
            lab.id,
            self.org_id,
            project_id,
            rid,
            position,
            lab.label_kind,
            lab.version,
            document(lab.annotations),
            ts(created),
            ts(lab.updated_at or created),
            self.entities.user(lab.created_by),
            ts(lab.content_last_updated_at),
            document(lab.reviews),
            *performance,
            document(shaping.label_shape(lab)),
        )


def _position(membership: Sequence[Any]) -> int:
    return int(membership[9])


def _float(value: Any) -> float | None:
    """A value of a Float column as it is stored (and read back)."""
    return None if value is None else float(value)
