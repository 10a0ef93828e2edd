"""``labelport init``, ``keys create`` and ``stats``."""

from __future__ import annotations

import json

import click

from labelport import services
from labelport.cli.common import org_option, settings, store


@click.command()
@click.option("--org", default="default", show_default=True, help="Name of the new organization.")
@click.option("--email", default="admin@localhost", show_default=True, help="Email of its admin.")
@click.option(
    "--timezone",
    default="UTC",
    show_default=True,
    help="IANA timezone for date filters without an offset.",
)
def init(org: str, email: str, timezone: str) -> None:
    """Create the home, an organization and its admin, and print an API key once.

    \b
    Example:
      labelport init --org acme --email admin@acme.test --timezone Europe/Berlin
    """
    cfg = settings()
    cfg.home.mkdir(parents=True, exist_ok=True)
    result = services.init_catalog(store(), org, email, timezone)
    click.echo(f"home:          {cfg.home.resolve()}")
    click.echo(f"organization:  {result.organization.name} ({result.organization.id})")
    click.echo(f"admin:         {result.email}")
    click.echo(f"API key:       {result.api_key}")
    click.echo("Keep the key: it is stored hashed and will not be shown again.", err=True)


@click.group()
def keys() -> None:
    """Manage API keys."""


@keys.command("create")
@click.option("--email", required=True, help="The key's user (created if new).")
@click.option(
    "--role",
    type=click.Choice(services.ROLES),
    default="editor",
    show_default=True,
    help="Role of a new user; an existing user gets this role.",
)
@click.option("--name", default=None, help="A note to tell keys apart.")
@org_option
def keys_create(email: str, role: str, name: str | None, org: str | None) -> None:
    """Create an API key for EMAIL and print only the key (shown once).

    \b
    Example:
      export LABELPORT_API_KEY=$(labelport keys create --email ci@acme.test --role viewer)
    """
    st = store()
    organization = services.find_organization(st, org)
    uid = services.ensure_user(st, organization.id, email, role)
    click.echo(services.create_api_key(st, organization.id, uid, name))


@click.command()
@org_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def stats(org: str | None, as_json: bool) -> None:
    """Print the number of each kind of entity in the catalog.

    \b
    Example:
      labelport stats --json
    """
    st = store()
    organization = services.find_organization(st, org)
    counts = services.stats(st, organization.id)
    if as_json:
        click.echo(json.dumps({"organization": organization.name, "counts": counts}, indent=2))
        return
    click.echo(f"organization {organization.name}")
    width = max(map(len, counts))
    for name, count in counts.items():
        click.echo(f"  {name:<{width}}  {count:>12,}")
