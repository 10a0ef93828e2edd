"""One live ``labelport serve`` per database for this package's tests (they only add export
tasks to it), with the test catalog imported into organization "acme" (timezone Asia/Tokyo, so
that local dates are really read in a timezone) and a small project with one damaged label in
organization "other" (for the ERRORS stream)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from labelport import services
from labelport.export.manifest import read_manifest, stream_info
from labelport.export.spec import Scope
from labelport.export.stream_reader import StreamReader
from labelport.services import export_tasks
from tests import factories
from tests.conftest import Database
from tests.live import LiveServer, start_server

from . import data

lb = pytest.importorskip("labelbox")

TIMEZONE = "Asia/Tokyo"
SLICE_NAME = "tranche été ☀"
SLICE_FILTERS = {"last_activity_at": ["2024-03-03", None], "media_type": ["IMAGE"]}
BROKEN_PROJECT = factories.PROJECT


@dataclass
class Site:
    live: LiveServer
    slice_id: str
    broken_row: str

    @property
    def url(self) -> str:
        return self.live.url

    def client(self, role: str = "editor", *, key: str | None = None) -> Any:
        return lb.Client(
            api_key=key or self.live.keys[role],
            endpoint=f"{self.url}/graphql",
            rest_endpoint=f"{self.url}/api/v1",
        )

    def other_client(self) -> Any:
        return self.client(key=self.live.other_org_key)

    def native_rows(
        self,
        scope: Scope,
        params: dict[str, Any] | None = None,
        filters: dict[str, Any] | None = None,
        *,
        org_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """The rows of labelport's own export of this spec, run by the server's task pool."""
        org = org_id or self.live.org.id
        task = services.start_export(self.live.store, org, scope, params, filters)
        self.live.pool.wake()
        deadline = time.monotonic() + 30
        while not task.finished and time.monotonic() < deadline:
            time.sleep(0.02)
            task = export_tasks.get(self.live.store, org, task.id)
        assert task.status == "COMPLETE", task.error_message
        return read_stream(task, "result")


def read_stream(task: export_tasks.TaskInfo, name: str) -> list[dict[str, Any]]:
    directory = Path(str(task.location))
    info = stream_info(read_manifest(directory), name)
    return [orjson.loads(line) for line in StreamReader(directory, info).iter_lines()]


def _break_one_label(live: LiveServer) -> str:
    """Import three rows into organization "other"; damage the stored label of one."""
    other = services.find_organization(live.store, "other")
    video = factories.simple_row(3, project=BROKEN_PROJECT)
    video["media_attributes"] = {"mime_type": "video/mp4", "frame_count": 30}
    video["projects"][BROKEN_PROJECT]["labels"][0]["label_kind"] = "Video"
    video["projects"][BROKEN_PROJECT]["labels"][0]["annotations"] = {
        "frames": {},
        "segments": {},
        "key_frame_feature_map": {},
        "classifications": [],
    }
    rows = [factories.simple_row(1, project=BROKEN_PROJECT), video]
    factories.import_rows(live.store, other.id, rows, name="other")
    with live.store.write() as conn:
        conn.execute(
            sa.text("UPDATE label SET annotations = :bad WHERE data_row_id = :id"),
            {"bad": '{"frames": ', "id": video["data_row"]["id"]},
        )
    return str(video["data_row"]["id"])


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp(f"labelbox-{request.param}")
    db = Database(request.param, tmp)
    live = start_server(db.url, tmp / "home")
    try:
        services.set_timezone(live.store, live.org.id, TIMEZONE)
        data.import_all(live.store, live.org.id)
        slice_id = services.save_slice(live.store, live.org.id, SLICE_NAME, SLICE_FILTERS)
        yield Site(live, slice_id, _break_one_label(live))
    finally:
        live.stop()
        db.drop()
