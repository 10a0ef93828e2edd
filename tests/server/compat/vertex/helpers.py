"""Shared by the Vertex surface tests: importing Vertex JSONL into a live server's catalog."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from labelport import services
from labelport.store import schema as s
from tests.export.formats.vertex_samples import jsonl, samples

V1 = "/vertex/v1/projects/p/locations/us-central1"


def import_set(
    live: Any,
    dataset: str,
    objective: str,
    set_id: str,
    *,
    records: list[dict[str, Any]] | None = None,
    display_name: str | None = None,
) -> list[dict[str, Any]]:
    """Import the sample records of ``objective`` (set ``set_id``) into ``dataset``."""
    records = records if records is not None else samples(objective, set_id)
    services.import_vertex(
        live.store,
        live.org.id,
        jsonl(records),
        file=f"{objective}.jsonl",
        dataset=dataset,
        annotation_set=display_name or f"{dataset} {objective}",
        objective=objective,
    )
    return records


def dataset_id(live: Any, name: str) -> str:
    with live.store.read() as conn:
        found = conn.execute(
            sa.select(s.dataset.c.id).where(
                s.dataset.c.name == name, s.dataset.c.org_id == live.org.id
            )
        ).scalar_one()
    return str(found)


def set_dataset(live: Any, dataset: str, **values: Any) -> None:
    with live.store.write() as conn:
        conn.execute(s.dataset.update().where(s.dataset.c.id == dataset), values)
