"""Exports: the list, one export with its streams and a preview, progress, cancel, archive."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from labelport.errors import Conflict, Gone, InvalidInput, LabelportError, NotFound
from labelport.server import downloads
from labelport.server.web import browse, forms, render
from labelport.server.web.browse import FormProblem
from labelport.server.web.visit import (
    PREVIEW_CHARS,
    PREVIEW_LINES,
    SCOPE_PATHS,
    SCOPE_TITLES,
    FormBody,
    SignInRequired,
    Visit,
    clean_id,
    page,
    posted,
    query_form,
    visit,
)
from labelport.services import export_tasks
from labelport.services.export_tasks import TaskInfo

router = APIRouter(include_in_schema=False)


def _signed(v: Visit, task_id: str, what: str) -> str:
    return v.ctx.signer.sign(quote(downloads.export_path(task_id, what)))


def _summary(v: Visit, task: TaskInfo, manifest: dict[str, Any] | None) -> dict[str, Any]:
    """What the pages (and the progress JSON) show of a task: status, progress, check values."""
    counts = (manifest or {}).get("counts") or {}
    streams = (manifest or {}).get("streams") or {}
    files = sum(len((streams.get(name) or {}).get("files") or []) for name in ("result", "errors"))
    output_files = (task.output or {}).get("exportedFiles")
    if isinstance(output_files, list):
        files += len(output_files)
    complete = task.status == "COMPLETE" and manifest is not None
    percent = None if task.percent is None else round(task.percent, 1)
    if percent is not None and percent.is_integer():
        percent = int(percent)
    return {
        "id": task.id,
        "name": task.name,
        "status": task.status,
        "finished": task.finished,
        "percent": percent,
        "done": task.progress_done,
        "total": task.progress_total,
        "rows": counts.get("data_rows") if complete else None,
        "errors": counts.get("errors") if complete else None,
        "files": files if complete else None,
        "bytes": task.result_bytes,
        "format": task.format,
        "scope": task.scope,
        "created_by": task.created_by,
        "created_at": render.iso(task.created_at),
        "finished_at": render.iso(task.finished_at) if task.finished_at else None,
        "error_message": task.error_message,
        "archived": task.archived,
        "links": {
            "result": _signed(v, task.id, "result"),
            "errors": _signed(v, task.id, "errors"),
            "manifest": _signed(v, task.id, "manifest.json"),
        }
        if complete
        else None,
    }


def summaries(v: Visit, tasks: list[TaskInfo]) -> list[dict[str, Any]]:
    store, org = v.ctx.store, v.principal.org_id
    done = [t.id for t in tasks if t.status == "COMPLETE"]
    found = browse.manifests(store, org, done)
    names = browse.scope_names(
        store, org, [(t.scope.get("kind", ""), t.scope.get("id")) for t in tasks]
    )
    out = []
    for task in tasks:
        item = _summary(v, task, found.get(task.id))
        kind, key = task.scope.get("kind", ""), task.scope.get("id")
        item["scope_title"] = SCOPE_TITLES.get(kind, kind)
        item["scope_name"] = names.get((kind, key)) if isinstance(key, str) else None
        item["scope_path"] = (
            SCOPE_PATHS[kind] + render.path(key) if kind in SCOPE_PATHS and key else None
        )
        if kind == "data_rows":
            n = len(task.scope.get("data_row_ids") or task.scope.get("global_keys") or [])
            item["scope_name"] = f"{n:,} rows"
        out.append(item)
    return out


@router.get("/exports", include_in_schema=False)
@page
def exports(request: Request) -> Response:
    v = visit(request)
    form = query_form(request)
    archived = forms.one(form, "archived", 5) == "1"
    before = None
    text = forms.one(form, "before", 500)
    if text:
        try:
            before = browse.decode_cursor(text)
        except FormProblem as exc:
            raise InvalidInput(f"Page: {exc.message}") from None
    limit = 50
    tasks = export_tasks.list_tasks(
        v.ctx.store, v.principal.org_id, include_archived=archived, limit=limit + 1, before=before
    )
    more = len(tasks) > limit
    tasks = tasks[:limit]
    last = tasks[-1] if more and tasks else None
    return render.page(
        "exports.html",
        v.base(
            exports=summaries(v, tasks),
            archived=archived,
            next_cursor=browse.encode_cursor((last.created_at, last.id)) if last else None,
        ),
    )


@router.get("/exports/status.json", include_in_schema=False)
def export_status(request: Request) -> Response:
    """Progress of the exports named by ``?id=`` (at most 100) for the pages' script."""
    try:
        v = visit(request)
    except (SignInRequired, LabelportError):
        return JSONResponse({"error": "sign in again"}, status_code=401)
    wanted = list(dict.fromkeys(query_form(request).get("id", [])))[:100]
    found = []
    for task_id in wanted:
        try:
            found.append(export_tasks.get(v.ctx.store, v.principal.org_id, clean_id(task_id)))
        except NotFound:
            continue
    items = summaries(v, found)
    return JSONResponse({"exports": items}, headers={"Cache-Control": "no-store"})


