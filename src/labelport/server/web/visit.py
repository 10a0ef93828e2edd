"""The web pages' shared part: thin handlers that read a form, call a service, render a template.

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
from urllib.parse import parse_qs

from fastapi import Depends, Request
from starlette.responses import RedirectResponse, Response

from labelport.errors import Busy, InvalidInput, LabelportError, NotFound, PermissionDenied
from labelport.server.auth import ROLE_ORDER, check_role, context
from labelport.server.context import Context
from labelport.server.web import browse, forms, render, session
from labelport.services import Principal

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


def session_key(ctx: Context) -> bytes:
    return session.session_key(ctx.signer)


def visit(request: Request, role: str = "viewer") -> Visit:
    ctx = context(request)
    key = session_key(ctx)
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


def after_cursor(form: forms.Form) -> browse.Cursor | None:
    """The ``after`` cursor of a paged list, if the form has one."""
    text = forms.one(form, "after", 500)
    return browse.decode_cursor(text) if text else None
