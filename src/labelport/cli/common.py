"""Shared CLI plumbing: settings and store from the environment, errors at the edge, progress."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from labelport.errors import LabelportError
from labelport.settings import Settings, load_settings
from labelport.store import Store, open_store

err_console = Console(stderr=True, highlight=False)


class LabelportGroup(click.Group):
    """A group that turns LabelportError into a message on stderr and its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LabelportError as exc:
            err_console.print(f"[bold red]Error:[/] {exc}", markup=True, soft_wrap=True)
            sys.exit(exc.exit_code)


def settings() -> Settings:
    return load_settings()


def store() -> Store:
    """The catalog for this command: opened (and migrated) once, disposed when it ends."""
    ctx = click.get_current_context().find_root()
    opened = ctx.meta.get("labelport.store")
    if opened is None:
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
        if not err_console.is_terminal:
            yield stream, lambda _rows: None
            return
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TextColumn("{task.fields[rows]} rows"),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=err_console, transient=True) as bar:
            task = bar.add_task(label, total=total, rows=0)

            def update(rows: int) -> None:
                bar.update(task, completed=stream.tell(), rows=f"{rows:,}")

            yield stream, update
