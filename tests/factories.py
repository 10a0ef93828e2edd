"""Shared test helpers that build catalog states."""

from __future__ import annotations

import sqlalchemy as sa

from labelport.export import cache
from labelport.store import Store
from labelport.store import schema as s

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
