"""``labelport settings``: every setting with its value here, its default and what it does."""

from __future__ import annotations

import json

import click

from labelport.settings import SETTINGS, Settings, load_settings, markdown_table, shown


@click.command("settings")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per setting.")
@click.option(
    "--markdown", is_flag=True, help="Print the settings table of the README and docs/server.md."
)
def settings_command(as_json: bool, markdown: bool) -> None:
    """Print every setting: its value here, its default and what it does.

    Values come from LABELPORT_* environment variables; secrets and passwords are not shown.

    \b
    Examples:
      labelport settings
      LABELPORT_HOME=/srv/labelport labelport settings --json
    """
    if markdown:
        click.echo(markdown_table(), nl=False)
        return
    loaded = load_settings()
    for setting in SETTINGS:
        value = shown(setting, _value(loaded, setting.name.lower()))
        if as_json:
            record = {
                "name": setting.variable,
                "value": value or None,
                "default": setting.default,
                "help": setting.help,
            }
            click.echo(json.dumps(record))
            continue
        default = f" (default {setting.default})" if setting.default is not None else ""
        click.echo(f"{setting.variable}={value}{default}")
        click.echo(click.wrap_text(setting.help, initial_indent="    ", subsequent_indent="    "))


def _value(loaded: Settings, name: str) -> object:
    return getattr(loaded, name)
