"""Vertex ``datasets.export`` as a labelport export task, and its Operation state.

An operation is an export task of format ``vertex`` over the dataset. Its options hold the
request's ``exportConfig`` as given and the ``plan`` the publisher follows (destination folder,
annotation sets, split: :class:`~labelport.export.formats.vertex_config.VertexJob`); its params
are chosen so each set's source is in the rows: ``project_ids`` for project sets,
``model_run_ids``, ``predictions`` and ``model_run_details`` (the split) for model-run sets, and
``metadata_fields`` (the items' ``dataItemResourceLabels``).

Every mistake in the request is raised before a task exists. A request Vertex would refuse
*as an operation* (exporting a tabular dataset) gets a task that fails at once with
FAILED_PRECONDITION, so the SDK raises ``FailedPrecondition`` from the operation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from labelport import services
from labelport.errors import InvalidSpec, NotFound
from labelport.export import destinations
from labelport.export.formats.vertex_config import VertexJob, make_job, parse_export_config
from labelport.export.spec import Scope
from labelport.server.compat.vertex import catalog
from labelport.server.compat.vertex.resources import FAILED_PRECONDITION, OperationState
from labelport.services import export_tasks
from labelport.services.export_tasks import TaskInfo
from labelport.settings import Settings
from labelport.store import Store
from labelport.times import utcnow

FORMAT = "vertex"
EXPORTABLE = ("image", "text", "video")


@dataclass(frozen=True, slots=True)
class Started:
    task: TaskInfo
    item_count: int


def start(
    store: Store,
    settings: Settings,
    org_id: str,
    dataset_id: str,
    export_config: Any,
    *,
    user_id: str | None = None,
    when: datetime | None = None,
) -> Started:
    """Validate an ``exportConfig`` against a dataset and queue its export task."""
    config = parse_export_config(export_config)
    with store.read() as conn:
        view = catalog.get_dataset(conn, org_id, dataset_id)
        set_rows = catalog.annotation_sets(conn, org_id, dataset_id)
    scope = Scope("dataset", dataset_id)
    if view.kind not in EXPORTABLE:
        message = (
            f"dataset {dataset_id} ({view.name}) is a {view.kind} dataset; only image, text "
            "and video datasets can be exported"
        )
        spec = services.export_spec(store, org_id, scope, {}, None, format=FORMAT)
        options = {
            "exportConfig": config.raw,
            "refusal": {"code": FAILED_PRECONDITION, "message": message},
        }
        task = export_tasks.create(
            store, org_id, spec, user_id=user_id, options=options, refused=message
        )
        return Started(task, view.item_count)
    destinations.resolve(config.output_uri_prefix, settings, connect=False)
    job = make_job(
        config,
        [catalog.set_ref(row) for row in set_rows],
        kind=view.kind,
        display_name=view.name,
        when=when or utcnow(),
    )
    projects, runs = catalog.project_and_run_ids(list(job.sets))
    params: dict[str, Any] = {"metadata_fields": True}
    if projects:
        params["project_ids"] = projects
    if runs:
        params["model_run_ids"] = runs
        params["predictions"] = True
        params["model_run_details"] = True  # the run's split, written as ml_use
    spec = services.export_spec(store, org_id, scope, params, None, format=FORMAT)
    options = {"exportConfig": config.raw, "plan": job.to_json()}
    task = export_tasks.create(store, org_id, spec, user_id=user_id, options=options)
    return Started(task, view.item_count)


def wait(store: Store, task: TaskInfo, seconds: float, step: float = 0.05) -> TaskInfo:
    """The task once finished, or as it is after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not task.finished and time.monotonic() < deadline:
        time.sleep(step)
        task = export_tasks.get(store, task.org_id, task.id)
    return task


def operation_task(store: Store, org_id: str, dataset_id: str, operation_id: str) -> TaskInfo:
    """The export task behind an operation of ``dataset_id`` (NotFound for anything else)."""
    try:
        task = export_tasks.get(store, org_id, operation_id)
    except NotFound:
        raise NotFound("operation", operation_id) from None
    if task.format != FORMAT or task.scope.get("id") != dataset_id:
        raise NotFound("operation", operation_id)
    return task


def state_of(task: TaskInfo) -> OperationState:
    options = task.options or {}
    directory = None
    plan = options.get("plan")
    if isinstance(plan, dict):
        try:
            directory = VertexJob.from_json(plan).output_directory
        except (InvalidSpec, KeyError, TypeError):
            directory = None
    refusal = options.get("refusal")
    code = refusal.get("code") if isinstance(refusal, dict) else None
    return OperationState(
        task_id=task.id,
        status=task.status,
        created_at=task.created_at,
        updated_at=task.updated_at or task.created_at,
        output_directory=directory,
        output=task.output,
        error_message=task.error_message,
        error_code=code if isinstance(code, int) else None,
    )
