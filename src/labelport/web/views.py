"""The web pages' routes: thin handlers that read a form, call a service, render a template.

Every route is kept out of the OpenAPI description (``include_in_schema=False``): the pages are
for people, the REST API for programs. Handlers take no typed parameters (query strings and forms
are read by hand), so no input can fail FastAPI's validation; every labelport error becomes an HTML
page with its status (a form's error is shown in the form), and a visitor without a session is
sent to the sign-in page.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, cast
from urllib.parse import parse_qs, quote

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from labelport import services
from labelport.api import downloads
from labelport.api.auth import ROLE_ORDER, check_role, context
from labelport.api.context import Context
from labelport.errors import (
    AuthenticationFailed,
    Busy,
    Conflict,
    Gone,
    InvalidInput,
    InvalidSpec,
    LabelportError,
    NotFound,
    PermissionDenied,
)
from labelport.export.spec import MAX_IDS, SCOPES, WORKFLOW_STATUSES, Scope, zone
from labelport.services import Principal, export_tasks
from labelport.services.export_tasks import TaskInfo
from labelport.vocab import MEDIA_TYPES
from labelport.web import browse, forms, render, session
from labelport.web.browse import FormProblem, RowQuery

router = APIRouter(include_in_schema=False)

MAX_FORM_BYTES = 1 << 20
PAGE_SIZES = (24, 48, 96)
PREVIEW_LINES = 5
PREVIEW_CHARS = 20_000
SCOPE_TITLES = {
    "catalog": "Catalog",
    "dataset": "Dataset",
    "project": "Project",
    "model_run": "Model run",
    "slice": "Slice",
    "data_rows": "Data rows",
    forms.SELECTION: "Selected data rows",
}
SCOPE_PATHS = {
    "dataset": "/datasets/",
    "project": "/projects/",
    "model_run": "/model-runs/",
    "slice": "/slices/",
}
KIND_OF_LIST = {"datasets": "dataset", "projects": "project", "model-runs": "model_run"}
LIST_TITLES = {
    "datasets": "Datasets",
    "projects": "Projects",
    "model-runs": "Model runs",
    "slices": "Slices",
}

# ------------------------------------------------------------------------------- the visitor


class SignInRequired(Exception):
    """No valid session: the visitor goes to the sign-in page."""


@dataclass(frozen=True)
class Visit:
    """Who is looking, and what the pages need to know about them."""

    ctx: Context
    request: Request
    principal: Principal
    session: session.Session
    key: bytes
    org_name: str
    timezone: str

    @property
    def csrf(self) -> str:
        return self.session.csrf(self.key)

    def can(self, role: str) -> bool:
        return ROLE_ORDER.get(self.principal.role, -1) >= ROLE_ORDER[role]

    def base(self, **extra: Any) -> dict[str, Any]:
        """What every template gets."""
        return {
            "user": self.principal,
            "org_name": self.org_name,
            "csrf": self.csrf,
            "can_edit": self.can("editor"),
            "path": self.request.url.path,
            **extra,
        }


def _key(ctx: Context) -> bytes:
    return session.session_key(ctx.signer)


def visit(request: Request, role: str = "viewer") -> Visit:
    ctx = context(request)
    key = _key(ctx)
    found = session.read_session(request, key)
    if found is None:
        raise SignInRequired
    principal = session.principal_of(ctx.store, found.key_id)
    if principal is None:
        raise SignInRequired
    request.state.principal = principal
    name, timezone = browse.org_name_and_timezone(ctx.store, principal.org_id)
    current = Visit(ctx, request, principal, found, key, name, timezone)
    request.state.visit = current
    check_role(principal, role)
    return current


def posted(request: Request, form: forms.Form, role: str) -> Visit:
    """The visitor of a form that changes something: needs ``role`` and the form's CSRF token."""
    v = visit(request)
    if "__too_large__" in form:
        raise InvalidInput("the form is too large")
    if not session.same(forms.one(form, "csrf", 200), v.csrf):
        raise PermissionDenied(
            "this form has expired or did not come from this site; reload the page and try again"
        )
    check_role(v.principal, role)
    return v


