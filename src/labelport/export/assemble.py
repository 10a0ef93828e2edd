"""Assemble canonical rows for a page of data-row ids: a fixed number of batched queries per page.

:func:`fetch` does the reading (one query per kind of child, never one per row); :func:`build_row`
is pure and turns what was read into a canonical row dict.

Speed: stored JSON documents (annotations, reviews, attachments, metadata values, embeddings…)
are read as text and spliced into the output as :class:`orjson.Fragment` — never decoded and
encoded again — and timestamps are formatted by the database into the export form
(``2023-03-15T14:46:58.000+00:00``). Only video and DICOM labels are decoded, and only when
``interpolated_frames`` asks for their in-between frames.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import sqlalchemy as sa

from labelport.export.interpolate import interpolate_frames
from labelport.store import schema as s

JSON = dict[str, Any]
Fragment = orjson.Fragment

_VIDEO_LIKE = ("VIDEO", "DICOM")


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
    interpolated_frames: bool = False
    media_type_override: str | None = None
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


def _raw(column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """A JSON column as its stored text (no decoding)."""
    return sa.type_coerce(column, sa.Text).label(column.name)


def _ts(conn: sa.Connection, column: sa.ColumnElement[Any], name: str) -> sa.ColumnElement[Any]:
    """A timestamp column, formatted by the database as the export writes it."""
    if conn.dialect.name == "sqlite":
        text = sa.func.strftime("%Y-%m-%dT%H:%M:%f+00:00", column)
    else:
        text = sa.func.to_char(
            sa.func.timezone("UTC", column), 'YYYY-MM-DD"T"HH24:MI:SS.MS"+00:00"'
        )
    return sa.type_coerce(text, sa.Text).label(name)


def _in(column: sa.ColumnElement[Any], values: tuple[str, ...] | None) -> sa.ColumnElement[bool]:
    return sa.true() if values is None else column.in_(values)


def fetch(conn: sa.Connection, org_id: str, ids: Sequence[str], include: Include) -> Page:
    page = Page()
    if not ids:
        return page
    d, ds, u = s.data_row, s.dataset, s.user
    columns: list[Any] = [
        d.c.id,
        d.c.global_key,
        d.c.external_id,
        d.c.row_data,
        d.c.media_type,
        _raw(d.c.media_attributes),
    ]
    if include.attachments:
        columns.append(_raw(d.c.attachments))
    query = sa.select(*columns).where(d.c.id.in_(ids), d.c.org_id == org_id)
    if include.data_row_details:
        query = (
            query.add_columns(
                d.c.dataset_id,
                ds.c.name.label("dataset_name"),
                _ts(conn, d.c.created_at, "created_at"),
                _ts(conn, d.c.updated_at, "updated_at"),
                _ts(conn, d.c.last_activity_at, "last_activity_at"),
                u.c.email.label("created_by"),
            )
            .join(ds, ds.c.id == d.c.dataset_id)
            .outerjoin(u, u.c.id == d.c.created_by_id)
        )
    page.rows = {r.id: r for r in conn.execute(query)}
    if include.metadata_fields:
        m, f = s.data_row_metadata, s.metadata_field
        for r in conn.execute(
            sa.select(m.c.data_row_id, m.c.schema_id, f.c.name, _raw(m.c.value))
            .join(f, f.c.id == m.c.schema_id)
            .where(m.c.data_row_id.in_(ids))
            .order_by(m.c.data_row_id, m.c.position)
        ):
            page.metadata[r.data_row_id].append(r)
    if include.embeddings:
        de, e = s.data_row_embedding, s.embedding
        for r in conn.execute(
            sa.select(
                de.c.data_row_id,
                e.c.id,
                e.c.name,
                e.c.dimensions,
                e.c.is_custom,
                _raw(de.c.vectors),
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
        sa.select(
            pdr.c.project_id,
            pdr.c.data_row_id,
            pdr.c.workflow_status,
            pdr.c.priority,
            pdr.c.batch_id,
            pdr.c.task_id,
            pdr.c.task_name,
            pdr.c.consensus_expected_label_count,
            pdr.c.selected_label_id,
            p.c.name,
            p.c.ontology_id,
            _raw(p.c.tags),
            b.c.name.label("batch_name"),
        )
        .join(p, p.c.id == pdr.c.project_id)
        .outerjoin(b, b.c.id == pdr.c.batch_id)
        .where(pdr.c.data_row_id.in_(ids), _in(pdr.c.project_id, include.projects))
        .order_by(pdr.c.data_row_id, pdr.c.position)
    ):
        page.projects[r.data_row_id].append(r)
    lab, u = s.label, s.user
    columns: list[Any] = [
        lab.c.id,
        lab.c.project_id,
        lab.c.data_row_id,
        lab.c.label_kind,
        lab.c.version,
        _raw(lab.c.annotations),
    ]
    query = sa.select(*columns)
    if include.label_details:
        query = query.add_columns(
            _ts(conn, lab.c.created_at, "created_at"),
            _ts(conn, lab.c.updated_at, "updated_at"),
            u.c.email.label("created_by"),
            _ts(conn, lab.c.content_last_updated_at, "content_last_updated_at"),
            _raw(lab.c.reviews),
        ).outerjoin(u, u.c.id == lab.c.created_by_id)
    if include.performance_details:
        query = query.add_columns(
            lab.c.seconds_to_create,
            lab.c.seconds_to_review,
            lab.c.skipped,
            lab.c.benchmark_reference_label,
            lab.c.benchmark_score,
            lab.c.consensus_score,
            lab.c.consensus_label_count,
            _raw(lab.c.consensus_labels),
            _raw(lab.c.performance_v2),
        )
    for r in conn.execute(
        query.where(lab.c.data_row_id.in_(ids), _in(lab.c.project_id, include.projects)).order_by(
            lab.c.data_row_id, lab.c.project_id, lab.c.position
        )
    ):
        page.labels[(r.project_id, r.data_row_id)].append(r)
    if include.project_details:
        h = s.workflow_history
        for r in conn.execute(
            sa.select(h.c.project_id, h.c.data_row_id, _raw(h.c.entry))
            .where(h.c.data_row_id.in_(ids), _in(h.c.project_id, include.projects))
            .order_by(h.c.data_row_id, h.c.project_id, h.c.position)
        ):
            page.history[(r.project_id, r.data_row_id)].append(Fragment(r.entry))


def _fetch_runs(conn: sa.Connection, ids: Sequence[str], include: Include, page: Page) -> None:
    mr, run, model = s.model_run_data_row, s.model_run, s.model
    for r in conn.execute(
        sa.select(
            mr.c.model_run_id,
            mr.c.data_row_id,
            mr.c.run_data_row_id,
            mr.c.split,
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
            sa.select(
                table.c.id,
                table.c.model_run_id,
                table.c.data_row_id,
                table.c.label_kind,
                table.c.version,
                _raw(table.c.annotations),
            )
            .where(table.c.data_row_id.in_(ids), _in(table.c.model_run_id, include.model_runs))
            .order_by(table.c.data_row_id, table.c.model_run_id, table.c.position)
        ):
            into[(r.model_run_id, r.data_row_id)].append(r)


# ------------------------------------------------------------------------------------- pure part


def build(page: Page, ids: Sequence[str], include: Include) -> list[JSON]:
    """Canonical rows for ``ids`` (ids not in the page are skipped)."""
    return [build_row(page, rid, include) for rid in ids if rid in page.rows]


def _frag(text: str | None, empty: Any = None) -> Any:
    return empty if text is None else Fragment(text)


def build_row(page: Page, rid: str, include: Include) -> JSON:
    """One canonical row; stored JSON is spliced in as :class:`orjson.Fragment`."""
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
            "created_at": r.created_at,
            "updated_at": r.updated_at,
            "last_activity_at": r.last_activity_at,
            "created_by": r.created_by,
        }
    out: JSON = {"data_row": data_row, "media_attributes": _frag(r.media_attributes, {})}
    if include.attachments:
        out["attachments"] = _frag(r.attachments, [])
    if include.metadata_fields:
        out["metadata_fields"] = [
            {"schema_id": m.schema_id, "schema_name": m.name, "value": Fragment(m.value)}
            for m in page.metadata.get(rid, ())
        ]
    if include.embeddings:
        out["embeddings"] = [
            {
                "id": e.id,
                "name": e.name,
                "dimensions": e.dimensions,
                "is_custom": e.is_custom,
                "values": Fragment(e.vectors),
            }
            for e in page.embeddings.get(rid, ())
        ]
    interpolate = include.interpolated_frames and (
        (include.media_type_override or r.media_type) in _VIDEO_LIKE
    )
    if include.projects != ():
        out["projects"] = {
            p.project_id: _project_entry(page, p, rid, include, interpolate)
            for p in page.projects.get(rid, ())
        }
    if include.model_runs != ():
        experiments: JSON = {}
        for run in page.runs.get(rid, ()):
            model = experiments.setdefault(run.model_id, {"name": run.model_name, "runs": {}})
            key = (run.model_run_id, rid)
            entry: JSON = {
                "name": run.run_name,
                "run_data_row_id": run.run_data_row_id,
                "labels": [_run_label(x, interpolate) for x in page.run_labels.get(key, ())],
            }
            if include.predictions:
                entry["predictions"] = [
                    _run_label(x, interpolate) for x in page.predictions.get(key, ())
                ]
            if include.model_run_details:
                entry["split"] = run.split
            model["runs"][run.model_run_id] = entry
        out["experiments"] = experiments
    return out


def _project_entry(page: Page, p: Any, rid: str, include: Include, interpolate: bool) -> JSON:
    entry: JSON = {
        "name": p.name,
        "labels": [
            _label(x, include, interpolate) for x in page.labels.get((p.project_id, rid), ())
        ],
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
        entry["project_tags"] = Fragment(p.tags)
    return entry


def _annotations(text: str, interpolate: bool) -> Any:
    if interpolate:
        return interpolate_frames(orjson.loads(text))
    return Fragment(text)


def _label(x: Any, include: Include, interpolate: bool) -> JSON:
    out: JSON = {"id": x.id, "label_kind": x.label_kind, "version": x.version}
    if include.label_details:
        out["label_details"] = {
            "created_at": x.created_at,
            "updated_at": x.updated_at,
            "created_by": x.created_by,
            "content_last_updated_at": x.content_last_updated_at,
            "reviews": Fragment(x.reviews),
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
            "consensus_labels": _frag(x.consensus_labels),
            "performance_details_v2": _frag(x.performance_v2),
        }
    out["annotations"] = _annotations(x.annotations, interpolate)
    return out


def _run_label(x: Any, interpolate: bool) -> JSON:
    return {
        "id": x.id,
        "label_kind": x.label_kind,
        "version": x.version,
        "annotations": _annotations(x.annotations, interpolate),
    }


def assemble(
    conn: sa.Connection, org_id: str, ids: Sequence[str], include: Include | None = None
) -> list[JSON]:
    """Read and build canonical rows for ``ids`` in one go, as plain (decoded) dicts."""
    include = include or Include()
    rows = build(fetch(conn, org_id, ids, include), ids, include)
    return [orjson.loads(orjson.dumps(row)) for row in rows]
