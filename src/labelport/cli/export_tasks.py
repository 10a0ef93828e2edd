"""``labelport exports``: list, show, read, cancel and archive export tasks.

Each subcommand works on the local catalog (``--org`` chooses the organization); ``exports read``
seeks through a finished export's line index to write its RESULT (or ERRORS) rows from any line
or byte offset.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator

import click
import orjson

from labelport import services
from labelport.cli.common import org_option, settings, store
from labelport.export.artifacts import open_folder
from labelport.export.manifest import read_manifest, stream_info
from labelport.export.stream_reader import StreamReader
from labelport.services import export_tasks
from labelport.services.export_tasks import TaskInfo

# ----------------------------------------------------------------------------- exports group


@click.group("exports")
def exports_group() -> None:
    """List, show, read, cancel and archive export tasks."""


@exports_group.command("list")
@click.option(
    "--scope",
    type=click.Choice(["project", "dataset", "slice", "model_run", "data_rows", "catalog"]),
    default=None,
    help="Only exports of this kind of scope.",
)
@click.option("--id", "scope_id", metavar="ID", default=None, help="Only exports of this scope.")
@click.option("--archived", is_flag=True, help="Include archived exports.")
@click.option(
    "--limit",
    type=click.IntRange(1, 10_000),
    default=50,
    show_default=True,
    help="At most this many, newest first.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of a table.")
@org_option
def exports_list(
    scope: str | None,
    scope_id: str | None,
    archived: bool,
    limit: int,
    as_json: bool,
    org: str | None,
) -> None:
    """List export tasks, newest first, with status and counts.

    \b
    Example:
      labelport exports list --scope project --limit 10
    """
    st = store()
    organization = services.find_organization(st, org)
    tasks = export_tasks.list_tasks(
        st,
        organization.id,
        scope_kind=scope,
        scope_id=scope_id,
        include_archived=archived,
        limit=limit,
    )
    if as_json:
        for task in tasks:
            click.echo(orjson.dumps(task.to_json()).decode())
        return
    if not tasks:
        click.echo("no exports yet")
        return
    click.echo(f"{'ID':<25}  {'STATUS':<11}  {'SCOPE':<36}  {'ROWS':>10}  {'ERRORS':>6}  CREATED")
    for task in tasks:
        where = f"{task.scope.get('kind')} {task.scope.get('id') or ''}".strip()
        rows = f"{task.result_lines:,}" if task.result_lines is not None else _percent(task)
        click.echo(
            f"{task.id:<25}  {task.status:<11}  {where:<36}  {rows:>10}  "
            f"{task.error_lines or 0:>6,}  {task.to_json()['created_at']}"
        )


def _percent(task: TaskInfo) -> str:
    return "-" if task.percent is None else f"{task.percent:.0f}%"


@exports_group.command("show")
@click.argument("task_id", metavar="ID")
@click.option("--manifest", "with_manifest", is_flag=True, help="Also print the manifest.")
@org_option
def exports_show(task_id: str, with_manifest: bool, org: str | None) -> None:
    """Show one export task as JSON: status, progress, streams, location.

    \b
    Example:
      labelport exports show ckx... --manifest
    """
    st = store()
    organization = services.find_organization(st, org)
    task = export_tasks.get(st, organization.id, task_id)
    doc = task.to_json()
    if with_manifest and task.status == "COMPLETE":
        doc["manifest"] = export_tasks.manifest_of(st, organization.id, task_id)
    click.echo(json.dumps(doc, indent=2))


@exports_group.command("read")
@click.argument("task_id", metavar="ID")
@click.option(
    "--stream",
    type=click.Choice(["result", "errors"]),
    default="result",
    show_default=True,
    help="Which stream to read.",
)
@click.option(
    "--line",
    "start_line",
    type=click.IntRange(min=0),
    default=None,
    help="Start at line N (0-based).",
)
@click.option("--offset", type=click.IntRange(min=0), default=None, help="Start at byte offset B.")
@click.option("--limit", type=click.IntRange(min=0), default=None, help="At most this many lines.")
@org_option
def exports_read(
    task_id: str,
    stream: str,
    start_line: int | None,
    offset: int | None,
    limit: int | None,
    org: str | None,
) -> None:
    """Write a finished export's RESULT (or ERRORS) rows to stdout, from a line or byte offset.

    Starting anywhere is a seek through the stream's line index, not a scan.

    \b
    Example:
      labelport exports read ckx... --line 1000000 --limit 10
    """
    if start_line is not None and offset is not None:
        raise click.UsageError("give --line or --offset, not both")
    st = store()
    organization = services.find_organization(st, org)
    task = export_tasks.get(st, organization.id, task_id)
    if task.status != "COMPLETE" or task.location is None:
        raise click.ClickException(f"export {task.id} is {task.status}; it has no streams yet")
    folder = open_folder(task.location, settings())
    manifest = (
        read_manifest(folder.local)
        if folder.local is not None
        else export_tasks.manifest_of(st, organization.id, task.id)  # in an object store
    )
    reader = StreamReader(folder, stream_info(manifest, stream))
    out = sys.stdout.buffer
    if offset is not None:
        chunks = reader.iter_bytes(offset)
        if limit is None:
            for chunk in chunks:
                out.write(chunk)
            return
        lines: Iterator[bytes] = _split_lines(chunks)
    else:
        lines = reader.iter_lines(start_line or 0)
    for n, line in enumerate(lines):
        if limit is not None and n >= limit:
            break
        out.write(line)


def _split_lines(chunks: Iterator[bytes]) -> Iterator[bytes]:
    rest = b""
    for chunk in chunks:
        parts = (rest + chunk).split(b"\n")
        rest = parts.pop()
        for part in parts:
            yield part + b"\n"
    if rest:
        yield rest


@exports_group.command("cancel")
@click.argument("task_id", metavar="ID")
@org_option
def exports_cancel(task_id: str, org: str | None) -> None:
    """Cancel a queued or running export (a running one stops at its next page).

    \b
    Example:
      labelport exports cancel ckx...
    """
    st = store()
    organization = services.find_organization(st, org)
    task = export_tasks.cancel(st, organization.id, task_id)
    click.echo(f"export {task.id} {task.status}")


@exports_group.command("archive")
@click.argument("task_id", metavar="ID")
@click.option("--undo", is_flag=True, help="Bring an archived export back.")
@org_option
def exports_archive(task_id: str, undo: bool, org: str | None) -> None:
    """Archive a finished export: it leaves `exports list` (its files stay).

    \b
    Example:
      labelport exports archive ckx...
    """
    st = store()
    organization = services.find_organization(st, org)
    task = export_tasks.archive(st, organization.id, task_id, archived=not undo)
    click.echo(f"export {task.id} {'archived' if task.archived else 'unarchived'}")
