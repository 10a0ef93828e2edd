"""Load canonical rows into the catalog: batched, idempotent, all-or-nothing per file.

The whole file goes into one write transaction. Rows are checked and written in batches (a few
queries per batch, never one statement per row), so memory stays flat whatever the file size. The
first bad record stops the writing but not the checking: the caller gets up to 100 problems and the
count of all of them, and the transaction is rolled back, so a failed file leaves no trace.

Re-importing updates by id (or global key when a row has no id); sections a row leaves out
(attachments, metadata, a project's labels, ...) keep what the catalog already has, sections it
carries replace what was there.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from dataclasses import field as _field
from datetime import datetime
from typing import Any, Protocol

import orjson
import sqlalchemy as sa

from labelport.errors import InvalidRecords, RecordError
from labelport.ids import derived_id, new_id
from labelport.imports import aliases, shaping
from labelport.imports.annotations import Feature, iter_features
from labelport.imports.base import (
    AliasSpec,
    AnnotationSetSpec,
    Item,
    ParsedRow,
    Problem,
    SourceWarning,
)
from labelport.imports.canonical import (
    CheckedLabel,
    CheckedRow,
    check_row,
    infer_media_type,
)
from labelport.store import Store
from labelport.store import schema as s
from labelport.times import utcnow

BATCH_SIZE = 500


@dataclass(slots=True)
class ImportWarning:
    """Alike warnings of one import, counted: the field path (ids and positions generalized),
    the reason, how many times, and the first lines it was seen on."""

    field: str
    reason: str
    count: int = 0
    lines: list[int] = _field(default_factory=list)

    FIRST_LINES = 5

    def to_json(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "reason": self.reason,
            "count": self.count,
            "lines": self.lines,
        }


@dataclass(slots=True)
class ImportResult:
    file: str
    rows: int = 0
    labels: int = 0  # project labels
    predictions: int = 0
    model_runs: int = 0  # distinct model runs the rows belong to
    model_run_labels: int = 0  # ground-truth labels of model runs
    seconds: float = 0.0
    annotation_sets: list[str] = field(default_factory=list)
    warnings: list[ImportWarning] = field(default_factory=list)
    objective: str | None = None  # Vertex: the objective the file was read as
    dataset: str | None = None  # the default dataset, when the import named one itself

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("inf")

    def to_json(self) -> dict[str, Any]:
        """The summary as REST and ``--json`` show it."""
        out: dict[str, Any] = {
            "rows": self.rows,
            "labels": self.labels,
            "predictions": self.predictions,
            "model_runs": self.model_runs,
            "model_run_labels": self.model_run_labels,
            "annotation_sets": list(self.annotation_sets),
            "warnings": [w.to_json() for w in self.warnings],
        }
        if self.objective is not None:
            out["objective"] = self.objective
        if self.dataset is not None:
            out["dataset"] = self.dataset
        return out


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
    ) -> int: ...

    def unchanged(
        self, conn: sa.Connection, org_id: str, digests: Mapping[str, bytes]
    ) -> set[str]: ...

    def incomplete(self, conn: sa.Connection, org_id: str) -> bool: ...


class _Errors:
    def __init__(self, file: str) -> None:
        self.file = file
        self.listed: list[RecordError] = []
        self.total = 0

    def add(self, error: RecordError) -> None:
        self.total += 1
        if len(self.listed) < InvalidRecords.MAX_LISTED:
            self.listed.append(error)

    def problem(self, line: int, problem: Problem) -> None:
        self.add(RecordError(self.file, line, problem.field, problem.reason))


class _Warnings:
    """Alike warnings (same field path and reason) counted together, in the order first seen."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], ImportWarning] = {}

    def add(self, warning: SourceWarning) -> None:
        key = (warning.field, warning.reason)
        found = self.seen.get(key)
        if found is None:
            found = self.seen[key] = ImportWarning(warning.field, warning.reason)
        found.count += 1
        if len(found.lines) < ImportWarning.FIRST_LINES and warning.line not in found.lines:
            found.lines.append(warning.line)

    def summary(self) -> list[ImportWarning]:
        return list(self.seen.values())


# Imports of at least this many rows refresh the planner's statistics when they commit.
STATISTICS_AFTER = 1000


