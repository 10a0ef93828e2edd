"""The Diffgram REST endpoints the Diffgram SDK 0.15.0 calls for its export flow.

Paths are Diffgram's, under the ``/diffgram`` prefix (the SDK gets ``host=<url>/diffgram``).
Authentication is HTTP Basic with an API key's id and secret, as the SDK sends it.

* ``Project(...)`` itself: ``GET /api/project/{psid}/user/legacy/working_dir/view`` (the default
  directory), ``POST /api/project/{psid}/user/{user}/file/list`` and
  ``POST /api/v1/project/{psid}/file/exists`` (the directory's file ids), ``GET
  /api/v1/project/{psid}/labels/view/name_to_file_id`` and ``GET …/labels-schema``.
* ``project.job.get_by_id``: ``POST /api/v1/job/{id}/builder/info``.

``{psid}`` and job ids are Diffgram's ids of an imported project (aliases of the caller's
organization, :mod:`.catalog`) or labelport's own ids.
* Exports: ``POST /api/walrus/project/{psid}/export/to_file``, ``GET …/export/working_dir/list``,
  ``GET …/export/{id}/status``, ``POST …/export/link``, ``POST …/export/update``.

A synchronous ``to_file`` (``wait_for_export_generation``) does not run the export in the
request, as Diffgram does: it queues the task like any other and waits for the task pool to
finish it, then answers with the file (``return_type`` data) or a signed download link of
labelport (url; valid ``LABELPORT_LINK_TTL`` seconds, Diffgram's last 300).
"""

from __future__ import annotations

import asyncio
import time
from contextlib import closing
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Body, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import AfterValidator

from labelport.errors import Gone, InvalidInput
from labelport.export.folders import Folder
from labelport.export.formats.diffgram import FILE_NAME
from labelport.server.auth import BasicEditor, BasicViewer, Ctx
from labelport.server.compat.diffgram import catalog, exports
from labelport.server.compat.diffgram.catalog import ProjectRef
from labelport.server.compat.diffgram.exports import invalid
from labelport.server.context import Context
from labelport.server.downloads import export_path, file_source, send
from labelport.services import Principal, export_tasks
from labelport.services.export_tasks import TaskInfo
from labelport.store.types import unstorable
from labelport.times import format_timestamp

router = APIRouter(prefix="/diffgram", tags=["diffgram"])

WAIT_LIMIT = 900.0  # seconds a synchronous to_file waits for its export
NOT_READY = "Export not ready yet."


def _storable(body: dict[str, Any] | None) -> dict[str, Any] | None:
    where = unstorable(body)
    if where is not None:
        raise invalid(f"{where}: contains a NUL character or an unpaired surrogate", where)
    return body


JsonBody = Annotated[dict[str, Any] | None, Body(), AfterValidator(_storable)]


def _project(ctx: Context, principal: Principal, psid: str) -> ProjectRef:
    with ctx.store.read() as conn:
        return catalog.project(conn, principal.org_id, psid)


def ok(**values: Any) -> dict[str, Any]:
    return {"log": {"success": True, "error": {}, "info": {}}, **values}


# ---------------------------------------------------------------------------------- Project(...)


def _working_dir(ds: catalog.DatasetRef | None) -> dict[str, Any]:
    if ds is None:
        return {"directory_id": None, "nickname": None, "created_time": None}
    return {
        "directory_id": ds.id,
        "nickname": ds.name,
        "created_time": format_timestamp(ds.created_at),
    }


@router.get("/api/project/{psid}/user/legacy/working_dir/view", summary="Default directory")
def working_dir_view(
    ctx: Ctx, principal: BasicViewer, psid: str, name: str | None = None
) -> dict[str, Any]:
    """The project's default directory (its oldest dataset with rows), or the one ``name``d."""
    ref = _project(ctx, principal, psid)
    with ctx.store.read() as conn:
        ds = catalog.default_dataset(conn, principal.org_id, ref.id, name or None)
    return ok(working_dir=_working_dir(ds))


