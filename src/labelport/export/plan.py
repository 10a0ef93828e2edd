"""From a validated :class:`~labelport.export.spec.ExportSpec` to the data rows to export.

:func:`resolve` checks what the spec names against the catalog (the scope exists in the
organization, every project, model run and batch it lists does too) and decides what each row
carries (:class:`~labelport.export.assemble.Include`). :func:`where` turns filters into SQL
(pure: no connection needed). :func:`pages` streams the matching ids in the stable export order
(data row ``created_at``, then ``id``) from one ordered query, a page at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Any

import sqlalchemy as sa

from labelport.errors import InvalidSpec, NotFound
from labelport.export.assemble import Include
from labelport.export.spec import (
    SLICE_FILTERS,
    ExportSpec,
    Filters,
    Params,
    Scope,
    parse_filters,
    zone,
)
from labelport.store import schema as s

d = s.data_row


@dataclass(frozen=True, slots=True)
class Plan:
    org_id: str
    spec: ExportSpec
    include: Include
    ids: sa.Select[Any]  # data_row.id (and created_at) in scope and filters, unordered
    scope_name: str | None  # the project's, dataset's, slice's or model run's name
    # How many rows ``ids`` gives, when a cheaper query than counting it says so
    counted: sa.Select[Any] | None = None


def resolve(conn: sa.Connection, org_id: str, spec: ExportSpec) -> Plan:
    """Check the spec against the catalog and build the row query. Raises NotFound/InvalidSpec."""
    scope, p = spec.scope, spec.params
    query = sa.select(d.c.id, d.c.created_at).where(d.c.org_id == org_id)
    project_id: str | None = None
    name: str | None = None
    scope_id = str(scope.id)
    filters = spec.filters
    if scope.kind == "project":
        project_id = scope.id
        name = _name(conn, s.project, org_id, scope.id, "project")
        pdr = s.project_data_row
        query = query.join(pdr, (pdr.c.data_row_id == d.c.id) & (pdr.c.project_id == scope.id))
        if scope.dataset_id is not None:
            _name(conn, s.dataset, org_id, scope.dataset_id, "dataset")
            query = query.where(d.c.dataset_id == scope.dataset_id)
        if scope.workflow_statuses:
            query = query.where(pdr.c.workflow_status.in_(scope.workflow_statuses))
        if filters.batch_ids:
            _check_ids(conn, s.batch, filters.batch_ids, "batch", s.batch.c.project_id == scope.id)
        include = _include(p, projects=(scope_id,), model_runs=())
    elif scope.kind == "model_run":
        run = s.model_run
        name = _name(conn, run, org_id, scope.id, "model run")
        mr = s.model_run_data_row
        query = query.join(mr, (mr.c.data_row_id == d.c.id) & (mr.c.model_run_id == scope.id))
        include = _include(p, projects=(), model_runs=(scope_id,))
    else:
        if scope.kind == "dataset":
            name = _name(conn, s.dataset, org_id, scope.id, "dataset")
            query = query.where(d.c.dataset_id == scope.id)
        elif scope.kind == "slice":
            name, filters = _slice(conn, org_id, scope, spec.timezone)
        elif scope.kind == "data_rows":
            if scope.data_row_ids:
                query = query.where(d.c.id.in_(scope.data_row_ids))
            else:
                query = query.where(d.c.global_key.in_(scope.global_keys))
        if p.project_ids:
            _check_ids(conn, s.project, p.project_ids, "project", s.project.c.org_id == org_id)
        if p.model_run_ids:
            run = s.model_run
            owned = run.c.model_id.in_(sa.select(s.model.c.id).where(s.model.c.org_id == org_id))
            _check_ids(conn, run, p.model_run_ids, "model run", owned)
        include = _include(
            p,
            projects=None if p.all_projects else tuple(p.project_ids or ()),
            model_runs=None if p.all_model_runs else tuple(p.model_run_ids or ()),
        )
    for clause in where(filters, project_id=project_id):
        query = query.where(clause)
    counted = _memberships(scope, filters) if scope.kind in ("project", "model_run") else None
    return Plan(
        org_id=org_id, spec=spec, include=include, ids=query, scope_name=name, counted=counted
    )


_MEMBERSHIP_FILTERS = {"workflow_status", "batch_ids"}  # filters on a project's memberships


def _memberships(scope: Scope, f: Filters) -> sa.Select[Any] | None:
    """The count of a project's or model run's rows from its memberships alone, when nothing
    narrows them by the data row itself. (A project or model run of the organization holds only
    the organization's rows, each once.) Counting the row query instead looks up every row's
    membership, a random read per row: seconds for a million rows on SQLite."""
    narrowed = {k.name for k in fields(f) if getattr(f, k.name) is not None}
    if scope.dataset_id is not None or narrowed - _MEMBERSHIP_FILTERS:
        return None
    if scope.kind == "model_run":
        if narrowed:
            return None
        mr = s.model_run_data_row
        return sa.select(sa.func.count()).where(mr.c.model_run_id == scope.id)
    pdr = s.project_data_row
    query = sa.select(sa.func.count()).where(pdr.c.project_id == scope.id)
    if scope.workflow_statuses:
        query = query.where(pdr.c.workflow_status.in_(scope.workflow_statuses))
    if f.workflow_status is not None:
        query = query.where(pdr.c.workflow_status == f.workflow_status)
    if f.batch_ids:
        query = query.where(pdr.c.batch_id.in_(f.batch_ids))
    return query


def _include(
    p: Params, *, projects: tuple[str, ...] | None, model_runs: tuple[str, ...] | None
) -> Include:
    """What each row carries. A scope's own params were checked by the spec (a project export
    has no predictions param, a model run export no label details)."""
    return Include(
        attachments=p.attachments,
        metadata_fields=p.metadata_fields,
        embeddings=p.embeddings,
        data_row_details=p.data_row_details,
        project_details=p.project_details,
        label_details=p.label_details,
        performance_details=p.performance_details,
        predictions=p.predictions,
        model_run_details=p.model_run_details,
        interpolated_frames=p.interpolated_frames,
        media_type_override=p.media_type_override,
        projects=projects,
        model_runs=model_runs,
    )


def where(f: Filters, *, project_id: str | None = None) -> list[sa.ColumnElement[bool]]:
    """SQL conditions on ``data_row`` (and, for a project, its ``project_data_row``) for ``f``.

    Date ranges are inclusive at both ends. ``label_created_at`` looks at the labels of the
    project being exported, or at every label of the row for a catalog-side scope.
    """
    out: list[sa.ColumnElement[bool]] = []
    if f.last_activity_at:
        out.extend(_between(d.c.last_activity_at, f.last_activity_at))
    if f.label_created_at:
        lab = s.label
        cond = [lab.c.data_row_id == d.c.id, *_between(lab.c.created_at, f.label_created_at)]
        if project_id is not None:
            cond.append(lab.c.project_id == project_id)  # index (project_id, created_at)
        else:
            # Always true (a label is in its data row's organization); it lets PostgreSQL find
            # the labels through the index (org_id, created_at) instead of testing every row's.
            cond.append(lab.c.org_id == d.c.org_id)
        out.append(sa.exists(sa.select(sa.literal(1)).select_from(lab).where(*cond)))
    if f.workflow_status is not None:
        out.append(s.project_data_row.c.workflow_status == f.workflow_status)
    if f.batch_ids:
        out.append(s.project_data_row.c.batch_id.in_(f.batch_ids))
    if f.global_keys:
        out.append(d.c.global_key.in_(f.global_keys))
    if f.data_row_ids:
        out.append(d.c.id.in_(f.data_row_ids))
    if f.media_type:
        out.append(d.c.media_type.in_(f.media_type))
    if f.dataset_ids:
        out.append(d.c.dataset_id.in_(f.dataset_ids))
    return out


def _between(column: Any, bounds: tuple[Any, Any]) -> list[sa.ColumnElement[bool]]:
    start, end = bounds
    out = []
    if start is not None:
        out.append(column >= start)
    if end is not None:
        out.append(column <= end)
    return out


def count(conn: sa.Connection, plan: Plan) -> int:
    """How many rows the plan exports."""
    if plan.counted is not None:
        return int(conn.execute(plan.counted).scalar_one())
    sub = plan.ids.subquery()
    return int(conn.execute(sa.select(sa.func.count()).select_from(sub)).scalar_one())


FIRST_PAGE = 50  # a small first page: the first rows go out before the big pages start


def ordered(plan: Plan, dialect: str) -> sa.Select[Any]:
    """The row query :func:`pages` runs: the ids in export order (``created_at``, then ``id``)."""
    # Byte order of ids on both databases (PostgreSQL would otherwise use the server's locale).
    key = d.c.id if dialect == "sqlite" else d.c.id.collate("C")
    return plan.ids.order_by(d.c.created_at, key).with_only_columns(d.c.id)


def pages(conn: sa.Connection, plan: Plan, size: int = 500) -> Iterator[list[str]]:
    """The ids in export order from one streamed query: a short first page, then ``size``.

    The query is streamed: on PostgreSQL through a server-side cursor (``DECLARE … CURSOR``,
    fetched ``size`` rows at a time), on SQLite by stepping the statement; memory holds one page
    whatever the number of rows.
    """
    for part in stream(conn, ordered(plan, conn.dialect.name), size):
        yield [r[0] for r in part]


def stream(conn: sa.Connection, query: sa.Select[Any], size: int = 500) -> Iterator[list[Any]]:
    """The rows of ``query`` streamed in pages (a short first one), as :func:`pages` does."""
    # Options on this statement only: on the connection they would stick to every later query.
    result = conn.execute(query, execution_options={"stream_results": True, "yield_per": size})
    try:
        want = min(size, FIRST_PAGE)
        while part := result.fetchmany(want):
            yield list(part)
            want = size
    finally:
        result.close()


# ------------------------------------------------------------------------------------ checks


def _name(conn: sa.Connection, table: sa.Table, org_id: str, key: str | None, kind: str) -> str:
    if table is s.model_run:
        query = (
            sa.select(table.c.name)
            .join(s.model, s.model.c.id == table.c.model_id)
            .where(table.c.id == key, s.model.c.org_id == org_id)
        )
    else:
        query = sa.select(table.c.name).where(table.c.id == key, table.c.org_id == org_id)
    name = conn.execute(query).scalar_one_or_none()
    if name is None:
        raise NotFound(kind, str(key))
    return str(name)


def _check_ids(
    conn: sa.Connection,
    table: sa.Table,
    ids: tuple[str, ...],
    kind: str,
    owned: sa.ColumnElement[bool],
) -> None:
    found = set(conn.execute(sa.select(table.c.id).where(table.c.id.in_(ids), owned)).scalars())
    missing = [i for i in ids if i not in found]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise NotFound(kind, missing[0] + more)


def _slice(conn: sa.Connection, org_id: str, scope: Scope, timezone: str) -> tuple[str, Filters]:
    c = s.catalog_slice
    row = conn.execute(
        sa.select(c.c.name, c.c.filters).where(c.c.id == scope.id, c.c.org_id == org_id)
    ).one_or_none()
    if row is None:
        raise NotFound("catalog slice", str(scope.id))
    try:
        filters = parse_filters(SLICE_FILTERS, row.filters, zone(timezone), where="a slice")
    except InvalidSpec as exc:
        raise InvalidSpec(f"catalog slice {scope.id} holds an invalid filter: {exc}") from exc
    return str(row.name), filters
