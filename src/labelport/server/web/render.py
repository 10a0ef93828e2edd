"""Templates and static files: one Jinja2 environment, one stylesheet, one script.

Every page is HTML rendered on the server; the script only adds live progress, selection across
pages and a few conveniences, so pages work (less conveniently) without it. Responses carry a
Content-Security-Policy that allows no inline script or style and no other origin's scripts.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from importlib import resources
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
import orjson
from starlette.responses import HTMLResponse, Response

from labelport.times import format_timestamp, parse_timestamp

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' https: http: data:; script-src 'self'; "
        "style-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}

_STATIC_TYPES = {"style.css": "text/css; charset=utf-8", "app.js": "text/javascript; charset=utf-8"}


def _load_static() -> dict[str, tuple[bytes, str, str]]:
    folder = resources.files("labelport.server.web") / "static"
    out = {}
    for name, media in _STATIC_TYPES.items():
        body = (folder / name).read_bytes()
        out[name] = (body, media, hashlib.sha256(body).hexdigest()[:12])
    return out


STATIC = _load_static()


def static_response(name: str, if_none_match: str | None) -> Response | None:
    found = STATIC.get(name)
    if found is None:
        return None
    body, media, version = found
    headers = {
        "ETag": f'"{version}"',
        "Cache-Control": "public, max-age=86400",
        "X-Content-Type-Options": "nosniff",
    }
    if if_none_match == f'"{version}"':
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media, headers=headers)


def static_url(name: str) -> str:
    return f"/static/{name}?v={STATIC[name][2]}"


# ------------------------------------------------------------------------------------- filters


def path(value: Any) -> str:
    """A value as one URL path segment."""
    return quote(str(value), safe="")


def number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "–" if value is None else str(value)
    return f"{value:,}"


def when(value: Any) -> str:
    """A timestamp as ``2025-03-01 09:00:00 UTC`` (or a dash)."""
    if value is None:
        return "–"
    if isinstance(value, str):
        try:
            value = parse_timestamp(value)
        except ValueError:
            return str(value)
    if isinstance(value, datetime):
        text = format_timestamp(value) or ""
        return text[:19].replace("T", " ") + " UTC"
    return str(value)


def iso(value: Any) -> str:
    if isinstance(value, datetime):
        return format_timestamp(value) or ""
    return str(value or "")


def pretty(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()


def query(pairs: Any, **extra: Any) -> str:
    """``?a=1&b=2`` from pairs (plus ``extra``), or an empty string."""
    items = list(pairs or []) + [(k, v) for k, v in extra.items() if v is not None]
    return "?" + urlencode(items) if items else ""


MEDIA_BADGES = {
    "IMAGE": "IMG",
    "VIDEO": "VID",
    "TEXT": "TXT",
    "PDF": "PDF",
    "TMS_GEO": "GEO",
    "AUDIO": "AUD",
    "DICOM": "DCM",
    "HTML": "HTML",
    "CONVERSATIONAL": "CHAT",
    "LLM": "LLM",
}


def badge(media_type: Any) -> str:
    return MEDIA_BADGES.get(str(media_type), str(media_type)[:4])


def thumbnail(row: dict[str, Any]) -> str | None:
    """The address to show an image row's picture from, when it is one a browser can load."""
    data = str(row.get("row_data") or "")
    if row.get("media_type") != "IMAGE":
        return None
    if data.startswith(("https://", "http://")) or data.startswith("data:image/"):
        return data
    return None


def snippet(text: Any, size: int = 140) -> str:
    value = " ".join(str(text or "").split())
    return value if len(value) <= size else value[: size - 1] + "…"


ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("labelport.server.web", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
ENV.filters.update(
    path=path,
    number=number,
    when=when,
    iso=iso,
    pretty=pretty,
    badge=badge,
    snippet=snippet,
)
ENV.globals.update(static_url=static_url, query=query, thumbnail=thumbnail)


def page(template: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    body = ENV.get_template(template).render(**context)
    return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)
