"""Settings: declared once as data (:data:`SETTINGS`), loaded at the edge, passed down.

Deep code never reads ``os.environ``; shells call :func:`load_settings` and pass the result on.
``labelport settings`` prints every setting with its value, default and help, and the settings
tables of the README and ``docs/server.md`` are :func:`markdown_table` (a test compares them).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

from labelport.errors import ConfigurationError

MAX_LINE_BYTES_DEFAULT = 16 * 1024**2


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    default: str | None
    help: str
    secret: bool = False  # its value is never printed

    @property
    def variable(self) -> str:
        return f"LABELPORT_{self.name}"


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "HOME",
        "./.labelport",
        "Data directory: the embedded SQLite catalog, export artifacts, the spool, the demo files.",
    ),
    Setting(
        "DATABASE_URL",
        None,
        "SQLAlchemy URL of the catalog. Default: a SQLite file `catalog.db` in the home. "
        "PostgreSQL: `postgresql+psycopg://user@host:5432/db`.",
    ),
    Setting(
        "BLOB_URL",
        None,
        "Where export artifacts go: `file://…`, `s3://bucket/prefix` or `gs://bucket/prefix` "
        "(written to `<home>/spool` first, then uploaded). "
        "Default: the `blobs` folder in the home.",
    ),
    Setting(
        "RUNNER",
        "inline",
        "Task runner: `inline` (the server's own threads) or `celery` (`labelport serve` only "
        "queues; `labelport worker` processes run the tasks).",
    ),
    Setting(
        "BROKER_URL",
        None,
        "Celery broker when RUNNER=celery: `redis://…` or `amqp://…`.",
        secret=False,
    ),
    Setting(
        "QUEUE",
        "labelport",
        "RUNNER=celery: the broker queue the server sends tasks to and `labelport worker` reads. "
        "Catalogs that share one broker need a queue each (a worker takes only its own "
        "catalog's tasks).",
    ),
    Setting(
        "PUBLIC_URL",
        None,
        "Base URL under which the server is reachable: absolute links (signed downloads, Vertex "
        "and Diffgram URLs) start with it. Unset, links follow each request's `Host` header, "
        "and `labelport serve` warns at start when it listens on a non-loopback host.",
    ),
    Setting(
        "SECRET_KEY",
        None,
        "Secret for signed links and web sessions. Default: generated once into the home.",
        secret=True,
    ),
    Setting("LINK_TTL", "3600", "Seconds a signed download link stays valid."),
    Setting(
        "WORKERS",
        "4",
        "Task threads of `labelport serve` (with Celery, a worker's default `--concurrency`).",
    ),
    Setting(
        "STALE_AFTER",
        "30",
        "Seconds a running task may go without a heartbeat before the server counts its worker "
        "as dead (the process was killed or the machine restarted) and runs it again.",
    ),
    Setting(
        "RESEND_AFTER",
        "120",
        "RUNNER=celery: seconds a task may stay QUEUED before the server sends it to the broker "
        "again (its message may have been lost with a broker that keeps nothing on disk).",
    ),
    Setting(
        "SHARD_ROWS",
        "50000",
        "RUNNER=celery on PostgreSQL: an export of more data rows than this is split into shards "
        "of about this many rows that the workers export in parallel from one snapshot.",
    ),
    Setting(
        "DESTINATION_ROOTS",
        None,
        "Local folders (separated by `:`) that `file://` export destinations may write into. "
        "Default: the `destinations` folder in the home.",
    ),
    Setting(
        "GCS_ENDPOINT",
        None,
        "Endpoint for `gs://` destinations and artifacts, e.g. a storage emulator "
        "(`http://127.0.0.1:9023`). Default: Google Cloud Storage.",
    ),
    Setting(
        "S3_ENDPOINT",
        None,
        "Endpoint for `s3://` destinations and artifacts (e.g. MinIO). Default: AWS.",
    ),
    Setting(
        "MAX_UPLOAD_BYTES",
        str(10 * 1024**3),
        "Largest file `POST /api/v1/imports` accepts, in bytes (default 10 GiB).",
    ),
    Setting(
        "WRITE_WAIT",
        "5",
        "Seconds a request that writes (REST, web, the compatibility surfaces) waits for the "
        "catalog's write lock (SQLite has one writer; a long import holds it) before it answers "
        "503 with `Retry-After`. Task workers and the CLI wait up to 60 s.",
    ),
    Setting(
        "MAX_LINE_BYTES",
        str(MAX_LINE_BYTES_DEFAULT),
        "Longest line an import reads from a JSON Lines or CSV file, in bytes (default 16 MiB). "
        "A longer line is an error naming it; an import never holds more of a line than this.",
    ),
)


@dataclass(frozen=True, slots=True)
class Settings:
    home: Path
    database_url: str
    blob_url: str
    runner: str
    broker_url: str | None
    public_url: str | None
    secret_key: str | None
    link_ttl: int = 3600
    workers: int = 4
    stale_after: int = 30
    destination_roots: tuple[Path, ...] = ()
    gcs_endpoint: str | None = None
    s3_endpoint: str | None = None
    max_upload_bytes: int = 10 * 1024**3
    resend_after: int = 120
    shard_rows: int = 50_000
    max_line_bytes: int = MAX_LINE_BYTES_DEFAULT
    write_wait: float = 5.0
    queue: str = "labelport"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def load_settings(env: Mapping[str, str] | None = None, **overrides: str) -> Settings:
    """Read ``LABELPORT_*`` variables from ``env`` (default: the process environment).

    Keyword ``overrides`` (lower-case setting names) win over the environment.
    """
    env = os.environ if env is None else env
    raw: dict[str, str | None] = {}
    for setting in SETTINGS:
        value = overrides.get(setting.name.lower(), env.get(f"LABELPORT_{setting.name}"))
        raw[setting.name.lower()] = value if value not in (None, "") else setting.default
    home = Path(str(raw["home"])).expanduser()
    runner = str(raw["runner"])
    if runner not in ("inline", "celery"):
        raise ConfigurationError(f"LABELPORT_RUNNER must be 'inline' or 'celery', not {runner!r}")
    database_url = raw["database_url"] or f"sqlite:///{(home / 'catalog.db').resolve()}"
    if database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url.removeprefix("postgresql://")
    blob_url = raw["blob_url"] or (home / "blobs").resolve().as_uri()
    link_ttl = _positive_int("LINK_TTL", raw["link_ttl"])
    workers = _positive_int("WORKERS", raw["workers"])
    stale_after = _positive_int("STALE_AFTER", raw["stale_after"])
    max_upload_bytes = _positive_int("MAX_UPLOAD_BYTES", raw["max_upload_bytes"])
    resend_after = _positive_int("RESEND_AFTER", raw["resend_after"])
    shard_rows = _positive_int("SHARD_ROWS", raw["shard_rows"])
    max_line_bytes = _positive_int("MAX_LINE_BYTES", raw["max_line_bytes"])
    write_wait = _positive_number("WRITE_WAIT", raw["write_wait"])
    roots = tuple(
        Path(part).expanduser().resolve()
        for part in str(raw["destination_roots"] or home / "destinations").split(":")
        if part
    )
    known = {f.name for f in fields(Settings)}
    unknown = set(overrides) - known
    if unknown:
        raise ConfigurationError(f"unknown settings: {', '.join(sorted(unknown))}")
    return Settings(
        home=home,
        database_url=database_url,
        blob_url=blob_url,
        runner=runner,
        broker_url=raw["broker_url"],
        public_url=raw["public_url"],
        secret_key=raw["secret_key"],
        link_ttl=link_ttl,
        workers=workers,
        stale_after=stale_after,
        destination_roots=roots,
        gcs_endpoint=raw["gcs_endpoint"],
        s3_endpoint=raw["s3_endpoint"],
        max_upload_bytes=max_upload_bytes,
        resend_after=resend_after,
        shard_rows=shard_rows,
        max_line_bytes=max_line_bytes,
        write_wait=write_wait,
        queue=str(raw["queue"]),
    )


def _positive_int(name: str, value: str | None) -> int:
    try:
        number = int(str(value))
    except ValueError:
        number = 0
    if number <= 0:
        raise ConfigurationError(f"LABELPORT_{name} must be a positive whole number, not {value!r}")
    return number


def _positive_number(name: str, value: str | None) -> float:
    try:
        number = float(str(value))
    except ValueError:
        number = 0.0
    if not number > 0 or number == float("inf"):
        raise ConfigurationError(f"LABELPORT_{name} must be a positive number, not {value!r}")
    return number


def shown(setting: Setting, value: object) -> str:
    """A setting's value as ``labelport settings`` prints it (secrets and passwords hidden)."""
    if value is None or value == ():
        return ""
    if setting.secret:
        return "(set)"
    if isinstance(value, tuple):
        return ":".join(str(v) for v in value)
    text = str(value)
    if setting.name in ("DATABASE_URL", "BROKER_URL") and "@" in text and "://" in text:
        scheme, rest = text.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        if ":" in credentials:
            text = f"{scheme}://{credentials.split(':', 1)[0]}:***@{host}"
    return text


def markdown_table() -> str:
    """The settings table of the README and ``docs/server.md``, generated from :data:`SETTINGS`."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for setting in SETTINGS:
        default = f"`{setting.default}`" if setting.default is not None else ""
        meaning = setting.help.replace("|", "\\|")
        lines.append(f"| `{setting.variable}` | {default} | {meaning} |")
    return "\n".join(lines) + "\n"