@router.get("/exports/{task_id}", include_in_schema=False)
@page
def export(request: Request, task_id: str) -> Response:
    v = visit(request)
    task = export_tasks.get(v.ctx.store, v.principal.org_id, clean_id(task_id))
    summary = summaries(v, [task])[0]
    manifest = None
    preview: list[str] = []
    error_preview: list[str] = []
    files: dict[str, str] = {}
    gone = None
    if task.status == "COMPLETE" and task.location is not None:
        manifest = export_tasks.manifest_of(v.ctx.store, task.org_id, task.id)
        try:
            preview = _preview(v, task, "result")
            error_preview = _preview(v, task, "errors")
            files = downloads.export_links(v.ctx, v.request, task)["files"]
        except Gone as exc:
            gone = exc.message
    return render.page(
        "export.html",
        v.base(
            task=task,
            export=summary,
            manifest=manifest,
            preview=preview,
            error_preview=error_preview,
            files=files,
            gone=gone,
            reused=forms.one(query_form(request), "reused", 5) == "1",
            preview_lines=PREVIEW_LINES,
        ),
    )


def _preview(v: Visit, task: TaskInfo, stream: str) -> list[str]:
    """The first lines of a stream, pretty-printed (read through the line index)."""
    reader = downloads.stream_reader(v.ctx, task, stream)
    lines = min(PREVIEW_LINES, reader.info.lines)
    if lines == 0:
        return []
    end = reader.line_offset(lines)
    raw = b"".join(reader.iter_bytes(0, end))
    out = []
    for line in raw.splitlines()[:lines]:
        try:
            text = render.pretty(orjson.loads(line))
        except orjson.JSONDecodeError:
            text = line.decode("utf-8", "replace")
        if len(text) > PREVIEW_CHARS:
            text = text[:PREVIEW_CHARS] + "\n… (cut here; download the file for the rest)"
        out.append(text)
    return out


@router.post("/exports/{task_id}/cancel", include_in_schema=False)
@page
def cancel_export(
    request: Request, task_id: str, form: dict[str, list[str]] = FormBody
) -> Response:
    v = posted(request, form, "editor")
    task = export_tasks.get(v.ctx.store, v.principal.org_id, clean_id(task_id))
    try:
        v.ctx.pool.cancel(v.principal.org_id, task.id)
    except Conflict as exc:
        raise Conflict(f"{exc.message}") from None
    return RedirectResponse(f"/exports/{render.path(task.id)}", status_code=303)


@router.post("/exports/{task_id}/archive", include_in_schema=False)
@page
def archive_export(
    request: Request, task_id: str, form: dict[str, list[str]] = FormBody
) -> Response:
    v = posted(request, form, "editor")
    task = export_tasks.get(v.ctx.store, v.principal.org_id, clean_id(task_id))
    undo = forms.one(form, "undo", 5) == "1"
    export_tasks.archive(v.ctx.store, v.principal.org_id, task.id, archived=not undo)
    target = "/exports" if not undo else f"/exports/{render.path(task.id)}"
    return RedirectResponse(target, status_code=303)


__all__ = ["router"]
