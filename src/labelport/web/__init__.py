"""The web UI: server-rendered pages at ``/`` (Jinja2, one stylesheet, one small script).

Sign in with an API key; the session is a signed cookie. See ``docs/web.md``.
"""

from __future__ import annotations

from labelport.web import keys
from labelport.web.views import router

router.include_router(keys.router)

__all__ = ["router"]