def import_items(
    store: Store,
    org_id: str,
    items: Iterable[Item],
    *,
    file: str,
    default_dataset: str | None = None,
    media_type: str | None = None,
    ready: ExportReady,
    on_progress: Callable[[int], None] | None = None,
    batch_size: int = BATCH_SIZE,
    strict: bool = False,
) -> ImportResult:
    """Import converter ``items`` into organization ``org_id``; InvalidRecords on bad input.

    ``ready`` keeps the export-ready rows of what is written (:mod:`labelport.export.cache`,
    passed in by the services: imports do not depend on exports).

    Warnings (unknown fields and values, kept verbatim) are counted into the result; with
    ``strict`` each one is an error instead."""
    started = time.perf_counter()
    result = ImportResult(file=file)
    errors = _Errors(file)
    warnings = _Warnings()

    def warn(warning: SourceWarning) -> None:
        if strict:
            errors.add(
                RecordError(file, warning.line, warning.field, f"{warning.reason} (--strict)")
            )
        else:
            warnings.add(warning)

    context = orjson.dumps([SOURCE_FORMAT, default_dataset, media_type])
    with store.write(large=True) as conn:
        loader = _Loader(store, conn, org_id, default_dataset, media_type, file, ready)
        pending: list[tuple[int, CheckedRow]] = []
        runs: set[str] = set()

        def flush() -> None:
            if pending and not errors.total:
                for error in loader.write(pending):
                    errors.add(error)
                if not errors.total:
                    result.rows += loader.new_rows  # distinct rows: a repeated line counts once
                    for _, r in pending:
                        result.labels += sum(len(p.labels or ()) for p in r.projects)
                        for run in r.runs:
                            runs.add(run.id)
                            result.predictions += len(run.predictions or ())
                            result.model_run_labels += len(run.labels or ())
                    if on_progress is not None:
                        on_progress(result.rows)
            pending.clear()

        for item in items:
            if isinstance(item, RecordError):
                errors.add(item)
            elif isinstance(item, SourceWarning):
                warn(item)
            elif isinstance(item, AnnotationSetSpec):
                if not errors.total:
                    loader.annotation_set(item)
                result.annotation_sets.append(item.id)
                result.objective = item.objective
            elif isinstance(item, AliasSpec):
                if not errors.total:
                    try:
                        aliases.write(conn, org_id, item)
                    except Problem as problem:
                        errors.problem(item.line, problem)
            elif isinstance(item, ParsedRow):
                digest = source_digest(context, item)
                try:
                    checked = check_row(item.row)
                except Problem as problem:
                    errors.problem(item.line, problem)
                else:
                    checked.shaped = item.shaped
                    checked.digest = digest
                    for path, reason in checked.notes.items:
                        warn(SourceWarning(item.line, path, reason))
                    pending.append((item.line, checked))
                if len(pending) >= batch_size:
                    flush()
        flush()
        if not errors.total:
            loader.finish()
            if ready.incomplete(conn, org_id):  # e.g. a renamed project: its rows forgot theirs
                ready.fill(conn, org_id)
        if errors.total:
            raise InvalidRecords(file, errors.listed, errors.total)
        result.warnings = warnings.summary()
        result.model_runs = len(runs)
        if loader.used_default:
            result.dataset = default_dataset
    if result.rows >= STATISTICS_AFTER:
        store.refresh_statistics()
    result.seconds = time.perf_counter() - started
    return result


# Part of every record's digest: a labelport that writes records differently changes it, so
# that rows an older one wrote are written again rather than skipped as unchanged.
SOURCE_FORMAT = 1


def source_digest(context: bytes, item: ParsedRow) -> bytes | None:
    """What a row is written from: its record and the import's context (default dataset, forced
    media type, source shape or labelport's own). None for a record orjson cannot encode."""
    try:
        record = orjson.dumps(item.row)
    except (TypeError, orjson.JSONEncodeError):
        return None
    digest = hashlib.blake2b(context, digest_size=16)
    digest.update(b"shaped" if item.shaped else b"own")
    digest.update(record)
    return digest.digest()


