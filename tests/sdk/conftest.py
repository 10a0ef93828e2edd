"""Fixtures of the SDK tests: a project of ``ROWS`` rows on the live server, and a TCP proxy in
front of it that drops connections for real (tests/sdk/proxy.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.factories import PROJECT, import_rows, simple_row
from tests.sdk.live_exports import ROWS
from tests.sdk.proxy import Proxy


@pytest.fixture
def rows(server: Any) -> Any:
    """A project of ROWS rows on the server."""
    import_rows(server.store, server.org.id, [simple_row(n, project=PROJECT) for n in range(ROWS)])
    return server


@pytest.fixture
def proxy(server: Any) -> Iterator[Proxy]:
    front = Proxy(server.url)
    yield front
    front.close()
