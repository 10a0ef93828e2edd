"""The overview: the home page and the lists of datasets, projects, model runs and slices."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from labelport.errors import InvalidInput
from labelport.server.web import browse, render
from labelport.server.web.browse import FormProblem
from labelport.server.web.exports import summaries
from labelport.server.web.visit import LIST_TITLES, after_cursor, page, query_form, visit
from labelport.services import export_tasks

router = APIRouter(include_in_schema=False)


@router.get("/", include_in_schema=False)
@page
def home(request: Request) -> Response:
    v = visit(request)
    store, org = v.ctx.store, v.principal.org_id
    lists = {kind: browse.listing(store, org, kind, limit=8) for kind in browse.LIST_KINDS}
    recent = export_tasks.list_tasks(store, org, limit=6)
    return render.page(
        "home.html",
        v.base(
            totals=browse.totals(store, org),
            lists=lists,
            list_titles=LIST_TITLES,
            exports=summaries(v, recent),
            encode=browse.encode_cursor,
        ),
    )


@router.get("/datasets", include_in_schema=False)
@page
def datasets(request: Request) -> Response:
    return _list_page(request, "datasets")


@router.get("/projects", include_in_schema=False)
@page
def projects(request: Request) -> Response:
    return _list_page(request, "projects")


@router.get("/model-runs", include_in_schema=False)
@page
def model_runs(request: Request) -> Response:
    return _list_page(request, "model-runs")


@router.get("/slices", include_in_schema=False)
@page
def slices(request: Request) -> Response:
    return _list_page(request, "slices")


def _list_page(request: Request, kind: str) -> Response:
    v = visit(request)
    form = query_form(request)
    try:
        after = after_cursor(form)
    except FormProblem as exc:
        raise InvalidInput(f"Page: {exc.message}") from None
    listed = browse.listing(v.ctx.store, v.principal.org_id, kind, limit=50, after=after)
    return render.page(
        "list.html",
        v.base(
            kind=kind,
            title=LIST_TITLES[kind],
            listed=listed,
            next_cursor=browse.encode_cursor(listed.next_after) if listed.next_after else None,
        ),
    )
