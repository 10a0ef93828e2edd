"""What the pages read: organization-scoped catalog queries sized for a page view.

Nothing here scans a large table to render a page. Lists are keyset pages over
``(created_at, id)``; the data-row grid pages through the export's own row query
(:func:`labelport.export.plan.resolve`, so the grid shows exactly what an export of the same scope
and filters would hold, in the same order); counts stop at :data:`COUNT_CAP` (``10,000+``), which
costs at most that many index entries whatever the catalog's size.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa

from labelport import vocab
from labelport.errors import InvalidInput, NotFound
from labelport.export import plan as planning
from labelport.export.assemble import Include, build_row, fetch
from labelport.export.spec import ExportSpec, Filters, Params, Scope
from labelport.store import Store
from labelport.store import schema as s
from labelport.store.types import Timestamp
from labelport.times import format_timestamp, parse_timestamp

COUNT_CAP = 10_000
Cursor = tuple[datetime, str]
d = s.data_row


class FormProblem(InvalidInput):
    """A form value the catalog refuses; ``name`` is the form field."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


@dataclass(frozen=True, slots=True)
class Count:
    """A count that stops at :data:`COUNT_CAP`: ``capped`` means "more than ``value``"."""

    value: int
    capped: bool

    def __str__(self) -> str:
        return f"{self.value:,}+" if self.capped else f"{self.value:,}"


def _capped(conn: sa.Connection, query: sa.Select[Any]) -> Count:
    sub = query.limit(COUNT_CAP + 1).subquery()
    n = int(conn.execute(sa.select(sa.func.count()).select_from(sub)).scalar_one())
    return Count(COUNT_CAP, True) if n > COUNT_CAP else Count(n, False)


# ------------------------------------------------------------------------------------ cursors


