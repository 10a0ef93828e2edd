"""The web UI: server-rendered pages at ``/`` (Jinja2, one stylesheet, one small script).

Sign in with an API key; the session is a signed cookie. See ``docs/web.md``. One module per page
(or family of pages), each with its own router; :mod:`.visit` is what they share.
"""

from __future__ import annotations

from fastapi import APIRouter

from labelport.server.web import data_row, export_dialog, exports, grids, keys, lists, signin

router = APIRouter(include_in_schema=False)
for _pages in (signin, lists, grids, data_row, export_dialog, exports, keys):
    router.include_router(_pages.router)

__all__ = ["router"]
