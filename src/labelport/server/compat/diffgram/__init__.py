"""Diffgram compatibility: the Diffgram SDK 0.15.0 export flow over labelport's services.

``router`` (prefix ``/diffgram``) is mounted by :func:`labelport.server.app.create_app`; the SDK is
pointed at ``host=f"{url}/diffgram"`` and authenticates with an API key's id and secret (HTTP
Basic). Errors under ``/diffgram`` have Diffgram's shape, ``{"log": {"success": false, "error":
{<field>: <message>}, "info": {}}}``, which the SDK turns into its exception text.

Mapping (details in :mod:`.catalog` and :mod:`.exports`): ``project_string_id`` = a labelport
project (the Diffgram id it was imported with - an alias of the caller's organization - else its
id, or its name when unique in the organization); job = a batch of that project (an imported
job also by its Diffgram job id);
directory = a dataset (its rows in the project); task = one data row of the project; a Diffgram
export = an export task of the project with format ``diffgram``
(:mod:`labelport.export.formats.diffgram` writes ``diffgram.json``).
"""

from __future__ import annotations

from fastapi.responses import JSONResponse

from labelport.export.formats import diffgram as _diffgram_format  # noqa: F401  (registers it)
from labelport.server import errors
from labelport.server.compat.diffgram.routes import router

PREFIX = "/diffgram"
_KEYS = {401: "auth", 403: "permission", 404: "not_found", 409: "conflict", 410: "gone"}


def render_error(error: errors.ErrorInfo) -> JSONResponse:
    key = error.field or _KEYS.get(error.status, "error")
    body = {"log": {"success": False, "error": {key: error.message}, "info": {}}}
    return JSONResponse(body, status_code=error.status, headers=error.headers)


errors.register_shape(PREFIX, render_error)

__all__ = ["PREFIX", "render_error", "router"]