def _clean(form: dict[str, list[str]]) -> dict[str, list[str]]:
    # No database stores NUL characters; a value holding one would fail deep down.
    return {k.replace("\x00", ""): [v.replace("\x00", "") for v in vs] for k, vs in form.items()}


def query_form(request: Request) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for k, v in request.query_params.multi_items():
        out.setdefault(k, []).append(v)
    return _clean(out)


async def form_body(request: Request) -> dict[str, list[str]]:
    """A POSTed urlencoded form as a multi-dict (never raises; too large → a marker)."""
    if request.method != "POST":
        return {}
    ctype = request.headers.get("content-type", "")
    if not ctype.startswith("application/x-www-form-urlencoded"):
        return {}
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_FORM_BYTES:
            return {"__too_large__": ["1"]}
    try:
        parsed = parse_qs(
            body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=10_000
        )
    except ValueError:
        return {"__too_large__": ["1"]}
    return _clean(parsed)


FormBody = Depends(form_body)


def clean_id(value: str) -> str:
    if "\x00" in value or len(value) > 1024 or not value:
        raise NotFound("page", repr(value[:100]))
    return value


P = ParamSpec("P")


def page(
    fn: Callable[Concatenate[Request, P], Response],
) -> Callable[Concatenate[Request, P], Response]:
    """Render errors as pages, and send visitors without a session to the sign-in page."""

    @functools.wraps(fn)
    def handler(request: Request, *args: P.args, **kwargs: P.kwargs) -> Response:
        try:
            return fn(request, *args, **kwargs)
        except SignInRequired:
            target = request.url.path
            if request.url.query:
                target += "?" + request.url.query
            if request.method != "GET":
                target = "/"
            return RedirectResponse("/login" + render.query([("next", target)]), status_code=303)
        except LabelportError as exc:
            return error_page(request, exc)

    return cast(Callable[Concatenate[Request, P], Response], handler)


def error_page(request: Request, exc: LabelportError) -> Response:
    status = exc.http_status if 400 <= exc.http_status < 600 else 500
    titles = {
        400: "That did not work",
        401: "Sign in again",
        403: "Not allowed",
        404: "Not found",
        409: "Not now",
        410: "Gone",
        503: "Busy",
    }
    current: Visit | None = getattr(request.state, "visit", None)
    shown = status < 500 or isinstance(exc, Busy)
    info = {
        "title": titles.get(status, "Something went wrong"),
        "message": exc.message if shown else "internal error; the log has details",
        "status": status,
    }
    if current is not None:
        page = render.page("error.html", current.base(**info), status)
    else:
        anonymous = {"user": None, "org_name": None, "csrf": None, "can_edit": False}
        page = render.page("error.html", {**anonymous, "path": request.url.path, **info}, status)
    if isinstance(exc, Busy):
        page.headers["Retry-After"] = str(exc.retry_after)
    return page


# -------------------------------------------------------------------------------- sign in/out


def _local(target: str) -> str:
    """Only paths on this site are followed after signing in."""
    unsafe = target.startswith("//") or "\\" in target or any(ord(c) < 32 for c in target)
    return target if target.startswith("/") and not unsafe else "/"


@router.get("/login", include_in_schema=False)
def login_form(request: Request) -> Response:
    ctx = context(request)
    key = _key(ctx)
    target = _local(request.query_params.get("next", "/").replace("\x00", ""))
    current = session.read_session(request, key)
    if current is not None and session.principal_of(ctx.store, current.key_id) is not None:
        return RedirectResponse(target, status_code=303)
    return _login_page(request, key, target, None, 200)


def _login_page(
    request: Request, key: bytes, target: str, error: str | None, status: int
) -> Response:
    nonce, fresh = session.login_nonce(request, key)
    response = render.page(
        "login.html",
        {
            "next": target,
            "error": error,
            "login_csrf": session.login_csrf(nonce, key),
            "user": None,
            "org_name": None,
            "csrf": None,
            "can_edit": False,
            "path": "/login",
        },
        status,
    )
    if fresh:
        session.set_login_nonce(response, request, nonce, key)
    return response


