"""Labelbox compatibility: the GraphQL export surface the ``labelbox`` SDK (7.17.0) speaks.

``router`` (``POST /graphql``, and ``POST /_gql`` for the SDK's experimental queries) is
mounted by :func:`labelport.server.app.create_app`. Point the unmodified SDK at it with both
endpoints::

    lb.Client(api_key=KEY, endpoint=f"{URL}/graphql", rest_endpoint=f"{URL}/api/v1")

Errors anywhere under ``/graphql`` (a wrong method, a missing key) are answered in GraphQL's
shape, ``{"data": null, "errors": [{"message", "extensions": {"code"}}]}``, with the codes the
SDK maps to its exceptions (:mod:`.routes`). What the surface covers: :mod:`.sdl`; how
Labelbox's entities map to labelport's: :mod:`.catalog`; how export inputs become labelport
export specs: :mod:`.exports`; how streams are served: :mod:`.streams`.
"""

from __future__ import annotations

from fastapi.responses import JSONResponse

from labelport.server import errors
from labelport.server.compat.labelbox.routes import answer, error_object, router

PREFIX = "/graphql"

_CODES = {
    401: "AUTHENTICATION_ERROR",
    403: "AUTHORIZATION_ERROR",
    404: "RESOURCE_NOT_FOUND",
    409: "RESOURCE_CONFLICT",
}


def render_error(error: errors.ErrorInfo) -> JSONResponse:
    """Errors raised outside the GraphQL executor (405 for a GET, …) in GraphQL's shape."""
    code = _CODES.get(error.status)
    extra: dict[str, object] = {}
    if code is None and error.status >= 500:
        code = "INTERNAL_SERVER_ERROR"
    elif code is None and error.status == 400:
        code = "MALFORMED_REQUEST"
        extra["errors"] = [{"error": error.message}]
    elif code is None:
        code = "BAD_REQUEST"
    response = answer(error.status, [error_object(error.message, code, **extra)])
    for key, value in (error.headers or {}).items():
        response.headers[key] = value
    return response


EXPERIMENTAL_PREFIX = "/_gql"  # where the SDK sends ``experimental=True`` queries

errors.register_shape(PREFIX, render_error)
errors.register_shape(EXPERIMENTAL_PREFIX, render_error)

__all__ = ["EXPERIMENTAL_PREFIX", "PREFIX", "render_error", "router"]
