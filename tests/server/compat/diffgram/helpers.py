"""A Diffgram project in a live server's catalog: the import fixture's three files, one job."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from labelport import services
from labelport.export.artifacts import Artifacts
from labelport.ids import derived_id, new_id
from labelport.services import export_tasks
from labelport.store import schema as s
from labelport.times import utcnow
from tests.imports.diffgram_samples import (
    PSID,
    export_bytes,
    image_packet,
    text_packet,
    video_packet,
)

# How paths name the project: by the Diffgram project_string_id its import left as an alias
# (the labelport id depends on the organization: project_id_in).
PROJECT_ID = PSID


def project_id_in(org_id: str) -> str:
    """The id the Diffgram import gives project PSID in an organization."""
    return derived_id("diffgram-project", org_id, PSID)


def original() -> bytes:
    return export_bytes([("501", image_packet()), ("502", video_packet()), ("503", text_packet())])


@dataclass(frozen=True)
class Acme:
    project_id: str
    dataset_id: str
    job_id: str  # a batch holding files 501 (Done) and 502 (to label)
    rows: dict[str, str]  # Diffgram file id -> data row id


def load(server: Any) -> Acme:
    """Import the Diffgram export, then put files 501 and 502 into a job (batch)."""
    services.import_diffgram(server.store, server.org.id, io.BytesIO(original()), file="d.json")
    project_id = project_id_in(server.org.id)
    job_id = new_id()
    d, pdr = s.data_row, s.project_data_row
    with server.store.write() as conn:
        rows = {
            gk.rsplit(":", 1)[1]: rid
            for rid, gk in conn.execute(sa.select(d.c.id, d.c.global_key)).all()
        }
        dataset_id = conn.execute(sa.select(s.dataset.c.id)).scalar_one()
        conn.execute(
            s.batch.insert(),
            {
                "id": job_id,
                "org_id": server.org.id,
                "project_id": project_id,
                "name": "first pass",
                "created_at": utcnow(),
            },
        )
        conn.execute(
            pdr.update().where(pdr.c.data_row_id.in_([rows["501"], rows["502"]])),
            {"batch_id": job_id},
        )
    return Acme(project_id, dataset_id, job_id, rows)


def packets(doc: dict[str, Any]) -> dict[str, Any]:
    """The file packets of a Diffgram export document, by file id."""
    return {k: v for k, v in doc.items() if k.isdigit()}


def pause(server: Any) -> None:
    """Stop the server's task pool: exports stay queued until :func:`run_queued`."""
    server.pool.shutdown(wait=True)


def run_queued(server: Any, task_id: str) -> None:
    done = export_tasks.execute(
        server.store, Artifacts.for_settings(server.settings), task_id, settings=server.settings
    )
    assert done.status == "COMPLETE", done.error_message
