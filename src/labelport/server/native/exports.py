"""Native REST: export tasks — create, list, show, cancel, archive, read their streams, link.

Every route is scoped to the caller's organization (another organization's task answers 404).
Viewers read and download; editors also create, cancel and archive. Unknown query parameters and
unknown body keys are errors, and a mistake in an export request is a 400 that names the field
(``body:params.foo``, ``body:filters.workflow_status``, ``body:scope``...) before any work starts.

An identical request (same scope, params, filters and format) while such an export is queued or
running returns that task: 200 with ``"reused": true`` instead of 201. Vertex and Diffgram exports
are made through their own surfaces (``/vertex``, ``/diffgram``); here the format is ``ndjson``.

Streams are read from a byte (``?offset=``) or a line (``?line=``, a seek through the line index),
optionally ``&limit=`` lines, or with an HTTP ``Range``; see :mod:`labelport.server.downloads` for
the range rules, shared with the signed download links.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from labelport import services
from labelport.errors import InvalidSpec, NotFound
from labelport.export.spec import SCOPES, Scope
from labelport.export.stream_reader import StreamReader
from labelport.server import downloads
from labelport.server.auth import Ctx, Editor, Viewer
from labelport.server.context import Context
from labelport.server.native.rest import StrictQuery, invalid, with_field
from labelport.services import export_tasks
from labelport.services.export_tasks import TaskInfo
from labelport.times import parse_timestamp

router = APIRouter(prefix="/exports", tags=["exports"], dependencies=[StrictQuery])

STATUSES = ("QUEUED", "IN_PROGRESS", "COMPLETE", "FAILED", "CANCELED")
OTHER_SURFACES = {
    "vertex": "the Vertex AI surface (/vertex/v1/...: datasets.export)",
    "diffgram": "the Diffgram surface (/diffgram/api/...: export)",
}
TaskId = Annotated[str, Path(description="The export task's id.")]


class ScopeIn(BaseModel):
    """Where the rows come from: ``project``, ``dataset``, ``slice``, ``model_run`` (with
    ``id``), ``data_rows`` (with ``data_row_ids`` or ``global_keys``) or ``catalog``."""

    model_config = ConfigDict(extra="forbid")

    kind: str = Field(description=f"One of {', '.join(SCOPES)}.")
    id: str | None = None
    data_row_ids: list[str] | None = None
    global_keys: list[str] | None = None


class ExportIn(BaseModel):
    """An export request. ``params`` and ``filters`` are shaped like the Labelbox SDK's."""

    model_config = ConfigDict(extra="forbid")

    scope: ScopeIn
    params: dict[str, Any] | None = Field(None, examples=[{"label_details": True}])
    filters: dict[str, Any] | None = Field(None, examples=[{"workflow_status": "Done"}])
    format: str = Field("ndjson", description="`ndjson` (Labelbox export-v2 rows).")
    name: str | None = Field(None, max_length=500)


# ----------------------------------------------------------------------------------- create


@router.post(
    "",
    status_code=201,
    summary="Start an export (or get the identical one already running)",
    responses={200: {"description": "An identical export is queued or running: that task."}},
)
def create_export(
    body: ExportIn, principal: Editor, ctx: Ctx, response: Response
) -> dict[str, Any]:
    _no_nul(body.model_dump(), "body")
    if body.format in OTHER_SURFACES:
        raise with_field(
            InvalidSpec(
                f"format {body.format!r}: {body.format} exports are made through "
                f"{OTHER_SURFACES[body.format]}; this endpoint writes ndjson"
            ),
            "body:format",
        )
    if body.format != "ndjson":
        raise with_field(
            InvalidSpec(f"format {body.format!r}: unknown export format (this endpoint: ndjson)"),
            "body:format",
        )
    scope = Scope(
        kind=body.scope.kind,
        id=body.scope.id,
        data_row_ids=tuple(body.scope.data_row_ids or ()),
        global_keys=tuple(body.scope.global_keys or ()),
    )
    try:
        spec = services.export_spec(ctx.store, principal.org_id, scope, body.params, body.filters)
        task = export_tasks.create(
            ctx.store, principal.org_id, spec, user_id=principal.user_id, name=body.name
        )
    except InvalidSpec as exc:
        raise with_field(exc, spec_field(exc.message)) from None
    reused = task.reused
    ctx.pool.wake()
    response.status_code = 200 if reused else 201
    response.headers["Location"] = f"/api/v1/exports/{task.id}"
    return {**task_json(task), "reused": reused}


