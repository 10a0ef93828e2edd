"""The entities imported rows name: users, datasets, projects and their ontologies' features,
batches, models and model runs, metadata fields, embeddings, annotation sets.

:class:`Entities` ensures each exists in the importing organization the first time a row names
it (one lookup, and an insert if it is new), then answers from memory for the rest of the
import. An entity of another organization is a :class:`~labelport.imports.base.Problem`.

It also remembers the names the catalog holds for them (dataset, project, batch, metadata field,
embedding, model, model run, user e-mail), as they stand after the import's own writes: the
export-ready rows of freshly written data rows are built from them
(:class:`labelport.store.bulk.Written`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from labelport.errors import InvalidRecords, RecordError
from labelport.ids import derived_id, new_id
from labelport.imports.annotations import iter_features
from labelport.imports.base import AnnotationSetSpec, Problem
from labelport.imports.canonical import CheckedRow
from labelport.store import schema as s
from labelport.store.bulk import BulkWriter, document


class Entities:
    """The entities of one import (one transaction) of organization ``org_id``."""

    def __init__(
        self,
        conn: sa.Connection,
        bulk: BulkWriter,
        org_id: str,
        default_dataset: str | None,
        file: str,
        now: datetime,
    ) -> None:
        self.conn = conn
        self.bulk = bulk
        self.org_id = org_id
        self.default_dataset = default_dataset
        self.file = file
        self.now = now
        self.users: dict[str, str] = {}  # e-mail -> id
        self.emails: dict[str, str] = {}  # id -> e-mail
        self.datasets: dict[str, str] = {}  # id -> name
        self.dataset_names: dict[str, str] = {}  # name -> id
        self.projects: dict[str, str] = {}  # id -> ontology id
        self.project_names: dict[str, str] = {}  # id -> name
        self.project_tags: dict[str, str | None] = {}  # id -> tags as stored (JSON text)
        self.batches: dict[str, str] = {}  # id -> name
        self.models: dict[str, str] = {}  # id -> name
        self.runs: dict[str, tuple[str, str]] = {}  # id -> (name, model id)
        self.fields: dict[str, tuple[str, str]] = {}  # schema id -> (kind, name)
        self.field_names: dict[tuple[str | None, str], str] = {}  # (parent, name) -> id
        self.embeddings: dict[str, tuple[str, int, bool]] = {}  # id -> (name, dims, custom)
        self.features: dict[str, set[str]] = {}  # ontology id -> feature ids
        self.feature_rows: list[dict[str, Any]] = []
        self.feature_positions: dict[str, int] = {}
        self.used_default = False  # did a row go to the default dataset?
        # called before each statement (the batch writer waits for its writes in the background)
        self.before_statement: Callable[[], None] = _nothing

    def _execute(self, statement: Any, *args: Any) -> sa.CursorResult[Any]:
        self.before_statement()
        return self.conn.execute(statement, *args)

    # ------------------------------------------------------------------------------- lookups

    def _found(
        self, table: sa.Table, entity_id: str, what: str, path: str, *columns: str
    ) -> sa.Row[Any] | None:
        """The row (``columns``) of ``entity_id`` if it exists in this organization, None if
        not at all; Problem if it belongs to another one."""
        found = self._execute(
            sa.select(table.c.org_id, *(table.c[c] for c in columns)).where(table.c.id == entity_id)
        ).first()
        if found is not None and found[0] != self.org_id:
            raise Problem(path, f"{what} {entity_id} belongs to another organization")
        return found

    def _owned(self, table: sa.Table, entity_id: str, what: str, path: str) -> bool:
        """True if ``entity_id`` exists in this organization; Problem if in another one."""
        return self._found(table, entity_id, what, path) is not None

    def user(self, email: str | None) -> str | None:
        if email is None:
            return None
        if (uid := self.users.get(email)) is not None:
            return uid
        found = self._execute(
            sa.select(s.user.c.id).where(s.user.c.org_id == self.org_id, s.user.c.email == email)
        ).scalar_one_or_none()
        if found is None:
            found = new_id()
            self._execute(
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
        self.emails[found] = email
        return found

    def dataset(self, row: CheckedRow) -> str:
        if row.dataset_id is not None:
            if row.dataset_id in self.datasets:
                if row.dataset_name and self.datasets[row.dataset_id] != row.dataset_name:
                    self._execute(  # a later row names the dataset an earlier one did not
                        s.dataset.update().where(s.dataset.c.id == row.dataset_id),
                        {"name": row.dataset_name, "updated_at": self.now},
                    )
                    self.datasets[row.dataset_id] = row.dataset_name
                return row.dataset_id
            found = self._found(
                s.dataset,
                row.dataset_id,
                "dataset",
                "data_row.details.dataset_id",
                "name",
            )
            if found is None:  # a dataset known by id only is named by its id
                name = row.dataset_name or row.dataset_id
                self._insert_dataset(row.dataset_id, name)
            elif row.dataset_name:
                name = row.dataset_name
                self._execute(
                    s.dataset.update().where(s.dataset.c.id == row.dataset_id),
                    {"name": name, "updated_at": self.now},
                )
            else:
                name = found.name
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
        found = self._execute(
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
        self._execute(
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
        known = self.projects.get(pid)
        if known is not None and (ontology_id is None or known == ontology_id):
            return known
        path = f"projects.{pid}"
        p = s.project.c
        existing = self._execute(
            sa.select(p.org_id, p.ontology_id, p.name, sa.type_coerce(p.tags, sa.Text)).where(
                p.id == pid
            )
        ).first()
        if existing is not None and existing.org_id != self.org_id:
            raise Problem(path, f"project {pid} belongs to another organization")
        ontology = ontology_id or (existing.ontology_id if existing else None)
        ontology = self._ontology_for(pid, name, ontology, media_type)
        if existing is None:
            self._execute(
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
            self.project_tags[pid] = None
        else:
            if existing.name != name or existing.ontology_id != ontology:
                self._execute(
                    s.project.update().where(p.id == pid),
                    {"name": name, "ontology_id": ontology, "updated_at": self.now},
                )
            self.project_tags.setdefault(pid, existing[3])
        self.projects[pid] = ontology
        self.project_names[pid] = name
        return ontology

    def project_tagged(self, pid: str, tags: list[Any]) -> None:
        """The project's tags are ``tags`` (a row's ``project_tags``)."""
        stored = document(tags)
        if self.project_tags.get(pid) != stored:
            self._execute(s.project.update().where(s.project.c.id == pid), {"tags": tags})
            self.project_tags[pid] = stored

    def _ontology_for(
        self,
        pid: str,
        name: str,
        ontology_id: str | None,
        media_type: str | None = None,
    ) -> str:
        oid = ontology_id or derived_id("ontology", pid)
        if oid not in self.features:
            if not self._owned(
                s.ontology,
                oid,
                "ontology",
                f"projects.{pid}.project_details.ontology_id",
            ):
                self._execute(
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
            known = self._execute(
                sa.select(s.feature.c.id).where(s.feature.c.ontology_id == oid)
            ).scalars()
            self.features[oid] = set(known)
            self.feature_positions[oid] = len(self.features[oid])
        return oid

    def collect_features(self, ontology_id: str, annotations: dict[str, Any]) -> None:
        """Queue the ontology features ``annotations`` names that the ontology lacks."""
        seen = self.features[ontology_id]
        for feature in iter_features(annotations, seen):
            if isinstance(feature.id, str) and feature.id:
                fid = feature.id[:64]
            else:
                fid = derived_id("feature", ontology_id, feature.path)
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

    def batch(self, batch_id: str, project_id: str, name: str | None) -> None:
        if batch_id in self.batches:
            return
        found = self._found(
            s.batch,
            batch_id,
            "batch",
            f"projects.{project_id}.project_details.batch_id",
            "name",
        )
        if found is None:
            self._execute(
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
            self._execute(s.batch.update().where(s.batch.c.id == batch_id), {"name": name})
        self.batches[batch_id] = name or (found.name if found is not None else batch_id)

    def model_run(self, model_id: str, model_name: str, run_id: str, run_name: str) -> None:
        if model_id not in self.models:
            if self._owned(s.model, model_id, "model", f"experiments.{model_id}"):
                self._execute(
                    s.model.update().where(s.model.c.id == model_id),
                    {"name": model_name},
                )
            else:
                self._execute(
                    s.model.insert(),
                    {
                        "id": model_id,
                        "org_id": self.org_id,
                        "name": model_name,
                        "created_at": self.now,
                    },
                )
            self.models[model_id] = model_name
        if run_id not in self.runs:
            path = f"experiments.{model_id}.runs.{run_id}"
            if self._owned(s.model_run, run_id, "model run", path):
                self._execute(
                    s.model_run.update().where(s.model_run.c.id == run_id),
                    {"name": run_name, "model_id": model_id, "updated_at": self.now},
                )
            else:
                self._execute(
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
            self.runs[run_id] = (run_name, model_id)

    def metadata_field(self, item: dict[str, Any], path: str) -> tuple[str, Any]:
        """Schema id and stored value of a metadata item, creating the field/option if needed."""
        value = item["value"]
        kind = metadata_kind(value)
        sid = item.get("schema_id")
        name = item.get("schema_name")
        known = self.fields.get(sid) if sid is not None else None
        if (
            known is not None
            and kind == known[0]
            and kind != "enum"
            and (name is None or name == known[1])
        ):
            return str(sid), value  # the common case: a field seen before, a value of its kind
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
                self._execute(
                    s.metadata_field.update().where(s.metadata_field.c.id == sid),
                    {"name": name},
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
        found = self._execute(
            sa.select(f.id).where(f.org_id == self.org_id, f.name == name, cond).limit(1)
        ).scalar_one_or_none()
        if found is not None:
            self.field_names[(parent, name)] = found
        return found

    def _load_field(self, sid: str, path: str) -> tuple[str, str] | None:
        f = s.metadata_field.c
        found = self._execute(sa.select(f.org_id, f.kind, f.name).where(f.id == sid)).first()
        if found is None:
            return None
        if found.org_id != self.org_id:
            raise Problem(path, f"metadata field {sid} belongs to another organization")
        self.fields[sid] = (found.kind, found.name)
        return self.fields[sid]

    def _insert_field(self, sid: str, parent: str | None, name: str, kind: str) -> None:
        self._execute(
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
        found = self._found(
            s.embedding,
            eid,
            "embedding",
            f"{path}.id",
            "name",
            "dimensions",
            "is_custom",
        )
        if found is None:
            values = (
                item["name"],
                item["dimensions"],
                bool(item.get("is_custom", False)),
            )
            self._execute(
                s.embedding.insert(),
                {
                    "id": eid,
                    "org_id": self.org_id,
                    "name": values[0],
                    "dimensions": values[1],
                    "is_custom": values[2],
                    "created_at": self.now,
                },
            )
        else:
            values = (found.name, found.dimensions, bool(found.is_custom))
        self.embeddings[eid] = values

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
            self._execute(
                s.annotation_set.update().where(s.annotation_set.c.id == spec.id),
                values,
            )
        else:
            self._execute(
                s.annotation_set.insert(),
                {
                    "id": spec.id,
                    "org_id": self.org_id,
                    "created_at": self.now,
                    **values,
                },
            )

    def finish(self) -> None:
        """Write what is collected across batches (ontology features)."""
        self.before_statement()
        self.bulk.upsert(s.feature, self.feature_rows, ["ontology_id", "id"], update=False)
        self.feature_rows.clear()


def _nothing() -> None:
    pass


def metadata_kind(value: Any) -> str:
    if isinstance(value, str):
        if len(value) >= 10 and value[4:5] == "-" and "T" in value:
            try:
                datetime.fromisoformat(value)
                return "datetime"
            except ValueError:
                return "string"
        return "string"
    if isinstance(value, dict):
        return "enum"
    if isinstance(value, list):
        return "embedding"
    if isinstance(value, int | float):
        return "number"
    return "string"
