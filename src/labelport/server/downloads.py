"""Signed downloads: an export's streams, manifest and files by link, without an API key.

``GET /api/v1/exports/{id}/links`` (or the export's detail) hands out links of the form
``/downloads/exports/<id>/<what>?expires=<unix>&signature=<hmac>``; anyone holding one may fetch
that one file until it expires (a changed byte → 403, past its expiry → 410). ``<what>`` is

* ``result`` / ``errors``: the whole stream (its shards concatenated), NDJSON;
* ``manifest.json``: the export's check values;
* ``files/<name>``: any file inside the export's folder (a format's artifact such as
  ``diffgram.json``, or one shard); a name that leaves the folder is refused.
* ``result/range/<first>-<last>`` (or ``errors/…``): bytes ``first`` to ``last`` (inclusive) of
  a stream, for clients that fetch a piece by plain GET (the Labelbox surface's chunks).

Every download (and the native stream endpoint, which shares :func:`send`) honours HTTP ``Range``
(``bytes=a-b``, ``a-``, ``-n``) with 206 and ``Content-Range``, answers 416 (with
``Content-Range: bytes */<size>``) when the range starts past the end or ends before it starts,
serves the whole body for a range of several parts or of another unit (RFC 9110 allows ignoring
those), and an ``If-Range`` that does not match the ``ETag`` also gets the whole body. A range on
an empty stream is ignored: the answer is 200 with an empty body. Bodies are streamed in pieces of
256 KiB; memory stays flat whatever the size.

An export published to an object store (``LABELPORT_BLOB_URL`` ``s3://`` or ``gs://``) is served
the same way: the server reads it from the bucket with ranged requests (a line is found with one
8-byte read of the line index), so its links and ranges behave exactly as for a local export.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import StreamingResponse

from labelport.errors import Conflict, Gone, InvalidInput, LabelportError, NotFound
from labelport.export.folders import Folder
from labelport.export.manifest import MANIFEST
from labelport.export.stream_reader import StreamReader
from labelport.export.streams import StreamInfo
from labelport.server.auth import Ctx
from labelport.server.context import Context
from labelport.server.errors import ErrorInfo, native
from labelport.services import export_tasks
from labelport.services.export_tasks import TaskInfo
from labelport.times import format_timestamp

CHUNK = 256 * 1024
MAX_LINK_TTL = 7 * 24 * 3600  # a week, as long as an S3 presigned URL may live
STREAMS = ("result", "errors")
NDJSON = "application/x-ndjson"

LINK_QUERY = frozenset({"expires", "signature"})
_SPAN = re.compile(r"([0-9]{1,20})-([0-9]{1,20})")


def invalid(message: str, field: str) -> LabelportError:
    """A 400 about one field of the request (the error body names it)."""
    return InvalidInput(message, field=field)


def link_query_only(request: Request) -> None:
    """A download link carries ``expires`` and ``signature`` and nothing else."""
    unknown = sorted(set(request.query_params) - LINK_QUERY)
    if unknown:
        raise invalid(
            f"unknown query parameter {unknown[0]!r} (a download link takes: expires, signature)",
            f"query:{unknown[0]}",
        )


# (not labelport.server.native.rest.StrictQuery: the native package imports this module)
router = APIRouter(prefix="/downloads", tags=["downloads"], dependencies=[Depends(link_query_only)])


# ---------------------------------------------------------------------------------- links


def export_path(task_id: str, what: str) -> str:
    """The (unsigned) download path of ``what`` of an export: ``result``, ``manifest.json``..."""
    return f"/downloads/exports/{task_id}/{what}"


def range_path(task_id: str, stream: str, first: int, last: int) -> str:
    """The (unsigned) download path of bytes ``first..last`` (inclusive) of a stream."""
    return export_path(task_id, f"{stream}/range/{first}-{last}")


def export_links(
    ctx: Context, request: Request, task: TaskInfo, ttl: int | None = None
) -> dict[str, Any]:
    """Signed links to a COMPLETE export's streams, manifest and every file in its folder."""
    folder = task_folder(ctx, task)
    now = time.time()
    life = ctx.signer.ttl if ttl is None else ttl
    base = ctx.public_url(request)

    def link(what: str) -> str:
        return base + ctx.signer.sign(quote(export_path(task.id, what)), life, now=now)

    files = {name: link(f"files/{name}") for name in folder.names()}
    return {
        "result": link("result"),
        "errors": link("errors"),
        "manifest": link(MANIFEST),
        "files": files,
        "expires_at": format_timestamp(datetime.fromtimestamp(int(now + life), UTC)),
        "ttl": life,
    }


# ---------------------------------------------------------------------------------- tasks


def task_location(task: TaskInfo) -> str:
    """Where a COMPLETE export's files are; 409 for a task that is not COMPLETE."""
    if task.status != "COMPLETE" or task.location is None:
        raise Conflict(
            f"export task {task.id} is {task.status}; its files exist once it is COMPLETE"
        )
    return task.location


