"""Diffgram's nouns over labelport's catalog: project, job, directory, task, file and label ids.

Every lookup is scoped to the caller's organization (another organization's ids answer 404, and
its aliases are not seen). A Diffgram id is looked up among the organization's aliases first
(:mod:`labelport.imports.aliases`, written by the Diffgram import), then as a labelport id.

* **project** (``project_string_id``): the project a Diffgram export with that
  ``project_string_id`` was imported into (its alias; for imports before catalog version 9, the
  project whose id was derived from the Diffgram id alone), else a labelport project named by
  its id or - when no id matches - by its name if exactly one project of the organization has it.
* **job**: a batch of that project (Diffgram jobs are the unit labelers work through); an
  imported job's Diffgram id names the batch of its files, and the job answers with that id.
* **directory**: a dataset; as the directory of a project it means the dataset's rows that are
  in the project. The project's default directory is its oldest dataset with rows in it.
* **task**: one data row of the project (Diffgram's task holds one file), named by the row's
  Diffgram file id or by its data row id.
* **file id**: what :func:`labelport.export.formats.diffgram.file_id_of` gives the row - the
  Diffgram id it was imported with (its global key ``diffgram:<project_string_id>:<file id>``,
  which is the file's alias), else a stable integer derived from the data row id.
* **label file id**: the id the Diffgram import kept (``diffgram.label_file_id``), else a stable
  integer derived from the feature schema id and name - the same ids the export file uses.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa

from labelport.errors import InvalidInput, NotFound
from labelport.export.formats.diffgram import file_id_of, stable_int
from labelport.ids import derived_id
from labelport.imports import aliases
from labelport.store import schema as s

LABEL_SAMPLE = 200  # labels read to find the label file ids a Diffgram import kept

d, pdr = s.data_row, s.project_data_row


@dataclass(frozen=True, slots=True)
class ProjectRef:
    id: str
    name: str
    ontology_id: str | None
    org_id: str = ""
    psids: tuple[str, ...] = ()  # the Diffgram project_string_ids it was imported with


@dataclass(frozen=True, slots=True)
class BatchRef:
    id: str
    name: str
    project_id: str
    created_at: datetime
    files: int
    complete: int
    diffgram_id: int | str | None = None  # the Diffgram job id it was imported with

    @property
    def job_id(self) -> int | str:
        """The id the job answers with: its Diffgram id, else the batch id."""
        return self.id if self.diffgram_id is None else self.diffgram_id


@dataclass(frozen=True, slots=True)
class DatasetRef:
    id: str
    name: str
    created_at: datetime


def project(conn: sa.Connection, org_id: str, psid: str) -> ProjectRef:
    p = s.project
    columns = (p.c.id, p.c.name, p.c.ontology_id)
    legacy = derived_id("diffgram-project", psid)  # imported before aliases existed
    row = None
    for candidate in (aliases.resolve(conn, org_id, aliases.DIFFGRAM_PROJECT, psid), legacy, psid):
        if candidate is not None:
            row = conn.execute(
                sa.select(*columns).where(p.c.org_id == org_id, p.c.id == candidate)
            ).one_or_none()
        if row is not None:
            break
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
    psids = aliases.aliases_of(conn, org_id, aliases.DIFFGRAM_PROJECT, row.id)
    if row.id == legacy and psid not in psids:
        psids.append(psid)
    return ProjectRef(row.id, row.name, row.ontology_id, org_id, tuple(psids))


def batch(conn: sa.Connection, org_id: str, job_id: str) -> BatchRef:
    """The batch a Diffgram job id names (an imported job), else the batch of that id."""
    b = s.batch
    aliased = aliases.resolve(conn, org_id, aliases.DIFFGRAM_JOB, job_id)
    batch_id = aliased or job_id
    row = conn.execute(
        sa.select(b.c.id, b.c.name, b.c.project_id, b.c.created_at).where(
            b.c.id == batch_id, b.c.org_id == org_id
        )
    ).one_or_none()
    if row is None:
        raise NotFound("job", job_id)
    if aliased is None:
        kept = aliases.aliases_of(conn, org_id, aliases.DIFFGRAM_JOB, batch_id)
        diffgram_id = _as_int(kept[0]) if kept else None
    else:
        diffgram_id = _as_int(job_id)
    files, complete = conn.execute(
        sa.select(
            sa.func.count(),
            sa.func.coalesce(
                sa.func.sum(sa.case((pdr.c.workflow_status == "DONE", 1), else_=0)), 0
            ),
        ).where(pdr.c.batch_id == batch_id)
    ).one()
    return BatchRef(
        row.id, row.name, row.project_id, row.created_at, int(files), int(complete), diffgram_id
    )


def _as_int(value: str) -> int | str:
    """Diffgram's ids are integers: an alias that is one is answered as one."""
    return int(value) if _is_int_text(value) else value


