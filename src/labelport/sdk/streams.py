"""The streams of an export read over HTTP as they arrive, resumed after a broken connection.

:class:`RowStream` gives the rows (or raw lines) of one stream from a line, a byte offset or the
start, at most a limit of them; :class:`ByteReader` the raw bytes from an offset. Neither buffers
to disk: a connection that breaks is reopened from the byte reached (with ``Range`` for bytes),
up to the client's ``max_retries`` times in a row without progress. Both are made by
:class:`~labelport.sdk.tasks.ExportTask` (``rows()``, ``iter_bytes()``, ``download()``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import httpx

from labelport.sdk.errors import InvalidRequestError, NetworkError

if TYPE_CHECKING:
    from labelport.sdk.tasks import ExportTask


def _decoder() -> Callable[[bytes], Any]:
    """orjson when present (it is, next to the server: faster); the standard library else."""
    try:
        module = importlib.import_module("orjson")
    except ImportError:  # pragma: no cover - orjson is a dependency of labelport
        module = importlib.import_module("json")
    loads: Callable[[bytes], Any] = module.loads
    return loads


_loads = _decoder()

# Streams are read as the bytes they are: byte offsets, Range and sha256 are about those, not
# about a compressed form a proxy might otherwise choose.
RAW = {"Accept-Encoding": "identity"}


class ByteReader:
    """Bytes of one stream from a byte offset, reconnecting (with ``Range``) after a break."""

    def __init__(self, task: ExportTask, name: str, total: int) -> None:
        self.task = task
        self.name = name
        self.total = total
        self.reconnects = 0
        self.restarted = False
        self.path = f"/api/v1/exports/{task.id}/streams/{name}"

    def read(self, start: int, *, can_restart: bool = False) -> Iterator[bytes]:
        """Bytes from ``start`` to the end. If the server answers a resumed read with the
        whole stream (an ``If-Range`` that no longer matches), a caller that ``can_restart``
        gets it all from byte 0, with :attr:`restarted` set before the first piece; any
        other caller gets the bytes it lacks."""
        http = self.task._client._http
        streams = self.task._data.get("streams") or {}
        etag = (streams.get(self.name) or {}).get("sha256")
        position = start
        failures = 0
        while position < self.total:
            headers = dict(RAW)
            if position:
                headers["Range"] = f"bytes={position}-"
            if position and etag:
                headers["If-Range"] = f'"{etag}"'
            try:
                with http.stream("GET", self.path, headers=headers) as response:
                    skip = 0
                    if position and response.status_code == 200:  # the whole stream again
                        if can_restart:
                            self.restarted = True
                            position = 0
                        else:  # skip what the caller already has
                            skip = position
                    for piece in response.iter_bytes():
                        if skip:
                            if skip >= len(piece):
                                skip -= len(piece)
                                continue
                            piece, skip = piece[skip:], 0
                        position += len(piece)
                        failures = 0
                        yield piece
            except httpx.TransportError as exc:
                failures += 1
                if failures > http.max_retries:
                    raise NetworkError(
                        f"reading export {self.task.id} {self.name}: the connection broke at "
                        f"byte {position} of {self.total} and could not be resumed ({exc})"
                    ) from exc
                self.reconnects += 1
                http.sleep(failures - 1)
                continue
            if position < self.total:  # the body ended early without a transport error
                failures += 1
                if failures > http.max_retries:
                    raise NetworkError(
                        f"reading export {self.task.id} {self.name}: the answer ended at byte "
                        f"{position} of {self.total}"
                    )
                self.reconnects += 1


class RowStream:
    """The rows of one stream of an export, from a starting point: iterate it for decoded rows
    (dicts), or :meth:`lines` for the raw NDJSON lines (bytes, each ending with a newline).

    Starting points, each a seek on the server (not a scan):

    * ``with_line(n)``: row ``n`` (0-based);
    * ``with_offset(b)``: the first row that starts at or after byte ``b`` (a row that ``b``
      falls inside is skipped: only whole rows come out);
    * ``with_limit(k)``: at most ``k`` rows.

    Each returns a new RowStream; the object itself can be iterated again and again.
    """

    def __init__(
        self,
        task: ExportTask,
        stream: str,
        *,
        line: int | None = None,
        offset: int | None = None,
        limit: int | None = None,
    ) -> None:
        if line is not None and offset is not None:
            raise InvalidRequestError("give a line or an offset to start from, not both")
        for what, value in (("line", line), ("offset", offset), ("limit", limit)):
            if value is not None and (not isinstance(value, int) or value < 0):
                raise InvalidRequestError(
                    f"{what} must be a whole number >= 0, not {value!r}", field=what
                )
        self.task = task
        self.stream = stream
        self.line = line
        self.offset = offset
        self.limit = limit

    def _with(self, **changes: int | None) -> RowStream:
        args: dict[str, int | None] = {
            "line": self.line,
            "offset": self.offset,
            "limit": self.limit,
        }
        args.update(changes)
        return RowStream(self.task, self.stream, **args)

    def with_line(self, line: int) -> RowStream:
        return self._with(line=line, offset=None)

    def with_offset(self, offset: int) -> RowStream:
        return self._with(offset=offset, line=None)

    def with_limit(self, limit: int | None) -> RowStream:
        return self._with(limit=limit)

    def __repr__(self) -> str:
        where = f"line={self.line}" if self.offset is None else f"offset={self.offset}"
        return f"<RowStream {self.task.id} {self.stream} {where} limit={self.limit}>"

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for line in self.lines():
            row: dict[str, Any] = _loads(line)
            yield row

    def lines(self) -> Iterator[bytes]:
        """The raw lines (bytes, each with its newline), as they arrive."""
        task = self.task
        task.wait_till_done()
        total_bytes = task.get_total_file_size(self.stream)
        total_lines = task.get_total_lines(self.stream)
        if self.line is not None and self.line > total_lines:
            raise InvalidRequestError(
                f"line {self.line} is out of range: the {self.stream} stream has "
                f"{total_lines} lines",
                field="line",
            )
        if self.offset is not None and self.offset > total_bytes:
            raise InvalidRequestError(
                f"offset {self.offset} is out of range: the {self.stream} stream has "
                f"{total_bytes} bytes",
                field="offset",
            )
        if total_bytes == 0 or self.limit == 0:
            return iter(())
        return self._lines()

    def _lines(self) -> Iterator[bytes]:
        http = self.task._client._http
        path = f"/api/v1/exports/{self.task.id}/streams/{self.stream}"
        remaining = self.limit
        # From a byte offset, read from the byte before it: everything up to the first newline
        # is the end of a row that started earlier (or the newline ending the row before).
        drop = bool(self.offset)
        params: dict[str, int | None] = {
            "line": self.line,
            "offset": self.offset - 1 if self.offset else self.offset,
        }
        position: int | None = 0 if self.line is None and self.offset is None else None
        if self.offset:
            position = self.offset - 1
        failures = 0
        while remaining is None or remaining > 0:
            ask = dict(params)
            ask["limit"] = None if remaining is None else remaining + (1 if drop else 0)
            try:
                with http.stream("GET", path, params=ask, headers=RAW) as response:
                    if position is None:  # from a line: where it starts, from the headers
                        position = _start_of(response)
                    pending: list[bytes] = []
                    for piece in response.iter_bytes():
                        start = 0
                        while True:
                            newline = piece.find(b"\n", start)
                            if newline < 0:
                                if start < len(piece):
                                    pending.append(piece[start:])
                                break
                            line = b"".join(pending) + piece[start : newline + 1]
                            pending = []
                            start = newline + 1
                            if position is not None:
                                position += len(line)
                            failures = 0
                            if drop:
                                drop = False
                                continue
                            if remaining is not None:
                                remaining -= 1
                            yield line
                            if remaining == 0:
                                return
                    if pending and not drop:  # a last line without its newline
                        yield b"".join(pending)
                    return
            except httpx.TransportError as exc:
                failures += 1
                if failures > http.max_retries or position is None:
                    raise NetworkError(
                        f"reading export {self.task.id} {self.stream}: the connection broke "
                        f"and could not be resumed ({exc})"
                    ) from exc
                http.sleep(failures - 1)
                # go on from the start of the first row not yet given out (or, while still
                # skipping a partial row, from where that skipping got to)
                params = {"line": None, "offset": position}


def _start_of(response: httpx.Response) -> int | None:
    """The byte a positioned stream answer starts at: its end (``X-Next-Offset``) minus its
    length; None when a proxy dropped either header (a broken read then cannot resume)."""
    end = response.headers.get("x-next-offset")
    length = response.headers.get("content-length")
    if end is None or length is None or response.headers.get("content-encoding"):
        return None
    return int(end) - int(length)
