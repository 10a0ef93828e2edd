"""``labelport init``, ``keys create|list|revoke`` and ``stats``."""

from __future__ import annotations

import json
from typing import Any

import click

from labelport import services
from labelport.cli.common import org_option, settings, store
from labelport.services import queries


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
    """Manage API keys: create, list, revoke."""


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


@keys.command("list")
@org_option
@click.option("--live", is_flag=True, help="Leave revoked keys out.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per key.")
def keys_list(org: str | None, live: bool, as_json: bool) -> None:
    """List the organization's API keys (never their secrets), oldest first.

    \b
    Example:
      labelport keys list --live
    """
    st = store()
    organization = services.find_organization(st, org)
    rows: list[dict[str, Any]] = []
    after = None
    while True:
        page = queries.list_keys(st, organization.id, limit=1000, after=after, revoked=not live)
        rows += page.items
        if page.next_after is None:
            break
        after = page.next_after
    if as_json:
        for row in rows:
            click.echo(json.dumps(row))
        return
    if not rows:
        click.echo("no keys", err=True)
        return
    table = [
        (
            r["id"],
            r["user"]["email"],
            r["user"]["role"],
            r["name"] or "",
            (r["created_at"] or "")[:19],
            f"revoked {(r['revoked_at'] or '')[:19]}" if r["revoked_at"] else "live",
        )
        for r in rows
    ]
    header = ("id", "user", "role", "name", "created", "state")
    widths = [max(len(str(x)) for x in column) for column in zip(header, *table, strict=True)]
    for line in (header, *table):
        click.echo("  ".join(str(x).ljust(w) for x, w in zip(line, widths, strict=True)).rstrip())


@keys.command("revoke")
@click.argument("key_ids", metavar="ID...", nargs=-1, required=True)
@org_option
def keys_revoke(key_ids: tuple[str, ...], org: str | None) -> None:
    """Revoke API keys by id (`labelport keys list` shows them).

    A revoked key answers 401 on every surface from its next request on, and the web sessions
    signed in with it end. Revoking a revoked key changes nothing.

    \b
    Example:
      labelport keys revoke cmxdj9sw4cl9nqgi8334bwssy
    """
    st = store()
    organization = services.find_organization(st, org)
    for key_id in key_ids:
        queries.get_key(st, organization.id, key_id)  # every id is checked before any revoke
    for key_id in key_ids:
        changed = services.revoke_api_key(st, organization.id, key_id)
        click.echo(f"{key_id}: {'revoked' if changed else 'was revoked already'}")


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