def encode_cursor(after: Cursor) -> str:
    raw = orjson.dumps([format_timestamp(after[0]), after[1]])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> Cursor:
    """A cursor this server gave out; FormProblem otherwise."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        created, key = orjson.loads(raw)
        if not isinstance(created, str) or not isinstance(key, str) or "\x00" in key:
            raise ValueError(key)
        return parse_timestamp(created), key
    except (binascii.Error, orjson.JSONDecodeError, ValueError, TypeError):
        raise FormProblem("after", "this page position is not one the server gave out") from None


def _sort_key(conn: sa.Connection, column: sa.ColumnElement[str]) -> sa.ColumnElement[str]:
    # Byte order of ids on both databases, as the export orders them.
    return column if conn.dialect.name == "sqlite" else column.collate("C")


def _after(
    conn: sa.Connection, created: Any, key: Any, after: Cursor | None, *, newest_first: bool = False
) -> list[sa.ColumnElement[bool]]:
    if after is None:
        return []
    at = sa.literal(after[0], Timestamp())
    if newest_first:
        return [created <= at, sa.or_(created < at, _sort_key(conn, key) < after[1])]
    return [created >= at, sa.or_(created > at, _sort_key(conn, key) > after[1])]


# ---------------------------------------------------------------------------------- overview


def org_name_and_timezone(store: Store, org_id: str) -> tuple[str, str]:
    o = s.organization
    with store.read() as conn:
        row = conn.execute(sa.select(o.c.name, o.c.timezone).where(o.c.id == org_id)).one()
    return str(row.name), str(row.timezone or "UTC")


@dataclass(frozen=True, slots=True)
class Listing:
    items: list[dict[str, Any]]
    next_after: Cursor | None


LIST_KINDS = ("datasets", "projects", "model-runs", "slices")


def _list_query(kind: str, org_id: str) -> tuple[sa.Select[Any], Any, Any, Any]:
    if kind == "datasets":
        t = s.dataset
        query = sa.select(t.c.id, t.c.name, t.c.created_at, t.c.kind).where(t.c.org_id == org_id)
    elif kind == "projects":
        t = s.project
        query = sa.select(t.c.id, t.c.name, t.c.created_at, t.c.media_type).where(
            t.c.org_id == org_id
        )
    elif kind == "model-runs":
        t, m = s.model_run, s.model
        query = (
            sa.select(t.c.id, t.c.name, t.c.created_at, m.c.name.label("model_name"))
            .join(m, m.c.id == t.c.model_id)
            .where(m.c.org_id == org_id)
        )
    elif kind == "slices":
        t = s.catalog_slice
        query = sa.select(t.c.id, t.c.name, t.c.created_at, t.c.filters).where(t.c.org_id == org_id)
    else:
        raise NotFound("list", kind)
    return query, t.c.created_at, t.c.id, t.c.name


def listing(
    store: Store, org_id: str, kind: str, *, limit: int = 25, after: Cursor | None = None
) -> Listing:
    """Datasets, projects, model runs or slices, newest first, with capped row counts."""
    query, created, key, _ = _list_query(kind, org_id)
    with store.read() as conn:
        query = query.where(*_after(conn, created, key, after, newest_first=True))
        order = (created.desc(), _sort_key(conn, key).desc())
        query = query.order_by(*order).limit(limit + 1)
        rows = list(conn.execute(query))
        more = len(rows) > limit
        rows = rows[:limit]
        items = []
        for r in rows:
            item = dict(r._mapping)
            item["count"] = _row_count(conn, kind, r.id)
            items.append(item)
    last = rows[-1] if rows and more else None
    return Listing(items, (last.created_at, last.id) if last is not None else None)


def _row_count(conn: sa.Connection, kind: str, item_id: str) -> Count | None:
    if kind == "datasets":
        return _capped(conn, sa.select(d.c.id).where(d.c.dataset_id == item_id))
    if kind == "projects":
        pdr = s.project_data_row
        return _capped(conn, sa.select(pdr.c.data_row_id).where(pdr.c.project_id == item_id))
    if kind == "model-runs":
        mr = s.model_run_data_row
        return _capped(conn, sa.select(mr.c.data_row_id).where(mr.c.model_run_id == item_id))
    return None


def totals(store: Store, org_id: str) -> dict[str, Count]:
    """How many of each: exact for the small tables, capped for data rows."""
    out: dict[str, Count] = {}
    with store.read() as conn:
        for name, table in (
            ("datasets", s.dataset),
            ("projects", s.project),
            ("slices", s.catalog_slice),
            ("annotation sets", s.annotation_set),
        ):
            query = sa.select(table.c.id).where(table.c.org_id == org_id)
            out[name] = _capped(conn, query)
        runs = sa.select(s.model_run.c.id).where(s.model_run.c.org_id == org_id)
        out["model runs"] = _capped(conn, runs)
        out["data rows"] = _capped(conn, sa.select(d.c.id).where(d.c.org_id == org_id))
    return out


def choices(store: Store, org_id: str, kind: str, limit: int = 500) -> list[dict[str, Any]]:
    """Names and ids for a select box (datasets, projects, model runs), by name."""
    query, _, key, name = _list_query(kind, org_id)
    with store.read() as conn:
        rows = conn.execute(query.order_by(name, key).limit(limit))
        return [dict(r._mapping) for r in rows]


def batches(store: Store, org_id: str, project_id: str, limit: int = 500) -> list[dict[str, Any]]:
    b = s.batch
    with store.read() as conn:
        rows = conn.execute(
            sa.select(b.c.id, b.c.name)
            .where(b.c.project_id == project_id, b.c.org_id == org_id)
            .order_by(b.c.name)
            .limit(limit)
        )
        return [dict(r._mapping) for r in rows]


def annotation_sets(store: Store, org_id: str, dataset_id: str) -> list[dict[str, Any]]:
    """The annotation sets a Vertex-style export of the dataset can write."""
    from labelport.services import vertex_datasets

    with store.read() as conn:
        rows = vertex_datasets.annotation_sets(conn, org_id, dataset_id)
    return [{"id": r.id, "display_name": r.display_name, "objective": r.objective} for r in rows]


# --------------------------------------------------------------------------------- metadata


@dataclass(frozen=True, slots=True)
class MetadataField:
    id: str
    name: str
    kind: str  # string | number | datetime | enum
    options: tuple[tuple[str, str], ...] = ()  # enum: (option id, option name)


def metadata_fields(store: Store, org_id: str, limit: int = 200) -> list[MetadataField]:
    f = s.metadata_field
    with store.read() as conn:
        fields = list(
            conn.execute(
                sa.select(f.c.id, f.c.name, f.c.kind)
                .where(
                    f.c.org_id == org_id,
                    f.c.parent_id.is_(None),
                    f.c.kind.in_(("string", "number", "datetime", "enum")),
                )
                .order_by(f.c.name)
                .limit(limit)
            )
        )
        enums = [r.id for r in fields if r.kind == "enum"]
        options: dict[str, list[tuple[str, str]]] = {}
        if enums:
            for r in conn.execute(
                sa.select(f.c.id, f.c.name, f.c.parent_id)
                .where(f.c.parent_id.in_(enums), f.c.org_id == org_id)
                .order_by(f.c.name)
            ):
                options.setdefault(r.parent_id, []).append((r.id, r.name))
    return [MetadataField(r.id, r.name, r.kind, tuple(options.get(r.id, ()))) for r in fields]


def _like_literal(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def metadata_condition(
    fields: Sequence[MetadataField], field_id: str, value: str
) -> sa.ColumnElement[bool]:
    """Rows whose metadata field ``field_id`` holds ``value``: equal text, the same number, a
    timestamp starting with it (``2025-03``), or the enum option of that name."""
    chosen = next((f for f in fields if f.id == field_id), None)
    if chosen is None:
        raise FormProblem("metadata_field", f"Metadata field: no field with id {field_id!r}")
    m = s.data_row_metadata
    stored = sa.type_coerce(m.c.value, sa.Text)
    test: sa.ColumnElement[bool]
    if chosen.kind == "enum":
        option = next((o for o in chosen.options if value in (o[1], o[0])), None)
        if option is None:
            names = ", ".join(o[1] for o in chosen.options) or "none"
            raise FormProblem(
                "metadata_value",
                f"Metadata value: {value!r} is not an option of {chosen.name} (options: {names})",
            )
        test = stored.like(f'%"schema_id":"{_like_literal(option[0])}"%', escape="\\")
    elif chosen.kind == "number":
        try:
            number = float(value)
        except ValueError:
            raise FormProblem(
                "metadata_value", f"Metadata value: {chosen.name} holds numbers, not {value!r}"
            ) from None
        if number != number or number in (float("inf"), float("-inf")):
            raise FormProblem("metadata_value", f"Metadata value: {value!r} is not a number")
        forms = {orjson.dumps(number).decode()}
        if number.is_integer() and abs(number) < 2**53:
            forms.add(str(int(number)))
        test = stored.in_(sorted(forms))
    elif chosen.kind == "datetime":
        if not value:
            raise FormProblem("metadata_value", "Metadata value: give a date such as 2025-03")
        test = stored.like('"' + _like_literal(value) + "%", escape="\\")
    else:
        test = stored == orjson.dumps(value).decode()
    return sa.exists(
        sa.select(sa.literal(1))
        .select_from(m)
        .where(m.c.data_row_id == d.c.id, m.c.schema_id == chosen.id, test)
    )


# ------------------------------------------------------------------------------------- grid


@dataclass(frozen=True, slots=True)
class RowQuery:
    """The rows of a page: a scope, the panel's filters, an optional metadata condition."""

    org_id: str
    scope: Scope
    filters: Filters
    timezone: str = "UTC"
    metadata: sa.ColumnElement[bool] | None = None