def task_folder(ctx: Context, task: TaskInfo) -> Folder:
    """The folder of a COMPLETE export, on disk or in an object store."""
    return ctx.artifacts.folder(task_location(task))


def stream_reader(ctx: Context, task: TaskInfo, name: str) -> StreamReader:
    """A reader over stream ``name`` of a COMPLETE export whose files are all in place."""
    if name not in STREAMS:
        raise NotFound("export stream", f"{name} (streams: {', '.join(STREAMS)})")
    folder = task_folder(ctx, task)
    manifest = export_tasks.manifest_of(ctx.store, task.org_id, task.id)
    info = StreamInfo.from_json(manifest["streams"][name])
    wanted = [f.name for f in info.files] + ([info.index] if info.index is not None else [])
    if folder.missing(wanted):
        raise Gone(f"the files of export {task.id} are no longer on this server")
    return StreamReader(folder, info)


# ------------------------------------------------------------------------------- responses


@dataclass(frozen=True)
class Source:
    """Something to send: its size, a validator, and a way to read bytes ``[start, end)``."""

    size: int
    etag: str
    read: Callable[[int, int], Iterator[bytes]]
    media_type: str
    headers: dict[str, str] = field(default_factory=dict)


def stream_source(reader: StreamReader, filename: str | None = None) -> Source:
    info = reader.info
    headers = {"X-Total-Bytes": str(info.bytes), "X-Total-Lines": str(info.lines)}
    if filename:
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'

    def read(start: int, end: int) -> Iterator[bytes]:
        return reader.iter_bytes(start, end, CHUNK)

    return Source(info.bytes, f'"{info.sha256}"', read, NDJSON, headers)


def file_source(folder: Folder, name: str, media_type: str, filename: str) -> Source:
    """File ``name`` of an export's folder; 404 when it is not there."""
    try:
        size, etag = folder.stat(name)
    except FileNotFoundError:
        raise NotFound("file", PurePosixPath(name).name) from None

    def read(start: int, end: int) -> Iterator[bytes]:
        with folder.open(name, size) as f:
            f.seek(start)
            left = end - start
            while left > 0:
                data = f.read(min(CHUNK, left))
                if not data:
                    break
                left -= len(data)
                yield data

    headers = {
        "X-Total-Bytes": str(size),
        "Content-Disposition": f'attachment; filename="{_header_safe(filename)}"',
    }
    return Source(size, etag, read, media_type, headers)


def _header_safe(name: str) -> str:
    return "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name)


