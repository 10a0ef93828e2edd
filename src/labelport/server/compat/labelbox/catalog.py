"""Catalog reads for the Labelbox surface, shaped as the GraphQL types of :mod:`.sdl`.

Every read is scoped to one organization: another organization's id is
:class:`~labelport.errors.NotFound`, exactly like an id that does not exist. Values are the
GraphQL fields by name (camelCase); timestamps stay ``datetime`` (the ``DateTime`` scalar
formats them).

Mapping from labelport's entities (Labelbox facts labelport does not have get fixed values):

* Project: ``allowedMediaType`` = the project's media type; ``dataRowCount`` = its data rows;
  ``lastActivityTime`` = the latest ``last_activity_at`` of those rows; ``setupComplete`` = its
  creation time when it has an ontology; ``isConsensusEnabled`` = a row expects more than one
  label; ``isBenchmarkEnabled`` = a label has a benchmark reference; ``autoAudit*`` = 1 and 1.0
  (Labelbox's defaults); ``editorTaskType``, ``uploadType`` and ``modelSetupComplete`` = null.
* Dataset: ``rowCount`` = its data rows. Model run: ``createdBy`` = the creator's user id,
  ``modelId`` = its model, ``modelAppId`` = null.
* Data row: ``customMetadata`` = ``{schemaId, value}`` per metadata field (an enum value is
  given by its option, ``{schemaId: <option id>, value: <option id>}``, which the SDK resolves
  to the enum field); ``metadataFields`` = ``{schemaId, name, value, kind}`` (an enum's value
  is ``{schemaId, schemaName}`` of its option).
* Saved queries: catalog slices; ``filter`` is the slice's filters as a JSON string.
* ``customMetadataOntology``: the organization's metadata schema, with Labelbox's kind names.
* User: the API key's owner; ``timezone`` is the organization's; ``isViewer`` = the viewer role.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa

from labelport.errors import InvalidInput, NotFound
from labelport.store import schema as s
from labelport.times import parse_timestamp

JSON = dict[str, Any]

SDK_ID_LENGTH = 25  # the SDK's SchemaId: a cuid, exactly 25 characters
SDK_NAME_LENGTH = 100
METADATA_KINDS = {
    "string": "CustomMetadataString",
    "number": "CustomMetadataNumber",
    "datetime": "CustomMetadataDateTime",
    "enum": "CustomMetadataEnum",
    "option": "CustomMetadataEnumOption",
    "embedding": "CustomMetadataEmbedding",
}


def _one(conn: sa.Connection, query: sa.Select[Any], kind: str, key: str) -> Any:
    row = conn.execute(query).first()
    if row is None:
        raise NotFound(kind, key)
    return row


# ---------------------------------------------------------------------------------- projects


def project(conn: sa.Connection, org_id: str, project_id: str) -> JSON:
    p, pdr, d = s.project, s.project_data_row, s.data_row
    r = _one(
        conn,
        sa.select(p).where(p.c.id == project_id, p.c.org_id == org_id),
        "project",
        project_id,
    )
    count, last_activity = conn.execute(
        sa.select(sa.func.count(), sa.func.max(d.c.last_activity_at))
        .select_from(pdr)
        .join(d, d.c.id == pdr.c.data_row_id)
        .where(pdr.c.project_id == project_id)
    ).one()
    consensus = conn.execute(
        sa.select(sa.literal(1))
        .where(pdr.c.project_id == project_id, pdr.c.consensus_expected_label_count > 1)
        .limit(1)
    ).first()
    lab = s.label
    benchmark = conn.execute(
        sa.select(sa.literal(1))
        .where(lab.c.project_id == project_id, lab.c.benchmark_reference_label.is_not(None))
        .limit(1)
    ).first()
    return {
        "id": r.id,
        "name": r.name,
        "description": r.description,
        "createdAt": r.created_at,
        "updatedAt": r.updated_at,
        "lastActivityTime": _timestamp(last_activity),
        "setupComplete": r.created_at if r.ontology_id else None,
        "autoAuditNumberOfLabels": 1,
        "autoAuditPercentage": 1.0,
        "dataRowCount": int(count),
        "editorTaskType": None,
        "isBenchmarkEnabled": benchmark is not None,
        "isConsensusEnabled": consensus is not None,
        "allowedMediaType": r.media_type,
        "modelSetupComplete": None,
        "uploadType": None,
    }


def _timestamp(value: Any) -> datetime | None:
    """``max()`` over a Timestamp column comes back untyped on SQLite (text)."""
    if value is None or isinstance(value, datetime):
        return value
    return parse_timestamp(str(value))


# ---------------------------------------------------------------------------------- datasets


def dataset(conn: sa.Connection, org_id: str, dataset_id: str) -> JSON:
    d = s.dataset
    r = _one(
        conn,
        sa.select(d).where(d.c.id == dataset_id, d.c.org_id == org_id),
        "dataset",
        dataset_id,
    )
    count = conn.execute(
        sa.select(sa.func.count()).select_from(s.data_row).where(s.data_row.c.dataset_id == r.id)
    ).scalar_one()
    return {
        "id": r.id,
        "name": r.name,
        "description": r.description,
        "createdAt": r.created_at,
        "updatedAt": r.updated_at,
        "rowCount": int(count),
    }


# -------------------------------------------------------------------------------- model runs


def model_run(conn: sa.Connection, org_id: str, run_id: str) -> JSON:
    r, m = s.model_run, s.model
    row = _one(
        conn,
        sa.select(r)
        .join(m, m.c.id == r.c.model_id)
        .where(r.c.id == run_id, r.c.org_id == org_id, m.c.org_id == org_id),
        "model run",
        run_id,
    )
    return {
        "id": row.id,
        "name": row.name,
        "createdAt": row.created_at,
        "updatedAt": row.updated_at,
        "createdBy": row.created_by_id,
        "modelId": row.model_id,
        "modelAppId": None,
        "trainingMetadata": row.training_metadata,
    }


# --------------------------------------------------------------------------------- data rows


def data_row(conn: sa.Connection, org_id: str, data_row_id: str) -> JSON:
    d = s.data_row
    r = _one(
        conn,
        sa.select(d).where(d.c.id == data_row_id, d.c.org_id == org_id),
        "data row",
        data_row_id,
    )
    m, f = s.data_row_metadata, s.metadata_field
    custom: list[JSON] = []
    fields: list[JSON] = []
    for schema_id, value, name, kind in conn.execute(
        sa.select(m.c.schema_id, m.c.value, f.c.name, f.c.kind)
        .join(f, f.c.id == m.c.schema_id)
        .where(m.c.data_row_id == r.id)
        .order_by(m.c.position)
    ):
        if kind == "enum" and isinstance(value, dict):
            option = value.get("schema_id")
            custom.append({"schemaId": option, "value": option})
            shown: Any = {"schemaId": option, "schemaName": value.get("schema_name")}
        else:
            custom.append({"schemaId": schema_id, "value": value})
            shown = value
        fields.append(
            {"schemaId": schema_id, "name": name, "value": shown, "kind": METADATA_KINDS.get(kind)}
        )
    return {
        "id": r.id,
        "externalId": r.external_id,
        "globalKey": r.global_key,
        "rowData": r.row_data,
        "mediaType": r.media_type,
        "createdAt": r.created_at,
        "updatedAt": r.updated_at,
        "mediaAttributes": r.media_attributes,
        "customMetadata": custom,
        "metadataFields": fields,
    }


def metadata_ontology(conn: sa.Connection, org_id: str) -> list[JSON]:
    """The organization's metadata fields (top level) with their options, oldest first.

    The SDK builds its metadata ontology from this answer and refuses the whole of it when one
    schema id is not 25 characters long or one name is empty or longer than 100 characters
    (every DataRow getter would then fail), so such fields are left out: their values still
    reach the SDK, unparsed.
    """
    f = s.metadata_field
    rows = [
        r
        for r in conn.execute(
            sa.select(f.c.id, f.c.parent_id, f.c.name, f.c.kind, f.c.reserved)
            .where(f.c.org_id == org_id)
            .order_by(f.c.created_at, f.c.id)
        )
        if len(r.id) == SDK_ID_LENGTH and 1 <= len(r.name.strip()) <= SDK_NAME_LENGTH
    ]
    options: dict[str, list[JSON]] = {}
    for r in rows:
        if r.parent_id is not None:
            options.setdefault(r.parent_id, []).append(_schema(r))
    return [{**_schema(r), "options": options.get(r.id, [])} for r in rows if r.parent_id is None]


def _schema(r: Any) -> JSON:
    return {
        "id": r.id,
        "name": r.name,
        "kind": METADATA_KINDS.get(r.kind, r.kind),
        "reserved": bool(r.reserved),
    }


# ------------------------------------------------------------------------------------ slices


def _slice_json(r: Any) -> JSON:
    return {
        "id": r.id,
        "name": r.name,
        "description": r.description,
        "filter": orjson.dumps(r.filters).decode(),
        "createdAt": r.created_at,
        "updatedAt": r.updated_at,
    }


def saved_query(conn: sa.Connection, org_id: str, slice_id: str) -> JSON:
    c = s.catalog_slice
    r = _one(
        conn,
        sa.select(c).where(c.c.id == slice_id, c.c.org_id == org_id),
        "catalog slice",
        slice_id,
    )
    return _slice_json(r)


def saved_queries(conn: sa.Connection, org_id: str) -> list[JSON]:
    c = s.catalog_slice
    rows = conn.execute(
        sa.select(c).where(c.c.org_id == org_id).order_by(c.c.created_at, c.c.id)
    ).all()
    return [_slice_json(r) for r in rows]


# ------------------------------------------------------------------------ users and the org


def user(conn: sa.Connection, org_id: str, user_id: str) -> JSON:
    u, o, k = s.user, s.organization, s.api_key
    r = _one(
        conn,
        sa.select(u, o.c.timezone)
        .join(o, o.c.id == u.c.org_id)
        .where(u.c.id == user_id, u.c.org_id == org_id),
        "user",
        user_id,
    )
    last_used = conn.execute(
        sa.select(sa.func.max(k.c.last_used_at)).where(k.c.user_id == r.id)
    ).scalar_one()
    return {
        "id": r.id,
        "email": r.email,
        "name": r.name or r.email,
        "nickname": r.name or r.email.split("@", 1)[0],
        "picture": None,
        "createdAt": r.created_at,
        "updatedAt": r.created_at,
        "lastLoginAt": _timestamp(last_used),
        "isViewer": r.role == "viewer",
        "isExternalUser": False,
        "timezone": r.timezone,
    }


def organization(conn: sa.Connection, org_id: str) -> JSON:
    o = s.organization
    r = _one(conn, sa.select(o).where(o.c.id == org_id), "organization", org_id)
    return {
        "id": r.id,
        "name": r.name,
        "createdAt": r.created_at,
        "updatedAt": r.created_at,
        "timezone": r.timezone,
    }


# ------------------------------------------------------------------------------------- tasks


def created_task_ids(
    conn: sa.Connection,
    org_id: str,
    user_id: str,
    *,
    task_id: str | None = None,
    skip: int = 0,
    first: int = 100,
) -> list[str]:
    """Export tasks created by ``user_id``, newest first."""
    t = s.export_task
    query = sa.select(t.c.id).where(t.c.org_id == org_id, t.c.created_by_id == user_id)
    if task_id is not None:
        query = query.where(t.c.id == task_id)
    query = query.order_by(t.c.created_at.desc(), t.c.id.desc()).offset(skip).limit(first)
    return [str(x) for x in conn.execute(query).scalars()]


# ---------------------------------------------------------------------------------- overview

# Labelbox's workstream states for labelport's workflow statuses. A row whose source never gave
# its status is "Unknown", a labelport state: the SDK's ProjectOverview has no field for it and
# drops it, but "All" counts it, so to_label + in_review + in_rework + done falls short of
# total_data_rows by the rows whose status is unknown.
WORKSTREAM_STATES = {
    "TO_LABEL": "Unlabeled",
    "IN_REVIEW": "InReview",
    "IN_REWORK": "InRework",
    "DONE": "Done",
}
UNKNOWN_STATE = "Unknown"
# labelport's workflow has one labeling, one review and one rework step: the queues of
# Labelbox's default workflow, each holding the rows of one status.
TASK_QUEUES = (
    ("INITIAL_LABELING_QUEUE", "Initial labeling task", "TO_LABEL"),
    ("MANUAL_REVIEW_QUEUE", "Initial review task", "IN_REVIEW"),
    ("MANUAL_REWORK_QUEUE", "Rework", "IN_REWORK"),
)


def workstream_counts(
    conn: sa.Connection, project_id: str, batch_ids: list[str] | None = None
) -> list[JSON]:
    """``workstreamStateCounts``: the project's rows (of ``batch_ids`` only, when given) per
    state, with "All", "Labeled" (a label that is not skipped) and "Skipped"."""
    pdr, lab = s.project_data_row, s.label
    members = [pdr.c.project_id == project_id]
    if batch_ids is not None:
        members.append(pdr.c.batch_id.in_(batch_ids))
    states = dict.fromkeys((*WORKSTREAM_STATES.values(), UNKNOWN_STATE), 0)
    query = sa.select(pdr.c.workflow_status, sa.func.count()).where(*members)
    for status, n in conn.execute(query.group_by(pdr.c.workflow_status)):
        states[WORKSTREAM_STATES.get(status, UNKNOWN_STATE)] += int(n)

    def rows_with_labels(*where: Any) -> int:
        labelled = (
            sa.select(sa.func.count(sa.distinct(lab.c.data_row_id)))
            .select_from(lab)
            .join(
                pdr,
                (pdr.c.project_id == lab.c.project_id) & (pdr.c.data_row_id == lab.c.data_row_id),
            )
            .where(*members, *where)
        )
        return int(conn.execute(labelled).scalar_one())

    skipped = rows_with_labels(lab.c.skipped.is_(True))
    labeled = rows_with_labels(sa.or_(lab.c.skipped.is_(None), lab.c.skipped.is_(False)))
    counts = {"All": sum(states.values()), **states, "Skipped": skipped, "Labeled": labeled}
    return [{"state": state, "count": n} for state, n in counts.items()]


def queue_count(conn: sa.Connection, project_id: str, status: str, search: Any) -> int:
    """A task queue's ``dataRowCount``: its rows, of the batches ``search`` names (the SDK's
    ``{"scope": {"projectId"}, "query": [{"type": "batch", "operator": "is", "ids"}]}``)."""
    pdr = s.project_data_row
    query = sa.select(sa.func.count()).where(
        pdr.c.project_id == project_id, pdr.c.workflow_status == status
    )
    if search is not None:
        query = query.where(pdr.c.batch_id.in_(_batch_ids(search)))
    return int(conn.execute(query).scalar_one())


def _batch_ids(search: Any) -> list[str]:
    parts = search.get("query") if isinstance(search, dict) else None
    if not isinstance(parts, list):
        raise InvalidInput("searchQuery.query: expected a list of conditions")
    ids: list[str] = []
    for part in parts:
        if not (
            isinstance(part, dict)
            and part.get("type") == "batch"
            and part.get("operator") == "is"
            and isinstance(part.get("ids"), list)
            and all(isinstance(i, str) for i in part["ids"])
        ):
            raise InvalidInput(
                'searchQuery.query: only {"type": "batch", "operator": "is", "ids": [...]} '
                "conditions are supported"
            )
        ids.extend(part["ids"])
    return ids
