"""HTTP plumbing: one httpx client, retries with backoff, the server's errors as SDK errors.

Which requests are retried, and on what:

* ``GET`` and ``HEAD`` (idempotent): on any transport error (refused or dropped connection,
  timeout, a response cut short) and on 429, 500, 502, 503, 504;
* anything else (``POST``): only when the connection could not even be opened (nothing was
  sent) and on 503 (the server refused the write before doing it: SQLite's one writer busy).

A wait doubles from ``backoff`` seconds with jitter, up to :data:`MAX_SLEEP`; a ``Retry-After``
in seconds is honoured. Bodies are never retried here once they started arriving: the stream
readers (:mod:`labelport.sdk.streams`) resume those from the byte they reached.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx

from labelport import __version__
from labelport.sdk.errors import LabelportSDKError, NetworkError, error_class

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
SAFE_METHODS = frozenset({"GET", "HEAD"})
MAX_SLEEP = 30.0


class Http:
    """An authenticated httpx client for one labelport server."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float | httpx.Timeout,
        max_retries: int,
        backoff: float,
        verify: bool | str = True,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.max_retries = max(0, max_retries)
        self.backoff = max(0.0, backoff)
        self.client = httpx.Client(
            base_url=self.base_url,
            headers={
                "Authorization": f"Bearer {api_key}",
                "User-Agent": f"labelport-sdk/{__version__}",
                "Accept": "application/json",
            },
            timeout=timeout,
            verify=verify,
            transport=transport,
            follow_redirects=True,
        )

    def close(self) -> None:
        self.client.close()

    # ----------------------------------------------------------------------------- requests

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send a request and read its answer; an error status raises its SDK error."""
        attempt = 0
        while True:
            try:
                response = self.client.request(
                    method, path, params=_clean(params), json=json, headers=headers
                )
            except httpx.TransportError as exc:
                if not self._retry_transport(method, exc, attempt):
                    raise _network(method, path, exc) from exc
                attempt += 1
                continue
            if response.status_code < 400:
                return response
            if self._retry_status(method, response, attempt):
                attempt += 1
                continue
            raise error_from(response)

    @contextmanager
    def stream(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Iterator[httpx.Response]:
        """Open a streamed answer (headers read, body not); an error status raises its SDK
        error. Opening is retried like :meth:`request`; reading the body is the caller's."""
        attempt = 0
        while True:
            request = self.client.build_request(
                method, path, params=_clean(params), headers=headers
            )
            try:
                response = self.client.send(request, stream=True)
            except httpx.TransportError as exc:
                if not self._retry_transport(method, exc, attempt):
                    raise _network(method, path, exc) from exc
                attempt += 1
                continue
            if response.status_code >= 400:
                try:
                    response.read()
                except httpx.TransportError:
                    pass
                finally:
                    response.close()
                if self._retry_status(method, response, attempt):
                    attempt += 1
                    continue
                raise error_from(response)
            break
        try:
            yield response
        finally:
            response.close()

    # ------------------------------------------------------------------------------ retries

    def _retry_transport(self, method: str, exc: httpx.TransportError, attempt: int) -> bool:
        safe = method in SAFE_METHODS or isinstance(exc, httpx.ConnectError)
        if not safe or attempt >= self.max_retries:
            return False
        self.sleep(attempt)
        return True

    def _retry_status(self, method: str, response: httpx.Response, attempt: int) -> bool:
        status = response.status_code
        safe = method in SAFE_METHODS or status == 503
        if not safe or status not in RETRY_STATUSES or attempt >= self.max_retries:
            return False
        self.sleep(attempt, response.headers.get("retry-after"))
        return True

    def sleep(self, attempt: int, retry_after: str | None = None) -> None:
        """Wait before retry number ``attempt + 1``."""
        if retry_after is not None and retry_after.strip().isdigit():
            time.sleep(min(float(retry_after), MAX_SLEEP))
            return
        delay = self.backoff * (2**attempt) * random.uniform(0.5, 1.5)
        time.sleep(min(delay, MAX_SLEEP))


def _clean(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Query parameters without the ones left at None (the server rejects unknown ones, and
    ``?line=`` is not ``no line``)."""
    if params is None:
        return None
    return {key: value for key, value in params.items() if value is not None}


def _network(method: str, path: str, exc: httpx.TransportError) -> NetworkError:
    reason = str(exc) or type(exc).__name__
    return NetworkError(f"{method} {path}: no answer from the server ({reason})")


def error_from(response: httpx.Response) -> LabelportSDKError:
    """The SDK error for an error answer, from the server's ``{"error": {...}}`` shape (or
    from the status alone when the answer is not ours, e.g. a proxy's page)."""
    status = response.status_code
    kind: str | None = None
    field: str | None = None
    body: Any = None
    message = ""
    try:
        body = response.json()
    except (ValueError, httpx.ResponseNotRead):
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        kind = str(error["type"]) if error.get("type") is not None else None
        message = str(error.get("message") or "")
        field = str(error["field"]) if error.get("field") is not None else None
    if not message:
        try:
            text = response.text.strip()
        except httpx.ResponseNotRead:
            text = ""
        reason = response.reason_phrase or "error"
        message = f"HTTP {status} {reason}" + (f": {text[:300]}" if text else "")
    cls = error_class(status)
    return cls(
        message,
        status=status,
        type=kind,
        field=field,
        request_id=response.headers.get("x-request-id"),
        body=body,
    )
