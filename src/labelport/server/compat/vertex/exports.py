"""Vertex ``datasets.export`` operations: the export task behind one, and its Operation state.

The task is started by :func:`labelport.services.vertex_datasets.start_export` (shared with the
web UI's Vertex-style export).

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

from labelport.errors import InvalidSpec, NotFound
from labelport.export.formats.vertex_config import VertexJob
from labelport.server.compat.vertex.resources import OperationState
from labelport.services import export_tasks
from labelport.services.export_tasks import TaskInfo
from labelport.services.vertex_datasets import FORMAT
from labelport.store import Store


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
