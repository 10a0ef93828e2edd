"""Diffgram's nouns over labelport's catalog: project, job, directory, task, file and label ids.

Every lookup is scoped to the caller's organization (another organization's ids answer 404).

* **project** (``project_string_id``): a labelport project, named by its id or - when no id
  matches - by its name if exactly one project of the organization has it.
* **job**: a batch of that project (Diffgram jobs are the unit labelers work through).
* **directory**: a dataset; as the directory of a project it means the dataset's rows that are
  in the project. The project's default directory is its oldest dataset with rows in it.
* **task**: one data row of the project (Diffgram's task holds one file).
* **file id**: what :func:`labelport.export.formats.diffgram.file_id_of` gives the row - the
  Diffgram id it was imported with, else a stable integer derived from the data row id.
* **label file id**: the id the Diffgram import kept (``diffgram.label_file_id``), else a stable
  integer derived from the feature schema id and name - the same ids the export file uses.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa

from labelport.errors import InvalidInput, NotFound
from labelport.export.formats.diffgram import file_id_of, stable_int
from labelport.store import schema as s

LABEL_SAMPLE = 200  # labels read to find the label file ids a Diffgram import kept

d, pdr = s.data_row, s.project_data_row


@dataclass(frozen=True, slots=True)
class ProjectRef:
    id: str
    name: str
    ontology_id: str | None


@dataclass(frozen=True, slots=True)
class BatchRef:
    id: str
    name: str
    project_id: str
    created_at: datetime
    files: int
    complete: int


@dataclass(frozen=True, slots=True)
class DatasetRef:
    id: str
    name: str
    created_at: datetime


def project(conn: sa.Connection, org_id: str, psid: str) -> ProjectRef:
    p = s.project
    columns = (p.c.id, p.c.name, p.c.ontology_id)
    row = conn.execute(
        sa.select(*columns).where(p.c.org_id == org_id, p.c.id == psid)
    ).one_or_none()
    if row is None:
        named = conn.execute(
            sa.select(*columns).where(p.c.org_id == org_id, p.c.name == psid).limit(2)
        ).all()
        if len(named) > 1:
            raise InvalidInput(
                f"project_string_id {psid!r}: several projects have that name; use the project id"
            )
        if not named:
            raise NotFound("project", psid)
        row = named[0]
    return ProjectRef(row.id, row.name, row.ontology_id)


def batch(conn: sa.Connection, org_id: str, batch_id: str) -> BatchRef:
    b = s.batch
    row = conn.execute(
        sa.select(b.c.id, b.c.name, b.c.project_id, b.c.created_at).where(
            b.c.id == batch_id, b.c.org_id == org_id
        )
    ).one_or_none()
    if row is None:
        raise NotFound("job", batch_id)
    files, complete = conn.execute(
        sa.select(
            sa.func.count(),
            sa.func.coalesce(
                sa.func.sum(sa.case((pdr.c.workflow_status == "DONE", 1), else_=0)), 0
            ),
        ).where(pdr.c.batch_id == batch_id)
    ).one()
    return BatchRef(row.id, row.name, row.project_id, row.created_at, int(files), int(complete))


def dataset(conn: sa.Connection, org_id: str, dataset_id: str) -> DatasetRef:
    ds = s.dataset
    row = conn.execute(
        sa.select(ds.c.id, ds.c.name, ds.c.created_at).where(
            ds.c.id == dataset_id, ds.c.org_id == org_id
        )
    ).one_or_none()
    if row is None:
        raise NotFound("directory", dataset_id)
    return DatasetRef(row.id, row.name, row.created_at)


def default_dataset(
    conn: sa.Connection, org_id: str, project_id: str, name: str | None = None
) -> DatasetRef | None:
    """The dataset called ``name``, else the project's oldest dataset with rows in it."""
    ds = s.dataset
    query = sa.select(ds.c.id, ds.c.name, ds.c.created_at).where(ds.c.org_id == org_id)
    if name:
        rows = conn.execute(query.where(ds.c.name == name).limit(2)).all()
        if len(rows) > 1:
            raise InvalidInput(f"name {name!r}: several datasets have that name")
        if not rows:
            raise NotFound("directory", name)
        return DatasetRef(rows[0].id, rows[0].name, rows[0].created_at)
    in_project = sa.exists(
        sa.select(sa.literal(1))
        .select_from(d.join(pdr, pdr.c.data_row_id == d.c.id))
        .where(d.c.dataset_id == ds.c.id, pdr.c.project_id == project_id)
    )
    row = conn.execute(
        query.where(in_project).order_by(ds.c.created_at, ds.c.id).limit(1)
    ).one_or_none()
    return None if row is None else DatasetRef(row.id, row.name, row.created_at)