class Unsatisfiable(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The ``[start, end)`` a ``Range`` header asks of ``size`` bytes, or None for the whole.

    Raises :class:`Unsatisfiable` for a byte range that cannot be served.
    """
    if header is None or size == 0:
        return None
    unit, sep, spec = header.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None  # another unit: must be ignored
    parts = [p.strip() for p in spec.split(",")]
    if len(parts) != 1:
        return None  # several ranges: we send the whole body (allowed)
    first, dash, last = parts[0].partition("-")
    first, last = first.strip(), last.strip()
    if not dash or (first and not first.isdigit()) or (last and not last.isdigit()):
        raise Unsatisfiable(f"Range {header!r} is not bytes=a-b, bytes=a- or bytes=-n")
    if not first:
        if not last:
            raise Unsatisfiable(f"Range {header!r} names no bytes")
        n = int(last)
        if n == 0:
            raise Unsatisfiable("Range bytes=-0 asks for no bytes")
        return max(0, size - n), size
    start = int(first)
    end = int(last) + 1 if last else size
    if last and end <= start:
        raise Unsatisfiable(f"Range {header!r} ends before it starts")
    if start >= size:
        raise Unsatisfiable(f"Range {header!r} starts past the last byte ({size} bytes)")
    return start, min(end, size)


def send(
    request: Request,
    source: Source,
    *,
    start: int = 0,
    end: int | None = None,
    headers: dict[str, str] | None = None,
    ranges: bool = True,
) -> Response:
    """Send ``source`` (bytes ``[start, end)``, or the part a ``Range`` header asks for)."""
    stop = source.size if end is None else end
    status = 200
    out = {"Accept-Ranges": "bytes", "ETag": source.etag, **source.headers, **(headers or {})}
    header = request.headers.get("range") if ranges else None
    if_range = request.headers.get("if-range")
    if header is not None and if_range is not None and if_range.strip() != source.etag:
        header = None  # the client's copy is stale: it gets the whole body
    try:
        wanted = byte_range(header, source.size)
    except Unsatisfiable as exc:
        error = ErrorInfo(
            "RangeNotSatisfiable",
            exc.message,
            416,
            "header:range",
            {"Content-Range": f"bytes */{source.size}", "Accept-Ranges": "bytes"},
        )
        return native(error)
    if wanted is not None:
        start, stop = wanted
        status = 206
        out["Content-Range"] = f"bytes {start}-{stop - 1}/{source.size}"
    out["Content-Length"] = str(stop - start)
    if request.method == "HEAD":
        return Response(status_code=status, headers=out, media_type=source.media_type)
    return StreamingResponse(
        source.read(start, stop), status_code=status, headers=out, media_type=source.media_type
    )


# --------------------------------------------------------------------------------- routes


def _checked(ctx: Context, request: Request, expires: str | None, signature: str | None) -> None:
    ctx.signer.check(quote(request.scope["path"]), expires, signature)


def _task(ctx: Context, task_id: str) -> TaskInfo:
    if "\x00" in task_id:
        raise NotFound("export task", repr(task_id))
    return export_tasks.find_task(ctx.store, task_id)


SIGNED: dict[int | str, dict[str, Any]] = {
    403: {"description": "The link was changed (its signature does not match)."},
    410: {"description": "The link has expired, or the export's files are gone."},
}


@router.head("/exports/{task_id}/manifest.json", include_in_schema=False)
@router.get(
    "/exports/{task_id}/manifest.json",
    summary="Download an export's manifest by signed link",
    responses=SIGNED,
)
def download_manifest(
    request: Request,
    ctx: Ctx,
    task_id: str,
    expires: str | None = None,
    signature: str | None = None,
) -> Response:
    _checked(ctx, request, expires, signature)
    task = _task(ctx, task_id)
    folder = task_folder(ctx, task)
    if folder.missing([MANIFEST]):
        raise Gone(f"the files of export {task.id} are no longer on this server")
    return send(request, file_source(folder, MANIFEST, "application/json", f"{task.id}-{MANIFEST}"))


@router.head("/exports/{task_id}/files/{name:path}", include_in_schema=False)
@router.get(
    "/exports/{task_id}/files/{name:path}",
    summary="Download a file of an export's folder (a format's artifact) by signed link",
    responses=SIGNED,
)
def download_file(
    request: Request,
    ctx: Ctx,
    task_id: str,
    name: str,
    expires: str | None = None,
    signature: str | None = None,
) -> Response:
    _checked(ctx, request, expires, signature)
    task = _task(ctx, task_id)
    folder = task_folder(ctx, task)
    if folder.local is not None:
        inside(folder.local, name)
    else:
        _plain_name(name)
    if folder.missing([name]):
        raise NotFound(f"file of export {task.id}", name)
    media = "application/x-ndjson" if name.endswith((".ndjson", ".jsonl")) else None
    media = media or ("application/json" if name.endswith(".json") else "application/octet-stream")
    return send(request, file_source(folder, name, media, PurePosixPath(name).name))


def _plain_name(name: str) -> list[str]:
    parts = name.split("/")
    if "\\" in name or "\x00" in name or any(p in ("", ".", "..") for p in parts):
        raise invalid(f"{name!r} is not a file name inside the export's folder", "path:name")
    return parts


def inside(directory: Path, name: str) -> Path:
    """``directory / name``, refusing any name that would leave ``directory``."""
    parts = _plain_name(name)
    path = directory.joinpath(*parts)
    if not path.resolve().is_relative_to(directory.resolve()):
        raise invalid(f"{name!r} leads outside the export's folder", "path:name")
    return path


@router.head("/exports/{task_id}/{stream}/range/{span}", include_in_schema=False)
@router.get(
    "/exports/{task_id}/{stream}/range/{span}",
    summary="Download bytes first-last (inclusive) of an export stream by signed link",
    responses=SIGNED,
)
def download_stream_range(
    request: Request,
    ctx: Ctx,
    task_id: str,
    stream: str,
    span: str,
    expires: str | None = None,
    signature: str | None = None,
) -> Response:
    _checked(ctx, request, expires, signature)
    bounds = _SPAN.fullmatch(span)
    if bounds is None:
        raise invalid(f"{span!r} is not a byte range first-last", "path:span")
    reader = stream_reader(ctx, _task(ctx, task_id), stream)
    start, end = int(bounds[1]), int(bounds[2]) + 1
    if not start < end <= reader.info.bytes:
        raise invalid(
            f"bytes {span} are not within the {stream} stream of {reader.info.bytes} bytes",
            "path:span",
        )
    return send(request, stream_source(reader), start=start, end=end, ranges=False)


@router.head("/exports/{task_id}/{stream}", include_in_schema=False)
@router.get(
    "/exports/{task_id}/{stream}",
    summary="Download an export's RESULT or ERRORS stream by signed link",
    responses=SIGNED,
)
def download_stream(
    request: Request,
    ctx: Ctx,
    task_id: str,
    stream: str,
    expires: str | None = None,
    signature: str | None = None,
) -> Response:
    _checked(ctx, request, expires, signature)
    task = _task(ctx, task_id)
    reader = stream_reader(ctx, task, stream)
    return send(request, stream_source(reader, f"{task.id}-{stream}.ndjson"))