@dataclass(frozen=True, slots=True)
class Grid:
    rows: list[dict[str, Any]]
    count: Count
    next_after: Cursor | None
    scope_name: str | None


def _ids_query(conn: sa.Connection, q: RowQuery) -> tuple[sa.Select[Any], str | None]:
    spec = ExportSpec(scope=q.scope, params=Params(), filters=q.filters, timezone=q.timezone)
    plan = planning.resolve(conn, q.org_id, spec)
    query = plan.ids
    if q.metadata is not None:
        query = query.where(q.metadata)
    return query, plan.scope_name


SNIPPET = 300


def grid(store: Store, q: RowQuery, *, limit: int = 48, after: Cursor | None = None) -> Grid:
    """One page of matching rows in export order, the capped count of all matching rows."""
    with store.read() as conn:
        ids, name = _ids_query(conn, q)
        count = _capped(conn, ids)
        key = _sort_key(conn, d.c.id)
        page = list(
            conn.execute(
                ids.where(*_after(conn, d.c.created_at, d.c.id, after))
                .order_by(d.c.created_at, key)
                .limit(limit + 1)
            )
        )
        more = len(page) > limit
        page = page[:limit]
        order = [r.id for r in page]
        details: dict[str, dict[str, Any]] = {}
        if order:
            ds = s.dataset
            query = (
                sa.select(
                    d.c.id,
                    d.c.global_key,
                    d.c.external_id,
                    sa.func.substr(d.c.row_data, 1, SNIPPET).label("row_data"),
                    d.c.media_type,
                    d.c.created_at,
                    ds.c.id.label("dataset_id"),
                    ds.c.name.label("dataset_name"),
                )
                .join(ds, ds.c.id == d.c.dataset_id)
                .where(d.c.id.in_(order), d.c.org_id == q.org_id)
            )
            details = {r.id: dict(r._mapping) for r in conn.execute(query)}
    rows = [details[i] for i in order if i in details]
    last = page[-1] if page and more else None
    return Grid(rows, count, (last.created_at, last.id) if last is not None else None, name)


def matching_ids(store: Store, q: RowQuery, cap: int) -> list[str]:
    """Up to ``cap`` ids of the matching rows, in export order."""
    with store.read() as conn:
        ids, _ = _ids_query(conn, q)
        key = _sort_key(conn, d.c.id)
        query = ids.with_only_columns(d.c.id).order_by(d.c.created_at, key).limit(cap)
        return [str(r[0]) for r in conn.execute(query)]