def _is_int_text(value: str) -> bool:
    """A Diffgram id as text: an integer of at most 20 digits, written plainly."""
    return len(value) <= 20 and value.isascii() and value.isdigit() and str(int(value)) == value


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

    def file_id(self, ref: ProjectRef) -> int:
        row = {"data_row": {"id": self.id, "global_key": self.global_key}}
        return file_id_of(row, ref.id, ref.org_id or None)


def _file_keys(ref: ProjectRef, file_ids: Iterable[str]) -> dict[str, str]:
    """``{global key: file id}`` an imported file of the project would have."""
    return {
        f"diffgram:{psid}:{fid}": fid for fid in file_ids if _is_int_text(fid) for psid in ref.psids
    }


def project_row(conn: sa.Connection, ref: ProjectRef, row_id: str) -> RowRef:
    """One data row of the project (``task`` of a Diffgram export) - named by its Diffgram
    file id, else by its data row id - with its file id."""
    query = (
        sa.select(d.c.id, d.c.global_key, d.c.external_id)
        .select_from(d.join(pdr, pdr.c.data_row_id == d.c.id))
        .where(d.c.org_id == ref.org_id, pdr.c.project_id == ref.id)
    )
    keys = list(_file_keys(ref, [row_id]))
    row = conn.execute(query.where(d.c.global_key.in_(keys))).first() if keys else None
    if row is None:
        row = conn.execute(query.where(d.c.id == row_id)).one_or_none()
    if row is None:
        raise NotFound("task", row_id)
    return RowRef(row.id, row.global_key, row.external_id)


def imported_file_ids(conn: sa.Connection, ref: ProjectRef, wanted: Iterable[str]) -> set[str]:
    """Which of the ``wanted`` file ids are files the project was imported with (by alias)."""
    keys = _file_keys(ref, wanted)
    if not keys:
        return set()
    found = conn.execute(
        sa.select(d.c.global_key)
        .select_from(d.join(pdr, pdr.c.data_row_id == d.c.id))
        .where(d.c.org_id == ref.org_id, d.c.global_key.in_(list(keys)), pdr.c.project_id == ref.id)
    ).scalars()
    return {keys[key] for key in found}


def file_ids(
    conn: sa.Connection, ref: ProjectRef, dataset_id: str | None, *, page: int, limit: int
) -> tuple[list[int], int]:
    """One page of the Diffgram file ids of a directory of the project, and the total count."""
    base = (
        sa.select(d.c.id, d.c.global_key)
        .select_from(d.join(pdr, pdr.c.data_row_id == d.c.id))
        .where(pdr.c.project_id == ref.id)
    )
    if dataset_id is not None:
        base = base.where(d.c.dataset_id == dataset_id)
    total = conn.execute(sa.select(sa.func.count()).select_from(base.subquery())).scalar_one()
    rows = conn.execute(
        base.order_by(d.c.created_at, d.c.id).offset((page - 1) * limit).limit(limit)
    ).all()
    return [RowRef(r.id, r.global_key, None).file_id(ref) for r in rows], int(total)


def iter_file_ids(conn: sa.Connection, ref: ProjectRef) -> Generator[int, None, None]:
    """Every file id of the project, streamed."""
    query = (
        sa.select(d.c.id, d.c.global_key)
        .select_from(d.join(pdr, pdr.c.data_row_id == d.c.id))
        .where(pdr.c.project_id == ref.id)
    )
    result = conn.execute(query, execution_options={"stream_results": True, "yield_per": 1000})
    try:
        for r in result:
            yield RowRef(r.id, r.global_key, None).file_id(ref)
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
