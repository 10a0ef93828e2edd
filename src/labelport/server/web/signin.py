"""Signing in and out (an API key makes a session cookie), and the static files."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from labelport import services
from labelport.errors import AuthenticationFailed, PermissionDenied
from labelport.server.auth import context
from labelport.server.web import forms, render, session
from labelport.server.web.visit import FormBody, error_page, session_key

router = APIRouter(include_in_schema=False)


def _local(target: str) -> str:
    """Only paths on this site are followed after signing in."""
    unsafe = target.startswith("//") or "\\" in target or any(ord(c) < 32 for c in target)
    return target if target.startswith("/") and not unsafe else "/"


@router.get("/login", include_in_schema=False)
def login_form(request: Request) -> Response:
    ctx = context(request)
    key = session_key(ctx)
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
    key = session_key(ctx)
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
    key = session_key(ctx)
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
