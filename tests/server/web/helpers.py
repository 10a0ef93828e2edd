"""The web tests' catalog and a signed-in browser-like client (httpx, following no redirects)."""

from __future__ import annotations

import base64
import io
import re
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from labelport import services
from labelport.demo.rows import write_labelbox
from labelport.ids import derived_id
from labelport.services import queries

ROWS_PER_TYPE = 6  # 10 media types: 60 data rows, plus the swatches below
COLORS = ("#2f6f4f", "#b04e0f", "#355c8c")


def swatch(color: str) -> str:
    """An inline SVG image (a data: URL, so thumbnails show without any network)."""
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="48">'
        f'<rect width="64" height="48" fill="{color}"/><circle cx="32" cy="24" r="12" fill="#fff"/>'
        "</svg>"
    )
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def swatch_rows() -> bytes:
    lines = [
        {
            "row_data": swatch(color),
            "global_key": f"swatches/{n:02d}",
            "media_type": "IMAGE",
            "metadata": {"site": "berlin"},
        }
        for n, color in enumerate(COLORS)
    ]
    lines.append(
        {
            "row_data": "Inline text: the parcel arrived late and the box was damaged.",
            "global_key": "swatches/text",
            "media_type": "TEXT",
        }
    )
    return b"".join(orjson.dumps(line) + b"\n" for line in lines)


CSRF = re.compile(r'name="csrf" value="([^"]+)"')
OPEN: list[httpx.Client] = []  # clients sign_in made; the conftest closes them after each test


@dataclass(frozen=True)
class Catalog:
    rows: int
    run_id: str
    set_id: str
    slice_id: str
    swatches_id: str

    @staticmethod
    def dataset_id(name: str) -> str:
        return derived_id("demo", "dataset", name)

    @staticmethod
    def project_id(name: str) -> str:
        return derived_id("demo", "project", name)


def seed(live: Any) -> Catalog:
    """The demo catalog (every media type, labels, predictions) in the server's org 'acme'."""
    buffer = io.BytesIO()
    written = write_labelbox(buffer, ROWS_PER_TYPE, 7)
    buffer.seek(0)
    services.import_labelbox(live.store, live.org.id, buffer, file="demo.ndjson")
    extra = services.import_rows(
        live.store,
        live.org.id,
        io.BytesIO(swatch_rows()),
        file="swatches.jsonl",
        dataset="swatches",
    )
    written += extra.rows
    run_id = derived_id("demo", "run", "detector", "v1")
    set_id = services.save_annotation_set(
        live.store,
        live.org.id,
        display_name="detector v1 predictions",
        objective="image_bounding_box",
        model_run_id=run_id,
    )
    slice_id = services.save_slice(
        live.store, live.org.id, "Labeled in March 2025", {"label_created_at": ["2025-03-01", None]}
    )
    swatches = queries.list_datasets(live.store, live.org.id, name="swatches").items[0]["id"]
    return Catalog(written, run_id, set_id, slice_id, swatches)


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def sign_in(live: Any, role: str = "editor", key: str | None = None) -> httpx.Client:
    """A client holding a session of ``role`` (or of ``key``), signed in through the form."""
    client = httpx.Client(base_url=live.url, timeout=30, follow_redirects=False)
    OPEN.append(client)
    page = client.get("/login")
    assert page.status_code == 200
    answer = client.post(
        "/login",
        data={"api_key": key or live.keys[role], "csrf": csrf_of(page.text), "next": "/"},
    )
    assert answer.status_code == 303, answer.text
    assert "lp_session" in client.cookies
    return client
