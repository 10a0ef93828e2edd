"""The SDK's one error tree.

Every error the SDK raises on purpose derives from :class:`LabelportSDKError`, so one ``except``
catches them all. An error that came from the server carries what the server said: its
``status``, its error ``type`` (``InvalidSpec``, ``NotFound``...), the request ``field`` it is
about (``body:params.foo``, ``query:line``) and the ``request_id`` to look for in its log::

    LabelportSDKError
    ├── ConfigurationError          no server URL or API key given
    ├── NetworkError                the server could not be reached (after retries)
    ├── AuthenticationError         401: no key, or a bad one
    ├── PermissionDeniedError       403: the key's role is too weak (or a changed signed link)
    ├── NotFoundError               404: no such thing in the key's organization
    │   └── GoneError               410: an expired link, or an export whose files are gone
    ├── InvalidRequestError         400, 413, 416: a client mistake; ``field`` names it
    ├── ConflictError               409: e.g. cancel a finished export
    │   └── ExportNotReady          the export is not COMPLETE yet (no streams, no manifest)
    ├── ServerError                 5xx (after retries)
    ├── ExportTimeout               ``wait_till_done(timeout=…)`` ran out; the export goes on
    ├── ExportFailed                the export ended FAILED (``reason`` says why)
    │   └── ExportCanceled          … or CANCELED
    └── ChecksumMismatch            downloaded bytes differ from the manifest's check values

The root derives from :class:`labelport.errors.LabelportError` (a leaf module with no
imports), and :class:`ConfigurationError` also from :class:`labelport.errors.ConfigurationError`,
so the ``labelport`` command turns an SDK error into its message and an exit code like any other;
the SDK depends on nothing else of the server side.
"""

from __future__ import annotations

from typing import Any

from labelport import errors
from labelport.errors import LabelportError


class LabelportSDKError(LabelportError):
    """Root of every error the SDK raises on purpose."""

    exit_code = 1

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        type: str | None = None,
        field: str | None = None,
        request_id: str | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message, field=field)
        self.status = status
        self.type = type
        self.request_id = request_id
        self.body = body


class ConfigurationError(LabelportSDKError, errors.ConfigurationError):
    """The client lacks a server URL or an API key (arguments or LABELPORT_URL/_API_KEY).

    It is also :class:`labelport.errors.ConfigurationError`: one class for a configuration
    mistake, whichever side finds it."""

    exit_code = 78


class NetworkError(LabelportSDKError):
    """The server could not be reached, or the connection broke, and retries did not help."""

    exit_code = 69


class AuthenticationError(LabelportSDKError):
    """401: no API key, or one the server does not know."""

    exit_code = 77


class PermissionDeniedError(LabelportSDKError):
    """403: the key's role may not do this (e.g. a viewer starting an export)."""

    exit_code = 77


class NotFoundError(LabelportSDKError):
    """404: no such project, dataset, export... in the key's organization."""

    exit_code = 66


class GoneError(NotFoundError):
    """410: it existed but no longer answers (an expired link, an export's deleted files)."""

    exit_code = 69


class InvalidRequestError(LabelportSDKError):
    """400 (also 413, 416): the request cannot be honoured as asked; ``field`` names the part
    of the request the server objected to, e.g. ``body:params.nope``."""

    exit_code = 2


class ConflictError(LabelportSDKError):
    """409: the request conflicts with the state of things (cancel a finished export...)."""

    exit_code = 75


class ExportNotReady(ConflictError):
    """The export is not COMPLETE yet: it has no streams, totals or manifest to give."""


class ServerError(LabelportSDKError):
    """5xx: the server failed (after the retries a safe request gets)."""

    exit_code = 69


class ExportTimeout(LabelportSDKError):
    """``wait_till_done(timeout=…)`` ran out before the export finished. The export itself goes
    on; ``task`` is the :class:`~labelport.sdk.ExportTask`, wait again or ``cancel()`` it."""

    exit_code = 75

    def __init__(self, message: str, *, task: Any = None) -> None:
        super().__init__(message)
        self.task = task


class ExportFailed(LabelportSDKError):
    """The export ended FAILED; ``reason`` is the server's ``error_message``."""

    def __init__(self, message: str, *, task: Any = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.task = task
        self.reason = reason


class ExportCanceled(ExportFailed):
    """The export ended CANCELED."""


class ChecksumMismatch(LabelportSDKError):
    """A downloaded stream's size or sha256 differs from the manifest's; the file was removed."""

    exit_code = 65


_BY_STATUS: dict[int, type[LabelportSDKError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    405: InvalidRequestError,
    409: ConflictError,
    410: GoneError,
    413: InvalidRequestError,
    416: InvalidRequestError,
    422: InvalidRequestError,
}


def error_class(status: int) -> type[LabelportSDKError]:
    """The SDK error for an HTTP error status."""
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return ServerError
    if 400 <= status < 500:
        return InvalidRequestError
    return LabelportSDKError


__all__ = [
    "AuthenticationError",
    "ChecksumMismatch",
    "ConfigurationError",
    "ConflictError",
    "ExportCanceled",
    "ExportFailed",
    "ExportNotReady",
    "ExportTimeout",
    "GoneError",
    "InvalidRequestError",
    "LabelportSDKError",
    "NetworkError",
    "NotFoundError",
    "PermissionDeniedError",
    "ServerError",
    "error_class",
]
