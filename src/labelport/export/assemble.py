"""Assemble canonical rows for a page of data-row ids: a fixed number of batched queries per page.

:func:`fetch` does the reading (one query per kind of child, never one per row); :func:`build`
is pure and turns what was read into canonical row dicts, in the order of the ids asked for.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from labelport.store import schema as s
from labelport.times import format_timestamp

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Include:
    """What a row carries beyond ``data_row`` and ``media_attributes`` (always there)."""

    attachments: bool = True
    metadata_fields: bool = True
    embeddings: bool = True
    data_row_details: bool = True
    project_details: bool = True
    label_details: bool = True
    performance_details: bool = True
    predictions: bool = True
    model_run_details: bool = True
    projects: tuple[str, ...] | None = None  # None: every project; (): none
    model_runs: tuple[str, ...] | None = None  # None: every model run; (): none


@dataclass(slots=True)
class Page:
    """Everything read for one page of data rows, grouped by data-row id."""

    rows: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    embeddings: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    projects: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    labels: dict[tuple[str, str], list[Any]] = field(default_factory=lambda: defaultdict(list))
    history: dict[tuple[str, str], list[Any]] = field(default_factory=lambda: defaultdict(list))
    runs: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    run_labels: dict[tuple[str, str], list[Any]] = field(default_factory=lambda: defaultdict(list))
    predictions: dict[tuple[str, str], list[Any]] = field(default_factory=lambda: defaultdict(list))


def _in(column: sa.ColumnElement[Any], values: tuple[str, ...] | None) -> sa.ColumnElement[bool]:
    return sa.true() if values is None else column.in_(values)


def fetch(conn: sa.Connection, org_id: str, ids: Sequence[str], include: Include) -> Page:
    page = Page()
    if not ids:
        return page
    d, ds, u = s.data_row, s.dataset, s.user
    query = (
        sa.select(d, ds.c.name.label("dataset_name"), u.c.email.label("created_by"))
        .join(ds, ds.c.id == d.c.dataset_id)
        .outerjoin(u, u.c.id == d.c.created_by_id)
        .where(d.c.id.in_(ids), d.c.org_id == org_id)
    )
    page.rows = {r.id: r for r in conn.execute(query)}
    if include.metadata_fields:
        m, f = s.data_row_metadata, s.metadata_field
        for r in conn.execute(
            sa.select(m.c.data_row_id, m.c.schema_id, f.c.name, m.c.value)
            .join(f, f.c.id == m.c.schema_id)
            .where(m.c.data_row_id.in_(ids))
            .order_by(m.c.data_row_id, m.c.position)
        ):
            page.metadata[r.data_row_id].append(r)
    if include.embeddings:
        de, e = s.data_row_embedding, s.embedding
        for r in conn.execute(
            sa.select(
                de.c.data_row_id, e.c.id, e.c.name, e.c.dimensions, e.c.is_custom, de.c.vectors
            )
            .join(e, e.c.id == de.c.embedding_id)
            .where(de.c.data_row_id.in_(ids))
            .order_by(de.c.data_row_id, de.c.position)
        ):
            page.embeddings[r.data_row_id].append(r)
    if include.projects != ():
        _fetch_projects(conn, ids, include, page)
    if include.model_runs != ():
        _fetch_runs(conn, ids, include, page)
    return page


def _fetch_projects(conn: sa.Connection, ids: Sequence[str], include: Include, page: Page) -> None:
    pdr, p, b = s.project_data_row, s.project, s.batch
    for r in conn.execute(
        sa.select(pdr, p.c.name, p.c.ontology_id, p.c.tags, b.c.name.label("batch_name"))
        .join(p, p.c.id == pdr.c.project_id)
        .outerjoin(b, b.c.id == pdr.c.batch_id)
        .where(pdr.c.data_row_id.in_(ids), _in(pdr.c.project_id, include.projects))
        .order_by(pdr.c.data_row_id, pdr.c.position)
    ):
        page.projects[r.data_row_id].append(r)
    lab, u = s.label, s.user
    for r in conn.execute(
        sa.select(lab, u.c.email.label("created_by"))
        .outerjoin(u, u.c.id == lab.c.created_by_id)
        .where(lab.c.data_row_id.in_(ids), _in(lab.c.project_id, include.projects))
        .order_by(lab.c.data_row_id, lab.c.project_id, lab.c.position)
    ):
        page.labels[(r.project_id, r.data_row_id)].append(r)
    if include.project_details:
        h = s.workflow_history
        for r in conn.execute(
            sa.select(h)
            .where(h.c.data_row_id.in_(ids), _in(h.c.project_id, include.projects))
            .order_by(h.c.data_row_id, h.c.project_id, h.c.position)
        ):
            page.history[(r.project_id, r.data_row_id)].append(r.entry)


def _fetch_runs(conn: sa.Connection, ids: Sequence[str], include: Include, page: Page) -> None:
    mr, run, model = s.model_run_data_row, s.model_run, s.model
    for r in conn.execute(
        sa.select(
            mr,
            run.c.name.label("run_name"),
            model.c.id.label("model_id"),
            model.c.name.label("model_name"),
        )
        .join(run, run.c.id == mr.c.model_run_id)
        .join(model, model.c.id == run.c.model_id)
        .where(mr.c.data_row_id.in_(ids), _in(mr.c.model_run_id, include.model_runs))
        .order_by(mr.c.data_row_id, mr.c.position)
    ):
        page.runs[r.data_row_id].append(r)
    tables = [(s.model_run_label, page.run_labels)]
    if include.predictions:
        tables.append((s.prediction, page.predictions))
    for table, into in tables:
        for r in conn.execute(
            sa.select(table)
            .where(table.c.data_row_id.in_(ids), _in(table.c.model_run_id, include.model_runs))
            .order_by(table.c.data_row_id, table.c.model_run_id, table.c.position)
        ):
            into[(r.model_run_id, r.data_row_id)].append(r)


# ------------------------------------------------------------------------------------- pure part


def build(page: Page, ids: Sequence[str], include: Include) -> list[JSON]:
    """Canonical rows for ``ids`` (ids not in the page are skipped)."""
    return [build_row(page, rid, include) for rid in ids if rid in page.rows]


def build_row(page: Page, rid: str, include: Include) -> JSON:
    r = page.rows[rid]
    data_row: JSON = {"id": r.id}
    if r.global_key is not None:
        data_row["global_key"] = r.global_key
    if r.external_id is not None:
        data_row["external_id"] = r.external_id
    data_row["row_data"] = r.row_data
    if include.data_row_details:
        data_row["details"] = {
            "dataset_id": r.dataset_id,
            "dataset_name": r.dataset_name,
            "created_at": format_timestamp(r.created_at),
            "updated_at": format_timestamp(r.updated_at),
            "last_activity_at": format_timestamp(r.last_activity_at),
            "created_by": r.created_by,
        }
    out: JSON = {"data_row": data_row, "media_attributes": r.media_attributes or {}}
    if include.attachments:
        out["attachments"] = r.attachments or []
    if include.metadata_fields:
        out["metadata_fields"] = [
            {"schema_id": m.schema_id, "schema_name": m.name, "value": m.value}
            for m in page.metadata.get(rid, ())
        ]
    if include.embeddings:
        out["embeddings"] = [
            {
                "id": e.id,
                "name": e.name,
                "dimensions": e.dimensions,
                "is_custom": e.is_custom,
                "values": e.vectors,
            }
            for e in page.embeddings.get(rid, ())
        ]
    if include.projects != ():
        out["projects"] = {
            p.project_id: _project_entry(page, p, rid, include) for p in page.projects.get(rid, ())
        }
    if include.model_runs != ():
        experiments: JSON = {}
        for run in page.runs.get(rid, ()):
            model = experiments.setdefault(run.model_id, {"name": run.model_name, "runs": {}})
            entry: JSON = {
                "name": run.run_name,
                "run_data_row_id": run.run_data_row_id,
                "labels": [_run_label(x) for x in page.run_labels.get((run.model_run_id, rid), ())],
            }
            if include.predictions:
                entry["predictions"] = [
                    _run_label(x) for x in page.predictions.get((run.model_run_id, rid), ())
                ]
            if include.model_run_details:
                entry["split"] = run.split
            model["runs"][run.model_run_id] = entry
        out["experiments"] = experiments
    return out


def _project_entry(page: Page, p: Any, rid: str, include: Include) -> JSON:
    entry: JSON = {
        "name": p.name,
        "labels": [_label(x, include) for x in page.labels.get((p.project_id, rid), ())],
    }
    if include.project_details:
        entry["project_details"] = {
            "ontology_id": p.ontology_id,
            "task_id": p.task_id,
            "task_name": p.task_name,
            "batch_id": p.batch_id,
            "batch_name": p.batch_name,
            "workflow_status": p.workflow_status,
            "priority": p.priority,
            "selected_label_id": p.selected_label_id,
            "consensus_expected_label_count": p.consensus_expected_label_count,
            "workflow_history": page.history.get((p.project_id, rid), []),
        }
    if p.tags is not None:
        entry["project_tags"] = p.tags
    return entry


def _label(x: Any, include: Include) -> JSON:
    out: JSON = {"id": x.id, "label_kind": x.label_kind, "version": x.version}
    if include.label_details:
        out["label_details"] = {
            "created_at": format_timestamp(x.created_at),
            "updated_at": format_timestamp(x.updated_at),
            "created_by": x.created_by,
            "content_last_updated_at": format_timestamp(x.content_last_updated_at),
            "reviews": x.reviews,
        }
    if include.performance_details:
        out["performance_details"] = {
            "seconds_to_create": x.seconds_to_create,
            "seconds_to_review": x.seconds_to_review,
            "skipped": x.skipped,
            "benchmark_reference_label": x.benchmark_reference_label,
            "benchmark_score": x.benchmark_score,
            "consensus_score": x.consensus_score,
            "consensus_label_count": x.consensus_label_count,
            "consensus_labels": x.consensus_labels,
            "performance_details_v2": x.performance_v2,
        }
    out["annotations"] = x.annotations
    return out


def _run_label(x: Any) -> JSON:
    return {
        "id": x.id,
        "label_kind": x.label_kind,
        "version": x.version,
        "annotations": x.annotations,
    }


def assemble(
    conn: sa.Connection, org_id: str, ids: Sequence[str], include: Include | None = None
) -> list[JSON]:
    """Read and build canonical rows for ``ids`` in one go."""
    include = include or Include()
    return build(fetch(conn, org_id, ids, include), ids, include)
