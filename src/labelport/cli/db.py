"""``labelport db``: schema migrations."""

from __future__ import annotations

import sys

import click
import sqlalchemy as sa

from labelport.cli.common import settings
from labelport.export import cache
from labelport.store import Store, migrations, open_store
from labelport.store import schema as s


@click.group()
def db() -> None:
    """Manage the catalog database schema."""


@db.command()
def upgrade() -> None:
    """Apply pending schema migrations and build missing export-ready rows.

    Migrations are also applied on every start (schema versions: 0001-0009 from before
    Alembic, 0010 the baseline revision, then one revision each). Export-ready rows (each data
    row's export, kept encoded) are built by imports; a catalog from before schema version
    0007 has none (0007 changed their layout), and its exports take the slower live path until
    this command builds them.

    \b
    Example:
      LABELPORT_DATABASE_URL=postgresql+psycopg://me@127.0.0.1/labelport labelport db upgrade
    """
    store = open_store(settings().database_url, migrate=False)
    try:
        before = store.version()
        applied = store.upgrade()
        version = store.version()
        if applied:
            start = f" to a catalog at version {before}" if before else " to a new catalog"
            click.echo(
                f"applied migration(s) {', '.join(applied)}{start}; schema at version {version}"
            )
        else:
            click.echo(f"schema already at version {version} (head {migrations.HEAD})")
        missing = _missing(store)
        built = 0
        if missing:
            with click.progressbar(
                length=missing, label="building export-ready rows", file=sys.stderr
            ) as bar:
                seen = [0]

                def advance(written: int) -> None:
                    bar.update(written - seen[0])
                    seen[0] = written

                built = cache.fill_catalog(store, advance)
    finally:
        store.dispose()
    click.echo(f"built {built:,} export-ready row(s)" if built else "export-ready rows: up to date")


def _missing(store: Store) -> int:
    """Data rows without an export-ready entry (catalogs from before schema version 0007)."""
    d, c = s.data_row, s.export_cache
    query = (
        sa.select(sa.func.count())
        .select_from(d.outerjoin(c, c.c.data_row_id == d.c.id))
        .where(c.c.data_row_id.is_(None))
    )
    with store.read() as conn:
        return int(conn.execute(query).scalar_one())
