"""Native REST: imports by upload.

``POST /api/v1/imports?source=…&<options>`` takes the file as the raw request body (any content
type; ``Content-Length`` optional), streams it to ``<home>/uploads`` (never whole in memory, at
most ``LABELPORT_MAX_UPLOAD_BYTES``) and answers 202 with the queued import task. The options are
those of ``labelport import <source>``, snake_case: ``dataset``, ``annotation_set``, ``objective``,
``media_type``, ``format``, ``strict``; they are checked before a byte of the body is read. Poll
``GET /api/v1/imports/{id}`` for progress, the summary (with its warnings), or the line-numbered
errors.
"""

from __future__ import annotations

import contextlib
import secrets
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Query, Request, Response
from starlette.requests import ClientDisconnect

from labelport.errors import InvalidInput
from labelport.server.auth import Ctx, Editor, Viewer
from labelport.server.native.rest import (
    InvalidParameter,
    PageArgs,
    Strict,
    TooLarge,
    check_id,
    encode_cursor,
    json_response,
)
from labelport.services import import_tasks

router = APIRouter(tags=["imports"])

Source = Literal["labelbox", "vertex", "diffgram", "rows"]
WRITE_CHUNK = 1024 * 1024
DEFAULT_NAMES = {
    "labelbox": "upload.ndjson",
    "vertex": "upload.jsonl",
    "diffgram": "upload.json",
    "rows": "upload.jsonl",
}

UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The file to import, as the raw request body.",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


def _option(description: str) -> Any:
    return Query(min_length=1, max_length=import_tasks.MAX_NAME, description=description)


@router.post(
    "/imports",
    status_code=202,
    summary="Upload a file and import it in the background",
    openapi_extra=UPLOAD_BODY,
    response_description="The queued import task.",
)
async def upload(
    request: Request,
    ctx: Ctx,
    principal: Editor,
    _: Strict,
    source: Annotated[Source, Query(description="The file's format.")],
    dataset: Annotated[
        str | None, _option("Dataset to import into (required for vertex and rows).")
    ] = None,
    annotation_set: Annotated[
        str | None, _option("vertex: display name of the annotation set.")
    ] = None,
    objective: Annotated[
        str | None, _option("vertex: the objective (default: detected from the file).")
    ] = None,
    media_type: Annotated[
        str | None, _option("labelbox, rows: media type of every row (default: inferred).")
    ] = None,
    format: Annotated[
        Literal["jsonl", "csv"] | None,
        Query(description="rows: file format (default: from file_name, else JSONL)."),
    ] = None,
    strict: Annotated[
        bool,
        Query(
            description="every warning (an unknown field or value, "
            "kept verbatim) is an error instead."
        ),
    ] = False,
    file_name: Annotated[
        str | None,
        Query(min_length=1, max_length=1000, description="The file's name, for messages."),
    ] = None,
) -> Response:
    given: dict[str, Any] = {
        "dataset": dataset,
        "annotation_set": annotation_set,
        "objective": objective,
        "media_type": media_type,
        "format": format,
        "strict": True if strict else None,
    }
    if (
        source == "rows"
        and format is None
        and request.headers.get("content-type", "").split(";")[0].strip() == "text/csv"
    ):
        given["format"] = "csv"
    options = import_tasks.check_options(source, given, prefix="query:")
    limit = ctx.settings.max_upload_bytes
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise InvalidParameter("header:content-length", "not a number of bytes")
        if int(declared) > limit:
            raise TooLarge(f"the file is {int(declared):,} bytes; the limit is {limit:,}")
    folder = import_tasks.uploads_dir(ctx.settings)
    await anyio.to_thread.run_sync(lambda: folder.mkdir(parents=True, exist_ok=True))
    partial = folder / f"{secrets.token_hex(12)}.part"
    size = await _receive(request, partial, limit)
    name = file_name or DEFAULT_NAMES[source]
    if size == 0:
        await _remove(partial)
        raise InvalidInput("the request body is empty: send the file to import as the body")
    final = partial.with_suffix(".upload")
    try:
        await anyio.to_thread.run_sync(partial.rename, final)
        task = await anyio.to_thread.run_sync(
            lambda: import_tasks.create(
                ctx.store,
                principal.org_id,
                principal.user_id,
                source,
                options,
                name,
                str(final),
                size,
            )
        )
    except BaseException:
        await _remove(partial)
        await _remove(final)
        raise  # a held writer is errors.Busy (503, Retry-After), raised by Store.write
    ctx.pool.wake()
    return json_response(
        task.to_json(), status_code=202, headers={"Location": f"/api/v1/imports/{task.id}"}
    )


async def _receive(request: Request, path: Path, limit: int) -> int:
    """Stream the body into ``path``; its size. 413 past ``limit``; nothing left on failure."""
    size = 0
    pending = bytearray()
    handle = await anyio.to_thread.run_sync(path.open, "wb")
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise TooLarge(f"the file is larger than the limit of {limit:,} bytes")
            pending += chunk
            if len(pending) >= WRITE_CHUNK:
                await anyio.to_thread.run_sync(handle.write, bytes(pending))
                pending.clear()
        if pending:
            await anyio.to_thread.run_sync(handle.write, bytes(pending))
        await anyio.to_thread.run_sync(handle.close)
    except BaseException as exc:
        handle.close()
        await _remove(path)
        if isinstance(exc, ClientDisconnect):
            raise InvalidInput("the upload was interrupted before the end of the file") from None
        raise
    return size


async def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        await anyio.to_thread.run_sync(lambda: path.unlink(missing_ok=True))


@router.get("/imports", summary="Import tasks, newest first")
def list_imports(ctx: Ctx, principal: Viewer, page: PageArgs, _: Strict) -> Response:
    found = import_tasks.list_tasks(ctx.store, principal.org_id, limit=page.limit, after=page.after)
    cursor = None if found.next_after is None else encode_cursor(found.next_after)
    return json_response({"items": [task.to_json() for task in found.items], "next_cursor": cursor})


@router.get("/imports/{import_id}", summary="An import task: status, progress, summary, errors")
def get_import(ctx: Ctx, principal: Viewer, import_id: str, _: Strict) -> Response:
    task = import_tasks.get(ctx.store, principal.org_id, check_id(import_id, "import task"))
    return json_response(task.to_json())