def directory_has_rows(
    conn: sa.Connection, project_id: str, dataset_id: str, complete: bool | None
) -> bool:
    """Does the dataset have rows in the project (``complete``: only DONE / only not DONE)?"""
    query = (
        sa.select(d.c.id)
        .select_from(d.join(pdr, pdr.c.data_row_id == d.c.id))
        .where(pdr.c.project_id == project_id, d.c.dataset_id == dataset_id)
    )
    if complete is True:
        query = query.where(pdr.c.workflow_status == "DONE")
    elif complete is False:
        query = query.where(pdr.c.workflow_status != "DONE")
    return conn.execute(query.limit(1)).first() is not None


@dataclass(frozen=True, slots=True)
class RowRef:
    id: str
    global_key: str | None
    external_id: str | None

    def file_id(self, project_id: str) -> int:
        return file_id_of({"data_row": {"id": self.id, "global_key": self.global_key}}, project_id)


def project_row(conn: sa.Connection, org_id: str, project_id: str, row_id: str) -> RowRef:
    """One data row of the project (``task`` of a Diffgram export), with its file id."""
    row = conn.execute(
        sa.select(d.c.id, d.c.global_key, d.c.external_id)
        .select_from(d.join(pdr, pdr.c.data_row_id == d.c.id))
        .where(d.c.id == row_id, d.c.org_id == org_id, pdr.c.project_id == project_id)
    ).one_or_none()
    if row is None:
        raise NotFound("task", row_id)
    return RowRef(row.id, row.global_key, row.external_id)


def file_ids(
    conn: sa.Connection, project_id: str, dataset_id: str | None, *, page: int, limit: int
) -> tuple[list[int], int]:
    """One page of the Diffgram file ids of a directory of the project, and the total count."""
    base = (
        sa.select(d.c.id, d.c.global_key)
        .select_from(d.join(pdr, pdr.c.data_row_id == d.c.id))
        .where(pdr.c.project_id == project_id)
    )
    if dataset_id is not None:
        base = base.where(d.c.dataset_id == dataset_id)
    total = conn.execute(sa.select(sa.func.count()).select_from(base.subquery())).scalar_one()
    rows = conn.execute(
        base.order_by(d.c.created_at, d.c.id).offset((page - 1) * limit).limit(limit)
    ).all()
    return [RowRef(r.id, r.global_key, None).file_id(project_id) for r in rows], int(total)


def iter_file_ids(conn: sa.Connection, project_id: str) -> Generator[int, None, None]:
    """Every file id of the project, streamed."""
    query = (
        sa.select(d.c.id, d.c.global_key)
        .select_from(d.join(pdr, pdr.c.data_row_id == d.c.id))
        .where(pdr.c.project_id == project_id)
    )
    result = conn.execute(query, execution_options={"stream_results": True, "yield_per": 1000})
    try:
        for r in result:
            yield RowRef(r.id, r.global_key, None).file_id(project_id)
    finally:
        result.close()


def label_file_ids(conn: sa.Connection, ref: ProjectRef) -> dict[str, Any]:
    """``{label name: label file id}`` for the project's tools, as its export writes them."""
    kept: dict[str, Any] = {}
    docs = conn.execute(
        sa.select(s.label.c.annotations)
        .where(s.label.c.project_id == ref.id)
        .order_by(s.label.c.created_at, s.label.c.id)
        .limit(LABEL_SAMPLE)
    ).scalars()
    for doc in docs:
        value = orjson.loads(doc) if isinstance(doc, str | bytes) else doc
        if isinstance(value, dict):
            _kept_ids(value, kept)
    out: dict[str, Any] = {}
    if ref.ontology_id is None:
        return out
    f = s.feature
    tools = conn.execute(
        sa.select(f.c.id, f.c.name)
        .where(f.c.ontology_id == ref.ontology_id, f.c.kind == "tool")
        .order_by(f.c.position)
    ).all()
    for tool in tools:
        out.setdefault(tool.name, kept.get(tool.id, stable_int("label", tool.id, tool.name)))
    return out


def _kept_ids(doc: dict[str, Any], into: dict[str, Any]) -> None:
    objects: list[Any] = list(doc.get("objects") or []) + list(doc.get("relationships") or [])
    for frame in (doc.get("frames") or {}).values():
        if isinstance(frame, dict):
            objects.extend((frame.get("objects") or {}).values())
    for obj in objects:
        if not isinstance(obj, dict):
            continue
        extension = obj.get("diffgram")
        schema = obj.get("feature_schema_id")
        if isinstance(extension, dict) and isinstance(schema, str):
            label_id = extension.get("label_file_id")
            if label_id is not None:
                into.setdefault(schema, label_id)