_FIELD = re.compile(r"^((?:params|filters)(?:\.[A-Za-z_][A-Za-z0-9_]*)?(?:\[\d+\])?):")


def spec_field(message: str) -> str:
    """The request field an :class:`InvalidSpec` message is about."""
    match = _FIELD.match(message)
    if match:
        return f"body:{match.group(1)}"
    if message.startswith(("params", "filters")):
        return "body:" + message.split(maxsplit=1)[0].rstrip(":")
    if "format" in message:
        return "body:format"
    return "body:scope"


def _no_nul(value: Any, where: str) -> None:
    """Refuse NUL characters and lone surrogates anywhere in a request (no database stores
    them; they would otherwise fail deep down as a server error)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise invalid(f"{where}: a NUL character is not allowed", where)
        try:
            value.encode()
        except UnicodeEncodeError:
            raise invalid(f"{where}: not valid Unicode (a lone surrogate)", where) from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _no_nul(str(key), where)
            _no_nul(item, f"{where}.{key}" if where != "body" else f"body:{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _no_nul(item, f"{where}[{i}]")


# ------------------------------------------------------------------------------------- read


@router.get("", summary="List exports, newest first")
def list_exports(
    principal: Viewer,
    ctx: Ctx,
    scope_kind: Annotated[str | None, Query(description="project, dataset, ...")] = None,
    scope_id: str | None = None,
    status: Annotated[str | None, Query(description=", ".join(STATUSES))] = None,
    include_archived: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the page before")] = None,
) -> dict[str, Any]:
    if scope_kind is not None and scope_kind not in SCOPES:
        raise invalid(
            f"scope_kind {scope_kind!r} is not one of {', '.join(SCOPES)}", "query:scope_kind"
        )
    if status is not None and status not in STATUSES:
        raise invalid(f"status {status!r} is not one of {', '.join(STATUSES)}", "query:status")
    if scope_id is not None:
        _no_nul(scope_id, "query:scope_id")
    tasks = export_tasks.list_tasks(
        ctx.store,
        principal.org_id,
        scope_kind=scope_kind,
        scope_id=scope_id,
        include_archived=include_archived,
        limit=limit + 1,
        status=status,
        before=None if cursor is None else _decode_cursor(cursor),
    )
    more = len(tasks) > limit
    tasks = tasks[:limit]
    return {
        "exports": [task_json(task) for task in tasks],
        "next_cursor": _encode_cursor(tasks[-1]) if more else None,
    }


def _encode_cursor(task: TaskInfo) -> str:
    raw = orjson.dumps([task.to_json()["created_at"], task.id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, task_id = orjson.loads(raw)
        if not isinstance(task_id, str) or "\x00" in task_id:
            raise ValueError(task_id)
        return parse_timestamp(created), task_id
    except (binascii.Error, orjson.JSONDecodeError, ValueError, TypeError):
        raise invalid(
            "cursor: not a cursor this server gave out (use next_cursor as it is)", "query:cursor"
        ) from None


@router.get("/{task_id}", summary="An export: status, progress, totals, check values, links")
def get_export(task_id: TaskId, principal: Viewer, ctx: Ctx, request: Request) -> dict[str, Any]:
    task = _get(ctx, principal.org_id, task_id)
    return task_json(task, ctx=ctx, request=request)


@router.get("/{task_id}/manifest", summary="The manifest (check values) of a COMPLETE export")
def get_manifest(task_id: TaskId, principal: Viewer, ctx: Ctx) -> dict[str, Any]:
    task = _get(ctx, principal.org_id, task_id)
    downloads.task_location(task)  # 409 unless COMPLETE
    return export_tasks.manifest_of(ctx.store, principal.org_id, task.id)


@router.get("/{task_id}/links", summary="Signed download links to a COMPLETE export's files")
def get_links(
    task_id: TaskId,
    principal: Viewer,
    ctx: Ctx,
    request: Request,
    ttl: Annotated[
        int | None,
        Query(ge=1, le=downloads.MAX_LINK_TTL, description="Seconds (default LABELPORT_LINK_TTL)"),
    ] = None,
) -> dict[str, Any]:
    task = _get(ctx, principal.org_id, task_id)
    return downloads.export_links(ctx, request, task, ttl)


@router.head("/{task_id}/streams/{stream}", include_in_schema=False)
@router.get(
    "/{task_id}/streams/{stream}",
    summary="Read an export's RESULT or ERRORS stream from a line or byte (or a Range)",
    response_class=Response,
    responses={
        200: {"content": {downloads.NDJSON: {}}, "description": "NDJSON lines"},
        206: {"description": "The byte range asked for"},
        409: {"description": "The export is not COMPLETE"},
        416: {"description": "The range cannot be satisfied"},
    },
)
def read_stream(
    task_id: TaskId,
    stream: str,
    principal: Viewer,
    ctx: Ctx,
    request: Request,
    offset: Annotated[int | None, Query(ge=0, description="Start at this byte")] = None,
    line: Annotated[int | None, Query(ge=0, description="Start at this line (0-based)")] = None,
    limit: Annotated[int | None, Query(ge=0, description="At most this many lines")] = None,
) -> Response:
    task = _get(ctx, principal.org_id, task_id)
    reader = downloads.stream_reader(ctx, task, stream)
    source = downloads.stream_source(reader)
    positioned = offset is not None or line is not None or limit is not None
    if positioned and request.headers.get("range") is not None:
        raise invalid("give a Range header or offset/line/limit, not both", "header:range")
    if not positioned:
        return downloads.send(request, source)
    start, end, next_line = _window(reader, offset, line, limit)
    headers = {"X-Next-Offset": str(end), "X-Next-Line": str(next_line)}
    return downloads.send(request, source, start=start, end=end, headers=headers, ranges=False)


def _window(
    reader: StreamReader, offset: int | None, line: int | None, limit: int | None
) -> tuple[int, int, int]:
    """Bytes ``[start, end)`` to send and the number of the line after them.

    From a byte offset inside a line, that (partial) line counts as the first of ``limit``.
    Each position is a seek in the line index; a line number for a byte is a bisection over it.
    """
    info = reader.info
    if offset is not None and line is not None:
        raise invalid("give offset or line, not both", "query:line")
    if line is not None:
        if line > info.lines:
            raise invalid(
                f"line {line} is out of range: the {info.name} stream has {info.lines} lines",
                "query:line",
            )
        start, first = reader.line_offset(line), line
    elif offset is not None:
        if offset > info.bytes:
            raise invalid(
                f"offset {offset} is out of range: the {info.name} stream has {info.bytes} bytes",
                "query:offset",
            )
        start, first = offset, -1
    else:
        start, first = 0, 0
    if limit is None:
        return start, info.bytes, info.lines
    if first < 0:
        first = reader.line_at(start)
    stop = min(first + limit, info.lines)
    return start, max(start, reader.line_offset(stop)), stop


# ------------------------------------------------------------------------------------ change


@router.post("/{task_id}/cancel", summary="Cancel a queued or running export (409 if finished)")
def cancel_export(task_id: TaskId, principal: Editor, ctx: Ctx) -> dict[str, Any]:
    _get(ctx, principal.org_id, task_id)
    return task_json(ctx.pool.cancel(principal.org_id, task_id))


@router.post("/{task_id}/archive", summary="Archive a finished export (or bring it back)")
def archive_export(
    task_id: TaskId,
    principal: Editor,
    ctx: Ctx,
    undo: Annotated[bool, Query(description="Unarchive")] = False,
) -> dict[str, Any]:
    _get(ctx, principal.org_id, task_id)
    return task_json(export_tasks.archive(ctx.store, principal.org_id, task_id, archived=not undo))


# ----------------------------------------------------------------------------------- helpers


def _get(ctx: Context, org_id: str, task_id: str) -> TaskInfo:
    if "\x00" in task_id:
        raise NotFound("export task", repr(task_id))
    return export_tasks.get(ctx.store, org_id, task_id)


def task_json(
    task: TaskInfo, *, ctx: Context | None = None, request: Request | None = None
) -> dict[str, Any]:
    """A task as the API shows it. With ``ctx`` and ``request``, a COMPLETE one also carries its
    check values (the manifest's counts and stream hashes) and signed links to its files."""
    doc = task.to_json()
    doc.pop("location", None)  # a path on the server: none of the caller's business
    if ctx is None or request is None:
        return doc
    doc["counts"] = doc["streams"] = doc["links"] = None
    if task.status == "COMPLETE" and task.location is not None:
        manifest = export_tasks.manifest_of(ctx.store, task.org_id, task.id)
        doc["rows_planned"] = manifest.get("rows_planned")
        doc["snapshot_at"] = manifest.get("snapshot_at")
        doc["counts"] = manifest.get("counts")
        doc["streams"] = {
            name: {key: info.get(key) for key in ("bytes", "lines", "sha256")}
            for name, info in (manifest.get("streams") or {}).items()
        }
        doc["links"] = downloads.export_links(ctx, request, task)
    return doc


__all__ = ["ExportIn", "ScopeIn", "router", "task_json"]
