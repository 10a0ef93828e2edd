"""Shared CLI plumbing: settings and store from the environment, errors at the edge, progress.

Nothing here imports the catalog (SQLAlchemy) or rich at module level: the root command loads
this module for ``--help`` and ``--version``, which must answer at once.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from labelport.errors import LabelportError
from labelport.settings import Settings, load_settings

if TYPE_CHECKING:
    from rich.console import Console

    from labelport.store import Store


@functools.cache
def err_console() -> Console:
    """The console for messages and progress bars on stderr."""
    from rich.console import Console

    return Console(stderr=True, highlight=False)


class LabelportGroup(click.Group):
    """A group that turns LabelportError into a message on stderr and its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LabelportError as exc:
            err_console().print(f"[bold red]Error:[/] {exc}", markup=True, soft_wrap=True)
            sys.exit(exc.exit_code)


def settings() -> Settings:
    return load_settings()


def store() -> Store:
    """The catalog for this command: opened (and migrated) once, disposed when it ends."""
    ctx = click.get_current_context().find_root()
    opened: Store | None = ctx.meta.get("labelport.store")
    if opened is None:
        from labelport.store import open_store

        opened = open_store(settings().database_url)
        ctx.meta["labelport.store"] = opened
        ctx.call_on_close(opened.dispose)
    return opened


org_option = click.option(
    "--org",
    "org",
    metavar="NAME",
    default=None,
    help="Organization to act in (default: the only one there is).",
)


@contextmanager
def file_progress(path: str, label: str) -> Iterator[tuple[IO[bytes], Callable[[int], None]]]:
    """Open ``path`` ('-' for stdin) and show a byte progress bar while it is read, on a TTY."""
    if path == "-":
        yield sys.stdin.buffer, lambda _rows: None
        return
    file = Path(path)
    if not file.is_file():
        raise click.BadParameter(f"no such file: {path}", param_hint="FILE")
    total = file.stat().st_size
    with file.open("rb") as stream:
        console = err_console()
        if not console.is_terminal:
            yield stream, lambda _rows: None
            return
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TextColumn("{task.fields[rows]} rows"),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task(label, total=total, rows=0)

            def update(rows: int) -> None:
                bar.update(task, completed=stream.tell(), rows=f"{rows:,}")

            yield stream, update