@router.post("/login", include_in_schema=False)
def login(request: Request, form: dict[str, list[str]] = FormBody) -> Response:
    ctx = context(request)
    key = _key(ctx)
    target = _local(forms.one(form, "next", 2000) or "/")
    nonce, fresh = session.login_nonce(request, key)
    if fresh or not session.same(forms.one(form, "csrf", 200), session.login_csrf(nonce, key)):
        return _login_page(request, key, target, "The sign-in form expired; please try again.", 400)
    api_key = forms.one(form, "api_key", 500)
    if not api_key:
        return _login_page(request, key, target, "API key: enter your API key (lp_…).", 400)
    try:
        principal = services.authenticate(ctx.store, api_key)
    except AuthenticationFailed:
        return _login_page(
            request,
            key,
            target,
            "API key: that key is not valid (unknown, revoked or mistyped).",
            401,
        )
    response = RedirectResponse(target, status_code=303)
    secure = (ctx.settings.public_url or "").startswith("https://")
    session.set_session(
        response, request, session.new_session(principal.key_id), key, secure=secure
    )
    response.delete_cookie(session.LOGIN_COOKIE, path="/")
    return response


@router.post("/logout", include_in_schema=False)
def logout(request: Request, form: dict[str, list[str]] = FormBody) -> Response:
    ctx = context(request)
    key = _key(ctx)
    current = session.read_session(request, key)
    if current is not None and not session.same(forms.one(form, "csrf", 200), current.csrf(key)):
        return error_page(request, PermissionDenied("this sign-out form did not come from here"))
    response = RedirectResponse("/login", status_code=303)
    session.clear_session(response)
    return response


@router.get("/static/{name}", include_in_schema=False)
def static(request: Request, name: str) -> Response:
    found = render.static_response(name, request.headers.get("if-none-match"))
    if found is None:
        return Response("not found", status_code=404, media_type="text/plain")
    return found


# ---------------------------------------------------------------------------------- overview


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
            exports=_summaries(v, recent),
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


def _after(form: forms.Form) -> browse.Cursor | None:
    text = forms.one(form, "after", 500)
    return browse.decode_cursor(text) if text else None


def _list_page(request: Request, kind: str) -> Response:
    v = visit(request)
    form = query_form(request)
    try:
        after = _after(form)
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


# -------------------------------------------------------------------------------- row grids


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


def _panel(v: Visit, kind: str, item_id: str | None, form: forms.Form) -> Panel:
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
    panel = _panel(v, kind, item_id, form)
    errors = panel.grid.errors
    try:
        after = _after(form)
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
    panel = _panel(v, kind, item_id if kind == "dataset" else None, form)
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


# ---------------------------------------------------------------------------------- data row


@router.get("/data-rows/{row_id:path}", include_in_schema=False)
@page
def data_row(request: Request, row_id: str) -> Response:
    v = visit(request)
    row_id = clean_id(row_id)
    row = browse.data_row(v.ctx.store, v.principal.org_id, row_id)  # as an export shows it
    kept = browse.data_row(v.ctx.store, v.principal.org_id, row_id, as_exported=False)
    media_type = browse.media_type_of(v.ctx.store, v.principal.org_id, row_id)
    image = render.thumbnail({"media_type": media_type, "row_data": row["data_row"]["row_data"]})
    projects = kept.get("projects") or {}
    runs = []
    for model_id, model in (kept.get("experiments") or {}).items():
        for run_id, run in (model.get("runs") or {}).items():
            runs.append(
                {"id": run_id, "model_id": model_id, "model_name": model.get("name"), **run}
            )
    return render.page(
        "row.html",
        v.base(
            row=row,
            data_row=kept["data_row"],
            projects=projects,
            runs=runs,
            media_type=media_type,
            image=image,
        ),
    )


# ----------------------------------------------------------------------------- export dialog


