"""Shared fixtures: a migrated store on SQLite and on PostgreSQL, an organization, the CLI.

PostgreSQL comes from ``LABELPORT_TEST_POSTGRES_URL`` (default ``postgresql+psycopg://127.0.0.1:5432/test``);
each test gets a schema of its own. When the server is unreachable those tests are skipped with the
reason, except with ``CI=true``, where that is a failure.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from labelport import services
from labelport.cli import cli
from labelport.store import Store, open_store
from tests.export.gcs_emulator import gcs_emulator  # noqa: F401  (one emulator per session)
from tests.export.object_stores import blob_store, moto_server  # noqa: F401  (one moto per session)

PG_URL = os.environ.get("LABELPORT_TEST_POSTGRES_URL", "postgresql+psycopg://127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"
_pg_state: dict[str, str | None] = {}


def postgres_unavailable() -> str | None:
    """None when PostgreSQL answers, else the reason it does not."""
    if "reason" not in _pg_state:
        try:
            engine = sa.create_engine(PG_URL)
            with engine.connect() as conn:
                conn.execute(sa.text("select 1"))
            engine.dispose()
            _pg_state["reason"] = None
        except Exception as exc:
            _pg_state["reason"] = (
                f"PostgreSQL at {PG_URL} is not reachable: {exc.__class__.__name__}: {exc}"
            )
    return _pg_state["reason"]


def require_postgres() -> None:
    reason = postgres_unavailable()
    if reason is None:
        return
    if IN_CI:
        pytest.fail(f"CI=true makes the PostgreSQL leg mandatory. {reason}", pytrace=False)
    pytest.skip(reason)


class Database:
    """A database URL for one test, dropped afterwards."""

    def __init__(self, kind: str, tmp_path: Path) -> None:
        self.kind = kind
        self.schema: str | None = None
        if kind == "sqlite":
            self.url = f"sqlite:///{tmp_path / 'catalog.db'}"
        else:
            require_postgres()
            self.schema = f"lpt_{secrets.token_hex(6)}"
            admin = sa.create_engine(PG_URL)
            with admin.begin() as conn:
                conn.execute(sa.text(f'CREATE SCHEMA "{self.schema}"'))
            admin.dispose()
            sep = "&" if "?" in PG_URL else "?"
            self.url = f"{PG_URL}{sep}options=-csearch_path%3D{self.schema}"

    def drop(self) -> None:
        if self.schema:
            admin = sa.create_engine(PG_URL)
            with admin.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
            admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    db = Database(request.param, tmp_path)
    yield db
    db.drop()


@pytest.fixture
def store(database: Database) -> Iterator[Store]:
    st = open_store(database.url)
    yield st
    st.dispose()


@pytest.fixture
def org(store: Store) -> services.Organization:
    return services.create_organization(store, "acme")


class Cli:
    def __init__(self, database: Database, home: Path) -> None:
        self.env = {"LABELPORT_DATABASE_URL": database.url, "LABELPORT_HOME": str(home)}
        self.runner = CliRunner()

    def __call__(self, *args: str, input: Any = None) -> Result:
        return self.runner.invoke(
            cli, list(args), env=self.env, input=input, catch_exceptions=False
        )


@pytest.fixture
def run_cli(database: Database, tmp_path: Path) -> Cli:
    return Cli(database, tmp_path / "home")


@pytest.fixture
def server(database: Database, tmp_path: Path) -> Iterator[Any]:
    """A live ``labelport serve`` on 127.0.0.1 over this test's database (see tests/live.py)."""
    from tests.live import start_server

    live = start_server(database.url, tmp_path / "server-home")
    yield live
    live.stop()


@pytest.fixture
def make_server(database: Database, tmp_path: Path) -> Iterator[Any]:
    """Start servers with settings of the test's choosing: ``make_server(link_ttl="5")``."""
    from tests.live import start_server

    started: list[Any] = []

    def make(**overrides: str) -> Any:
        live = start_server(database.url, tmp_path / f"server-home-{len(started)}", **overrides)
        started.append(live)
        return live

    yield make
    for live in started:
        live.stop()
