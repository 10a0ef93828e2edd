"""A Diffgram export as a labelport export task, and the Export object Diffgram serializes.

``POST …/export/to_file`` becomes an export task of the project (format ``diffgram``) whose
filters pick the files of the request's source:

==========  ====================================================================================
source      rows exported (``ann_is_complete``: None = all)
==========  ====================================================================================
job         the batch's rows (``batch_ids``); True: only ``Done`` (``workflow_status``), False:
            all - as Diffgram, where False means all for a job
directory   the dataset's rows in the project (the scope's ``dataset_id``); True: only
            ``Done``, False: only *not* ``Done`` (the scope's ``workflow_statuses``) - as
            Diffgram, where False means incomplete files for a directory
task        that one row (``data_row_ids``), whatever ``ann_is_complete`` says
project     (labelport; also when ``source`` is missing) every row; True: only ``Done``
==========  ====================================================================================

The Labelbox-shaped filters have no dataset filter for a project export (their table is the
seeds'), so a directory narrows the project *scope* instead (``Scope.dataset_id`` and
``Scope.workflow_statuses``): no size limit, and the manifest shows it. A directory with no
matching file is refused as Diffgram refuses it ("File List is Empty").

The task's params are ``data_row_details`` and ``project_details`` (file times, dataset, workflow
status); its format options (:func:`labelport.export.formats.diffgram.header_from_options`) carry
what ``export_info`` says: kind, source, masks, the job / directory / task and the project's
string id as the client named it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from labelport import services
from labelport.errors import InvalidInput, NotFound
from labelport.export.formats.diffgram import KINDS, header_from_options
from labelport.export.spec import Scope
from labelport.server.compat.diffgram import catalog
from labelport.server.compat.diffgram.catalog import ProjectRef
from labelport.services import export_tasks
from labelport.services.export_tasks import TaskInfo
from labelport.store import Store
from labelport.times import format_timestamp

FORMAT = "diffgram"
PARAMS = {"data_row_details": True, "project_details": True}
RETURN_TYPES = ("data", "url")
TO_FILE_KEYS = (
    "kind",
    "source",
    "file_comparison_mode",
    "masks",
    "version_id",
    "directory_id",
    "job_id",
    "task_id",
    "return_type",
    "wait_for_export_generation",
    "ann_is_complete",
)
EMPTY_LIST = (
    "File List is Empty. Have tasks been completed? Potential Fix: To view all files: "
    "Un-select 'Complete Files Only'."
)


def invalid(message: str, field: str) -> InvalidInput:
    return InvalidInput(message, field=field)  # the Diffgram error body names it


@dataclass(frozen=True, slots=True)
class ToFile:
    """A checked ``to_file`` body."""

    kind: str
    source: str
    file_comparison_mode: str
    masks: bool
    directory_id: str | None
    job_id: str | None
    task_id: str | None
    return_type: str
    wait: bool
    ann_is_complete: bool | None


def parse_to_file(body: Any, header_directory: str | None = None) -> ToFile:
    """Check a ``to_file`` body; every mistake is a 400 naming the field."""
    if not isinstance(body, Mapping):
        raise invalid("the body must be a JSON object", "body")
    for key in body:
        if key not in TO_FILE_KEYS:
            raise invalid(f"unknown field {key!r} (known: {', '.join(TO_FILE_KEYS)})", key)
    kind = body.get("kind")
    if kind is None:
        raise invalid("kind is required (Annotations)", "kind")
    if kind not in KINDS:
        raise invalid(f"Invalid kind {kind!r} (one of {', '.join(KINDS)})", "kind")
    if kind == "TF Records":
        raise invalid(
            "TF Records exports are not supported by labelport; use kind Annotations", "kind"
        )
    source = body.get("source") or "project"
    if source not in ("job", "directory", "task", "project"):
        raise invalid(f"Invalid source {source!r} (one of job, directory, task)", "source")
    for name in ("masks", "wait_for_export_generation"):
        if body.get(name) is not None and not isinstance(body[name], bool):
            raise invalid(f"{name} must be true or false, got {body[name]!r}", name)
    complete = body.get("ann_is_complete")
    if complete is not None and not isinstance(complete, bool):
        raise invalid(
            f"ann_is_complete must be true, false or null, got {complete!r}", "ann_is_complete"
        )
    return_type = body.get("return_type") or "data"
    if return_type not in RETURN_TYPES:
        raise invalid(f"return_type must be data or url, got {return_type!r}", "return_type")
    mode = body.get("file_comparison_mode") or "latest"
    if not isinstance(mode, str):
        raise invalid(
            f"file_comparison_mode must be a string, got {mode!r}", "file_comparison_mode"
        )
    ids = {name: _id(body.get(name), name) for name in ("directory_id", "job_id", "task_id")}
    if source == "directory" and ids["directory_id"] is None:
        ids["directory_id"] = header_directory
    needed = {"job": "job_id", "task": "task_id"}.get(source)
    if needed is not None and ids[needed] is None:
        raise invalid(f"{needed} is required for source {source}", needed)
    return ToFile(
        kind=kind,
        source=source,
        file_comparison_mode=mode,
        masks=bool(body.get("masks")),
        directory_id=ids["directory_id"],
        job_id=ids["job_id"],
        task_id=ids["task_id"],
        return_type=return_type,
        wait=bool(body.get("wait_for_export_generation")),
        ann_is_complete=complete,
    )


def _id(value: Any, name: str) -> str | None:
    if value is None or value == "" or value == "None":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise invalid(f"{name} must be an id, got {value!r}", name)
    return str(value)


# A directory export's files by ``ann_is_complete``: all, complete only, or (as in Diffgram, for
# directories only) incomplete only.
DIRECTORY_STATUSES: dict[bool | None, tuple[str, ...]] = {
    None: (),
    True: ("DONE",),
    False: ("TO_LABEL", "IN_REVIEW", "IN_REWORK"),
}


def start(
    store: Store,
    org_id: str,
    ref: ProjectRef,
    psid: str,
    request: ToFile,
    *,
    user_id: str | None = None,
) -> TaskInfo:
    """Validate ``request`` against the catalog and queue its export task."""
    filters: dict[str, Any] = {}
    scope = Scope("project", ref.id)
    options: dict[str, Any] = {
        "kind": request.kind,
        "source": request.source,
        "masks": request.masks,
        "file_comparison_mode": request.file_comparison_mode,
        "ann_is_complete": request.ann_is_complete,
        "project_string_id": psid,
        "project_name": ref.name,
    }
    with store.read() as conn:
        if request.source == "job":
            job = catalog.batch(conn, org_id, str(request.job_id))
            if job.project_id != ref.id:
                raise invalid(f"job {job.id} is not a job of project {psid}", "job_id")
            filters["batch_ids"] = [job.id]
            if request.ann_is_complete is True:
                filters["workflow_status"] = "Done"
            options["job"] = {"id": job.job_id, "name": job.name}  # Diffgram's id, if kept
        elif request.source == "directory":
            ds = (
                catalog.dataset(conn, org_id, request.directory_id)
                if request.directory_id is not None
                else catalog.default_dataset(conn, org_id, ref.id)
            )
            if ds is None:
                raise invalid(f"project {psid} has no directory (no data rows)", "directory_id")
            if not catalog.directory_has_rows(conn, ref.id, ds.id, request.ann_is_complete):
                raise invalid(EMPTY_LIST, "directory_id")
            scope = Scope(
                "project",
                ref.id,
                dataset_id=ds.id,
                workflow_statuses=DIRECTORY_STATUSES[request.ann_is_complete],
            )
            options["directory"] = {"id": ds.id, "nickname": ds.name}
        elif request.source == "task":
            row = catalog.project_row(conn, ref, str(request.task_id))
            filters["data_row_ids"] = [row.id]
            options["task"] = {"id": row.id, "file_id": row.file_id(ref)}
        elif request.ann_is_complete is True:
            filters["workflow_status"] = "Done"
    checked = header_from_options(options)
    spec = services.export_spec(store, org_id, scope, PARAMS, filters, format=FORMAT)
    return export_tasks.create(store, org_id, spec, user_id=user_id, options=checked)


# ------------------------------------------------------------------------------ Export objects


def status_of(task: TaskInfo) -> str:
    """Diffgram's export status: init, complete or failed."""
    if task.status == "COMPLETE":
        return "complete"
    if task.status in ("FAILED", "CANCELED"):
        return "failed"
    return "init"