class _Loader:
    def __init__(
        self,
        store: Store,
        conn: sa.Connection,
        org_id: str,
        default_dataset: str | None,
        media_type: str | None,
        file: str,
        ready: ExportReady,
    ) -> None:
        self.file = file
        self.ready = ready
        self.store = store
        self.conn = conn
        self.bulk = store.bulk(conn)  # COPY on PostgreSQL
        self.org_id = org_id
        self.default_dataset = default_dataset
        self.media_type = media_type
        self.now = utcnow()
        self.users: dict[str, str] = {}
        self.datasets: dict[str, str] = {}  # id -> name
        self.dataset_names: dict[str, str] = {}  # name -> id
        self.projects: dict[str, str] = {}  # id -> ontology id
        self.project_tags: dict[str, list[Any]] = {}  # tags written by this import
        self.batches: set[str] = set()
        self.models: set[str] = set()
        self.runs: set[str] = set()
        self.fields: dict[str, tuple[str, str]] = {}  # schema id -> (kind, name)
        self.field_names: dict[tuple[str | None, str], str] = {}  # (parent, name) -> id
        self.embeddings: set[str] = set()
        self.features: dict[str, set[str]] = {}  # ontology id -> feature ids
        self.feature_rows: list[dict[str, Any]] = []
        self.feature_positions: dict[str, int] = {}
        self.used_default = False  # did a row go to the default dataset?
        self.new_rows = 0  # rows of the last batch written for the first time in this import
        self.seen_table = False

    # ------------------------------------------------------------------------------- lookups

    def _owned(self, table: sa.Table, entity_id: str, what: str, path: str) -> bool:
        """True if ``entity_id`` exists in this organization; Problem if in another one."""
        owner = self.conn.execute(
            sa.select(table.c.org_id).where(table.c.id == entity_id)
        ).scalar_one_or_none()
        if owner is not None and owner != self.org_id:
            raise Problem(path, f"{what} {entity_id} belongs to another organization")
        return owner is not None

    def user(self, email: str | None) -> str | None:
        if email is None:
            return None
        if (uid := self.users.get(email)) is not None:
            return uid
        found = self.conn.execute(
            sa.select(s.user.c.id).where(s.user.c.org_id == self.org_id, s.user.c.email == email)
        ).scalar_one_or_none()
        if found is None:
            found = new_id()
            self.conn.execute(
                s.user.insert(),
                {
                    "id": found,
                    "org_id": self.org_id,
                    "email": email,
                    "role": "viewer",
                    "created_at": self.now,
                },
            )
        self.users[email] = found
        return found

    def dataset(self, row: CheckedRow) -> str:
        if row.dataset_id is not None:
            if row.dataset_id in self.datasets:
                if row.dataset_name and self.datasets[row.dataset_id] != row.dataset_name:
                    self.conn.execute(  # a later row names the dataset an earlier one did not
                        s.dataset.update().where(s.dataset.c.id == row.dataset_id),
                        {"name": row.dataset_name, "updated_at": self.now},
                    )
                    self.datasets[row.dataset_id] = row.dataset_name
                return row.dataset_id
            name = row.dataset_name or row.dataset_id  # a dataset known by id only: its id
            if self._owned(s.dataset, row.dataset_id, "dataset", "data_row.details.dataset_id"):
                if row.dataset_name:
                    self.conn.execute(
                        s.dataset.update().where(s.dataset.c.id == row.dataset_id),
                        {"name": row.dataset_name, "updated_at": self.now},
                    )
            else:
                self._insert_dataset(row.dataset_id, name)
            self.datasets[row.dataset_id] = name
            return row.dataset_id
        by_name = row.dataset_name or self.default_dataset
        if row.dataset_name is None and by_name is not None:
            self.used_default = True
        if by_name is None:
            raise Problem(
                "data_row.details.dataset_id",
                "the row names no dataset; include data_row.details or pass --dataset NAME",
            )
        return self.dataset_by_name(by_name)

    def dataset_by_name(self, name: str) -> str:
        if (did := self.dataset_names.get(name)) is not None:
            return did
        found = self.conn.execute(
            sa.select(s.dataset.c.id)
            .where(s.dataset.c.org_id == self.org_id, s.dataset.c.name == name)
            .order_by(s.dataset.c.created_at)
            .limit(1)
        ).scalar_one_or_none()
        if found is None:
            found = derived_id("dataset", self.org_id, name)
            self._insert_dataset(found, name)
        self.dataset_names[name] = found
        self.datasets[found] = name
        return found

    def _insert_dataset(self, dataset_id: str, name: str) -> None:
        self.conn.execute(
            s.dataset.insert(),
            {
                "id": dataset_id,
                "org_id": self.org_id,
                "name": name,
                "created_at": self.now,
                "updated_at": self.now,
            },
        )

    def project(self, pid: str, name: str, media_type: str | None, ontology_id: str | None) -> str:
        """Ensure the project exists; return its ontology id."""
        if pid in self.projects and (ontology_id is None or self.projects[pid] == ontology_id):
            return self.projects[pid]
        path = f"projects.{pid}"
        existing = self.conn.execute(
            sa.select(s.project.c.org_id, s.project.c.ontology_id, s.project.c.name).where(
                s.project.c.id == pid
            )
        ).first()
        if existing is not None and existing.org_id != self.org_id:
            raise Problem(path, f"project {pid} belongs to another organization")
        ontology = ontology_id or (existing.ontology_id if existing else None)
        ontology = self._ontology_for(pid, name, ontology, media_type)
        if existing is None:
            self.conn.execute(
                s.project.insert(),
                {
                    "id": pid,
                    "org_id": self.org_id,
                    "name": name,
                    "media_type": media_type,
                    "ontology_id": ontology,
                    "created_at": self.now,
                    "updated_at": self.now,
                },
            )
        elif existing.name != name or existing.ontology_id != ontology:
            self.conn.execute(
                s.project.update().where(s.project.c.id == pid),
                {"name": name, "ontology_id": ontology, "updated_at": self.now},
            )
        self.projects[pid] = ontology
        return ontology

    def _ontology_for(
        self, pid: str, name: str, ontology_id: str | None, media_type: str | None = None
    ) -> str:
        oid = ontology_id or derived_id("ontology", pid)
        if oid not in self.features:
            if not self._owned(
                s.ontology, oid, "ontology", f"projects.{pid}.project_details.ontology_id"
            ):
                self.conn.execute(
                    s.ontology.insert(),
                    {
                        "id": oid,
                        "org_id": self.org_id,
                        "name": f"{name} ontology",
                        "media_type": media_type,
                        "created_at": self.now,
                        "updated_at": self.now,
                    },
                )
            known = self.conn.execute(
                sa.select(s.feature.c.id).where(s.feature.c.ontology_id == oid)
            ).scalars()
            self.features[oid] = set(known)
            self.feature_positions[oid] = len(self.features[oid])
        return oid

    def collect_features(self, ontology_id: str, annotations: dict[str, Any]) -> None:
        seen = self.features[ontology_id]
        for feature in iter_features(annotations):
            fid = self._feature_id(ontology_id, feature)
            if fid in seen:
                continue
            seen.add(fid)
            parent = feature.parent  # a feature_schema_id, or the name path of a nameless parent
            if parent is not None and ":" in parent:
                parent = derived_id("feature", ontology_id, parent)
            position = self.feature_positions[ontology_id]
            self.feature_positions[ontology_id] = position + 1
            self.feature_rows.append(
                {
                    "ontology_id": ontology_id,
                    "id": fid,
                    "parent_id": parent,
                    "kind": feature.kind,
                    "type": feature.type,
                    "name": feature.name[:500],
                    "value": feature.value if isinstance(feature.value, str) else None,
                    "position": position,
                }
            )

    @staticmethod
    def _feature_id(ontology_id: str, feature: Feature) -> str:
        if isinstance(feature.id, str) and feature.id:
            return feature.id[:64]
        return derived_id("feature", ontology_id, feature.path)

    def batch(self, batch_id: str, project_id: str, name: str | None) -> None:
        if batch_id in self.batches:
            return
        if not self._owned(
            s.batch, batch_id, "batch", f"projects.{project_id}.project_details.batch_id"
        ):
            self.conn.execute(
                s.batch.insert(),
                {
                    "id": batch_id,
                    "org_id": self.org_id,
                    "project_id": project_id,
                    "name": name or batch_id,
                    "created_at": self.now,
                },
            )
        elif name:
            self.conn.execute(s.batch.update().where(s.batch.c.id == batch_id), {"name": name})
        self.batches.add(batch_id)

    def model_run(self, model_id: str, model_name: str, run_id: str, run_name: str) -> None:
        if model_id not in self.models:
            if self._owned(s.model, model_id, "model", f"experiments.{model_id}"):
                self.conn.execute(
                    s.model.update().where(s.model.c.id == model_id), {"name": model_name}
                )
            else:
                self.conn.execute(
                    s.model.insert(),
                    {
                        "id": model_id,
                        "org_id": self.org_id,
                        "name": model_name,
                        "created_at": self.now,
                    },
                )
            self.models.add(model_id)
        if run_id not in self.runs:
            path = f"experiments.{model_id}.runs.{run_id}"
            if self._owned(s.model_run, run_id, "model run", path):
                self.conn.execute(
                    s.model_run.update().where(s.model_run.c.id == run_id),
                    {"name": run_name, "model_id": model_id, "updated_at": self.now},
                )
            else:
                self.conn.execute(
                    s.model_run.insert(),
                    {
                        "id": run_id,
                        "org_id": self.org_id,
                        "model_id": model_id,
                        "name": run_name,
                        "created_at": self.now,
                        "updated_at": self.now,
                    },
                )
            self.runs.add(run_id)

    def metadata_field(self, item: dict[str, Any], path: str) -> tuple[str, Any]:
        """Schema id and stored value of a metadata item, creating the field/option if needed."""
        value = item["value"]
        kind = _metadata_kind(value)
        sid = item.get("schema_id")
        name = item.get("schema_name")
        if sid is None:
            sid = self.field_names.get((None, str(name))) or self._field_by_name(None, str(name))
        if sid is None:
            sid = derived_id("metadata-field", self.org_id, str(name))
        known = self.fields.get(sid) or self._load_field(sid, path)
        if known is None:
            self._insert_field(sid, None, str(name or sid), kind)
        else:
            kind_known, name_known = known
            if name is not None and name != name_known:  # named by a later row
                self.conn.execute(
                    s.metadata_field.update().where(s.metadata_field.c.id == sid), {"name": name}
                )
                self.fields[sid] = (kind_known, str(name))
            if kind_known != kind and {kind_known, kind} != {"string", "datetime"}:
                raise Problem(
                    f"{path}.value",
                    f"metadata field {known[1]!r} holds {kind_known} values, got {kind}",
                )
        if kind == "enum":
            oid = value.get("schema_id")
            oname = value.get("schema_name")
            if oid is None:
                oid = self.field_names.get((sid, str(oname))) or self._field_by_name(
                    sid, str(oname)
                )
                oid = oid or derived_id("metadata-option", sid, str(oname))
            known_option = self.fields.get(oid) or self._load_field(oid, f"{path}.value.schema_id")
            if known_option is None:
                self._insert_field(oid, sid, str(oname or oid), "option")
                known_option = self.fields[oid]
            return str(sid), {"schema_id": oid, "schema_name": oname or known_option[1]}
        return str(sid), value

    def _field_by_name(self, parent: str | None, name: str) -> str | None:
        f = s.metadata_field.c
        cond = f.parent_id.is_(None) if parent is None else f.parent_id == parent
        found = self.conn.execute(
            sa.select(f.id).where(f.org_id == self.org_id, f.name == name, cond).limit(1)
        ).scalar_one_or_none()
        if found is not None:
            self.field_names[(parent, name)] = found
        return found

    def _load_field(self, sid: str, path: str) -> tuple[str, str] | None:
        f = s.metadata_field.c
        found = self.conn.execute(sa.select(f.org_id, f.kind, f.name).where(f.id == sid)).first()
        if found is None:
            return None
        if found.org_id != self.org_id:
            raise Problem(path, f"metadata field {sid} belongs to another organization")
        self.fields[sid] = (found.kind, found.name)
        return self.fields[sid]

    def _insert_field(self, sid: str, parent: str | None, name: str, kind: str) -> None:
        self.conn.execute(
            s.metadata_field.insert(),
            {
                "id": sid,
                "org_id": self.org_id,
                "parent_id": parent,
                "name": name,
                "kind": kind,
                "created_at": self.now,
            },
        )
        self.fields[sid] = (kind, name)
        self.field_names[(parent, name)] = sid

    def embedding(self, item: dict[str, Any], path: str) -> None:
        eid = item["id"]
        if eid in self.embeddings:
            return
        if not self._owned(s.embedding, eid, "embedding", f"{path}.id"):
            self.conn.execute(
                s.embedding.insert(),
                {
                    "id": eid,
                    "org_id": self.org_id,
                    "name": item["name"],
                    "dimensions": item["dimensions"],
                    "is_custom": bool(item.get("is_custom", False)),
                    "created_at": self.now,
                },
            )
        self.embeddings.add(eid)

    def annotation_set(self, spec: AnnotationSetSpec) -> None:
        dataset_id = self.dataset_by_name(self.default_dataset) if self.default_dataset else None
        self.project(spec.project_id, spec.display_name, None, None)
        values = {
            "display_name": spec.display_name,
            "objective": spec.objective,
            "dataset_id": dataset_id,
            "project_id": spec.project_id,
            "model_run_id": None,
            "settings": spec.settings,
            "updated_at": self.now,
        }
        try:
            exists = self._owned(s.annotation_set, spec.id, "annotation set", "annotation_set")
        except Problem as problem:
            error = RecordError(self.file, 0, problem.field, problem.reason)
            raise InvalidRecords(self.file, [error], 1) from None
        if exists:
            self.conn.execute(
                s.annotation_set.update().where(s.annotation_set.c.id == spec.id), values
            )
        else:
            self.conn.execute(
                s.annotation_set.insert(),
                {"id": spec.id, "org_id": self.org_id, "created_at": self.now, **values},
            )

    # ------------------------------------------------------------------------------- writing

    def write(self, batch: list[tuple[int, CheckedRow]]) -> list[RecordError]:
        """Write one batch; return problems found against the catalog (nothing written then).

        A row that an import wrote from the very same record (and context), and that nothing
        changed since, is left as it is: writing it again would give the same catalog. If the
        batch's other rows change one of those after all, the whole batch is written in file
        order, as if nothing had been skipped."""
        skipped = self._unchanged(batch)
        fresh = [x for x in batch if x[1].id not in skipped] if skipped else batch
        errors, written = self._write(fresh) if fresh else ([], [])
        if skipped and not errors:
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
        rows: list[dict[str, Any]] = []
        resolved: list[tuple[str, CheckedRow, str]] = []
        seen_keys: dict[str, str] = {}
        for line, row in batch:
            inferred = infer_media_type(row)
            try:
                values = self._row_values(row, existing, seen_keys, inferred)
            except Problem as problem:
                errors.append(RecordError(self.file, line, problem.field, problem.reason))
                continue
            rows.append(values)
            resolved.append((values["id"], row, inferred))
        if errors:
            return errors, []
        if len({r["id"] for r in rows}) < len(rows):  # one row twice in a batch: the later wins
            last = {r["id"]: i for i, r in enumerate(rows)}
            rows = [r for i, r in enumerate(rows) if last[r["id"]] == i]
            resolved = [x for i, x in enumerate(resolved) if last[x[0]] == i]
        lines = {str(r.id): line for line, r in batch}
        try:
            children = self._gather(resolved, lines)
        except _LineProblem as lp:
            return [RecordError(self.file, lp.line, lp.problem.field, lp.problem.reason)], []
        for values, (rid, row, _) in zip(rows, resolved, strict=True):
            old = existing.get(rid)
            values["shape"] = (
                shaping.row_shape(
                    row,
                    children.meta_values.get(rid),
                    old["shape"] if old is not None else None,
                    old is not None,
                )
                if row.shaped
                else None
            )
        self.bulk.upsert(s.data_row, rows, ["id"])
        try:
            self._children(children, lines)
        except _LineProblem as lp:
            return [RecordError(self.file, lp.line, lp.problem.field, lp.problem.reason)], []
        # Export-ready rows of this batch, in the import's own commit (a later batch that writes
        # one of these rows again forgets its entry through the triggers and builds it again).
        ids = [r["id"] for r in rows]
        self.ready.fill(self.conn, self.org_id, ids, {rid: row.digest for rid, row, _ in resolved})
        return [], ids

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

    def _row_values(
        self, row: CheckedRow, existing: dict[str, Any], seen_keys: dict[str, str], inferred: str
    ) -> dict[str, Any]:
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
            old = None
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
        dataset_id = (
            self.dataset(row)
            if (row.dataset_id or row.dataset_name or old is None)
            else old["dataset_id"]
        )
        created_at = row.created_at or (old["created_at"] if old else self.now)
        activity = [t for t in row.activity_times()]
        if old is not None:
            activity.append(old["last_activity_at"])
        last_activity = row.last_activity_at or (max(activity) if activity else self.now)
        # forced by the caller, else the row's own, else what the catalog has, else inferred
        media_type = self.media_type or row.media_type or (old["media_type"] if old else inferred)

        def keep(new: Any, column: str) -> Any:
            return new if new is not None else (old[column] if old else None)

        return {
            "id": rid,
            "org_id": self.org_id,
            "dataset_id": dataset_id,
            "global_key": keep(row.global_key, "global_key"),
            "external_id": keep(row.external_id, "external_id"),
            "row_data": row.row_data,
            "media_type": media_type,
            "media_attributes": keep(row.media_attributes, "media_attributes"),
            "attachments": keep(row.attachments, "attachments"),
            "created_at": created_at,
            "updated_at": row.updated_at or (old["updated_at"] if old else created_at),
            "created_by_id": self.user(row.created_by)
            if row.created_by
            else keep(None, "created_by_id"),
            "last_activity_at": last_activity,
        }

    def _gather(self, rows: list[tuple[str, CheckedRow, str]], lines: dict[str, int]) -> _ChildRows:
        """The child rows of a batch (entities they name are ensured on the way)."""
        b = _ChildRows()
        for rid, row, media_type in rows:
            try:
                self._collect(rid, row, media_type, b)
            except Problem as problem:
                raise _LineProblem(lines.get(rid, 0), problem) from None
        return b

    def _children(self, b: _ChildRows, lines: dict[str, int]) -> None:
        c, bulk = self.conn, self.bulk
        if b.meta_replace:
            c.execute(
                s.data_row_metadata.delete().where(
                    s.data_row_metadata.c.data_row_id.in_(b.meta_replace)
                )
            )
        bulk.insert(s.data_row_metadata, b.meta_rows)
        if b.emb_replace:
            c.execute(
                s.data_row_embedding.delete().where(
                    s.data_row_embedding.c.data_row_id.in_(b.emb_replace)
                )
            )
        bulk.insert(s.data_row_embedding, b.emb_rows)
        bulk.upsert(s.project_data_row, b.pdr_full, ["project_id", "data_row_id"])
        bulk.upsert(s.project_data_row, b.pdr_default, ["project_id", "data_row_id"], update=False)
        bulk.delete_pairs(s.workflow_history, ("project_id", "data_row_id"), b.history_replace)
        bulk.insert(s.workflow_history, b.history_rows)
        bulk.delete_pairs(s.label, ("project_id", "data_row_id"), b.label_replace)
        if b.label_rows:
            self._refuse_foreign_labels(b.label_rows, lines)
            bulk.upsert(s.label, b.label_rows, ["id"])
        bulk.upsert(s.model_run_data_row, b.mrdr_rows, ["model_run_id", "data_row_id"])
        bulk.delete_pairs(s.model_run_label, ("model_run_id", "data_row_id"), b.run_replace)
        bulk.delete_pairs(s.prediction, ("model_run_id", "data_row_id"), b.predictions_replace)
        bulk.upsert(s.model_run_label, b.run_labels, ["model_run_id", "id"])
        bulk.upsert(s.prediction, b.predictions, ["model_run_id", "id"])

    def _refuse_foreign_labels(
        self, label_rows: list[dict[str, Any]], lines: dict[str, int]
    ) -> None:
        ids = [r["id"] for r in label_rows]
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
            owner = next(r for r in label_rows if r["id"] == foreign)
            raise _LineProblem(
                lines.get(owner["data_row_id"], 0),
                Problem("projects.labels.id", f"label {foreign} belongs to another organization"),
            )

    def _collect(self, rid: str, row: CheckedRow, media_type: str, b: _ChildRows) -> None:
        """Gather the child rows of one data row into ``b``; entities are ensured on the way."""
        if row.metadata is not None:
            b.meta_replace.append(rid)
            stored = b.meta_values[rid] = []
            for i, item in enumerate(row.metadata):
                sid, value = self.metadata_field(item, f"metadata_fields[{i}]")
                stored.append(value)
                b.meta_rows.append(
                    {"data_row_id": rid, "position": i, "schema_id": sid, "value": value}
                )
        if row.embeddings is not None:
            b.emb_replace.append(rid)
            for i, item in enumerate(row.embeddings):
                self.embedding(item, f"embeddings[{i}]")
                b.emb_rows.append(
                    {
                        "data_row_id": rid,
                        "embedding_id": item["id"],
                        "position": i,
                        "vectors": item["values"],
                    }
                )
        for position, proj in enumerate(row.projects):
            details = proj.details or {}
            ontology = self.project(proj.id, proj.name, media_type, details.get("ontology_id"))
            if proj.tags is not None and self.project_tags.get(proj.id) != proj.tags:
                self.conn.execute(
                    s.project.update().where(s.project.c.id == proj.id), {"tags": proj.tags}
                )
                self.project_tags[proj.id] = proj.tags
            if details.get("batch_id"):
                self.batch(details["batch_id"], proj.id, details.get("batch_name"))
            pdr = {
                "project_id": proj.id,
                "data_row_id": rid,
                "workflow_status": proj.workflow_status,  # None: unknown, never made up
                "priority": details.get("priority"),
                "batch_id": details.get("batch_id"),
                "task_id": details.get("task_id"),
                "task_name": details.get("task_name"),
                "consensus_expected_label_count": details.get("consensus_expected_label_count"),
                "selected_label_id": details.get("selected_label_id"),
                "position": position,
                "updated_at": self.now,
                "shape": shaping.project_shape(proj),
            }
            (b.pdr_full if proj.details is not None else b.pdr_default).append(pdr)
            if proj.details is not None:
                b.history_replace.append((proj.id, rid))
                for i, entry in enumerate(details.get("workflow_history") or []):
                    b.history_rows.append(
                        {
                            "project_id": proj.id,
                            "data_row_id": rid,
                            "position": i,
                            "created_at": proj.history_times[i],
                            "entry": entry,
                        }
                    )
            if proj.labels is None:  # the entry carried no labels: the catalog's stay
                continue
            b.label_replace.append((proj.id, rid))
            for i, lab in enumerate(proj.labels):
                self.collect_features(ontology, lab.annotations)
                b.label_rows.append(self._label_row(lab, proj.id, rid, i, row))
        for position, run in enumerate(row.runs):
            self.model_run(run.model_id, run.model_name, run.id, run.name)
            b.mrdr_rows.append(
                {
                    "model_run_id": run.id,
                    "data_row_id": rid,
                    "run_data_row_id": run.run_data_row_id
                    or derived_id("run-data-row", run.id, rid),
                    "split": run.split,
                    "position": position,
                    "shape": shaping.run_shape(run),
                }
            )
            if run.labels is not None:
                b.run_replace.append((run.id, rid))
            if run.predictions is not None:
                b.predictions_replace.append((run.id, rid))
            for rows_out, labels in ((b.run_labels, run.labels), (b.predictions, run.predictions)):
                for i, lab in enumerate(labels or ()):
                    rows_out.append(
                        {
                            "model_run_id": run.id,
                            "id": lab.id,
                            "data_row_id": rid,
                            "position": i,
                            "label_kind": lab.label_kind,
                            "version": lab.version,
                            "annotations": lab.annotations,
                            "shape": shaping.run_label_shape(lab),
                        }
                    )

    def _label_row(
        self, lab: CheckedLabel, project_id: str, rid: str, position: int, row: CheckedRow
    ) -> dict[str, Any]:
        perf = lab.performance or {}
        created = lab.created_at or row.created_at or self.now
        return {
            "id": lab.id,
            "org_id": self.org_id,
            "project_id": project_id,
            "data_row_id": rid,
            "position": position,
            "label_kind": lab.label_kind,
            "version": lab.version,
            "annotations": lab.annotations,
            "created_at": created,
            "updated_at": lab.updated_at or created,
            "created_by_id": self.user(lab.created_by),
            "content_last_updated_at": lab.content_last_updated_at,
            "reviews": lab.reviews,
            "seconds_to_create": perf.get("seconds_to_create"),
            "seconds_to_review": perf.get("seconds_to_review"),
            "skipped": perf.get("skipped"),
            "performance_v2": perf.get("performance_details_v2"),
            "benchmark_reference_label": perf.get("benchmark_reference_label"),
            "benchmark_score": perf.get("benchmark_score"),
            "consensus_score": perf.get("consensus_score"),
            "consensus_label_count": perf.get("consensus_label_count"),
            "consensus_labels": perf.get("consensus_labels"),
            "shape": shaping.label_shape(lab),
        }

    def finish(self) -> None:
        """Write what is collected across batches (ontology features)."""
        self.bulk.upsert(s.feature, self.feature_rows, ["ontology_id", "id"], update=False)
        self.feature_rows.clear()


