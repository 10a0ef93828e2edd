"""The ``labelport`` command: a thin shell over :mod:`labelport.services`.

Subcommands load when they run (:class:`LazyGroup`): ``labelport --help`` and ``--version``
import click and nothing of the catalog, so they answer at once; each command pays only for what
it uses.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from labelport import __version__
from labelport.cli.common import LabelportGroup

# name -> (module, attribute, the one line `labelport --help` shows for it)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "init": (
        "labelport.cli.admin",
        "init",
        "Create the home, an organization and its admin, and print an API key once.",
    ),
    "keys": ("labelport.cli.admin", "keys", "Manage API keys: create, list, revoke."),
    "stats": (
        "labelport.cli.admin",
        "stats",
        "Print the number of each kind of entity in the catalog.",
    ),
    "ls": (
        "labelport.cli.listing",
        "ls",
        "List datasets, projects, model runs, slices or annotation sets with their ids.",
    ),
    "db": ("labelport.cli.db", "db", "Manage the catalog database schema."),
    "settings": (
        "labelport.cli.configuring",
        "settings_command",
        "Print every setting: its value here, its default and what it does.",
    ),
    "import": ("labelport.cli.importing", "import_group", "Import a file into the catalog."),
    "export": (
        "labelport.cli.exporting",
        "export_group",
        "Export data rows as Labelbox export-v2 NDJSON (one line per data row).",
    ),
    "exports": (
        "labelport.cli.export_tasks",
        "exports_group",
        "List, show, read, cancel and archive export tasks.",
    ),
    "verify": (
        "labelport.cli.verifying",
        "verify_command",
        "Recompute every check value of an export and say what differs.",
    ),
    "demo": (
        "labelport.cli.demo",
        "demo",
        "Build a deterministic demo catalog with every media type and annotation kind.",
    ),
    "serve": (
        "labelport.cli.serving",
        "serve",
        "Serve the REST API, the Vertex AI and Diffgram surfaces, and run export tasks.",
    ),
    "worker": (
        "labelport.cli.working",
        "worker",
        "Run export and import tasks sent by `labelport serve` through the Celery broker.",
    ),
}


class LazyGroup(LabelportGroup):
    """A group whose subcommands are imported when they are asked for, not before."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module, attribute, _ = entry
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="labelport")
def cli() -> None:
    """labelport: a self-hosted home for labeled ML data whose heart is export.

    Settings come from LABELPORT_* environment variables; `labelport settings` prints
    each with its value, default and help.

    \b
    Start here:
      labelport init --org acme --email me@acme.test
      labelport import labelbox export.ndjson
      labelport stats
      labelport export project PROJECT_ID --params '{"label_details": true}' -o out.ndjson
      labelport verify EXPORT_ID
      labelport serve --port 8000
    """


def main(*args: Any) -> None:
    cli(*args)