def status_text(task: TaskInfo) -> str:
    output = task.output or {}
    if task.status == "COMPLETE":
        failed = int(output.get("failed_file_count") or 0)
        if not output.get("file_list_length"):
            return EMPTY_LIST
        if failed:
            return (
                f"Complete; {failed} of {output.get('file_list_length')} files could not be "
                "exported (see export_info.failed_files)"
            )
        return "Complete"
    if task.status == "FAILED":
        return task.error_message or "Failed"
    return {"QUEUED": "Queued", "IN_PROGRESS": "In progress", "CANCELED": "Canceled"}[task.status]


def serialize(task: TaskInfo) -> dict[str, Any]:
    """The Export object as Diffgram serializes it (plus what labelport knows besides)."""
    options = task.options or {}
    output = task.output or {}
    complete = task.status == "COMPLETE"
    return {
        "id": task.id,
        "kind": options.get("kind", "Annotations"),
        "masks": options.get("masks", False),
        "source": options.get("source"),
        "status": status_of(task),
        "status_text": status_text(task),
        "file_comparison_mode": options.get("file_comparison_mode", "latest"),
        "percent_complete": float(task.percent or 0.0),
        "created_time": format_timestamp(task.created_at),
        "directory": options.get("directory"),
        "job": options.get("job"),
        "task": options.get("task"),
        "file_list_length": output.get("file_list_length") if complete else task.progress_total,
        "ann_is_complete": options.get("ann_is_complete"),
        "archived": task.archived,
        "labelport": {
            "status": task.status,
            "files_exported": output.get("files_exported"),
            "failed_file_count": output.get("failed_file_count"),
            "bytes": output.get("bytes"),
            "sha256": output.get("sha256"),
        },
    }


def get(store: Store, org_id: str, ref: ProjectRef, export_id: Any) -> TaskInfo:
    """An export of this project made through the Diffgram surface; 404 otherwise."""
    key = str(export_id) if isinstance(export_id, str | int) else None
    if not key:
        raise invalid("id is required (the export's id)", "id")
    try:
        task = export_tasks.get(store, org_id, key)
    except NotFound:
        raise NotFound("export", key) from None
    if (
        task.format != FORMAT
        or task.scope.get("kind") != "project"
        or task.scope.get("id") != ref.id
    ):
        raise NotFound("export", key)
    return task


def listing(store: Store, org_id: str, ref: ProjectRef, limit: int = 1000) -> list[TaskInfo]:
    """The project's non-archived Diffgram exports, newest first."""
    out: list[TaskInfo] = []
    before = None
    while len(out) < limit:
        page = export_tasks.list_tasks(
            store, org_id, scope_kind="project", scope_id=ref.id, limit=200, before=before
        )
        out.extend(t for t in page if t.format == FORMAT)
        if len(page) < 200:
            break
        before = (page[-1].created_at, page[-1].id)
    return out[:limit]
