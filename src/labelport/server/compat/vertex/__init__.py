"""Vertex AI compatibility: the DatasetService export flow over labelport's services.

``router`` (prefix ``/vertex``) is mounted by :func:`labelport.server.app.create_app`; errors under
``/vertex`` are answered as Google APIs answer them, ``{"error": {"code", "message", "status"}}``.
"""

from __future__ import annotations

from fastapi.responses import JSONResponse

from labelport.export.formats import vertex as _vertex_format  # noqa: F401  (registers "vertex")
from labelport.server import errors
from labelport.server.compat.vertex.resources import error_body
from labelport.server.compat.vertex.routes import router

PREFIX = "/vertex"


def render_error(error: errors.ErrorInfo) -> JSONResponse:
    return JSONResponse(
        error_body(error.status, error.message), status_code=error.status, headers=error.headers
    )


errors.register_shape(PREFIX, render_error)

__all__ = ["PREFIX", "render_error", "router"]
