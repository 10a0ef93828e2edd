"""``labelport verify``: recompute every check value of an export and say what differs.

The export is named by its task id (its files are checked on a local copy when they are in an
object store) or by its directory; :func:`labelport.export.manifest.verify` does the work.
"""

from __future__ import annotations

from pathlib import Path

import click

from labelport.cli.common import settings, store
from labelport.export.artifacts import local_copy, open_folder
from labelport.export.manifest import verify
from labelport.services import export_tasks


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
