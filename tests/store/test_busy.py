"""A held write lock: writes wait at most their write wait, then Busy (503 with Retry-After).

The lock is real: on SQLite another connection holds ``BEGIN IMMEDIATE`` (what a long import
does); on PostgreSQL another transaction holds an exclusive lock on the tables the writes touch.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from labelport.errors import Busy
from labelport.sdk import Client
from labelport.store import Store, schema, waiting_at_most
from labelport.times import utcnow
from tests.conftest import Database
from tests.factories import PROJECT, import_rows, simple_row
from tests.server.web.helpers import csrf_of, sign_in


@contextmanager
def held_writes(database: Database, tables: tuple[str, ...] = ("export_task",)) -> Iterator[None]:
    """Hold the catalog's write lock (SQLite) or an exclusive lock on ``tables`` (PostgreSQL)."""
    if database.kind == "sqlite":
        holder = sqlite3.connect(database.url.removeprefix("sqlite:///"), isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    engine = sa.create_engine(database.url)
    with engine.connect() as conn:
        transaction = conn.begin()
        for table in tables:
            conn.exec_driver_sql(f'LOCK TABLE "{table}" IN EXCLUSIVE MODE')
        try:
            yield
        finally:
            transaction.rollback()
    engine.dispose()


def _insert_org(conn: sa.Connection, org_id: str) -> None:
    conn.execute(
        schema.organization.insert(), {"id": org_id, "name": org_id, "created_at": utcnow()}
    )


def test_a_write_behind_a_held_lock_is_busy_after_its_wait_and_changes_nothing(
    store: Store, database: Database
) -> None:
    with held_writes(database, ("organization",)):
        started = time.monotonic()
        with pytest.raises(Busy) as caught, store.write(wait=0.3) as conn:
            _insert_org(conn, "org-busy")
        waited = time.monotonic() - started
        with waiting_at_most(0.2), pytest.raises(Busy), store.write() as conn:
            _insert_org(conn, "org-busy")  # the request cap applies to the default wait
    assert waited >= 0.25, "it gave up before its wait"
    assert caught.value.http_status == 503 and caught.value.retry_after >= 1
    assert "try again" in caught.value.message
    with store.read() as conn:
        table = schema.organization
        assert conn.execute(sa.select(table.c.id).where(table.c.id == "org-busy")).all() == []
    with store.write(wait=0.3) as conn:  # released: the same write goes through
        _insert_org(conn, "org-busy")


def test_a_write_that_only_queues_goes_through_once_the_lock_is_released(
    store: Store, database: Database
) -> None:
    release, holding = threading.Event(), threading.Event()

    def hold() -> None:
        with held_writes(database, ("organization",)):
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(10)
    threading.Timer(0.5, release.set).start()
    with store.write(wait=10) as conn:
        _insert_org(conn, "org-later")
    holder.join(10)
    with store.read() as conn:
        table = schema.organization
        assert conn.execute(sa.select(table.c.id).where(table.c.id == "org-later")).one()


@pytest.fixture
def busy_server(make_server: Any) -> Any:
    live = make_server(write_wait="0.5")
    import_rows(live.store, live.org.id, [simple_row(i, project=PROJECT) for i in range(3)])
    return live


def test_rest_answers_503_with_retry_after_and_the_sdk_retries_until_it_goes_through(
    busy_server: Any, database: Database
) -> None:
    body = {"scope": {"kind": "project", "id": PROJECT}}
    with busy_server.client("editor") as http:
        with held_writes(database):
            started = time.monotonic()
            refused = http.post("/api/v1/exports", json=body)
            waited = time.monotonic() - started
            assert http.get("/api/v1/exports").status_code == 200  # reads go on
        assert refused.status_code == 503, refused.text
        assert int(refused.headers["Retry-After"]) >= 1
        error = refused.json()["error"]
        assert error["type"] == "Busy" and "--" not in error["message"]
        assert waited < 10, "the request waited far beyond LABELPORT_WRITE_WAIT"
        listed = http.get("/api/v1/exports").json()
        assert listed["exports"] == [], "a refused write left a task behind"

    release = threading.Event()
    holding = threading.Event()

    def hold() -> None:
        with held_writes(database):
            holding.set()
            release.wait(20)

    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(10)
    threading.Timer(1.5, release.set).start()
    with Client(busy_server.url, busy_server.keys["editor"], backoff=0.2) as client:
        task = client.get_project(PROJECT).export()  # 503s, then retried after the release
        assert task.wait_till_done(30).status == "COMPLETE"
    holder.join(20)


def test_the_web_export_form_answers_a_busy_page_with_retry_after(
    busy_server: Any, database: Database
) -> None:
    web = sign_in(busy_server, "editor")
    page = web.get("/exports")
    form = {"scope_kind": "project", "scope_id": PROJECT, "filters": "{}", "format": "ndjson"}
    with held_writes(database):
        answered = web.post("/exports", data={"csrf": csrf_of(page.text), **form})
    assert answered.status_code == 503, answered.text[:2000]
    assert int(answered.headers["Retry-After"]) >= 1
    assert "busy" in answered.text


def test_the_labelbox_sdk_meets_a_503_on_graphql_and_retries_it(
    busy_server: Any, database: Database
) -> None:
    lb = pytest.importorskip("labelbox")
    client = lb.Client(
        api_key=busy_server.keys["editor"],
        endpoint=f"{busy_server.url}/graphql",
        rest_endpoint=f"{busy_server.url}/api/v1",
    )
    project = client.get_project(PROJECT)
    target = json.dumps(PROJECT)
    mutation = (
        "mutation { exportDataRowsInProject(input: {filters: {projectId: "
        + target
        + "}}) { taskId } }"
    )
    with held_writes(database), httpx.Client(base_url=busy_server.url, timeout=30) as http:
        answered = http.post(
            "/graphql",
            json={"query": mutation},
            headers={"Authorization": f"Bearer {busy_server.keys['editor']}"},
        )
    assert answered.status_code == 503 and int(answered.headers["Retry-After"]) >= 1

    release = threading.Event()
    holding = threading.Event()

    def hold() -> None:
        with held_writes(database):
            holding.set()
            release.wait(20)

    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(10)
    threading.Timer(1.5, release.set).start()
    task = project.export()  # the SDK's own retry carries it over the 503s
    task.wait_till_done()
    assert task.has_result()
    holder.join(20)
