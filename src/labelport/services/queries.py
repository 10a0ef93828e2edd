"""Read queries for the shells: catalog entities as JSON-ready dicts, lists as keyset pages.

Every function is scoped to one organization: an id of another organization is
:class:`~labelport.errors.NotFound`, exactly like an id that does not exist. Lists are ordered by
``(created_at, id)`` and paged by keyset: a page holds at most ``limit`` items and, when more
follow, ``next_after``, the position to pass as ``after`` for the next page. A page costs one
query for the items plus a fixed number of batched queries for their counts, whatever ``limit``.

Data rows are built by the export's own row assembly (:mod:`labelport.export.assemble`), so a data
row reads here exactly as it does in an export (timestamps, attachments, metadata fields).
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from labelport import vocab
from labelport.errors import NotFound
from labelport.store import Store
from labelport.store import schema as s
from labelport.store.types import ID, Timestamp
from labelport.times import format_timestamp

JSON = dict[str, Any]
Cursor = tuple[datetime, str]  # (created_at, id) of the last item of a page


@dataclass(frozen=True, slots=True)
class Page:
    items: list[JSON]
    next_after: Cursor | None  # None: this is the last page


Render = Callable[[sa.Connection, Sequence[Any]], list[JSON]]


def _paged(
    conn: sa.Connection,
    query: sa.Select[Any],
    table: sa.Table,
    render: Render,
    *,
    limit: int,
    after: Cursor | None,
    newest_first: bool = False,
) -> Page:
    created, key = table.c.created_at, table.c.id
    if after is not None:
        position = sa.tuple_(created, key)
        bound = sa.tuple_(sa.literal(after[0], Timestamp()), sa.literal(after[1], ID))
        query = query.where(position < bound if newest_first else position > bound)
    order = (created.desc(), key.desc()) if newest_first else (created.asc(), key.asc())
    rows = conn.execute(query.order_by(*order).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if rows else None
    next_after = (last.created_at, last.id) if more and last is not None else None
    return Page(render(conn, rows), next_after)


def _one(conn: sa.Connection, query: sa.Select[Any], render: Render, kind: str, key: str) -> JSON:
    row = conn.execute(query).first()
    if row is None:
        raise NotFound(kind, key)
    return render(conn, [row])[0]


def _ts(value: datetime | None) -> str | None:
    return format_timestamp(value)


def _creator(table: sa.Table) -> Any:
    return sa.select(s.user.c.email).where(s.user.c.id == table.c.created_by_id).scalar_subquery()


def _counts(
    conn: sa.Connection, column: sa.ColumnElement[Any], ids: Sequence[str], *group: Any
) -> list[Any]:
    """``count(*)`` per ``column`` value (and per each of ``group``) for ``column IN ids``."""
    if not ids:
        return []
    query = (
        sa.select(column, *group, sa.func.count())
        .where(column.in_(list(ids)))
        .group_by(column, *group)
    )
    return list(conn.execute(query).all())


# ------------------------------------------------------------------------------------ datasets


def _datasets_query(org_id: str) -> sa.Select[Any]:
    d = s.dataset
    return sa.select(
        d.c.id,
        d.c.name,
        d.c.description,
        d.c.labels,
        d.c.kind,
        d.c.created_at,
        d.c.updated_at,
        _creator(d).label("created_by"),
    ).where(d.c.org_id == org_id)


def _render_datasets(conn: sa.Connection, rows: Sequence[Any]) -> list[JSON]:
    counts = dict(_counts(conn, s.data_row.c.dataset_id, [r.id for r in rows]))
    return [
        {
            "id": r.id,
            "name": r.name,
            "description": r.description,
            "labels": r.labels or {},
            "kind": r.kind,
            "created_at": _ts(r.created_at),
            "updated_at": _ts(r.updated_at),
            "created_by": r.created_by,
            "data_row_count": counts.get(r.id, 0),
        }
        for r in rows
    ]


def list_datasets(
    store: Store,
    org_id: str,
    *,
    limit: int = 100,
    after: Cursor | None = None,
    name: str | None = None,
) -> Page:
    query = _datasets_query(org_id)
    if name is not None:
        query = query.where(s.dataset.c.name == name)
    with store.read() as conn:
        return _paged(conn, query, s.dataset, _render_datasets, limit=limit, after=after)


def get_dataset(store: Store, org_id: str, dataset_id: str) -> JSON:
    """A dataset with ``data_row_count``."""
    d = s.dataset
    with store.read() as conn:
        out = _one(
            conn,
            _datasets_query(org_id).where(d.c.id == dataset_id),
            _render_datasets,
            "dataset",
            dataset_id,
        )
    return out


def _check_dataset(conn: sa.Connection, org_id: str, dataset_id: str) -> None:
    d = s.dataset
    found = conn.execute(
        sa.select(d.c.id).where(d.c.id == dataset_id, d.c.org_id == org_id)
    ).first()
    if found is None:
        raise NotFound("dataset", dataset_id)


# ------------------------------------------------------------------------------------ data rows


@functools.cache
def _data_row_include() -> Any:
    """What a data row carries here: the row, its details, attachments and metadata; no labels,
    predictions or embeddings (those are what exports are for). The export machinery loads on
    first use: listing datasets (``labelport ls``) needs none of it."""
    from labelport.export.assemble import Include

    return Include(
        attachments=True,
        metadata_fields=True,
        embeddings=False,
        data_row_details=True,
        project_details=False,
        label_details=False,
        performance_details=False,
        predictions=False,
        model_run_details=False,
        projects=(),
        model_runs=(),
        source_shapes=False,
    )


def _render_data_rows(conn: sa.Connection, org_id: str, ids: Sequence[str]) -> list[JSON]:
    """Data rows as JSON (stored documents spliced in as ``orjson.Fragment``), in ``ids`` order."""
    from labelport.export.assemble import build_row, fetch

    include = _data_row_include()
    page = fetch(conn, org_id, ids, include)
    out: list[JSON] = []
    for rid in ids:
        r = page.rows.get(rid)
        if r is None:
            continue
        row = build_row(page, rid, include)
        details = row["data_row"]["details"]
        out.append(
            {
                "id": rid,
                "global_key": r[2],
                "external_id": r[3],
                "row_data": r[4],
                "media_type": r[5],
                "dataset_id": details["dataset_id"],
                "dataset_name": details["dataset_name"],
                "created_at": details["created_at"],
                "updated_at": details["updated_at"],
                "last_activity_at": details["last_activity_at"],
                "created_by": details["created_by"],
                "media_attributes": row["media_attributes"],
                "attachments": row["attachments"],
                "metadata_fields": row["metadata_fields"],
            }
        )
    return out


def list_data_rows(
    store: Store,
    org_id: str,
    dataset_id: str,
    *,
    limit: int = 100,
    after: Cursor | None = None,
) -> Page:
    """The data rows of a dataset in export order (``created_at``, ``id``)."""
    dr = s.data_row
    query = sa.select(dr.c.id, dr.c.created_at).where(
        dr.c.dataset_id == dataset_id, dr.c.org_id == org_id
    )
    with store.read() as conn:
        _check_dataset(conn, org_id, dataset_id)

        def render(conn: sa.Connection, rows: Sequence[Any]) -> list[JSON]:
            return _render_data_rows(conn, org_id, [r.id for r in rows])

        return _paged(conn, query, dr, render, limit=limit, after=after)


def get_data_row(store: Store, org_id: str, data_row_id: str) -> JSON:
    with store.read() as conn:
        found = _render_data_rows(conn, org_id, [data_row_id])
    if not found:
        raise NotFound("data row", data_row_id)
    return found[0]


def find_data_row(store: Store, org_id: str, global_key: str) -> JSON:
    """The data row with this global key (exact match)."""
    dr = s.data_row
    with store.read() as conn:
        rid = conn.execute(
            sa.select(dr.c.id).where(dr.c.org_id == org_id, dr.c.global_key == global_key)
        ).scalar_one_or_none()
        found = [] if rid is None else _render_data_rows(conn, org_id, [rid])
    if not found:
        raise NotFound("data row with global key", global_key)
    return found[0]


# ------------------------------------------------------------------------------------ projects

# Counts name every stored status, and UNKNOWN for memberships whose status no source gave.
STATUS_COUNTS = (*vocab.WORKFLOW_STATUSES, vocab.UNKNOWN)


def _projects_query(org_id: str) -> sa.Select[Any]:
    p = s.project
    return sa.select(
        p.c.id,
        p.c.name,
        p.c.description,
        p.c.media_type,
        p.c.ontology_id,
        p.c.tags,
        p.c.created_at,
        p.c.updated_at,
    ).where(p.c.org_id == org_id)


def _render_projects(conn: sa.Connection, rows: Sequence[Any]) -> list[JSON]:
    ids = [r.id for r in rows]
    pdr = s.project_data_row
    statuses: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(STATUS_COUNTS, 0))
    for pid, status, n in _counts(conn, pdr.c.project_id, ids, pdr.c.workflow_status):
        statuses[pid][vocab.status_label(status)] += n
    labels = dict(_counts(conn, s.label.c.project_id, ids))
    batches = dict(_counts(conn, s.batch.c.project_id, ids))
    return [
        {
            "id": r.id,
            "name": r.name,
            "description": r.description,
            "media_type": r.media_type,
            "ontology_id": r.ontology_id,
            "tags": r.tags or [],
            "created_at": _ts(r.created_at),
            "updated_at": _ts(r.updated_at),
            "data_row_count": sum(statuses[r.id].values()),
            "workflow_status_counts": statuses[r.id],
            "label_count": labels.get(r.id, 0),
            "batch_count": batches.get(r.id, 0),
        }
        for r in rows
    ]


def list_projects(
    store: Store, org_id: str, *, limit: int = 100, after: Cursor | None = None
) -> Page:
    with store.read() as conn:
        return _paged(
            conn, _projects_query(org_id), s.project, _render_projects, limit=limit, after=after
        )


def get_project(store: Store, org_id: str, project_id: str) -> JSON:
    query = _projects_query(org_id).where(s.project.c.id == project_id)
    with store.read() as conn:
        return _one(conn, query, _render_projects, "project", project_id)


def _render_batches(conn: sa.Connection, rows: Sequence[Any]) -> list[JSON]:
    counts = dict(_counts(conn, s.project_data_row.c.batch_id, [r.id for r in rows]))
    return [
        {
            "id": r.id,
            "name": r.name,
            "project_id": r.project_id,
            "created_at": _ts(r.created_at),
            "data_row_count": counts.get(r.id, 0),
        }
        for r in rows
    ]


def list_batches(
    store: Store,
    org_id: str,
    project_id: str,
    *,
    limit: int = 100,
    after: Cursor | None = None,
) -> Page:
    b, p = s.batch, s.project
    query = sa.select(b.c.id, b.c.name, b.c.project_id, b.c.created_at).where(
        b.c.project_id == project_id, b.c.org_id == org_id
    )
    with store.read() as conn:
        owned = conn.execute(
            sa.select(p.c.id).where(p.c.id == project_id, p.c.org_id == org_id)
        ).first()
        if owned is None:
            raise NotFound("project", project_id)
        return _paged(conn, query, b, _render_batches, limit=limit, after=after)


# ---------------------------------------------------------------------------------- model runs

SPLITS = vocab.SPLITS  # a run's row without a split counts as UNASSIGNED


def _runs_query(org_id: str) -> sa.Select[Any]:
    r, m = s.model_run, s.model
    return (
        sa.select(
            r.c.id,
            r.c.name,
            r.c.model_id,
            m.c.name.label("model_name"),
            r.c.training_metadata,
            r.c.created_at,
            r.c.updated_at,
            _creator(r).label("created_by"),
        )
        .join(m, m.c.id == r.c.model_id)
        .where(r.c.org_id == org_id)
    )


def _render_runs(conn: sa.Connection, rows: Sequence[Any]) -> list[JSON]:
    ids = [r.id for r in rows]
    mr = s.model_run_data_row
    splits: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(SPLITS, 0))
    for run_id, split, n in _counts(conn, mr.c.model_run_id, ids, mr.c.split):
        splits[run_id][split or "UNASSIGNED"] += n
    predictions = dict(_counts(conn, s.prediction.c.model_run_id, ids))
    labels = dict(_counts(conn, s.model_run_label.c.model_run_id, ids))
    return [
        {
            "id": r.id,
            "name": r.name,
            "model_id": r.model_id,
            "model_name": r.model_name,
            "training_metadata": r.training_metadata,
            "created_at": _ts(r.created_at),
            "updated_at": _ts(r.updated_at),
            "created_by": r.created_by,
            "data_row_count": sum(splits[r.id].values()),
            "split_counts": splits[r.id],
            "label_count": labels.get(r.id, 0),
            "prediction_count": predictions.get(r.id, 0),
        }
        for r in rows
    ]


def list_model_runs(
    store: Store,
    org_id: str,
    *,
    limit: int = 100,
    after: Cursor | None = None,
    model_id: str | None = None,
) -> Page:
    query = _runs_query(org_id)
    if model_id is not None:
        query = query.where(s.model_run.c.model_id == model_id)
    with store.read() as conn:
        return _paged(conn, query, s.model_run, _render_runs, limit=limit, after=after)


def get_model_run(store: Store, org_id: str, run_id: str) -> JSON:
    query = _runs_query(org_id).where(s.model_run.c.id == run_id)
    with store.read() as conn:
        return _one(conn, query, _render_runs, "model run", run_id)


# -------------------------------------------------------------------------------------- slices


def _slices_query(org_id: str) -> sa.Select[Any]:
    c = s.catalog_slice
    return sa.select(
        c.c.id,
        c.c.name,
        c.c.description,
        c.c.filters,
        c.c.created_at,
        c.c.updated_at,
        _creator(c).label("created_by"),
    ).where(c.c.org_id == org_id)


def _render_slices(conn: sa.Connection, rows: Sequence[Any]) -> list[JSON]:
    return [
        {
            "id": r.id,
            "name": r.name,
            "description": r.description,
            "filters": r.filters,
            "created_at": _ts(r.created_at),
            "updated_at": _ts(r.updated_at),
            "created_by": r.created_by,
        }
        for r in rows
    ]


def list_slices(
    store: Store, org_id: str, *, limit: int = 100, after: Cursor | None = None
) -> Page:
    with store.read() as conn:
        return _paged(
            conn, _slices_query(org_id), s.catalog_slice, _render_slices, limit=limit, after=after
        )


def get_slice(store: Store, org_id: str, slice_id: str) -> JSON:
    query = _slices_query(org_id).where(s.catalog_slice.c.id == slice_id)
    with store.read() as conn:
        return _one(conn, query, _render_slices, "catalog slice", slice_id)


# ----------------------------------------------------------------------------- annotation sets


def _sets_query(org_id: str) -> sa.Select[Any]:
    a = s.annotation_set
    return sa.select(
        a.c.id,
        a.c.display_name,
        a.c.objective,
        a.c.dataset_id,
        a.c.project_id,
        a.c.model_run_id,
        a.c.settings,
        a.c.created_at,
        a.c.updated_at,
    ).where(a.c.org_id == org_id)


def _render_sets(conn: sa.Connection, rows: Sequence[Any]) -> list[JSON]:
    return [
        {
            "id": r.id,
            "display_name": r.display_name,
            "objective": r.objective,
            "dataset_id": r.dataset_id,
            "project_id": r.project_id,
            "model_run_id": r.model_run_id,
            "settings": r.settings or {},
            "created_at": _ts(r.created_at),
            "updated_at": _ts(r.updated_at),
        }
        for r in rows
    ]


def list_annotation_sets(
    store: Store, org_id: str, *, limit: int = 100, after: Cursor | None = None
) -> Page:
    with store.read() as conn:
        return _paged(
            conn, _sets_query(org_id), s.annotation_set, _render_sets, limit=limit, after=after
        )


def get_annotation_set(store: Store, org_id: str, set_id: str) -> JSON:
    query = _sets_query(org_id).where(s.annotation_set.c.id == set_id)
    with store.read() as conn:
        return _one(conn, query, _render_sets, "annotation set", set_id)


# --------------------------------------------------------------------------------------- users


def _render_users(conn: sa.Connection, rows: Sequence[Any]) -> list[JSON]:
    k = s.api_key
    ids = [r.id for r in rows]
    keys: dict[str, int] = {}
    if ids:
        live = (
            sa.select(k.c.user_id, sa.func.count())
            .where(k.c.user_id.in_(ids), k.c.revoked_at.is_(None))
            .group_by(k.c.user_id)
        )
        keys = {user_id: n for user_id, n in conn.execute(live)}
    return [
        {
            "id": r.id,
            "email": r.email,
            "name": r.name,
            "role": r.role,
            "created_at": _ts(r.created_at),
            "api_key_count": keys.get(r.id, 0),
        }
        for r in rows
    ]


def list_users(store: Store, org_id: str, *, limit: int = 100, after: Cursor | None = None) -> Page:
    u = s.user
    query = sa.select(u.c.id, u.c.email, u.c.name, u.c.role, u.c.created_at).where(
        u.c.org_id == org_id
    )
    with store.read() as conn:
        return _paged(conn, query, u, _render_users, limit=limit, after=after)


def _render_keys(conn: sa.Connection, rows: Sequence[Any]) -> list[JSON]:
    return [
        {
            "id": r.id,
            "name": r.name,
            "user": {"id": r.user_id, "email": r.email, "role": r.role},
            "created_at": format_timestamp(r.created_at),
            "last_used_at": format_timestamp(r.last_used_at),
            "revoked_at": format_timestamp(r.revoked_at),
        }
        for r in rows
    ]


def _keys(org_id: str) -> sa.Select[Any]:
    k, u = s.api_key, s.user
    return (
        sa.select(
            k.c.id,
            k.c.name,
            k.c.user_id,
            u.c.email,
            u.c.role,
            k.c.created_at,
            k.c.last_used_at,
            k.c.revoked_at,
        )
        .join(u, u.c.id == k.c.user_id)
        .where(k.c.org_id == org_id)
    )


def list_keys(
    store: Store,
    org_id: str,
    *,
    limit: int = 100,
    after: Cursor | None = None,
    revoked: bool = True,
) -> Page:
    """The organization's API keys, oldest first (never their secrets); ``revoked=False``
    leaves revoked keys out."""
    query = _keys(org_id)
    if not revoked:
        query = query.where(s.api_key.c.revoked_at.is_(None))
    with store.read() as conn:
        return _paged(conn, query, s.api_key, _render_keys, limit=limit, after=after)


def get_key(store: Store, org_id: str, key_id: str) -> JSON:
    with store.read() as conn:
        return _one(
            conn, _keys(org_id).where(s.api_key.c.id == key_id), _render_keys, "API key", key_id
        )


def get_user(store: Store, org_id: str, user_id: str) -> JSON:
    u = s.user
    query = sa.select(u.c.id, u.c.email, u.c.name, u.c.role, u.c.created_at).where(
        u.c.org_id == org_id, u.c.id == user_id
    )
    with store.read() as conn:
        return _one(conn, query, _render_users, "user", user_id)
