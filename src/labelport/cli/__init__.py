"""The ``labelport`` command: a thin shell over :mod:`labelport.services`."""

from __future__ import annotations

from typing import Any

import click

from labelport import __version__
from labelport.cli.common import LabelportGroup
from labelport.cli.db import db
from labelport.cli.demo import demo
from labelport.cli.exporting import export_group, exports_group, verify_command
from labelport.cli.importing import import_group
from labelport.cli.serving import serve
from labelport.cli.setup import init, keys, stats
from labelport.cli.working import worker


@click.group(cls=LabelportGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="labelport")
def cli() -> None:
    """labelport: a self-hosted home for labeled ML data whose heart is export.

    \b
    Settings come from the environment:
      LABELPORT_HOME          data directory (default ./.labelport)
      LABELPORT_DATABASE_URL  catalog database (default: SQLite file in the home;
                              postgresql+psycopg://user@host/db for PostgreSQL)

    \b
    Start here:
      labelport init --org acme --email me@acme.test
      labelport import labelbox export.ndjson
      labelport stats
      labelport export project PROJECT_ID --params '{"label_details": true}' -o out.ndjson
      labelport verify EXPORT_ID
      labelport serve --port 8000
    """


cli.add_command(init)
cli.add_command(keys)
cli.add_command(stats)
cli.add_command(db)
cli.add_command(import_group)
cli.add_command(export_group)
cli.add_command(exports_group)
cli.add_command(verify_command)
cli.add_command(demo)
cli.add_command(serve)
cli.add_command(worker)


def main(*args: Any) -> None:
    cli(*args)
