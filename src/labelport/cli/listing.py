"""``labelport ls``: what the catalog holds, with the ids the other commands take."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from labelport.cli.common import org_option, store

KINDS = ("datasets", "projects", "model-runs", "slices", "annotation-sets")


def _count(item: dict[str, Any]) -> str:
    return f"{item['data_row_count']:,}"


# kind -> (query function name, columns: (header, value of an item))
_COLUMNS: dict[str, tuple[str, list[tuple[str, Callable[[dict[str, Any]], str]]]]] = {
    "datasets": (
        "list_datasets",
        [("name", lambda i: i["name"]), ("rows", _count), ("kind", lambda i: i["kind"] or "")],
    ),
    "projects": (
        "list_projects",
        [
            ("name", lambda i: i["name"]),
            ("rows", _count),
            ("media type", lambda i: i["media_type"] or ""),
            ("labels", lambda i: f"{i['label_count']:,}"),
        ],
    ),
    "model-runs": (
        "list_model_runs",
        [
            ("name", lambda i: i["name"]),
            ("rows", _count),
            ("model", lambda i: i["model_name"]),
            ("predictions", lambda i: f"{i['prediction_count']:,}"),
        ],
    ),
    "slices": (
        "list_slices",
        [("name", lambda i: i["name"]), ("filters", lambda i: json.dumps(i["filters"]))],
    ),
    "annotation-sets": (
        "list_annotation_sets",
        [
            ("name", lambda i: i["display_name"]),
            ("objective", lambda i: i["objective"] or ""),
            ("dataset", lambda i: i["dataset_id"] or ""),
        ],
    ),
}


@click.command("ls")
@click.argument("kind", type=click.Choice(KINDS), required=False)
@org_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per item.")
def ls(kind: str | None, org: str | None, as_json: bool) -> None:
    """List datasets, projects, model runs, slices or annotation sets with their ids.

    Without KIND, every kind, each under its heading (with --json, each object names its
    `entity`). Oldest first, the order the ids were made.

    \b
    Examples:
      labelport ls
      labelport ls projects
      labelport ls datasets --json | jq -r .id
    """
    from labelport import services
    from labelport.services import queries

    st = store()
    organization = services.find_organization(st, org)
    for n, name in enumerate((kind,) if kind else KINDS):
        function, columns = _COLUMNS[name]
        items: list[dict[str, Any]] = []
        after = None
        while True:
            page = getattr(queries, function)(st, organization.id, limit=1000, after=after)
            items += page.items
            if page.next_after is None:
                break
            after = page.next_after
        if as_json:
            for item in items:
                click.echo(json.dumps({"entity": name, **item} if kind is None else item))
            continue
        if kind is None:
            click.echo(("\n" if n else "") + f"{name} ({len(items)})")
        if not items:
            click.echo("  none" if kind is None else f"no {name}")
            continue
        header = ("id", *(title for title, _ in columns))
        table = [(item["id"], *(value(item) for _, value in columns)) for item in items]
        widths = [max(len(row[i]) for row in (header, *table)) for i in range(len(header))]
        indent = "  " if kind is None else ""
        for row in (header, *table):
            line = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            click.echo(indent + line.rstrip())
