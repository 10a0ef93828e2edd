"""Exports on a live server for the SDK tests: clients with a role's key, a finished export of
the test project, a stream as the native REST API serves it (the fixtures ``rows`` and
``proxy`` are in ``tests/sdk/conftest.py``)."""

from __future__ import annotations

from typing import Any

from labelport.sdk import Client, ExportTask
from tests.factories import PROJECT

ROWS = 120


def sdk(url: str, server: Any, role: str = "editor", **options: Any) -> Client:
    return Client(url, server.keys[role], backoff=0.0, **options)


def finished_task(client: Client) -> ExportTask:
    return client.get_project(PROJECT).export(params={"label_details": True}).wait_till_done(30)


def native(server: Any, task_id: str, stream: str = "result") -> bytes:
    with server.client("viewer") as http:
        body: bytes = http.get(f"/api/v1/exports/{task_id}/streams/{stream}").content
    return body


def line_starts(body: bytes) -> list[int]:
    starts = [0]
    for line in body.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    return starts
