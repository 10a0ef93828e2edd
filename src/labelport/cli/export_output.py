"""Where ``labelport export`` sends what it makes, on the terminal and beside it.

:func:`row_output` is the extra output of ``-o`` (stdout, or FILE written as FILE.partial and
renamed at the end, dropped when the export fails), :func:`progress_bar` the bar with rows, rows/s
and ETA on a terminal, and :func:`summary_echo` where the summary lines go (stderr when the rows
go to stdout). Used by :mod:`labelport.cli.exporting` for local and server exports alike.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import click
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from labelport.cli.common import err_console


def summary_echo(output: str | None) -> Callable[[str], None]:
    if output == "-":
        return lambda line: click.echo(line, err=True)
    return click.echo


class RowOutput:
    """Where `-o` sends the RESULT rows while they are made; ``fail()`` drops a FILE at the end."""

    def __init__(self, stream: IO[bytes] | None) -> None:
        self.stream = stream
        self.failed = False

    def fail(self) -> None:
        self.failed = True


@contextmanager
def row_output(output: str | None) -> Iterator[RowOutput]:
    """The extra output for `-o`: stdout, or FILE written as FILE.partial and renamed at the end."""
    if output is None:
        yield RowOutput(None)
        return
    if output == "-":
        yield RowOutput(sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return
    path = Path(output)
    partial = path.with_name(path.name + ".partial")
    with partial.open("wb") as stream:
        out = RowOutput(stream)
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
def progress_bar(label: str) -> Iterator[Callable[[int, int | None], None] | None]:
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
