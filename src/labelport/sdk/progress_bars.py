"""A download's progress bar on stderr: rich when installed, else tqdm, else none.

:func:`progress_bar` gives a context whose value is called with the bytes done so far (or None
when no bar is shown); :meth:`~labelport.sdk.tasks.ExportTask.download` uses it. Neither rich
nor tqdm is a dependency of the SDK: they are imported only when a bar is asked for.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass


def progress_bar(
    show: bool, total: int, label: str
) -> AbstractContextManager[Callable[[int], None] | None]:
    if not show:
        return nullcontext(None)
    try:
        return _rich_bar(total, label)
    except ImportError:
        pass
    try:
        return _tqdm_bar(total, label)
    except ImportError:
        return nullcontext(None)


class _rich_bar:
    def __init__(self, total: int, label: str) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self.bar = Progress(
            TextColumn("download"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self.total = total
        self.label = label

    def __enter__(self) -> Callable[[int], None]:
        self.bar.__enter__()
        task = self.bar.add_task(self.label, total=self.total)

        def update(done: int) -> None:
            self.bar.update(task, completed=done)

        return update

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(None, None, None)


class _tqdm_bar:
    def __init__(self, total: int, label: str) -> None:
        tqdm = importlib.import_module("tqdm").tqdm
        self.bar = tqdm(total=total, unit="B", unit_scale=True, desc=label, leave=False)
        self.done = 0

    def __enter__(self) -> Callable[[int], None]:
        def update(done: int) -> None:
            self.bar.update(done - self.done)
            self.done = done

        return update

    def __exit__(self, *exc: object) -> None:
        self.bar.close()
