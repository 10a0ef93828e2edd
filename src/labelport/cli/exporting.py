"""``labelport export``: export data rows as Labelbox export-v2 NDJSON.

It runs locally (the catalog of ``LABELPORT_DATABASE_URL``, the export written into the home)
or, with ``--url`` and ``--api-key`` (or ``LABELPORT_URL``/``LABELPORT_API_KEY``), on a labelport
server through :mod:`labelport.sdk`: the same options, the same progress bar, the same ``-o``
output and summary lines (:mod:`labelport.cli.export_output`). The export tasks it leaves are
listed and read by ``labelport exports`` (:mod:`labelport.cli.export_tasks`) and checked by
``labelport verify`` (:mod:`labelport.cli.verifying`).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from labelport import services
from labelport.cli.common import err_console, org_option, settings, store
from labelport.cli.export_output import progress_bar, row_output, summary_echo
from labelport.export.artifacts import Artifacts
from labelport.export.manifest import MANIFEST
from labelport.export.spec import Scope
from labelport.services import export_tasks

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
    with row_output(output) as tee, progress_bar(task.id) as progress:
        try:
            done = export_tasks.execute(st, root, task.id, tee=tee.stream, progress=progress)
        except KeyboardInterrupt:
            export_tasks.cancel(st, organization.id, task.id)
            err_console().print(f"canceled export {task.id}")
            raise SystemExit(130) from None
        if done.status != "COMPLETE":
            tee.fail()
    seconds = time.monotonic() - started
    echo = summary_echo(output)
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
        with progress_bar(task.id) as progress:
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
        echo = summary_echo(output)
        echo(f"export {task.id} COMPLETE")
        echo(f"  rows      {rows:,} in {seconds:.2f}s ({rows / max(seconds, 1e-9):,.0f} rows/s)")
        echo(f"  bytes     {task.get_total_file_size('result'):,}")
        echo(f"  errors    {task.get_total_lines('errors'):,}")
        echo(f"  manifest  {client.base_url}/api/v1/exports/{task.id}/manifest")
        if output and output != "-":
            echo(f"  output    {output}")


def _manifest_location(location: str) -> str:
    """Where a finished export's manifest is: a path, or the object's URL."""
    if "://" in location:
        return f"{location.rstrip('/')}/{MANIFEST}"
    return str(Path(location) / MANIFEST)


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
