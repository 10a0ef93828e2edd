"""The four export mutations as labelport export tasks, and tasks as Labelbox ``Task`` values.

Translation (``reference/labelbox-export.md`` §2.2 and §3):

* ``input.params``: each ``includeX`` key (and ``mediaTypeOverride``, ``projectIds``,
  ``modelRunIds``, ``allProjects``, ``allModelRuns``) becomes the SDK's snake_case param; false
  and null values are left out, so a scope only sees the switches that are on. Any other key is
  refused (:class:`~labelport.errors.InvalidSpec`, answered as ``MALFORMED_REQUEST``).
* ``input.filters.searchQuery.query``: the SDK's search grammar becomes labelport's filters:
  ``data_row_last_activity_at`` / ``labeled_at`` (``BETWEEN`` / ``GREATER_THAN_OR_EQUAL`` /
  ``LESS_THAN_OR_EQUAL`` with wall-clock values in the element's IANA ``timezone``, or ISO
  values with an offset) → ``last_activity_at`` / ``label_created_at``; ``data_row_id``,
  ``global_key``, ``batch`` (operator ``is``) → the id lists; ``task_queue_not_exist`` →
  ``workflow_status: ToLabel``; ``task_queue_status`` → its ``status``; ``dataset`` (the
  catalog mutation only, what ``dataset.export`` adds) → a dataset scope.
* Scopes: project, dataset or catalog (the catalog mutation; ``DataRow.export`` is a catalog
  export filtered by data row ids or global keys, which selects the same rows), model run, slice.

Everything is then validated by :func:`labelport.services.export_spec`; an export of a project,
dataset, model run or slice that the organization does not have is ``NotFound`` (answered as
``RESOURCE_NOT_FOUND``), checked first; an unknown batch, project or model run named in the
params or filters is a malformed request (the SDK would not know what to do with a missing
mutation result).

Task values: ``type`` is ``export-data-rows``; ``status`` is labelport's with QUEUED shown as
IN_PROGRESS (the SDK polls only IN_PROGRESS); ``errors`` and ``result`` are null (the streams are
read through ``exportFileFromOffset``); ``metadata`` carries labelport's own status, scope and
failure reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC
from typing import Any, Literal

from labelport import services
from labelport.errors import InvalidSpec, NotFound
from labelport.export import spec
from labelport.export.spec import Scope
from labelport.server.compat.labelbox import catalog
from labelport.services import export_tasks
from labelport.services.export_tasks import TaskInfo
from labelport.store import Store

TASK_TYPE = "export-data-rows"
# Small exports finish inside the mutation, so the SDK's wait_till_done returns without its 2 s
# sleep. The wait stops early once the task is known to be big.
INLINE_SECONDS = 5.0
INLINE_ROWS = 50_000
POLL_SECONDS = 0.02

PARAMS = {
    "mediaTypeOverride": "media_type_override",
    "includeAttachments": "attachments",
    "includeEmbeddings": "embeddings",
    "includeMetadata": "metadata_fields",
    "includeDataRowDetails": "data_row_details",
    "includeProjectDetails": "project_details",
    "includePerformanceDetails": "performance_details",
    "includeLabelDetails": "label_details",
    "includeInterpolatedFrames": "interpolated_frames",
    "includePredictions": "predictions",
    "includeModelRunDetails": "model_run_details",
    "projectIds": "project_ids",
    "modelRunIds": "model_run_ids",
    "allProjects": "all_projects",
    "allModelRuns": "all_model_runs",
}

DATES = {"data_row_last_activity_at": "last_activity_at", "labeled_at": "label_created_at"}
ID_LISTS = {"data_row_id": "data_row_ids", "global_key": "global_keys", "batch": "batch_ids"}
QUERY_TYPES = (*DATES, *ID_LISTS, "task_queue_not_exist", "task_queue_status", "dataset")


def malformed(message: str, field: str | None = None) -> InvalidSpec:
    return InvalidSpec(message, field=field)


# ------------------------------------------------------------------------------------ params


def translate_params(raw: Any) -> dict[str, Any]:
    """``input.params`` (Labelbox's camelCase keys) as the SDK's snake_case ``params`` dict."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise malformed("params must be an object", "params")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        name = PARAMS.get(key)
        if name is None:
            raise malformed(
                f"params.{key}: unknown export param (known: {', '.join(PARAMS)})", f"params.{key}"
            )
        if value is None or value is False:
            continue
        out[name] = value
    return out


# ------------------------------------------------------------------------------------ search


@dataclass(frozen=True, slots=True)
class Search:
    filters: dict[str, Any]
    dataset_id: str | None = None


def translate_search(search_query: Any, *, allow_dataset: bool) -> Search:
    """``filters.searchQuery`` as labelport filters (and a dataset, for ``dataset.export``)."""
    if search_query is None:
        return Search({})
    if not isinstance(search_query, Mapping):
        raise malformed("filters.searchQuery must be an object", "filters.searchQuery")
    if search_query.get("scope") is not None:
        raise malformed(
            "filters.searchQuery.scope: only null is supported", "filters.searchQuery.scope"
        )
    elements = search_query.get("query") or []
    filters: dict[str, Any] = {}
    dataset_id: str | None = None
    seen: set[str] = set()
    for i, element in enumerate(elements):
        where = f"filters.searchQuery.query[{i}]"
        if not isinstance(element, Mapping):
            raise malformed(f"{where}: a search filter must be an object", where)
        kind = element.get("type")
        if kind not in QUERY_TYPES:
            raise malformed(
                f"{where}.type: unknown search filter {kind!r} (known: {', '.join(QUERY_TYPES)})",
                f"{where}.type",
            )
        group = "workflow" if kind in ("task_queue_not_exist", "task_queue_status") else kind
        if group in seen:
            raise malformed(f"{where}: a second {kind} filter (give each filter once)", where)
        seen.add(group)
        if kind in DATES:
            filters[DATES[kind]] = _date_range(element.get("value"), f"{where}.value")
        elif kind == "task_queue_not_exist":
            filters["workflow_status"] = "ToLabel"
        elif kind == "task_queue_status":
            filters["workflow_status"] = element.get("status")
        else:
            ids = _ids(element, where)
            if kind == "dataset":
                if not allow_dataset:
                    raise malformed(f"{where}: a dataset filter is not available here", where)
                if not isinstance(ids, list) or len(ids) != 1:
                    raise malformed(f"{where}.ids: exactly one dataset id", f"{where}.ids")
                dataset_id = ids[0]
                if not isinstance(dataset_id, str) or not dataset_id:
                    raise malformed(f"{where}.ids[0]: expected a dataset id", f"{where}.ids")
            else:
                filters[ID_LISTS[kind]] = ids
    return Search(filters, dataset_id)


def _ids(element: Mapping[str, Any], where: str) -> Any:
    operator = element.get("operator", "is")
    if operator != "is":
        raise malformed(
            f"{where}.operator: only 'is' is supported, not {operator!r}", f"{where}.operator"
        )
    return element.get("ids")


def _date_range(value: Any, where: str) -> list[str | None]:
    """A date filter's value as ``[start, end]`` in UTC (ISO 8601), read in its timezone."""
    if not isinstance(value, Mapping):
        raise malformed(f"{where}: expected {{operator, timezone, value}}", where)
    name = value.get("timezone") or "UTC"
    if not isinstance(name, str):
        raise malformed(f"{where}.timezone: expected an IANA timezone name", f"{where}.timezone")
    zone = spec.zone(name)
    operator = value.get("operator")
    bounds = value.get("value")
    if operator == "BETWEEN":
        if not isinstance(bounds, Mapping):
            raise malformed(f"{where}.value: BETWEEN takes {{min, max}}", f"{where}.value")
        low, high = bounds.get("min"), bounds.get("max")
        if low is None or high is None:
            raise malformed(f"{where}.value: BETWEEN needs both min and max", f"{where}.value")
    elif operator == "GREATER_THAN_OR_EQUAL":
        low, high = bounds, None
    elif operator == "LESS_THAN_OR_EQUAL":
        low, high = None, bounds
    else:
        raise malformed(
            f"{where}.operator: {operator!r} is not one of BETWEEN, GREATER_THAN_OR_EQUAL, "
            "LESS_THAN_OR_EQUAL",
            f"{where}.operator",
        )
    return [
        _instant(low, zone, f"{where}.value", "start"),
        _instant(high, zone, f"{where}.value", "end"),
    ]


def _instant(value: Any, zone: Any, where: str, side: Literal["start", "end"]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise malformed(f"{where}: expected a date string, got {value!r}", where)
    moment = spec.parse_date(value, zone, where, side=side)
    assert moment is not None
    return moment.astimezone(UTC).isoformat()


# ---------------------------------------------------------------------------------- requests


@dataclass(frozen=True, slots=True)
class Request:
    scope: Scope
    params: dict[str, Any]
    filters: dict[str, Any]
    task_name: str | None


def _input(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def project_request(data: Mapping[str, Any]) -> Request:
    f = _input(data.get("filters"))
    search = translate_search(f.get("searchQuery"), allow_dataset=False)
    return Request(
        Scope("project", str(f.get("projectId"))),
        translate_params(data.get("params")),
        search.filters,
        data.get("taskName"),
    )


def catalog_request(data: Mapping[str, Any]) -> Request:
    f = _input(data.get("filters"))
    search = translate_search(f.get("searchQuery"), allow_dataset=True)
    scope = Scope("catalog") if search.dataset_id is None else Scope("dataset", search.dataset_id)
    return Request(
        scope, translate_params(data.get("params")), search.filters, data.get("taskName")
    )


def model_run_request(data: Mapping[str, Any]) -> Request:
    f = _input(data.get("filters"))
    return Request(
        Scope("model_run", str(f.get("modelRunId"))),
        translate_params(data.get("params")),
        {},
        data.get("taskName"),
    )


def slice_request(data: Mapping[str, Any]) -> Request:
    f = _input(data.get("filters"))
    return Request(
        Scope("slice", str(f.get("sliceId"))),
        translate_params(data.get("params")),
        {},
        data.get("taskName"),
    )


_SCOPE_READS: dict[str, Callable[[Any, str, str], Any]] = {
    "project": catalog.project,
    "dataset": catalog.dataset,
    "model_run": catalog.model_run,
    "slice": catalog.saved_query,
}


def start(
    store: Store, principal: services.Principal, request: Request, wake: Callable[[], None]
) -> TaskInfo:
    """Validate and queue the export, then wait briefly for a small one to finish."""
    reader = _SCOPE_READS.get(request.scope.kind)
    if reader is not None:
        with store.read() as conn:
            reader(conn, principal.org_id, str(request.scope.id))
    checked = services.export_spec(
        store, principal.org_id, request.scope, request.params, request.filters
    )
    try:
        task = export_tasks.create(
            store, principal.org_id, checked, user_id=principal.user_id, name=request.task_name
        )
    except NotFound as exc:  # a batch, project or model run named in params or filters
        raise malformed(exc.message) from exc
    if task.reused and task.created_by != principal.email:
        # Tasks are seen only by their creator: another user's identical task is no answer.
        task = export_tasks.create(
            store,
            principal.org_id,
            checked,
            user_id=principal.user_id,
            name=request.task_name,
            reuse_running=False,
        )
    if not task.finished:
        wake()
        task = wait(store, task, INLINE_SECONDS)
    return task


def wait(store: Store, task: TaskInfo, seconds: float) -> TaskInfo:
    """The task once finished, or as it is after ``seconds`` (sooner when it is big)."""
    deadline = time.monotonic() + seconds
    while not task.finished and time.monotonic() < deadline:
        if task.progress_total is not None and task.progress_total > INLINE_ROWS:
            break
        time.sleep(POLL_SECONDS)
        task = export_tasks.get(store, task.org_id, task.id)
    return task


# -------------------------------------------------------------------------------------- tasks


def sdk_status(status: str) -> str:
    return "IN_PROGRESS" if status == "QUEUED" else status


def task_json(task: TaskInfo) -> dict[str, Any]:
    """A task as Labelbox's ``Task`` fields (the stream fields have resolvers of their own)."""
    return {
        "id": task.id,
        "name": task.name,
        "type": TASK_TYPE,
        "status": sdk_status(task.status),
        "completionPercentage": task.percent if task.percent is not None else 0.0,
        "createdAt": task.created_at,
        "updatedAt": task.updated_at or task.created_at,
        "errors": None,
        "result": None,
        "metadata": {
            "status": task.status,
            "scope": task.scope,
            "errorMessage": task.error_message,
        },
        "_task": task,
    }
