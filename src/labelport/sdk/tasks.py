"""Export tasks: wait for them, read their rows as they arrive, download them, check them.

An :class:`ExportTask` is a handle on an export running (or run) on the server. Its rows are
read straight from the HTTP answer, line by line, while it arrives: nothing is buffered to disk
first and memory stays flat. A connection that breaks while rows or a download are coming in
is reopened from the byte reached (up to the client's ``max_retries`` times in a row without
progress), so a dropped connection costs a reconnect, not a restart. The readers of the streams
are in :mod:`labelport.sdk.streams`, the download's progress bar in
:mod:`labelport.sdk.progress_bars`.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labelport.sdk.errors import (
    ChecksumMismatch,
    ExportCanceled,
    ExportFailed,
    ExportNotReady,
    ExportTimeout,
    InvalidRequestError,
)
from labelport.sdk.progress_bars import progress_bar
from labelport.sdk.streams import ByteReader, RowStream
from labelport.vocab import FINISHED_TASK_STATES

if TYPE_CHECKING:
    from labelport.sdk.client import Client


FINISHED = frozenset(FINISHED_TASK_STATES)
STREAMS = ("result", "errors")
MAX_POLL = 2.0


def stream_name(stream: str) -> str:
    """``"result"`` or ``"errors"`` (Labelbox's ``"RESULT"``, ``StreamType.ERRORS`` too)."""
    name = str(getattr(stream, "value", stream)).lower()
    if name not in STREAMS:
        raise InvalidRequestError(
            f"stream {stream!r}: an export has a 'result' and an 'errors' stream", field="stream"
        )
    return name


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Progress:
    """How far an export is: rows ``done`` of ``total`` planned (None until planned)."""

    done: int
    total: int | None
    percent: float | None


@dataclass(frozen=True, slots=True)
class Download:
    """What :meth:`ExportTask.download` wrote: the file, its size, lines and sha256 (checked
    against the manifest), the bytes found on disk from an earlier attempt (``resumed_from``)
    and how many times a broken connection was picked up again (``reconnects``)."""

    path: Path
    bytes: int
    lines: int
    sha256: str
    resumed_from: int
    reconnects: int


class ExportTask:
    """An export on the server. Made by ``.export(...)`` or :meth:`Client.get_export`.

    ``status``, ``progress`` and the other attributes are as of the last :meth:`refresh` (every
    wait refreshes). ``reused`` is True when the server handed back an identical export that
    was already queued or running instead of starting another.
    """

    def __init__(self, client: Client, data: dict[str, Any], *, reused: bool = False) -> None:
        self._client = client
        self._data: dict[str, Any] = {}
        self.reused = reused
        self._update(data)

    def _update(self, data: dict[str, Any]) -> None:
        self._data = {key: value for key, value in data.items() if key != "reused"}

    # ------------------------------------------------------------------------------ state

    @property
    def data(self) -> dict[str, Any]:
        """The task as the server last showed it (``GET /api/v1/exports/{id}``)."""
        return dict(self._data)

    @property
    def id(self) -> str:
        return str(self._data["id"])

    @property
    def uid(self) -> str:
        """The id (Labelbox's name for it)."""
        return self.id

    @property
    def name(self) -> str | None:
        name = self._data.get("name")
        return None if name is None else str(name)

    @property
    def status(self) -> str:
        """QUEUED, IN_PROGRESS, COMPLETE, FAILED or CANCELED (as of the last refresh)."""
        return str(self._data["status"])

    @property
    def done(self) -> bool:
        """Finished, one way or another (COMPLETE, FAILED or CANCELED)."""
        return self.status in FINISHED

    @property
    def progress(self) -> Progress:
        raw = self._data.get("progress") or {}
        return Progress(
            done=int(raw.get("done") or 0),
            total=None if raw.get("total") is None else int(raw["total"]),
            percent=None if raw.get("percent") is None else float(raw["percent"]),
        )

    @property
    def scope(self) -> dict[str, Any]:
        return dict(self._data.get("scope") or {})

    @property
    def params(self) -> dict[str, Any]:
        """The params as the server normalized them (every known key, defaults filled in)."""
        return dict(self._data.get("params") or {})

    @property
    def filters(self) -> dict[str, Any]:
        return dict(self._data.get("filters") or {})

    @property
    def error_message(self) -> str | None:
        message = self._data.get("error_message")
        return None if message is None else str(message)

    @property
    def counts(self) -> dict[str, Any] | None:
        """The manifest's counts (rows, labels, annotations by kind...) once COMPLETE."""
        counts = self._data.get("counts")
        return dict(counts) if isinstance(counts, dict) else None

    @property
    def created_at(self) -> datetime | None:
        return _time(self._data.get("created_at"))

    @property
    def finished_at(self) -> datetime | None:
        return _time(self._data.get("finished_at"))

    def __repr__(self) -> str:
        return f"<ExportTask {self.id} {self.status}>"

    def refresh(self) -> ExportTask:
        """Ask the server for the task's current state."""
        self._update(self._client._get_json(f"/api/v1/exports/{self.id}"))
        return self

    def wait_till_done(
        self,
        timeout: float | None = None,
        *,
        poll_interval: float = MAX_POLL,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> ExportTask:
        """Wait until the export is COMPLETE and return it.

        Polls quickly at first (a small export is done in a blink), then every
        ``poll_interval`` seconds at most, calling ``on_progress`` after each poll.

        Raises :class:`ExportTimeout` when ``timeout`` seconds pass first (the export goes on
        running: wait again, or :meth:`cancel` it), :class:`ExportFailed` when it ends FAILED
        and :class:`ExportCanceled` when it ends CANCELED.
        """
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        delay = 0.05
        if not self.done:
            self.refresh()
        while True:
            if on_progress is not None:
                on_progress(self.progress)
            if self.done:
                break
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                raise ExportTimeout(
                    f"export {self.id} is still {self.status} after {timeout:g}s "
                    f"({self._progress_text()}); it goes on running on the server",
                    task=self,
                )
            time.sleep(delay if deadline is None else max(0.0, min(delay, deadline - now)))
            delay = min(delay * 1.6, max(poll_interval, 0.05))
            self.refresh()
        self._raise_unless_complete()
        return self

    def _progress_text(self) -> str:
        progress = self.progress
        total = "?" if progress.total is None else f"{progress.total:,}"
        return f"{progress.done:,}/{total} rows"

    def _raise_unless_complete(self) -> None:
        if self.status == "FAILED":
            reason = self.error_message
            raise ExportFailed(
                f"export {self.id} FAILED: {reason or 'no reason given'}", task=self, reason=reason
            )
        if self.status == "CANCELED":
            raise ExportCanceled(f"export {self.id} was CANCELED", task=self, reason="canceled")

    def _complete(self) -> None:
        """Be COMPLETE (refreshing once if the last state was not), or raise."""
        if self.status != "COMPLETE":
            self.refresh()
        self._raise_unless_complete()
        if self.status != "COMPLETE":
            raise ExportNotReady(
                f"export {self.id} is {self.status} ({self._progress_text()}); its streams and "
                "manifest exist once it is COMPLETE (call wait_till_done() first)"
            )

    # ------------------------------------------------------------------------------ totals

    def get_total_file_size(self, stream: str = "result") -> int:
        """Bytes of a stream of a COMPLETE export (0 when empty). Raises
        :class:`ExportNotReady` before it is COMPLETE, :class:`ExportFailed` if it failed."""
        self._complete()
        return int((self._data.get(stream_name(stream)) or {}).get("bytes") or 0)

    def get_total_lines(self, stream: str = "result") -> int:
        """Lines (rows) of a stream of a COMPLETE export."""
        self._complete()
        return int((self._data.get(stream_name(stream)) or {}).get("lines") or 0)

    def has_result(self) -> bool:
        """Whether the COMPLETE export has any RESULT rows."""
        return self.get_total_file_size("result") > 0

    def has_errors(self) -> bool:
        """Whether the COMPLETE export has any ERRORS rows (rows that could not be made)."""
        return self.get_total_file_size("errors") > 0

    def manifest(self) -> dict[str, Any]:
        """The manifest of the COMPLETE export: what was asked, when, counts, and each file's
        bytes, lines and sha256."""
        self._complete()
        return self._client._get_json(f"/api/v1/exports/{self.id}/manifest")

    def links(self, ttl: int | None = None) -> dict[str, Any]:
        """Signed links (no key needed) to the COMPLETE export's streams, manifest and files."""
        self._complete()
        return self._client._get_json(f"/api/v1/exports/{self.id}/links", params={"ttl": ttl})

    # ------------------------------------------------------------------------------ change

    def cancel(self) -> ExportTask:
        """Cancel a queued or running export (it stops at its next page). A finished one
        raises :class:`ConflictError`."""
        response = self._client._http.request("POST", f"/api/v1/exports/{self.id}/cancel")
        self._update(response.json())
        return self

    # ------------------------------------------------------------------------------- rows

    def rows(
        self,
        stream: str = "result",
        *,
        line: int | None = None,
        offset: int | None = None,
        limit: int | None = None,
    ) -> RowStream:
        """The rows of a stream as decoded JSON objects, read as they arrive::

            for row in task.rows():                      # RESULT, from the start
            for row in task.rows(line=1000, limit=10):   # rows 1000..1009 (0-based)
            for err in task.rows("errors"):
            for row in task.rows().with_offset(1 << 20): # the first row starting at/after 1 MiB

        Iterating waits for the export to finish first (:meth:`wait_till_done`, no timeout).
        """
        return RowStream(self, stream_name(stream), line=line, offset=offset, limit=limit)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """The RESULT rows, from the start."""
        return iter(self.rows())

    def stream(
        self,
        stream: str = "result",
        on_row: Callable[[dict[str, Any]], Any] | None = None,
        *,
        line: int | None = None,
        offset: int | None = None,
        limit: int | None = None,
    ) -> int:
        """Call ``on_row`` with each row of a stream as it arrives; return how many there were.

        An empty export is fine (no calls, 0), unlike Labelbox's stream, which refuses it.
        """
        if on_row is None:
            raise InvalidRequestError("stream(): give on_row, the function to call per row")
        count = 0
        for row in self.rows(stream, line=line, offset=offset, limit=limit):
            on_row(row)
            count += 1
        return count

    def iter_bytes(self, stream: str = "result", *, offset: int = 0) -> Iterator[bytes]:
        """The raw bytes of a stream from ``offset``, in pieces as they arrive (resumed from
        the byte reached if the connection breaks)."""
        self.wait_till_done()
        name = stream_name(stream)
        total = self.get_total_file_size(name)
        if offset < 0 or offset > total:
            raise InvalidRequestError(
                f"offset {offset} is out of range: the {name} stream has {total} bytes",
                field="offset",
            )
        return ByteReader(self, name, total).read(offset)

    # ---------------------------------------------------------------------------- download

    def download(
        self,
        path: str | os.PathLike[str],
        stream: str = "result",
        *,
        progress: bool | None = None,
        on_progress: Callable[[int, int], None] | None = None,
        verify: bool = True,
    ) -> Download:
        """Write a stream to ``path`` as NDJSON, byte for byte, and check it.

        The bytes go to ``<path>.<task id>-<stream>.partial`` first. A connection that breaks
        is reopened with an HTTP ``Range`` from the bytes already on disk; so is a download
        that an earlier call (or process) left partial. At the end, the size and the sha256
        are compared with the export's manifest (``verify=False`` skips the sha256): on a
        difference the partial file is removed and :class:`ChecksumMismatch` raised; else it
        becomes ``path``.

        ``progress``: a progress bar on stderr (rich, else tqdm); None shows it when stderr is
        a terminal. ``on_progress(done_bytes, total_bytes)`` is called as bytes arrive.
        Waits for the export to finish first.
        """
        self.wait_till_done()
        name = stream_name(stream)
        total = self.get_total_file_size(name)
        expected = _manifest_sha256(self.manifest(), name) if verify else None
        target = Path(path)
        partial = target.with_name(f"{target.name}.{self.id}-{name}.partial")
        have = partial.stat().st_size if partial.is_file() else 0
        if have > total:
            partial.unlink()
            have = 0
        digest = hashlib.sha256()
        if have:
            with partial.open("rb") as existing:
                for piece in iter(lambda: existing.read(1 << 20), b""):
                    digest.update(piece)
        resumed_from = have
        reader = ByteReader(self, name, total)
        show = sys.stderr.isatty() if progress is None else progress
        with progress_bar(show, total, f"{name} {self.id}") as bar, partial.open("ab") as out:
            if bar is not None:
                bar(have)
            if on_progress is not None:
                on_progress(have, total)
            for piece in reader.read(have, can_restart=True):
                if reader.restarted:  # the server would not resume: it sends all again
                    out.seek(0)
                    out.truncate()
                    digest = hashlib.sha256()
                    have = 0
                    reader.restarted = False
                out.write(piece)
                digest.update(piece)
                have += len(piece)
                if bar is not None:
                    bar(have)
                if on_progress is not None:
                    on_progress(have, total)
        sha256 = digest.hexdigest()
        problem = None
        if have != total:
            problem = f"{have} bytes arrived, the {name} stream has {total}"
        elif expected is not None and sha256 != expected:
            problem = f"sha256 {sha256} differs from the manifest's {expected}"
        if problem is not None:
            partial.unlink(missing_ok=True)
            raise ChecksumMismatch(f"download of export {self.id} {name}: {problem}")
        os.replace(partial, target)
        return Download(
            path=target,
            bytes=have,
            lines=self.get_total_lines(name),
            sha256=sha256,
            resumed_from=resumed_from,
            reconnects=reader.reconnects,
        )


def _manifest_sha256(manifest: dict[str, Any], name: str) -> str:
    info = (manifest.get("streams") or {}).get(name) or {}
    sha = info.get("sha256")
    if not isinstance(sha, str):
        raise ChecksumMismatch(f"the manifest of export {manifest.get('task_id')} has no {name}")
    return sha
