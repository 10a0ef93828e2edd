"""The one error tree of labelport.

Every error labelport raises on purpose derives from :class:`LabelportError`. Each class carries
the HTTP status a server answers with and the exit code the CLI ends with, so shells translate
errors once, at the edge, with no ``isinstance`` chains::

    LabelportError                      500 / exit 1
    ├── ConfigurationError              500 / exit 78   bad settings, unreachable database
    ├── InvalidInput                    400 / exit 2    a client mistake
    │   ├── InvalidRecords              400 / exit 65   bad records (file, line, field, reason)
    │   └── InvalidSpec                 400 / exit 2    a request that cannot be honoured
    ├── AuthenticationFailed            401 / exit 77
    ├── PermissionDenied                403 / exit 77
    ├── NotFound                        404 / exit 66   (kind, key)
    ├── Conflict                        409 / exit 75
    ├── Gone                            410 / exit 69
    └── Busy                            503 / exit 75   retry after ``retry_after`` seconds

Any error may name the ``field`` it is about (``body:params.media_type``, ``line 3: split``);
servers put it in the error body.
"""

from __future__ import annotations

from dataclasses import dataclass


class LabelportError(Exception):
    """Root of every error labelport raises on purpose."""

    http_status = 500
    exit_code = 1

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return self.message


class ConfigurationError(LabelportError):
    """Settings are missing or wrong, or a configured service cannot be reached."""

    exit_code = 78


class InvalidInput(LabelportError):
    """The caller asked for something that cannot be done as asked."""

    http_status = 400
    exit_code = 2


class InvalidSpec(InvalidInput):
    """An export or import request whose parameters are unknown, misplaced or out of range."""


@dataclass(frozen=True, slots=True)
class RecordError:
    """One problem with one record of an input file."""

    file: str
    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field}: {self.reason}" if self.field else f"{where}: {self.reason}"


class InvalidRecords(InvalidInput):
    """A file held records that cannot be imported; nothing of that file was stored.

    ``errors`` lists the first problems (up to :attr:`MAX_LISTED`), ``total`` counts all of them.
    """

    exit_code = 65
    MAX_LISTED = 100

    def __init__(self, file: str, errors: list[RecordError], total: int) -> None:
        self.file = file
        self.errors = errors
        self.total = total
        lines = [f"{file}: {total} invalid record{'s' if total != 1 else ''}; nothing was imported"]
        lines += [f"  {e}" for e in errors]
        if total > len(errors):
            lines.append(f"  ... and {total - len(errors)} more")
        super().__init__("\n".join(lines))


class AuthenticationFailed(LabelportError):
    http_status = 401
    exit_code = 77


class PermissionDenied(LabelportError):
    http_status = 403
    exit_code = 77


class NotFound(LabelportError):
    """An entity that does not exist, or that belongs to another organization."""

    http_status = 404
    exit_code = 66

    def __init__(self, kind: str, key: str) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"{kind} not found: {key}")


class Conflict(LabelportError):
    http_status = 409
    exit_code = 75


class Gone(LabelportError):
    """It existed, but no longer answers (an expired download link)."""

    http_status = 410
    exit_code = 69


class Busy(LabelportError):
    """The catalog cannot take the write now (SQLite's one writer is held, a PostgreSQL lock
    wait ran out); nothing was changed. Try again after ``retry_after`` seconds."""

    http_status = 503
    exit_code = 75

    def __init__(self, message: str, *, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after
