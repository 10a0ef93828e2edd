"""``labelport db``: schema migrations."""

from __future__ import annotations

import click

from labelport.cli.common import settings
from labelport.store import migrations, open_store


@click.group()
def db() -> None:
    """Manage the catalog database schema."""


@db.command()
def upgrade() -> None:
    """Apply pending schema migrations (they are also applied on every start).

    \b
    Example:
      LABELPORT_DATABASE_URL=postgresql+psycopg://me@127.0.0.1/labelport labelport db upgrade
    """
    store = open_store(settings().database_url, migrate=False)
    try:
        applied = store.upgrade()
        version = store.version()
    finally:
        store.dispose()
    if applied:
        click.echo(
            f"applied migration(s) {', '.join(map(str, applied))}; schema at version {version}"
        )
    else:
        click.echo(f"schema already at version {version} (head {migrations.HEAD})")
