"""Changes to data rows that count as *activity* and move ``last_activity_at``.

The Labelbox export docs define a data row's last activity as the latest of: its labels created or
modified, its metadata, its status within a project, reviews or comments on its labels, and its
row data, external id or global key. Every function here makes one such change and moves
``last_activity_at`` (and ``updated_at`` where the row itself changed) to the same instant, in one
transaction, scoped to the caller's organization.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from labelport.errors import InvalidInput, NotFound
from labelport.export import cache
from labelport.ids import new_id
from labelport.imports.annotations import check_annotations
from labelport.imports.base import Problem
from labelport.store import Store, shapes
from labelport.store import schema as s
from labelport.times import format_timestamp, utcnow
from labelport.vocab import WORKFLOW_STATUSES


def _touch(
    conn: sa.Connection,
    org_id: str,
    data_row_id: str,
    at: datetime,
    *,
    row_changed: bool = False,
) -> None:
    """Move the row's activity time (the last change of every function here), and build its
    export-ready entry again in the same transaction."""
    values: dict[str, Any] = {"last_activity_at": at}
    if row_changed:
        values["updated_at"] = at
    conn.execute(s.data_row.update().where(s.data_row.c.id == data_row_id), values)
    cache.fill(conn, org_id, [data_row_id])


def _row(conn: sa.Connection, org_id: str, data_row_id: str) -> None:
    found = conn.execute(
        sa.select(s.data_row.c.id).where(
            s.data_row.c.id == data_row_id, s.data_row.c.org_id == org_id
        )
    ).first()
    if found is None:
        raise NotFound("data row", data_row_id)


def _user(conn: sa.Connection, org_id: str, user_id: str | None) -> str | None:
    if user_id is None:
        return None
    email = conn.execute(
        sa.select(s.user.c.email).where(s.user.c.id == user_id, s.user.c.org_id == org_id)
    ).scalar_one_or_none()
    if email is None:
        raise NotFound("user", user_id)
    return str(email)


def update_data_row(
    store: Store,
    org_id: str,
    data_row_id: str,
    *,
    row_data: str | None = None,
    external_id: str | None = None,
    global_key: str | None = None,
) -> datetime:
    """Change row data, external id or global key; returns the activity time."""
    values = {
        k: v
        for k, v in (
            ("row_data", row_data),
            ("external_id", external_id),
            ("global_key", global_key),
        )
        if v is not None
    }
    if not values:
        raise InvalidInput("nothing to change: give row_data, external_id or global_key")
    at = utcnow()
    with store.write() as conn:
        _row(conn, org_id, data_row_id)
        if global_key is not None:
            taken = conn.execute(
                sa.select(s.data_row.c.id).where(
                    s.data_row.c.org_id == org_id,
                    s.data_row.c.global_key == global_key,
                    s.data_row.c.id != data_row_id,
                )
            ).scalar_one_or_none()
            if taken is not None:
                raise InvalidInput(f"global key {global_key!r} already belongs to data row {taken}")
        conn.execute(s.data_row.update().where(s.data_row.c.id == data_row_id), values)
        _touch(conn, org_id, data_row_id, at, row_changed=True)
    return at


def set_metadata(
    store: Store, org_id: str, data_row_id: str, schema_id: str, value: Any
) -> datetime:
    """Set one metadata field of a data row (replacing its previous value)."""
    at = utcnow()
    with store.write() as conn:
        _row(conn, org_id, data_row_id)
        field = conn.execute(
            sa.select(s.metadata_field.c.kind).where(
                s.metadata_field.c.id == schema_id, s.metadata_field.c.org_id == org_id
            )
        ).scalar_one_or_none()
        if field is None:
            raise NotFound("metadata field", schema_id)
        m = s.data_row_metadata
        position = conn.execute(
            sa.select(m.c.position).where(
                m.c.data_row_id == data_row_id, m.c.schema_id == schema_id
            )
        ).scalar_one_or_none()
        if position is None:
            position = conn.execute(
                sa.select(sa.func.coalesce(sa.func.max(m.c.position) + 1, 0)).where(
                    m.c.data_row_id == data_row_id
                )
            ).scalar_one()
            conn.execute(
                m.insert(),
                {
                    "data_row_id": data_row_id,
                    "position": position,
                    "schema_id": schema_id,
                    "value": value,
                },
            )
        else:
            conn.execute(
                m.update().where(m.c.data_row_id == data_row_id, m.c.position == position),
                {"value": value},
            )
        _touch(conn, org_id, data_row_id, at)
    return at


def set_workflow_status(
    store: Store,
    org_id: str,
    project_id: str,
    data_row_id: str,
    status: str,
    *,
    user_id: str | None = None,
    action: str | None = None,
) -> datetime:
    """Move a data row to ``status`` in a project and record it in the workflow history."""
    if status not in WORKFLOW_STATUSES:
        raise InvalidInput(f"workflow status must be one of {', '.join(WORKFLOW_STATUSES)}")
    at = utcnow()
    p = s.project_data_row
    with store.write() as conn:
        email = _user(conn, org_id, user_id)
        current = conn.execute(
            sa.select(p.c.shape, p.c.workflow_status)
            .join(s.project, s.project.c.id == p.c.project_id)
            .where(
                p.c.project_id == project_id,
                p.c.data_row_id == data_row_id,
                s.project.c.org_id == org_id,
            )
        ).first()
        if current is None:
            raise NotFound("data row in project", f"{data_row_id} in {project_id}")
        # An imported membership shows the status (and history) set here, as stored.
        shape = shapes.forget(current.shape, "project_details", "workflow_status")
        shape = shapes.forget(shape, "project_details", "workflow_history")
        conn.execute(
            p.update().where(p.c.project_id == project_id, p.c.data_row_id == data_row_id),
            {"workflow_status": status, "updated_at": at, "shape": shape},
        )
        h = s.workflow_history
        position = conn.execute(
            sa.select(sa.func.coalesce(sa.func.max(h.c.position) + 1, 0)).where(
                h.c.project_id == project_id, h.c.data_row_id == data_row_id
            )
        ).scalar_one()
        entry = {
            "action": action or f"Move to {status}",
            "created_at": format_timestamp(at),
            "created_by": email,
            "previous_status": current.workflow_status,
            "next_status": status,
        }
        conn.execute(
            h.insert(),
            {
                "project_id": project_id,
                "data_row_id": data_row_id,
                "position": position,
                "created_at": at,
                "entry": entry,
            },
        )
        _touch(conn, org_id, data_row_id, at)
    return at


def save_label(
    store: Store,
    org_id: str,
    project_id: str,
    data_row_id: str,
    annotations: dict[str, Any],
    *,
    label_id: str | None = None,
    user_id: str | None = None,
    label_kind: str = "Default",
) -> tuple[str, datetime]:
    """Create a label (no ``label_id``) or replace an existing label's annotations."""
    try:
        check_annotations(annotations, "annotations")
    except Problem as problem:
        raise InvalidInput(f"{problem.field}: {problem.reason}") from None
    at = utcnow()
    lab = s.label
    with store.write() as conn:
        _row(conn, org_id, data_row_id)
        _user(conn, org_id, user_id)
        if label_id is None:
            in_project = conn.execute(
                sa.select(s.project_data_row.c.position)
                .join(s.project, s.project.c.id == s.project_data_row.c.project_id)
                .where(
                    s.project_data_row.c.project_id == project_id,
                    s.project_data_row.c.data_row_id == data_row_id,
                    s.project.c.org_id == org_id,
                )
            ).first()
            if in_project is None:
                raise NotFound("data row in project", f"{data_row_id} in {project_id}")
            label_id = new_id()
            position = conn.execute(
                sa.select(sa.func.coalesce(sa.func.max(lab.c.position) + 1, 0)).where(
                    lab.c.project_id == project_id, lab.c.data_row_id == data_row_id
                )
            ).scalar_one()
            conn.execute(
                lab.insert(),
                {
                    "id": label_id,
                    "org_id": org_id,
                    "project_id": project_id,
                    "data_row_id": data_row_id,
                    "position": position,
                    "label_kind": label_kind,
                    "version": "1.0.0",
                    "annotations": annotations,
                    "created_at": at,
                    "updated_at": at,
                    "created_by_id": user_id,
                    "content_last_updated_at": at,
                    "reviews": [],
                },
            )
        else:
            done = conn.execute(
                lab.update()
                .where(
                    lab.c.id == label_id,
                    lab.c.org_id == org_id,
                    lab.c.data_row_id == data_row_id,
                    lab.c.project_id == project_id,
                )
                .values(annotations=annotations, updated_at=at, content_last_updated_at=at)
            )
            if done.rowcount == 0:
                raise NotFound("label", label_id)
        _touch(conn, org_id, data_row_id, at)
    return label_id, at


def add_review(
    store: Store,
    org_id: str,
    label_id: str,
    *,
    user_id: str | None = None,
    score: float | None = None,
    comment: str | None = None,
) -> datetime:
    """Add a review (score) or a comment to a label."""
    if score is None and comment is None:
        raise InvalidInput("a review needs a score or a comment")
    at = utcnow()
    lab = s.label
    with store.write() as conn:
        email = _user(conn, org_id, user_id)
        found = conn.execute(
            sa.select(lab.c.reviews, lab.c.data_row_id).where(
                lab.c.id == label_id, lab.c.org_id == org_id
            )
        ).first()
        if found is None:
            raise NotFound("label", label_id)
        review = {
            "id": new_id(),
            "created_at": format_timestamp(at),
            "created_by": email,
            "score": score,
            "comment": comment,
        }
        conn.execute(
            lab.update().where(lab.c.id == label_id),
            {"reviews": [*(found.reviews or []), review], "updated_at": at},
        )
        _touch(conn, org_id, found.data_row_id, at)
    return at
