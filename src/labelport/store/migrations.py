"""Schema migrations with Alembic, applied when a store opens and by ``labelport db upgrade``.

The revisions are in ``store/revisions/versions/`` (see ``docs/dev/migrations.md``). Schema
versions are four-digit strings in one sequence: ``0001``–``0009`` are catalogs of the
migrations from before Alembic (stamped in their ``schema_version`` table), ``0010`` is the
baseline revision (the whole catalog as version 10 had it), and every revision after it takes
the next number.

How a catalog gets to :data:`HEAD`, in its caller's one transaction (all or nothing):

- a new one: Alembic runs every revision, the baseline first;
- one from before Alembic (``schema_version``, no ``alembic_version``), at version N: the
  legacy steps (``revisions/legacy.py``) bring it from N to 10, Alembic is stamped with the
  baseline (the catalog now holds what the baseline makes) and runs the revisions after it;
- one Alembic knows: Alembic runs the revisions after its own.

:func:`pending` only reads the ``alembic_version`` row and imports nothing of Alembic, so that
opening a catalog that is up to date stays cheap (``labelport stats``); Alembic loads when there
is work. On PostgreSQL, processes that open a catalog at once (a server and its workers) migrate
it one after the other (an advisory lock); SQLite's write lock does that there.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from labelport.errors import ConfigurationError

if TYPE_CHECKING:
    from alembic.config import Config

HEAD = "0010"  # the newest revision (a test checks it against the revision files)
BASELINE = "0010"  # the revision a catalog from before Alembic is stamped with
REVISIONS = Path(__file__).resolve().with_name("revisions")
_PG_LOCK = 0x6C61_6265_6C70  # pg_advisory_xact_lock key of migrations ("labelp")


def revision(conn: sa.Connection) -> str | None:
    """The catalog's Alembic revision; None when Alembic has never run on it."""
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    rows = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all()
    return ",".join(sorted(rows)) or None


def current_version(conn: sa.Connection) -> str | None:
    """The catalog's schema version: its Alembic revision, else its version from before Alembic
    in the same numbering (``0003``); None for an empty database."""
    found = revision(conn)
    if found is not None:
        return found
    from labelport.store.revisions import legacy

    version = legacy.version(conn)
    return None if version is None else f"{version:04d}"


def pending(conn: sa.Connection) -> bool:
    """Whether :func:`upgrade` has anything to do (it has unless Alembic stands at the head)."""
    return revision(conn) != HEAD


def config(conn: sa.Connection | None = None, **attributes: Any) -> Config:
    """Alembic's configuration for the catalog's revisions, built here (no ``alembic.ini``); the
    commands run on ``conn`` (``revisions/env.py``)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(REVISIONS).replace("%", "%%"))
    cfg.set_main_option("path_separator", "os")
    cfg.attributes.update(attributes, connection=conn)
    return cfg


def upgrade(conn: sa.Connection) -> list[str]:
    """Bring the catalog on ``conn`` (in a write transaction) to :data:`HEAD`; returns the
    versions applied, in order (``[]`` when there was nothing to do)."""
    if conn.dialect.name == "postgresql":  # one at a time; then look again
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK})")
    if not pending(conn):
        return []
    from alembic import command
    from alembic.util import CommandError

    from labelport.store.revisions import legacy

    applied: list[str] = []
    before = revision(conn)
    old = legacy.version(conn) if before is None else None
    if old is not None:
        applied += [f"{number:04d}" for number in legacy.upgrade(conn, old)]

    def record(*, step: Any, **_kw: Any) -> None:
        if step.is_upgrade and not step.is_stamp:
            applied.append(step.up_revision_id)

    cfg = config(conn, on_version_apply=record)
    try:
        if old is not None:
            command.stamp(cfg, BASELINE)
        command.upgrade(cfg, "head")
    except CommandError as exc:  # e.g. a revision this labelport does not know: a newer one's
        at = before or (f"{old:04d}" if old is not None else "none (a new catalog)")
        raise ConfigurationError(
            f"cannot migrate the catalog at schema version {at}: {exc}"
            " (a catalog written by a newer labelport needs that labelport)"
        ) from exc
    return applied


def new_revision(message: str) -> Path:
    """Write the file of a new, empty revision after the head (for developers; see
    ``docs/dev/migrations.md``); returns its path."""
    from alembic import command
    from alembic.script import ScriptDirectory

    cfg = config()
    number = f"{int(ScriptDirectory.from_config(cfg).get_current_head() or 0) + 1:04d}"
    script = command.revision(cfg, message, rev_id=number)
    if script is None or isinstance(script, list):
        raise RuntimeError("alembic wrote no single revision")
    return Path(script.path)
