"""Shared test helpers that build catalog states."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import sqlalchemy as sa

from labelport import services
from labelport.export import cache
from labelport.store import Store
from labelport.store import schema as s
from labelport.times import format_timestamp

SHAPED_TABLES = (
    s.data_row,
    s.project_data_row,
    s.label,
    s.model_run_data_row,
    s.model_run_label,
    s.prediction,
)


def as_labelports_own(store: Store, data_row_ids: list[str] | None = None) -> None:
    """Forget the source shapes of every imported row, as if labelport had made the rows itself
    (the demo, REST, the web UI): exports then show every key the catalog keeps, derived values
    included. For tests of scopes, params and filters, which are about labelport's own
    rendering; source shapes have tests of their own (tests/imports/test_round_trip.py)."""
    with store.write() as conn:
        for table in SHAPED_TABLES:
            column = table.c.id if table is s.data_row else table.c.data_row_id
            where = column.in_(data_row_ids) if data_row_ids is not None else sa.true()
            conn.execute(table.update().where(where).values(shape=None))
        orgs = [
            r[0]
            for r in conn.execute(s.organization.select().with_only_columns(s.organization.c.id))
        ]
        for org_id in orgs:
            cache.fill(conn, org_id)


_KEPT = {"organization", "app_user", "api_key", "schema_version"}


def wipe(store: Store) -> None:
    """Delete every catalog row but organizations, users and keys (a fresh catalog for each
    Hypothesis example, which share one store)."""
    with store.write() as conn:
        for table in reversed(s.metadata.sorted_tables):
            if table.name not in _KEPT:
                conn.execute(table.delete())


def import_rows(store: Store, org_id: str, rows: list[dict[str, Any]], name: str = "t") -> None:
    data = b"".join(orjson.dumps(r) + b"\n" for r in rows)
    services.import_labelbox(store, org_id, io.BytesIO(data), file=f"{name}.ndjson")


def simple_row(n: int, *, project: str | None = None, prefix: str = "row") -> dict[str, Any]:
    out: dict[str, Any] = {
        "data_row": {
            "id": f"c{prefix}{n:021d}"[:25],
            "global_key": f"{prefix}-{n}",
            "row_data": f"https://x.test/{prefix}/{n}.jpg",
            "details": {
                "dataset_id": "cdataset00000000000000001",
                "dataset_name": "images",
                "created_at": format_timestamp(
                    datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=n)
                ),
            },
        },
        "media_attributes": {"mime_type": "image/jpeg", "width": 10, "height": 10},
    }
    if project:
        out["projects"] = {
            project: {
                "name": "p",
                "labels": [
                    {
                        "id": f"clabel{prefix}{n:015d}"[:25],
                        "label_kind": "Default",
                        "version": "1.0.0",
                        "label_details": {"created_by": "labeler@x.test"},
                        "annotations": {
                            "objects": [
                                {
                                    "feature_id": f"cfeat{prefix}{n:016d}"[:25],
                                    "feature_schema_id": "cschema000000000000000001",
                                    "name": "box",
                                    "value": "box",
                                    "annotation_kind": "ImageBoundingBox",
                                    "classifications": [],
                                    "bounding_box": {
                                        "top": 1.0,
                                        "left": 2.0,
                                        "height": 3.0,
                                        "width": 4.0,
                                    },
                                }
                            ],
                            "classifications": [],
                            "relationships": [],
                        },
                    }
                ],
                "project_details": {"workflow_status": "DONE"},
            }
        }
    return out


PROJECT = "cproject00000000000000001"
