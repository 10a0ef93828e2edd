"""Row grids: the catalog, a dataset, project, model run or slice as thumbnails with filters,
and saving the filters as a slice."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from labelport import services
from labelport.errors import InvalidInput, InvalidSpec, NotFound
from labelport.export.spec import MAX_IDS, WORKFLOW_STATUSES, Scope, zone
from labelport.server.web import browse, forms, render
from labelport.server.web.browse import FormProblem, RowQuery
from labelport.server.web.visit import (
    PAGE_SIZES,
    SCOPE_TITLES,
    FormBody,
    Visit,
    after_cursor,
    clean_id,
    page,
    posted,
    query_form,
    visit,
)
from labelport.vocab import MEDIA_TYPES

router = APIRouter(include_in_schema=False)


@router.get("/catalog", include_in_schema=False)
@page
def catalog(request: Request) -> Response:
    return _grid_page(request, "catalog", None)


@router.get("/datasets/{item_id}", include_in_schema=False)
@page
def dataset(request: Request, item_id: str) -> Response:
    return _grid_page(request, "dataset", clean_id(item_id))


@router.get("/projects/{item_id}", include_in_schema=False)
@page
def project(request: Request, item_id: str) -> Response:
    return _grid_page(request, "project", clean_id(item_id))


@router.get("/model-runs/{item_id}", include_in_schema=False)
@page
def model_run(request: Request, item_id: str) -> Response:
    return _grid_page(request, "model_run", clean_id(item_id))


@router.get("/slices/{item_id}", include_in_schema=False)
@page
def catalog_slice(request: Request, item_id: str) -> Response:
    return _grid_page(request, "slice", clean_id(item_id))


@dataclass
class Panel:
    """A page's scope and filter panel, checked against the catalog."""

    kind: str
    scope: Scope
    scope_name: str | None
    grid: forms.GridForm
    query: RowQuery | None  # None when the panel has errors
    metadata_fields: list[browse.MetadataField]


def panel_for(v: Visit, kind: str, item_id: str | None, form: forms.Form) -> Panel:
    store, org = v.ctx.store, v.principal.org_id
    scope = Scope(kind, item_id)
    scope_name = browse.check_scope(store, org, scope, v.timezone)
    grid = forms.grid_form(kind, form, zone(v.timezone))
    fields = browse.metadata_fields(store, org) if kind in forms.METADATA_VIEWS else []
    condition = None
    if grid.metadata is not None and not grid.errors:
        try:
            condition = browse.metadata_condition(fields, *grid.metadata)
        except FormProblem as exc:
            grid.errors.add(exc.name, exc.message)
    query = None
    if not grid.errors and grid.parsed is not None:
        query = RowQuery(org, scope, grid.parsed, v.timezone, condition)
    return Panel(kind, scope, scope_name, grid, query, fields)


def _grid_page(request: Request, kind: str, item_id: str | None) -> Response:
    v = visit(request)
    store, org = v.ctx.store, v.principal.org_id
    form = query_form(request)
    panel = panel_for(v, kind, item_id, form)
    errors = panel.grid.errors
    try:
        after = after_cursor(form)
    except FormProblem as exc:
        errors.add(exc.name, f"Page: {exc.message}")
        after = None
    size = forms.one(form, "limit", 10)
    limit = int(size) if size.isdigit() and int(size) in PAGE_SIZES else 48
    rows = None
    if panel.query is not None and not errors:
        try:
            rows = browse.grid(store, panel.query, limit=limit, after=after)
        except NotFound as exc:
            if exc.kind != "batch":
                raise
            errors.add("batch_ids", f"Batches: {exc.message}")
    pairs = forms.grid_query(panel.grid)
    if limit != 48:
        pairs.append(("limit", str(limit)))
    context = v.base(
        kind=kind,
        item_id=item_id,
        title=panel.scope_name or "Catalog",
        scope_title=SCOPE_TITLES[kind],
        grid=panel.grid,
        errors=errors.fields,
        labels=forms.FILTER_LABELS,
        allowed=forms.VIEW_FILTERS[kind],
        metadata_fields=panel.metadata_fields,
        media_types=MEDIA_TYPES,
        workflow_statuses=list(WORKFLOW_STATUSES),
        datasets=browse.choices(store, org, "datasets") if kind == "catalog" else [],
        batches=browse.batches(store, org, str(item_id)) if kind == "project" else [],
        status_counts=browse.status_counts(store, org, str(item_id)) if kind == "project" else {},
        rows=rows,
        pairs=pairs,
        limit=limit,
        page_sizes=PAGE_SIZES,
        next_cursor=browse.encode_cursor(rows.next_after) if rows and rows.next_after else None,
        can_save_slice=kind in ("catalog", "dataset"),
        max_ids=MAX_IDS,
        first_page=after is None,
    )
    return render.page("rows.html", context, 400 if errors else 200)


@router.post("/slices", include_in_schema=False)
@page
def save_slice(request: Request, form: dict[str, list[str]] = FormBody) -> Response:
    v = posted(request, form, "editor")
    kind = forms.one(form, "view_kind", 20)
    if kind not in ("catalog", "dataset"):
        raise InvalidInput("a slice is saved from the catalog or a dataset page")
    item_id = forms.one(form, "view_id", 1000) or None
    panel = panel_for(v, kind, item_id if kind == "dataset" else None, form)
    name = forms.one(form, "slice_name", 500)
    problems = dict(panel.grid.errors.fields)
    if not name:
        problems.setdefault("slice_name", "Slice name: give the slice a name")
    if panel.grid.metadata is not None:
        problems.setdefault(
            "slice_name",
            "Slice: a slice saves export filters, media type and datasets, not metadata "
            "conditions; clear the metadata filter to save the rest",
        )
    filters = dict(panel.grid.filters)
    if kind == "dataset" and item_id is not None:
        filters["dataset_ids"] = [item_id]
    if not problems:
        try:
            slice_id = services.save_slice(
                v.ctx.store, v.principal.org_id, name, filters, user_id=v.principal.user_id
            )
        except InvalidSpec as exc:
            problems[forms.filter_field(exc.message)] = forms.readable(exc.message)
        else:
            return RedirectResponse(f"/slices/{render.path(slice_id)}", status_code=303)
    message = "; ".join(problems.values())
    raise InvalidInput(f"The slice was not saved. {message}")