def _filters_summary(filters: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    for name, value in filters.items():
        label = forms.FILTER_LABELS.get(name, name)
        if name in forms.DATES:
            text = f"{value[0] or '…'} to {value[1] or '…'}"
        elif isinstance(value, list):
            shown = ", ".join(map(str, value[:5]))
            text = shown + (f" and {len(value) - 5:,} more" if len(value) > 5 else "")
        else:
            text = str(value)
        out.append((label, text))
    return out


@dataclass
class Dialog:
    """The export dialog's state: where it was opened and what it offers."""

    scope_kind: str  # a scope kind, or forms.SELECTION
    scope_id: str | None = None
    scope_name: str | None = None
    ids: list[str] | None = None
    filters: dict[str, Any] | None = None
    count: str | None = None
    note: str | None = None
    blocked: str | None = None  # why the export cannot be started from here
    preselect_projects: tuple[str, ...] = ()
    preselect_runs: tuple[str, ...] = ()


def _dialog(v: Visit, d: Dialog, ef: forms.ExportForm | None, status: int = 200) -> Response:
    store, org = v.ctx.store, v.principal.org_id
    kind = "data_rows" if d.scope_kind == forms.SELECTION else d.scope_kind
    errors = ef.errors.fields if ef is not None else {}
    chosen_params = set(ef.params) if ef is not None else set()
    side = forms.catalog_side(kind)
    vertex_ok = kind == "dataset" and not d.filters
    sets = browse.annotation_sets(store, org, str(d.scope_id)) if vertex_ok else []
    roots = [f"file://{root}" for root in v.ctx.settings.destination_roots]
    filters = d.filters or {}
    context = v.base(
        dialog=d,
        kind=kind,
        scope_title=SCOPE_TITLES[d.scope_kind],
        scope_path=SCOPE_PATHS.get(kind),
        filters_json=orjson.dumps(filters).decode(),
        filters_summary=_filters_summary(filters),
        ids_text="\n".join(d.ids or []),
        switches=forms.switches(kind),
        labels=forms.PARAM_LABELS,
        chosen_params=chosen_params,
        catalog_side=side,
        projects=browse.choices(store, org, "projects") if side else [],
        model_runs=browse.choices(store, org, "model-runs") if side else [],
        chosen_projects=set((ef.params.get("project_ids") or []) if ef else d.preselect_projects),
        chosen_runs=set((ef.params.get("model_run_ids") or []) if ef else d.preselect_runs),
        media_types=MEDIA_TYPES,
        override=(ef.params.get("media_type_override") or "") if ef else "",
        vertex_ok=vertex_ok,
        annotation_sets=sets,
        destination_roots=roots,
        form=ef,
        errors=errors,
        can_complete_only=kind == "project",
    )
    return render.page("export_new.html", context, status)


def _dialog_from_grid(v: Visit, form: forms.Form) -> Dialog:
    kind = forms.one(form, "scope_kind", 20)
    if kind not in SCOPES or kind in ("data_rows",):
        raise InvalidInput(
            f"Scope: {kind!r} is not something to export from here "
            "(open the dialog from a catalog, dataset, project, model run or slice page)"
        )
    item_id = forms.one(form, "scope_id", 1000) or None
    panel = _panel(v, kind, item_id, form)
    if panel.grid.errors or panel.query is None:
        message = "; ".join(panel.grid.errors.fields.values())
        raise InvalidInput(f"The filters are not valid: {message}")
    store = v.ctx.store
    preselect = (item_id,) if kind == "project" and item_id else ()
    runs = (item_id,) if kind == "model_run" and item_id else ()
    if panel.grid.needs_ids:
        ids = browse.matching_ids(store, panel.query, MAX_IDS + 1)
        d = Dialog(
            forms.SELECTION,
            ids=ids[:MAX_IDS],
            count=f"{len(ids):,}" if len(ids) <= MAX_IDS else f"more than {MAX_IDS:,}",
            note=(
                "Media type, dataset and metadata filters are not export filters: the rows "
                "matching them now are exported as a selection of data rows."
            ),
        )
        if len(ids) > MAX_IDS:
            d.blocked = (
                f"More than {MAX_IDS:,} rows match. With media type, dataset or metadata "
                f"filters an export takes at most {MAX_IDS:,} rows. Narrow the filters, or save "
                "them as a slice (without metadata) and export the slice."
            )
        return d
    return Dialog(
        kind,
        scope_id=item_id,
        scope_name=panel.scope_name,
        filters=panel.grid.export_filters(),
        count=str(browse.count(store, panel.query)),
        preselect_projects=preselect,
        preselect_runs=runs,
    )


@router.get("/exports/new", include_in_schema=False)
@page
def export_dialog(request: Request) -> Response:
    v = visit(request)
    return _dialog(v, _dialog_from_grid(v, query_form(request)), None)


@router.post("/exports/new", include_in_schema=False)
@page
def export_dialog_for_selection(
    request: Request, form: dict[str, list[str]] = FormBody
) -> Response:
    v = posted(request, form, "viewer")
    if forms.one(form, "all", 5) == "1":  # "select all matching": the scope and its filters
        return _dialog(v, _dialog_from_grid(v, form), None)
    wanted = list(dict.fromkeys(forms.many(form, "row")))
    if len(wanted) > MAX_IDS:
        raise InvalidInput(
            f"{len(wanted):,} rows are selected; an export of a selection takes at most "
            f"{MAX_IDS:,} (export all matching rows instead)"
        )
    if not wanted:
        raise InvalidInput("no rows are selected: tick the rows to export first")
    ids = browse.known_rows(v.ctx.store, v.principal.org_id, wanted)
    if not ids:
        raise NotFound("data rows", ", ".join(wanted[:3]))
    kind = forms.one(form, "view_kind", 20)
    item_id = forms.one(form, "view_id", 1000)
    missing = len(wanted) - len(ids)
    d = Dialog(
        forms.SELECTION,
        ids=ids,
        count=f"{len(ids):,}",
        note=f"{missing:,} selected rows were not found and are left out." if missing else None,
        preselect_projects=(item_id,) if kind == "project" and item_id else (),
        preselect_runs=(item_id,) if kind == "model_run" and item_id else (),
    )
    return _dialog(v, d, None)


@router.post("/exports", include_in_schema=False)
@page
def start_export(request: Request, form: dict[str, list[str]] = FormBody) -> Response:
    v = posted(request, form, "editor")
    try:
        filters = orjson.loads(forms.one(form, "filters", 500_000) or "{}")
    except orjson.JSONDecodeError:
        filters = None
    ef = forms.export_form(form, filters if isinstance(filters, dict) else {})
    if not isinstance(filters, dict):
        ef.errors.add("filters", "Filters: not a filters object (open the dialog again)")
    d = Dialog(
        ef.scope_kind if ef.scope_kind in SCOPE_TITLES else "catalog",
        scope_id=ef.scope_id,
        ids=ef.ids,
        filters=filters if isinstance(filters, dict) else {},
        count=f"{len(ef.ids):,}" if ef.scope_kind == forms.SELECTION else None,
    )
    if not ef.errors and ef.scope_kind != forms.SELECTION and ef.kind in SCOPE_PATHS:
        try:
            d.scope_name = browse.check_scope(
                v.ctx.store, v.principal.org_id, Scope(ef.kind, ef.scope_id), v.timezone
            )
        except InvalidSpec as exc:
            ef.errors.add("scope", f"Scope: {exc.message}")
    if not ef.errors:
        try:
            task = _start(v, ef)
        except InvalidSpec as exc:
            ef.errors.add(forms.export_field(exc.message), exc.message)
        except NotFound as exc:
            where = {"project": "project_ids", "model run": "model_run_ids"}
            field = where.get(exc.kind, "annotation_set" if "annotation" in exc.kind else "scope")
            ef.errors.add(field, exc.message)
        except PermissionDenied as exc:
            ef.errors.add("destination", f"Destination: {exc.message}")
        else:
            v.ctx.pool.wake()
            note = "?reused=1" if task.reused else ""
            return RedirectResponse(f"/exports/{render.path(task.id)}{note}", status_code=303)
    return _dialog(v, d, ef, 400)


def _start(v: Visit, ef: forms.ExportForm) -> TaskInfo:
    store, org = v.ctx.store, v.principal.org_id
    if ef.format == "vertex":
        if ef.kind != "dataset" or ef.filters:
            raise InvalidSpec(
                "format: a Vertex-style export takes a whole dataset (open the dialog from a "
                "dataset page without filters)"
            )
        if not ef.destination:
            raise InvalidSpec("destination: give the storage directory (file://… or gs://…)")
        from labelport.compat.vertex import exports as vertex_exports
        from labelport.vertex_vocab import SET_NAME_LABEL

        config: dict[str, Any] = {"gcsDestination": {"outputUriPrefix": ef.destination}}
        if ef.annotation_set:
            config["annotationsFilter"] = f"labels.{SET_NAME_LABEL}={ef.annotation_set}"
        started = vertex_exports.start(
            store, v.ctx.settings, org, str(ef.scope_id), config, user_id=v.principal.user_id
        )
        return started.task
    scope = Scope(
        ef.kind,
        ef.scope_id if ef.kind != "data_rows" else None,
        data_row_ids=tuple(ef.ids) if ef.kind == "data_rows" else (),
    )
    spec = services.export_spec(store, org, scope, ef.params, ef.filters or None)
    return export_tasks.create(store, org, spec, user_id=v.principal.user_id, name=ef.name or None)


# ----------------------------------------------------------------------------------- exports


def _signed(v: Visit, task_id: str, what: str) -> str:
    return v.ctx.signer.sign(quote(downloads.export_path(task_id, what)))


def _summary(v: Visit, task: TaskInfo, manifest: dict[str, Any] | None) -> dict[str, Any]:
    """What the pages (and the progress JSON) show of a task: status, progress, check values."""
    counts = (manifest or {}).get("counts") or {}
    streams = (manifest or {}).get("streams") or {}
    files = sum(len((streams.get(name) or {}).get("files") or []) for name in ("result", "errors"))
    output_files = (task.output or {}).get("exportedFiles")
    if isinstance(output_files, list):
        files += len(output_files)
    complete = task.status == "COMPLETE" and manifest is not None
    percent = None if task.percent is None else round(task.percent, 1)
    if percent is not None and percent.is_integer():
        percent = int(percent)
    return {
        "id": task.id,
        "name": task.name,
        "status": task.status,
        "finished": task.finished,
        "percent": percent,
        "done": task.progress_done,
        "total": task.progress_total,
        "rows": counts.get("data_rows") if complete else None,
        "errors": counts.get("errors") if complete else None,
        "files": files if complete else None,
        "bytes": task.result_bytes,
        "format": task.format,
        "scope": task.scope,
        "created_by": task.created_by,
        "created_at": render.iso(task.created_at),
        "finished_at": render.iso(task.finished_at) if task.finished_at else None,
        "error_message": task.error_message,
        "archived": task.archived,
        "links": {
            "result": _signed(v, task.id, "result"),
            "errors": _signed(v, task.id, "errors"),
            "manifest": _signed(v, task.id, "manifest.json"),
        }
        if complete
        else None,
    }


def _summaries(v: Visit, tasks: list[TaskInfo]) -> list[dict[str, Any]]:
    store, org = v.ctx.store, v.principal.org_id
    done = [t.id for t in tasks if t.status == "COMPLETE"]
    found = browse.manifests(store, org, done)
    names = browse.scope_names(
        store, org, [(t.scope.get("kind", ""), t.scope.get("id")) for t in tasks]
    )
    out = []
    for task in tasks:
        item = _summary(v, task, found.get(task.id))
        kind, key = task.scope.get("kind", ""), task.scope.get("id")
        item["scope_title"] = SCOPE_TITLES.get(kind, kind)
        item["scope_name"] = names.get((kind, key)) if isinstance(key, str) else None
        item["scope_path"] = (
            SCOPE_PATHS[kind] + render.path(key) if kind in SCOPE_PATHS and key else None
        )
        if kind == "data_rows":
            n = len(task.scope.get("data_row_ids") or task.scope.get("global_keys") or [])
            item["scope_name"] = f"{n:,} rows"
        out.append(item)
    return out


@router.get("/exports", include_in_schema=False)
@page
def exports(request: Request) -> Response:
    v = visit(request)
    form = query_form(request)
    archived = forms.one(form, "archived", 5) == "1"
    before = None
    text = forms.one(form, "before", 500)
    if text:
        try:
            before = browse.decode_cursor(text)
        except FormProblem as exc:
            raise InvalidInput(f"Page: {exc.message}") from None
    limit = 50
    tasks = export_tasks.list_tasks(
        v.ctx.store, v.principal.org_id, include_archived=archived, limit=limit + 1, before=before
    )
    more = len(tasks) > limit
    tasks = tasks[:limit]
    last = tasks[-1] if more and tasks else None
    return render.page(
        "exports.html",
        v.base(
            exports=_summaries(v, tasks),
            archived=archived,
            next_cursor=browse.encode_cursor((last.created_at, last.id)) if last else None,
        ),
    )


@router.get("/exports/status.json", include_in_schema=False)
def export_status(request: Request) -> Response:
    """Progress of the exports named by ``?id=`` (at most 100) for the pages' script."""
    try:
        v = visit(request)
    except (SignInRequired, LabelportError):
        return JSONResponse({"error": "sign in again"}, status_code=401)
    wanted = list(dict.fromkeys(query_form(request).get("id", [])))[:100]
    found = []
    for task_id in wanted:
        try:
            found.append(export_tasks.get(v.ctx.store, v.principal.org_id, clean_id(task_id)))
        except NotFound:
            continue
    items = _summaries(v, found)
    return JSONResponse({"exports": items}, headers={"Cache-Control": "no-store"})


@router.get("/exports/{task_id}", include_in_schema=False)
@page
def export(request: Request, task_id: str) -> Response:
    v = visit(request)
    task = export_tasks.get(v.ctx.store, v.principal.org_id, clean_id(task_id))
    summary = _summaries(v, [task])[0]
    manifest = None
    preview: list[str] = []
    error_preview: list[str] = []
    files: dict[str, str] = {}
    gone = None
    if task.status == "COMPLETE" and task.location is not None:
        manifest = export_tasks.manifest_of(v.ctx.store, task.org_id, task.id)
        try:
            preview = _preview(v, task, "result")
            error_preview = _preview(v, task, "errors")
            files = downloads.export_links(v.ctx, v.request, task)["files"]
        except Gone as exc:
            gone = exc.message
    return render.page(
        "export.html",
        v.base(
            task=task,
            export=summary,
            manifest=manifest,
            preview=preview,
            error_preview=error_preview,
            files=files,
            gone=gone,
            reused=forms.one(query_form(request), "reused", 5) == "1",
            preview_lines=PREVIEW_LINES,
        ),
    )


def _preview(v: Visit, task: TaskInfo, stream: str) -> list[str]:
    """The first lines of a stream, pretty-printed (read through the line index)."""
    reader = downloads.stream_reader(v.ctx, task, stream)
    lines = min(PREVIEW_LINES, reader.info.lines)
    if lines == 0:
        return []
    end = reader.line_offset(lines)
    raw = b"".join(reader.iter_bytes(0, end))
    out = []
    for line in raw.splitlines()[:lines]:
        try:
            text = render.pretty(orjson.loads(line))
        except orjson.JSONDecodeError:
            text = line.decode("utf-8", "replace")
        if len(text) > PREVIEW_CHARS:
            text = text[:PREVIEW_CHARS] + "\n… (cut here; download the file for the rest)"
        out.append(text)
    return out


@router.post("/exports/{task_id}/cancel", include_in_schema=False)
@page
def cancel_export(
    request: Request, task_id: str, form: dict[str, list[str]] = FormBody
) -> Response:
    v = posted(request, form, "editor")
    task = export_tasks.get(v.ctx.store, v.principal.org_id, clean_id(task_id))
    try:
        v.ctx.pool.cancel(v.principal.org_id, task.id)
    except Conflict as exc:
        raise Conflict(f"{exc.message}") from None
    return RedirectResponse(f"/exports/{render.path(task.id)}", status_code=303)


@router.post("/exports/{task_id}/archive", include_in_schema=False)
@page
def archive_export(
    request: Request, task_id: str, form: dict[str, list[str]] = FormBody
) -> Response:
    v = posted(request, form, "editor")
    task = export_tasks.get(v.ctx.store, v.principal.org_id, clean_id(task_id))
    undo = forms.one(form, "undo", 5) == "1"
    export_tasks.archive(v.ctx.store, v.principal.org_id, task.id, archived=not undo)
    target = "/exports" if not undo else f"/exports/{render.path(task.id)}"
    return RedirectResponse(target, status_code=303)


__all__ = ["router"]
