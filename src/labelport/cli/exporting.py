"""``labelport export``, ``labelport exports`` and ``labelport verify``.

``labelport export`` runs locally (the catalog of ``LABELPORT_DATABASE_URL``, the export written
into the home) or, with ``--url`` and ``--api-key`` (or ``LABELPORT_URL``/``LABELPORT_API_KEY``),
on a labelport server through :mod:`labelport.sdk`: the same options, the same progress bar, the
same ``-o`` output and summary lines.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

import click
import orjson
from click.core import ParameterSource
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from labelport import services
from labelport.cli.common import err_console, org_option, settings, store
from labelport.export.artifacts import Artifacts, local_copy, open_folder
from labelport.export.manifest import MANIFEST, read_manifest, stream_info, verify
from labelport.export.spec import Scope
from labelport.export.stream_reader import StreamReader
from labelport.services import export_tasks
from labelport.services.export_tasks import TaskInfo

EPILOG_PARAMS = (
    "PARAMS and FILTERS are JSON objects shaped exactly like the Labelbox SDK's params and "
    "filters dicts, given inline or as @file.json. With --url URL --api-key KEY (or "
    "LABELPORT_URL and LABELPORT_API_KEY) the export runs on that labelport server instead "
    "of the local catalog."
)


def _json_option(name: str, help: str) -> Callable[[Any], Any]:
    return click.option(f"--{name}", "raw_" + name, metavar="JSON", default=None, help=help)


def _parse_json(raw: str | None, option: str) -> dict[str, Any] | None:
    if raw is None:
        return None
    text = raw
    if raw.startswith("@"):
        path = Path(raw[1:])
        if not path.is_file():
            raise click.BadParameter(f"no such file: {path}", param_hint=f"--{option}")
        text = path.read_text(encoding="utf-8")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(
            f"not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})",
            param_hint=f"--{option}",
        ) from exc
    if not isinstance(value, dict):
        raise click.BadParameter("must be a JSON object", param_hint=f"--{option}")
    return value


@click.group("export")
def export_group() -> None:
    """Export data rows as Labelbox export-v2 NDJSON (one line per data row).

    Each export is a task that reads one consistent snapshot of the catalog. It writes a RESULT
    stream, an ERRORS stream (rows that could not be assembled, with their id and reason) and a
    manifest with check values into the home's export folder; `-o FILE` (or `-o -` for stdout)
    also writes the RESULT rows there as they are made. `labelport verify` re-checks it later.

    With `--url URL --api-key KEY` (or LABELPORT_URL and LABELPORT_API_KEY) the export runs on
    that server, in the key's organization, and stays there; `-o FILE` downloads its RESULT
    stream once it is complete (resuming after a dropped connection, checked against the
    manifest's sha256), `-o -` streams it to stdout.
    """


def _export_command(kind: str, name: str, arg: str | None, doc: str) -> click.Command:
    def command(**kw: Any) -> None:
        scope = _scope(kind, kw.pop("ids", None), kw.pop("global_keys", False))
        url, api_key = kw.pop("url"), kw.pop("api_key")
        if _remote(url, api_key, kw["org"]):
            _run_remote(scope, url, api_key, **kw)
        else:
            _run_export(scope, **kw)

    command.__doc__ = doc
    params: list[click.Parameter] = []
    if arg == "one":
        params.append(click.Argument(["ids"], nargs=1, metavar="ID"))
    elif arg == "many":
        params.append(click.Argument(["ids"], nargs=-1, required=True, metavar="ID..."))
        params.append(
            click.Option(
                ["--global-keys", "global_keys"],
                is_flag=True,
                help="The arguments are global keys, not data row ids.",
            )
        )
    cmd = click.Command(name, callback=command, params=params, help=doc, epilog=EPILOG_PARAMS)
    for decorator in _common_options():  # (a Command takes options in order)
        decorator(cmd)
    return cmd


def _common_options() -> list[Callable[[Any], Any]]:
    return [
        _json_option("params", "What to include, e.g. '{\"label_details\": true}'."),
        _json_option("filters", 'Which rows, e.g. \'{"workflow_status": "Done"}\'.'),
        click.option(
            "-o",
            "--output",
            metavar="FILE",
            default=None,
            help="Also write the RESULT rows to FILE ('-' for stdout) as they are made.",
        ),
        org_option,
        click.option(
            "--url",
            metavar="URL",
            envvar="LABELPORT_URL",
            default=None,
            help="Run the export on this labelport server (env LABELPORT_URL).",
        ),
        click.option(
            "--api-key",
            "api_key",
            metavar="KEY",
            envvar="LABELPORT_API_KEY",
            default=None,
            help="The API key for --url (env LABELPORT_API_KEY).",
        ),
    ]


def _remote(url: str | None, api_key: str | None, org: str | None) -> bool:
    """Whether to export on a server; flags that do not go together are usage errors.

    A server is chosen by ``--url`` (or LABELPORT_URL). An API key given on the command line
    without one is a mistake; one only in the environment is left alone (local mode).
    """
    ctx = click.get_current_context()
    if not url:
        if api_key and ctx.get_parameter_source("api_key") is not ParameterSource.ENVIRONMENT:
            raise click.UsageError(
                "--api-key is for a server export: give --url URL too (or set LABELPORT_URL)"
            )
        return False
    if org is not None:
        raise click.UsageError(
            "--org chooses an organization of the local catalog; on a server (--url) the export "
            "runs in the API key's organization: drop --org (or --url for a local export)"
        )
    if not api_key:
        raise click.UsageError(
            "--url needs an API key: --api-key KEY or LABELPORT_API_KEY "
            "(`labelport keys create` on the server makes one)"
        )
    return True


def _scope(kind: str, ids: Any, global_keys: bool) -> Scope:
    if kind == "catalog":
        return Scope("catalog")
    if kind == "data_rows":
        values = tuple(ids)
        return (
            Scope("data_rows", global_keys=values)
            if global_keys
            else Scope("data_rows", data_row_ids=values)
        )
    return Scope(kind, id=ids)


def _run_export(
    scope: Scope,
    raw_params: str | None,
    raw_filters: str | None,
    output: str | None,
    org: str | None,
) -> None:
    params = _parse_json(raw_params, "params")
    filters = _parse_json(raw_filters, "filters")
    st = store()
    organization = services.find_organization(st, org)
    task = services.start_export(st, organization.id, scope, params, filters)
    root = Artifacts.for_settings(settings())
    started = time.monotonic()
    with _tee(output) as tee, _bar(task.id) as progress:
        try:
            done = export_tasks.execute(st, root, task.id, tee=tee.stream, progress=progress)
        except KeyboardInterrupt:
            export_tasks.cancel(st, organization.id, task.id)
            err_console().print(f"canceled export {task.id}")
            raise SystemExit(130) from None
        if done.status != "COMPLETE":
            tee.fail()
    seconds = time.monotonic() - started
    echo = _summary_echo(output)
    if done.status != "COMPLETE":
        err_console().print(
            f"[bold red]Error:[/] export {done.id} {done.status}: {done.error_message}"
        )
        raise SystemExit(1)
    rows = done.result_lines or 0
    echo(f"export {done.id} COMPLETE")
    echo(f"  rows      {rows:,} in {seconds:.2f}s ({rows / max(seconds, 1e-9):,.0f} rows/s)")
    echo(f"  bytes     {done.result_bytes or 0:,}")
    echo(f"  errors    {done.error_lines or 0:,}")
    echo(f"  manifest  {_manifest_location(str(done.location))}")
    if output and output != "-":
        echo(f"  output    {output}")


def _run_remote(
    scope: Scope,
    url: str,
    api_key: str,
    raw_params: str | None,
    raw_filters: str | None,
    output: str | None,
    org: str | None,
) -> None:
    """The export on a server, through the SDK: same bar, same output, same summary."""
    from labelport.sdk import Client, ExportFailed, LabelportSDKError

    params = _parse_json(raw_params, "params")
    filters = _parse_json(raw_filters, "filters")
    scope_json: dict[str, Any] = {"kind": scope.kind}
    if scope.id is not None:
        scope_json["id"] = scope.id
    if scope.data_row_ids:
        scope_json["data_row_ids"] = list(scope.data_row_ids)
    if scope.global_keys:
        scope_json["global_keys"] = list(scope.global_keys)
    with Client(url, api_key) as client:
        started = time.monotonic()
        task = client.create_export(scope_json, params, filters)
        with _bar(task.id) as progress:
            try:
                task.wait_till_done(
                    on_progress=None if progress is None else lambda p: progress(p.done, p.total)
                )
            except ExportFailed:
                pass  # reported below, as the local command does
            except KeyboardInterrupt:
                # finished meanwhile, or the server is gone: nothing to cancel
                with suppress(LabelportSDKError):
                    task.cancel()
                err_console().print(f"canceled export {task.id}")
                raise SystemExit(130) from None
        if task.status != "COMPLETE":
            err_console().print(
                f"[bold red]Error:[/] export {task.id} {task.status}: {task.error_message}"
            )
            raise SystemExit(1)
        if output == "-":
            out = sys.stdout.buffer
            for piece in task.iter_bytes("result"):
                out.write(piece)
            out.flush()
        elif output:
            task.download(output, "result", progress=err_console().is_terminal)
        seconds = time.monotonic() - started
        rows = task.get_total_lines("result")
        echo = _summary_echo(output)
        echo(f"export {task.id} COMPLETE")
        echo(f"  rows      {rows:,} in {seconds:.2f}s ({rows / max(seconds, 1e-9):,.0f} rows/s)")
        echo(f"  bytes     {task.get_total_file_size('result'):,}")
        echo(f"  errors    {task.get_total_lines('errors'):,}")
        echo(f"  manifest  {client.base_url}/api/v1/exports/{task.id}/manifest")
        if output and output != "-":
            echo(f"  output    {output}")


def _summary_echo(output: str | None) -> Callable[[str], None]:
    if output == "-":
        return lambda line: click.echo(line, err=True)
    return click.echo


class _Output:
    """Where `-o` sends the RESULT rows while they are made; ``fail()`` drops a FILE at the end."""

    def __init__(self, stream: IO[bytes] | None) -> None:
        self.stream = stream
        self.failed = False

    def fail(self) -> None:
        self.failed = True


@contextmanager
def _tee(output: str | None) -> Iterator[_Output]:
    """The extra output for `-o`: stdout, or FILE written as FILE.partial and renamed at the end."""
    if output is None:
        yield _Output(None)
        return
    if output == "-":
        yield _Output(sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return
    path = Path(output)
    partial = path.with_name(path.name + ".partial")
    with partial.open("wb") as stream:
        out = _Output(stream)
        try:
            yield out
        except BaseException:
            out.failed = True
            raise
        finally:
            stream.close()
            if out.failed:
                partial.unlink(missing_ok=True)
    partial.replace(path)


@contextmanager
def _bar(label: str) -> Iterator[Callable[[int, int | None], None] | None]:
    """A progress bar with rows, rows/s and ETA on a terminal; nothing otherwise."""
    if not err_console().is_terminal:
        yield None
        return
    columns = (
        TextColumn("export"),
        BarColumn(),
        TextColumn("{task.completed:,.0f}/{task.fields[planned]} rows"),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
    )
    started = time.monotonic()
    with Progress(*columns, console=err_console(), transient=True) as bar:
        task = bar.add_task(label, total=None, planned="?", rate="")

        def update(done: int, total: int | None) -> None:
            rate = done / max(time.monotonic() - started, 1e-9)
            bar.update(
                task,
                completed=done,
                total=total,
                planned=f"{total:,}" if total is not None else "?",
                rate=f"{rate:,.0f} rows/s",
            )

        yield update


export_group.add_command(
    _export_command(
        "project",
        "project",
        "one",
        """Export the data rows of project ID with their labels in it.

        Params: attachments, metadata_fields, embeddings, data_row_details, project_details,
        label_details, performance_details, interpolated_frames, media_type_override.
        Filters: last_activity_at, label_created_at, workflow_status, batch_ids, global_keys,
        data_row_ids.

        \b
        Example:
          labelport export project ckx... --params '{"label_details": true}' \\
              --filters '{"workflow_status": "Done"}' -o done.ndjson
        """,
    )
)
export_group.add_command(
    _export_command(
        "dataset",
        "dataset",
        "one",
        """Export the data rows of dataset ID, with labels and predictions of chosen projects
        and model runs (project_ids, model_run_ids, all_projects, all_model_runs).

        Filters: last_activity_at, label_created_at, global_keys, data_row_ids.

        \b
        Example:
          labelport export dataset ckx... --params '{"all_projects": true}' -o rows.ndjson
        """,
    )
)
export_group.add_command(
    _export_command(
        "slice",
        "slice",
        "one",
        """Export the data rows a catalog slice selects (a slice takes no further filters).

        \b
        Example:
          labelport export slice ckx... --params '{"metadata_fields": true}' -o -
        """,
    )
)
export_group.add_command(
    _export_command(
        "model_run",
        "model-run",
        "one",
        """Export the data rows of model run ID with its labels, and with `predictions` and
        `model_run_details` (the split) when asked. Model run exports take no filters.

        \b
        Example:
          labelport export model-run ckx... --params '{"predictions": true}' -o run.ndjson
        """,
    )
)
export_group.add_command(
    _export_command(
        "data_rows",
        "data-rows",
        "many",
        """Export the data rows given by id (or by global key with --global-keys).

        \b
        Example:
          labelport export data-rows --global-keys img-1.jpg img-2.jpg \\
              --params '{"all_projects": true}'
        """,
    )
)
export_group.add_command(
    _export_command(
        "catalog",
        "catalog",
        None,
        """Export the whole catalog (narrow it with filters).

        \b
        Example:
          labelport export catalog --filters '{"last_activity_at": ["2024-01-01", null]}'
        """,
    )
)


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


def _manifest_location(location: str) -> str:
    """Where a finished export's manifest is: a path, or the object's URL."""
    if "://" in location:
        return f"{location.rstrip('/')}/{MANIFEST}"
    return str(Path(location) / MANIFEST)


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


# ---------------------------------------------------------------------------------- verify


@click.command("verify")
@click.argument("target", metavar="TASK_OR_DIR")
def verify_command(target: str) -> None:
    """Recompute every check value of an export and say what differs.

    TASK_OR_DIR is an export task id or an export directory (one holding manifest.json). Every
    file's bytes, lines and sha256, the line index, and every count in the manifest (data rows,
    labels, predictions, annotations by kind, workflow statuses, errors) are recomputed from
    the files. Exit code 0 when all match, 1 otherwise.

    \b
    Example:
      labelport verify ckx...
      labelport verify ./.labelport/blobs/exports/ckx...
    """
    path = Path(target)
    shown = str(path)
    if path.is_dir():
        outcome = verify(path)
    else:
        task = export_tasks.find_task(store(), target)
        if task.location is None:
            raise click.ClickException(f"export {task.id} is {task.status}; it has no files")
        folder = open_folder(task.location, settings())
        shown = task.location
        with local_copy(folder) as copy:  # an object store's folder: checked on a local copy
            outcome = verify(copy)
    for line in outcome.checked:
        click.echo(f"ok       {line}")
    for problem in outcome.problems:
        click.echo(f"DIFFERS  {problem}")
    if outcome.ok:
        click.echo(f"verified {shown}: everything matches the manifest")
        return
    click.echo(f"{shown}: {len(outcome.problems)} difference(s)", err=True)
    raise SystemExit(1)