def check_scope(store: Store, org_id: str, scope: Scope, timezone: str = "UTC") -> str | None:
    """The scope's name; NotFound when it is not in the organization."""
    with store.read() as conn:
        spec = ExportSpec(scope=scope, params=Params(), filters=Filters(), timezone=timezone)
        return planning.resolve(conn, org_id, spec).scope_name


def known_rows(store: Store, org_id: str, ids: Sequence[str]) -> list[str]:
    """The ids (of ``ids``) that are data rows of the organization, in the order given."""
    found: set[str] = set()
    with store.read() as conn:
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            found.update(
                conn.execute(
                    sa.select(d.c.id).where(d.c.id.in_(chunk), d.c.org_id == org_id)
                ).scalars()
            )
    return [i for i in ids if i in found]


# ---------------------------------------------------------------------------------- data row

EVERYTHING = Include(interpolated_frames=False, projects=None, model_runs=None)
CATALOG_VIEW = Include(
    interpolated_frames=False, projects=None, model_runs=None, source_shapes=False
)


def data_row(
    store: Store, org_id: str, data_row_id: str, *, as_exported: bool = True
) -> dict[str, Any]:
    """A data row as an export with every param gives it: labels of every project, predictions
    of every model run (plain JSON values). ``as_exported=False``: what the catalog keeps of it
    (for an imported row, derived values too, and None where a value is unknown)."""
    include = EVERYTHING if as_exported else CATALOG_VIEW
    with store.read() as conn:
        page = fetch(conn, org_id, [data_row_id], include)
        if data_row_id not in page.rows:
            raise NotFound("data row", data_row_id)
        row = build_row(page, data_row_id, include)
    value: dict[str, Any] = orjson.loads(orjson.dumps(row))
    return value


# ----------------------------------------------------------------------------------- exports


def manifests(store: Store, org_id: str, task_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The manifests of those tasks that have one, in one query."""
    if not task_ids:
        return {}
    t = s.export_task
    with store.read() as conn:
        rows = conn.execute(
            sa.select(t.c.id, t.c.manifest).where(
                t.c.id.in_(list(task_ids)), t.c.org_id == org_id, t.c.manifest.is_not(None)
            )
        )
        return {r.id: dict(r.manifest) for r in rows if isinstance(r.manifest, dict)}


_NAMED = {
    "dataset": s.dataset,
    "project": s.project,
    "model_run": s.model_run,
    "slice": s.catalog_slice,
}


def scope_names(
    store: Store, org_id: str, scopes: Sequence[tuple[str, str | None]]
) -> dict[tuple[str, str], str]:
    """Names of the datasets, projects, model runs and slices named by ``(kind, id)`` pairs."""
    wanted: dict[str, set[str]] = {}
    for kind, key in scopes:
        if kind in _NAMED and isinstance(key, str):
            wanted.setdefault(kind, set()).add(key)
    out: dict[tuple[str, str], str] = {}
    with store.read() as conn:
        for kind, keys in wanted.items():
            t = _NAMED[kind]
            rows = conn.execute(
                sa.select(t.c.id, t.c.name).where(t.c.id.in_(sorted(keys)), t.c.org_id == org_id)
            )
            out.update({(kind, r.id): str(r.name) for r in rows})
    return out


def count(store: Store, q: RowQuery) -> Count:
    with store.read() as conn:
        ids, _ = _ids_query(conn, q)
        return _capped(conn, ids)


def media_type_of(store: Store, org_id: str, data_row_id: str) -> str:
    with store.read() as conn:
        found = conn.execute(
            sa.select(d.c.media_type).where(d.c.id == data_row_id, d.c.org_id == org_id)
        ).scalar_one_or_none()
    if found is None:
        raise NotFound("data row", data_row_id)
    return str(found)


def status_counts(store: Store, org_id: str, project_id: str) -> dict[str, int]:
    """A project's rows per workflow status; UNKNOWN for rows whose source gave none."""
    pdr = s.project_data_row
    out = dict.fromkeys((*vocab.WORKFLOW_STATUSES, vocab.UNKNOWN), 0)
    with store.read() as conn:
        rows = conn.execute(
            sa.select(pdr.c.workflow_status, sa.func.count())
            .join(s.project, s.project.c.id == pdr.c.project_id)
            .where(pdr.c.project_id == project_id, s.project.c.org_id == org_id)
            .group_by(pdr.c.workflow_status)
        )
        for status, n in rows:
            out[vocab.status_label(status)] += n
    return out
