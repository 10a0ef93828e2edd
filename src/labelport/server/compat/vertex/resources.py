"""Vertex AI v1 resources as JSON: Dataset, SavedQuery, Operation and errors (pure).

Field names are lowerCamelCase, int64 values are strings, timestamps RFC 3339 in UTC. The
Operation carries only ``name``, ``metadata``, ``done``, ``error`` and ``response`` with the
exact v1 ``@type`` names: the SDK's operation parser refuses anything else
(``reference/vertex-export.md`` §1.3).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from labelport.export.formats import vertex_schemas as schemas
from labelport.services.vertex_datasets import DatasetView, SetView
from labelport.vertex_vocab import FAILED_PRECONDITION, SET_NAME_LABEL

API_VERSION = "v1"
TYPE_PREFIX = f"type.googleapis.com/google.cloud.aiplatform.{API_VERSION}."
METADATA_TYPE = TYPE_PREFIX + "ExportDataOperationMetadata"
RESPONSE_TYPE = TYPE_PREFIX + "ExportDataResponse"
RESPONSE_FIELDS = ("exportedFiles", "dataStats")

# HTTP status → (google.rpc.Code, its name), for error bodies
HTTP_TO_RPC: dict[int, tuple[int, str]] = {
    400: (3, "INVALID_ARGUMENT"),
    401: (16, "UNAUTHENTICATED"),
    403: (7, "PERMISSION_DENIED"),
    404: (5, "NOT_FOUND"),
    405: (12, "UNIMPLEMENTED"),
    409: (6, "ALREADY_EXISTS"),
    410: (5, "NOT_FOUND"),
    411: (3, "INVALID_ARGUMENT"),
    413: (3, "INVALID_ARGUMENT"),
    416: (11, "OUT_OF_RANGE"),
    429: (8, "RESOURCE_EXHAUSTED"),
    500: (13, "INTERNAL"),
    503: (14, "UNAVAILABLE"),
}
CANCELLED = 1
INVALID_ARGUMENT = 3
INTERNAL = 13


def rpc_status(http_status: int) -> tuple[int, str]:
    if http_status in HTTP_TO_RPC:
        return HTTP_TO_RPC[http_status]
    return (3, "INVALID_ARGUMENT") if 400 <= http_status < 500 else (13, "INTERNAL")


def error_body(http_status: int, message: str) -> dict[str, Any]:
    """``{"error": {"code", "message", "status"}}`` as Google APIs answer errors over HTTP."""
    _, status = rpc_status(http_status)
    return {"error": {"code": http_status, "message": message, "status": status}}


def timestamp(value: datetime | None) -> str:
    """RFC 3339, UTC, microseconds: ``2024-01-01T00:00:00.000000Z``."""
    if value is None:
        value = datetime(1970, 1, 1, tzinfo=UTC)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def etag(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:16]


# ------------------------------------------------------------------------------------ datasets


def resource_name(project: str, location: str, *parts: str) -> str:
    return "/".join(("projects", project, "locations", location, *parts))


def dataset_json(view: DatasetView, project: str, location: str) -> dict[str, Any]:
    name = resource_name(project, location, "datasets", view.id)
    metadata: dict[str, Any] = {}
    if view.kind in ("image", "text", "video"):
        metadata["dataItemSchemaUri"] = schemas.data_item_schema_uri(view.kind)
    body: dict[str, Any] = {
        "name": name,
        "displayName": view.name,
        "metadataSchemaUri": schemas.metadata_schema_uri(view.kind),
        "metadata": metadata,
        "dataItemCount": str(view.item_count),
        "createTime": timestamp(view.created_at),
        "updateTime": timestamp(view.updated_at),
        "etag": etag(view.id, timestamp(view.updated_at), view.item_count),
        "labels": dict(view.labels),
        "savedQueries": [saved_query_json(s, name) for s in view.sets],
    }
    if view.description:
        body["description"] = view.description
    return body


def saved_query_json(view: SetView, dataset_name: str) -> dict[str, Any]:
    return {
        "name": f"{dataset_name}/savedQueries/{view.id}",
        "displayName": view.display_name,
        "metadata": {},
        "createTime": timestamp(view.created_at),
        "updateTime": timestamp(view.updated_at),
        "annotationFilter": f"labels.{SET_NAME_LABEL}={view.id}",
        "problemType": view.objective.upper(),
        "etag": etag(view.id, timestamp(view.updated_at)),
        "supportAutomlTraining": False,
    }


# ---------------------------------------------------------------------------------- operations


@dataclass(frozen=True, slots=True)
class OperationState:
    """What an Operation reports about one export task."""

    task_id: str
    status: str  # QUEUED | IN_PROGRESS | COMPLETE | FAILED | CANCELED
    created_at: datetime
    updated_at: datetime
    output_directory: str | None
    output: Mapping[str, Any] | None = None
    error_message: str | None = None
    error_code: int | None = None  # set for a request refused after it was recorded


def failure_code(state: OperationState) -> int:
    """The google.rpc.Code of a task that did not complete."""
    if state.status == "CANCELED":
        return CANCELLED
    if state.error_code is not None:
        return state.error_code
    if (state.error_message or "").startswith("internal error"):
        return INTERNAL
    return FAILED_PRECONDITION  # the data or the destination did not allow the export


def operation_json(
    state: OperationState, project: str, location: str, dataset_id: str
) -> dict[str, Any]:
    name = resource_name(project, location, "datasets", dataset_id, "operations", state.task_id)
    metadata: dict[str, Any] = {
        "@type": METADATA_TYPE,
        "genericMetadata": {
            "createTime": timestamp(state.created_at),
            "updateTime": timestamp(state.updated_at),
        },
    }
    if state.output_directory:
        metadata["gcsOutputDirectory"] = state.output_directory
    body: dict[str, Any] = {"name": name, "metadata": metadata}
    if state.status == "COMPLETE":
        output = state.output or {}
        response: dict[str, Any] = {"@type": RESPONSE_TYPE}
        response.update({k: output[k] for k in RESPONSE_FIELDS if output.get(k) is not None})
        body["done"] = True
        body["response"] = response
    elif state.status in ("FAILED", "CANCELED"):
        message = state.error_message or (
            "the export was canceled" if state.status == "CANCELED" else "the export failed"
        )
        body["done"] = True
        body["error"] = {"code": failure_code(state), "message": message}
    else:
        body["done"] = False
    return body
