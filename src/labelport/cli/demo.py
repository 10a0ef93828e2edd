"""``labelport demo``: build the demo catalog through the real import path."""

from __future__ import annotations

import click

from labelport import demo as demo_lib
from labelport.cli.common import settings, store


@click.command()
@click.option("--rows", default=60, show_default=True, help="Data rows per media type.")
@click.option(
    "--seed", default=7, show_default=True, help="Random seed (the demo is deterministic)."
)
def demo(rows: int, seed: int) -> None:
    """Build a deterministic demo catalog with every media type and annotation kind.

    It writes Labelbox, Vertex AI and Diffgram files into <home>/demo, imports them with the
    same code as `labelport import`, adds slices and annotation sets, prints what is there, then
    exports a project, a dataset, a model run, a slice and the whole catalog, verifies each
    export against its manifest and prints where the files are.

    \b
    Example:
      LABELPORT_HOME=/tmp/lp labelport demo --rows 200
    """
    cfg = settings()
    report = demo_lib.run(store(), cfg, rows_per_type=rows, seed=seed)
    for line in report:
        click.echo(line)
