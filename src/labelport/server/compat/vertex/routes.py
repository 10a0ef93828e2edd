"""The Vertex AI DatasetService REST surface (v1) under ``/vertex``.

Enough of it for the unmodified ``google-cloud-aiplatform`` SDK (REST transport) to find
datasets and run their export flows (``reference/vertex-export.md`` §6):

* ``GET  /vertex/v1/projects/P/locations/L/datasets/D`` — a dataset
* ``GET  /vertex/v1/projects/P/locations/L/datasets`` — ``filter``, ``orderBy``, ``pageSize``,
  ``pageToken``
* ``POST /vertex/v1/projects/P/locations/L/datasets/D:export`` — ``{"exportConfig": …}``
* ``GET  /vertex/{v1|ui}/projects/P/locations/L/datasets/D/operations/OP`` — the operation (the
  SDK polls ``/ui/…``)
* ``POST /vertex/v1/…/operations/OP:cancel``
* ``GET  /vertex/v1/projects/P/locations/L/datasets/D/savedQueries`` — annotation sets

Project and location are accepted as given (labelport has neither); dataset ids are labelport
dataset ids. Authentication: ``Authorization: Bearer <labelport API key>`` (the SDK sends it
with ``google.oauth2.credentials.Credentials(token=KEY)``). The ``$alt`` query parameter the SDK
adds is ignored.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from labelport.errors import InvalidSpec
from labelport.server.auth import Ctx, Editor, Viewer
from labelport.server.compat.vertex import exports, listing
from labelport.server.compat.vertex.resources import (
    dataset_json,
    operation_json,
    resource_name,
    saved_query_json,
)
from labelport.services import vertex_datasets

router = APIRouter(prefix="/vertex", tags=["vertex"])

DATASETS = "/v1/projects/{project}/locations/{location}/datasets"
DATASET = DATASETS + "/{dataset}"
OPERATION = "/projects/{project}/locations/{location}/datasets/{dataset}/operations/{operation}"
# Small exports finish inside the POST (the SDK then never polls); bigger ones are polled.
INLINE_ITEMS = 10_000
INLINE_SECONDS = 5.0


@router.get(DATASETS, summary="List datasets")
def list_datasets(
    project: str,
    location: str,
    principal: Viewer,
    ctx: Ctx,
    filter: Annotated[str | None, Query()] = None,
    orderBy: Annotated[str | None, Query()] = None,  # the API's parameter names
    pageSize: Annotated[int | None, Query()] = None,
    pageToken: Annotated[str | None, Query()] = None,
) -> dict[str, Any]:
    with ctx.store.read() as conn:
        views = vertex_datasets.list_datasets(conn, principal.org_id)
    page, following = listing.apply(
        views, filter=filter, order_by=orderBy, page_size=pageSize, page_token=pageToken
    )
    body: dict[str, Any] = {"datasets": [dataset_json(v, project, location) for v in page]}
    if following is not None:
        body["nextPageToken"] = following
    return body


@router.get(DATASET, summary="Get a dataset")
def get_dataset(
    project: str, location: str, dataset: str, principal: Viewer, ctx: Ctx
) -> dict[str, Any]:
    with ctx.store.read() as conn:
        view = vertex_datasets.get_dataset(conn, principal.org_id, dataset)
    return dataset_json(view, project, location)


@router.get(DATASET + "/savedQueries", summary="List a dataset's annotation sets")
def list_saved_queries(
    project: str, location: str, dataset: str, principal: Viewer, ctx: Ctx
) -> dict[str, Any]:
    with ctx.store.read() as conn:
        view = vertex_datasets.get_dataset(conn, principal.org_id, dataset)
    name = resource_name(project, location, "datasets", dataset)
    return {"savedQueries": [saved_query_json(s, name) for s in view.sets]}


@router.post(DATASET + ":export", summary="Export a dataset's annotation sets")
def export_dataset(
    project: str,
    location: str,
    dataset: str,
    principal: Editor,
    ctx: Ctx,
    body: Annotated[dict[str, Any], Body()],
) -> dict[str, Any]:
    for key in body:
        if key not in ("exportConfig", "export_config", "name"):
            raise InvalidSpec(f"{key}: unknown field; ExportDataRequest has exportConfig")
    config = body.get("exportConfig", body.get("export_config"))
    if config is None:
        raise InvalidSpec("exportConfig: missing")
    started = vertex_datasets.start_export(
        ctx.store,
        ctx.settings,
        principal.org_id,
        dataset,
        config,
        user_id=principal.user_id,
    )
    task = started.task
    if not task.finished:
        ctx.pool.wake()
        if started.item_count <= INLINE_ITEMS:
            task = exports.wait(ctx.store, task, INLINE_SECONDS)
    return operation_json(exports.state_of(task), project, location, dataset)


def _operation(
    project: str, location: str, dataset: str, operation: str, principal: Any, ctx: Any
) -> dict[str, Any]:
    task = exports.operation_task(ctx.store, principal.org_id, dataset, operation)
    return operation_json(exports.state_of(task), project, location, dataset)


@router.get("/v1" + OPERATION, summary="Get an export operation")
def get_operation(
    project: str, location: str, dataset: str, operation: str, principal: Viewer, ctx: Ctx
) -> dict[str, Any]:
    return _operation(project, location, dataset, operation, principal, ctx)


@router.get("/ui" + OPERATION, summary="Get an export operation (the SDK's poll path)")
def poll_operation(
    project: str, location: str, dataset: str, operation: str, principal: Viewer, ctx: Ctx
) -> dict[str, Any]:
    return _operation(project, location, dataset, operation, principal, ctx)


@router.post("/v1" + OPERATION + ":cancel", summary="Cancel an export operation")
@router.post("/ui" + OPERATION + ":cancel", include_in_schema=False)
def cancel_operation(
    project: str, location: str, dataset: str, operation: str, principal: Editor, ctx: Ctx
) -> dict[str, Any]:
    task = exports.operation_task(ctx.store, principal.org_id, dataset, operation)
    if not task.finished:
        ctx.pool.cancel(principal.org_id, task.id)
    return {}
