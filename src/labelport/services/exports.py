"""Exports: a request checked against the catalog, then queued as a task."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from labelport.export import spec
from labelport.services import export_tasks
from labelport.store import Store
from labelport.store import schema as s


def export_spec(
    store: Store,
    org_id: str,
    scope: spec.Scope,
    params: dict[str, Any] | None = None,
    filters: dict[str, Any] | None = None,
    *,
    format: str = "ndjson",
) -> spec.ExportSpec:
    """Validate an export request; local dates are read in the organization's timezone."""
    with store.read() as conn:
        timezone = conn.execute(
            sa.select(s.organization.c.timezone).where(s.organization.c.id == org_id)
        ).scalar_one()
    return spec.parse_spec(scope, params, filters, timezone=timezone, format=format)


def start_export(
    store: Store,
    org_id: str,
    scope: spec.Scope,
    params: dict[str, Any] | None = None,
    filters: dict[str, Any] | None = None,
    *,
    format: str = "ndjson",
    user_id: str | None = None,
) -> export_tasks.TaskInfo:
    """Validate and queue an export; every mistake in the request is raised here, before work."""
    request = export_spec(store, org_id, scope, params, filters, format=format)
    return export_tasks.create(store, org_id, request, user_id=user_id)