@router.post("/api/project/{psid}/user/{user}/file/list", summary="A directory's files")
def file_list(
    ctx: Ctx, principal: BasicViewer, psid: str, user: str, body: JsonBody = None
) -> dict[str, Any]:
    """Only ``file_view_mode`` ``ids_only`` (what the SDK's directory iterator asks for)."""
    ref = _project(ctx, principal, psid)
    meta = (body or {}).get("metadata") or {}
    if not isinstance(meta, dict):
        raise invalid("metadata must be an object", "metadata")
    mode = meta.get("file_view_mode") or "ids_only"
    if mode != "ids_only":
        raise invalid(f"file_view_mode {mode!r} is not supported here (only ids_only)", "metadata")
    page, limit = meta.get("page") or 1, meta.get("limit") or 100
    if not (isinstance(page, int) and page >= 1 and isinstance(limit, int) and 1 <= limit <= 5000):
        raise invalid("page must be >= 1 and limit between 1 and 5000", "metadata")
    directory = meta.get("directory_id")
    with ctx.store.read() as conn:
        dataset_id = None
        if directory not in (None, "", "None"):
            dataset_id = catalog.dataset(conn, principal.org_id, str(directory)).id
        ids, total = catalog.file_ids(conn, ref, dataset_id, page=page, limit=limit)
    pages = max(1, -(-total // limit))
    return ok(
        file_list=ids,
        metadata={
            "page": page,
            "limit": limit,
            "file_count": total,
            "total_pages": pages,
            "next_page": page + 1 if page < pages else None,
        },
    )


@router.post("/api/v1/project/{psid}/file/exists", summary="Are these file ids in the project?")
def file_exists(
    ctx: Ctx, principal: BasicViewer, psid: str, body: JsonBody = None
) -> dict[str, Any]:
    ref = _project(ctx, principal, psid)
    wanted = (body or {}).get("file_id_list")
    if not isinstance(wanted, list):
        raise invalid("file_id_list must be a list of file ids", "file_id_list")
    missing = {str(i) for i in wanted}
    with ctx.store.read() as conn:
        missing -= catalog.imported_file_ids(conn, ref, missing)  # by their aliases
        if missing:  # the derived ids of other rows: every row is looked at
            with closing(catalog.iter_file_ids(conn, ref)) as file_ids:
                for file_id in file_ids:
                    missing.discard(str(file_id))
                    if not missing:
                        break
    return ok(result={"exists": not missing})


@router.get("/api/v1/project/{psid}/labels/view/name_to_file_id", summary="Label ids by name")
def name_to_file_id(
    ctx: Ctx, principal: BasicViewer, psid: str, schema_id: str | None = None
) -> dict[str, Any]:
    ref = _project(ctx, principal, psid)
    with ctx.store.read() as conn:
        return ok(name_to_file_id=catalog.label_file_ids(conn, ref))


@router.get("/api/v1/project/{psid}/labels-schema", summary="Label schemas (the ontology)")
def labels_schema(ctx: Ctx, principal: BasicViewer, psid: str) -> list[dict[str, Any]]:
    ref = _project(ctx, principal, psid)
    if ref.ontology_id is None:
        return []
    return [{"id": ref.ontology_id, "name": f"{ref.name} schema", "archived": False}]


# ---------------------------------------------------------------------------------- jobs


@router.post("/api/v1/job/{job_id}/builder/info", summary="A job (a batch of a project)")
def job_info(
    ctx: Ctx, principal: BasicViewer, job_id: str, body: JsonBody = None
) -> dict[str, Any]:
    """A job by its Diffgram id (an imported job) or its batch id; it answers with the
    Diffgram id when it has one, so that the SDK's later calls send that id again."""
    with ctx.store.read() as conn:
        job = catalog.batch(conn, principal.org_id, job_id)
    percent = 100.0 * job.complete / job.files if job.files else 0.0
    return ok(
        job={
            "id": job.job_id,
            "name": job.name,
            "status": "active",
            "project_id": job.project_id,
            "created_time": format_timestamp(job.created_at),
            "file_count": job.files,
            "stat_count_tasks": job.files,
            "stat_count_complete": job.complete,
            "percent_completed": percent,
            "tasks_remaining": job.files - job.complete,
            "type": "Normal",
            "share": "project",
            "label_mode": "open",
            "passes_per_file": 1,
        }
    )


# ---------------------------------------------------------------------------------- exports


def _file(ctx: Context, task: TaskInfo) -> Folder:
    folder = ctx.artifacts.folder(str(task.location))
    if folder.missing([FILE_NAME]):
        raise Gone(f"the files of export {task.id} are no longer on this server")
    return folder


def _deliver(ctx: Context, request: Request, task: TaskInfo, return_type: str) -> Response:
    folder = _file(ctx, task)
    if return_type == "url":
        link = quote(export_path(task.id, f"files/{FILE_NAME}"))
        return JSONResponse(ctx.public_url(request) + ctx.signer.sign(link))
    if folder.local is not None:
        return FileResponse(folder.local / FILE_NAME, media_type="application/json")
    # in an object store: streamed from there
    return send(request, file_source(folder, FILE_NAME, "application/json", FILE_NAME))


def _not_ready(task: TaskInfo, message: str = NOT_READY) -> JSONResponse:
    body = {
        "error": {"export": message},
        "export": exports.serialize(task),
        "info": {},
        "success": False,
    }
    return JSONResponse(body, status_code=400)


@router.post("/api/walrus/project/{psid}/export/to_file", summary="Generate an export")
async def to_file(
    request: Request,
    ctx: Ctx,
    principal: BasicEditor,
    psid: str,
    body: JsonBody = None,
    directory_id: Annotated[str | None, Header(convert_underscores=False)] = None,
) -> Response:
    checked = exports.parse_to_file(body if body is not None else {}, directory_id)
    ref = await run_in_threadpool(_project, ctx, principal, psid)
    task = await run_in_threadpool(
        exports.start, ctx.store, principal.org_id, ref, psid, checked, user_id=principal.user_id
    )
    ctx.pool.wake()
    if not checked.wait:
        return JSONResponse({"success": True, "export": exports.serialize(task)})
    deadline = time.monotonic() + WAIT_LIMIT
    delay = 0.05
    while not task.finished and time.monotonic() < deadline:
        await asyncio.sleep(delay)
        delay = min(delay * 1.5, 1.0)
        task = await run_in_threadpool(export_tasks.get, ctx.store, principal.org_id, task.id)
    if task.status != "COMPLETE":
        return _not_ready(task, exports.status_text(task) if task.finished else NOT_READY)
    return await run_in_threadpool(_deliver, ctx, request, task, checked.return_type)


@router.get("/api/walrus/project/{psid}/export/working_dir/list", summary="The project's exports")
def export_list(ctx: Ctx, principal: BasicViewer, psid: str) -> dict[str, Any]:
    """Every non-archived export of the project made through this surface, newest first."""
    ref = _project(ctx, principal, psid)
    tasks = exports.listing(ctx.store, principal.org_id, ref)
    return {"success": True, "export_list": [exports.serialize(t) for t in tasks]}


@router.get("/api/walrus/project/{psid}/export/{export_id}/status", summary="An export's status")
def export_status(ctx: Ctx, principal: BasicViewer, psid: str, export_id: str) -> dict[str, Any]:
    ref = _project(ctx, principal, psid)
    task = exports.get(ctx.store, principal.org_id, ref, export_id)
    return {"success": True, "export": exports.serialize(task)}


@router.post("/api/walrus/project/{psid}/export/link", summary="Download a finished export")
def export_link(
    request: Request, ctx: Ctx, principal: BasicViewer, psid: str, body: JsonBody = None
) -> Response:
    """``return_type`` url: a signed link to the file; data: the file itself. YAML is refused
    (Diffgram never writes it and answers ``null``)."""
    given = body or {}
    ref = _project(ctx, principal, psid)
    task = exports.get(ctx.store, principal.org_id, ref, given.get("id"))
    return_type = given.get("return_type") or "url"
    if return_type not in exports.RETURN_TYPES:
        raise invalid(f"return_type must be url or data, got {return_type!r}", "return_type")
    fmt = given.get("format") or "JSON"
    if fmt == "YAML":
        raise invalid(
            "YAML exports are not written (Diffgram writes none either); use JSON", "format"
        )
    if fmt != "JSON":
        raise invalid(f"format must be JSON, got {fmt!r}", "format")
    if task.status != "COMPLETE":
        return _not_ready(task)
    return _deliver(ctx, request, task, return_type)


@router.post("/api/walrus/project/{psid}/export/update", summary="Archive an export")
def export_update(
    ctx: Ctx, principal: BasicEditor, psid: str, body: JsonBody = None
) -> dict[str, Any]:
    given = body or {}
    ref = _project(ctx, principal, psid)
    task = exports.get(ctx.store, principal.org_id, ref, given.get("id"))
    mode = given.get("mode")
    if mode != "ARCHIVE":
        raise InvalidInput(f"mode must be ARCHIVE, got {mode!r}")
    task = export_tasks.archive(ctx.store, principal.org_id, task.id)
    return ok(success=True, export=exports.serialize(task))
