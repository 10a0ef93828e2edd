"""A live server with the demo-like catalog, shared by a module's web tests (SQLite, PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.server.web.helpers import OPEN, Catalog, seed


@dataclass
class Site:
    live: Any
    catalog: Catalog


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    from tests.conftest import Database
    from tests.live import start_server

    home = tmp_path_factory.mktemp("web")
    db = Database(request.param, home)
    request.addfinalizer(db.drop)
    live = start_server(db.url, home / "server-home")
    catalog = seed(live)
    yield Site(live, catalog)
    live.stop()


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while OPEN:
        OPEN.pop().close()