@dataclass(slots=True)
class _ChildRows:
    """Rows to write for one batch, by table; ``*_replace`` name the sets being replaced."""

    meta_rows: list[dict[str, Any]] = field(default_factory=list)
    meta_replace: list[str] = field(default_factory=list)
    emb_rows: list[dict[str, Any]] = field(default_factory=list)
    emb_replace: list[str] = field(default_factory=list)
    pdr_full: list[dict[str, Any]] = field(default_factory=list)
    pdr_default: list[dict[str, Any]] = field(default_factory=list)
    history_replace: list[tuple[str, str]] = field(default_factory=list)  # (project, row)
    history_rows: list[dict[str, Any]] = field(default_factory=list)
    label_replace: list[tuple[str, str]] = field(default_factory=list)  # (project, row)
    label_rows: list[dict[str, Any]] = field(default_factory=list)
    mrdr_rows: list[dict[str, Any]] = field(default_factory=list)
    run_replace: list[tuple[str, str]] = field(default_factory=list)  # (model run, row)
    predictions_replace: list[tuple[str, str]] = field(default_factory=list)
    meta_values: dict[str, list[Any]] = field(default_factory=dict)  # row -> values as stored
    run_labels: list[dict[str, Any]] = field(default_factory=list)
    predictions: list[dict[str, Any]] = field(default_factory=list)


class _LineProblem(Exception):
    def __init__(self, line: int, problem: Problem) -> None:
        super().__init__(str(problem))
        self.line = line
        self.problem = problem


def _metadata_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "enum"
    if isinstance(value, list):
        return "embedding"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str) and len(value) >= 10 and value[4:5] == "-" and "T" in value:
        try:
            datetime.fromisoformat(value)
            return "datetime"
        except ValueError:
            return "string"
    return "string"
