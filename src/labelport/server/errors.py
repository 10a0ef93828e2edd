"""One error table for the whole server: a labelport error becomes its HTTP status, a body.

Raise :mod:`labelport.errors` anywhere below a route. The body's shape depends on the surface the
path belongs to: the native shape is ``{"error": {"type", "message", "status", "field"}}``; a
compatibility surface registers its own (:func:`register_shape`) so its clients parse our errors
the way they parse the vendor's. Request validation (FastAPI's 422) becomes a 400 that names the
field; an unexpected exception becomes a 500 whose body says only that, and is logged in full.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from labelport.errors import Busy, LabelportError

log = logging.getLogger("labelport.server")


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    type: str
    message: str
    status: int
    field: str | None = None
    headers: dict[str, str] | None = None


Render = Callable[[ErrorInfo], JSONResponse]
_SHAPES: list[tuple[str, Render]] = []

_HTTP_TYPES = {
    400: "InvalidInput",
    401: "AuthenticationFailed",
    403: "PermissionDenied",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Gone",
    411: "LengthRequired",
    413: "TooLarge",
    416: "RangeNotSatisfiable",
}


def native(error: ErrorInfo) -> JSONResponse:
    body: dict[str, Any] = {"type": error.type, "message": error.message, "status": error.status}
    if error.field is not None:
        body["field"] = error.field
    return JSONResponse({"error": body}, status_code=error.status, headers=error.headers)


def register_shape(prefix: str, render: Render) -> None:
    """Render errors of paths under ``prefix`` with ``render`` (longest prefix wins)."""
    _SHAPES[:] = [(p, r) for p, r in _SHAPES if p != prefix]
    _SHAPES.append((prefix, render))
    _SHAPES.sort(key=lambda item: len(item[0]), reverse=True)


def render(request: Request, error: ErrorInfo) -> JSONResponse:
    path = request.url.path
    for prefix, shape in _SHAPES:
        if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
            return shape(error)
    return native(error)


def from_labelport(exc: LabelportError) -> ErrorInfo:
    headers: dict[str, str] | None = None
    if exc.http_status == 401:
        headers = {"WWW-Authenticate": "Bearer"}
    elif isinstance(exc, Busy):
        headers = {"Retry-After": str(exc.retry_after)}
    return ErrorInfo(type(exc).__name__, exc.message, exc.http_status, exc.field, headers)


UNSTORABLE = (
    "a value in the request contains a character that cannot be stored "
    "(a NUL character or an unpaired surrogate)"
)


def unstorable(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is a text value the database cannot hold: a NUL on
    PostgreSQL, an unpaired surrogate anywhere (it has no UTF-8 form)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, UnicodeEncodeError) and "surrogate" in str(current):
            return True
        if "cannot contain NUL" in str(current):
            return True
        orig = getattr(current, "orig", None)
        current = (
            orig if isinstance(orig, BaseException) else (current.__cause__ or current.__context__)
        )
    return False


class RefuseNul:
    """A NUL character in the path or the query string is a 400 naming where, on every surface
    (in that surface's error shape), before any route runs: no id, key or name holds one."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            field = _nul_field(scope)
            if field is not None:
                request = Request(scope)
                info = ErrorInfo("InvalidInput", f"{field}: contains a NUL character", 400, field)
                await render(request, info)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _nul_field(scope: Scope) -> str | None:
    if "\x00" in scope.get("path", ""):
        return "path"
    raw = scope.get("query_string", b"")
    if b"%00" in raw or b"\x00" in raw:
        for key, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
            if "\x00" in key or "\x00" in value:
                return f"query:{key.replace(chr(0), '')}"
    return None


def _field(location: Any) -> str:
    parts = [str(p) for p in location]
    if parts and parts[0] in ("body", "query", "path", "header"):
        where, rest = parts[0], parts[1:]
        return f"{where}:{'.'.join(rest)}" if rest else where
    return ".".join(parts)


def install(app: FastAPI) -> None:
    @app.exception_handler(LabelportError)
    async def labelport_error(request: Request, exc: LabelportError) -> JSONResponse:
        return render(request, from_labelport(exc))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = exc.errors()
        first = problems[0] if problems else {"loc": (), "msg": "invalid request"}
        field = _field(first.get("loc", ()))
        message = f"{field}: {first.get('msg', 'invalid')}"
        if len(problems) > 1:
            message += f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})"
        return render(request, ErrorInfo("InvalidInput", message, 400, field))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        status = exc.status_code
        message = str(exc.detail) if exc.detail else "error"
        if status == 404 and message == "Not Found":
            message = f"no such endpoint: {request.method} {request.url.path}"
        kind = _HTTP_TYPES.get(status, "HTTPError")
        headers = dict(exc.headers) if exc.headers else None
        return render(request, ErrorInfo(kind, message, status, None, headers))

    @app.exception_handler(sa.exc.StatementError)
    @app.exception_handler(UnicodeEncodeError)
    async def database_error(request: Request, exc: Exception) -> JSONResponse:
        if unstorable(exc):  # a surface let a value through that no database column can hold
            return render(request, ErrorInfo("InvalidInput", UNSTORABLE, 400))
        return await unexpected(request, exc)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error on %s %s", request.method, request.url.path)
        # The server closes the connection after an unexpected error; say so, so that a client
        # does not send its next request into a closed keep-alive connection.
        return render(
            request,
            ErrorInfo(
                "InternalError",
                "internal error; the server log has the details",
                500,
                headers={"Connection": "close"},
            ),
        )
