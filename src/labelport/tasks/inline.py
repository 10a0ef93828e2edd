"""The default runner: export tasks on a small pool of threads in this process."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from labelport.export.artifacts import Artifacts
from labelport.store import Store
from labelport.tasks import records
from labelport.tasks.records import TaskInfo


class InlineRunner:
    """Runs queued export tasks on ``workers`` threads; :meth:`cancel` stops one between pages."""

    def __init__(self, store: Store, root: Path | Artifacts, *, workers: int = 2) -> None:
        self.store = store
        self.root = root
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="labelport-export")
        self._events: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def submit(self, task_id: str) -> Future[TaskInfo]:
        event = threading.Event()
        with self._lock:
            self._events[task_id] = event
        future = self._pool.submit(self._run, task_id, event)
        return future

    def _run(self, task_id: str, event: threading.Event) -> TaskInfo:
        try:
            return records.execute(self.store, self.root, task_id, cancel_event=event)
        finally:
            with self._lock:
                self._events.pop(task_id, None)

    def cancel(self, org_id: str, task_id: str) -> TaskInfo:
        with self._lock:
            event = self._events.get(task_id)
        if event is not None:
            event.set()
        return records.cancel(self.store, org_id, task_id)

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=not wait)
