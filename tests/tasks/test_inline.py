"""The in-process runner: tasks run on threads, in parallel, and stop when canceled."""

from __future__ import annotations

import threading
from pathlib import Path

from labelport import services
from labelport.export.spec import Scope
from labelport.store import Store
from labelport.tasks import InlineRunner
from tests.export.test_engine import import_rows, simple_row


def test_runner_runs_queued_exports_and_cancels_a_running_one(
    store: Store, org: services.Organization, tmp_path: Path, monkeypatch
) -> None:
    import_rows(store, org.id, [simple_row(n) for n in range(20)])
    runner = InlineRunner(store, tmp_path / "exports", workers=2)
    try:
        first = services.start_export(store, org.id, Scope("catalog"))
        second = services.start_export(
            store, org.id, Scope("catalog"), None, {"global_keys": ["row-3"]}
        )
        assert first.status == second.status == "QUEUED"
        done = [runner.submit(first.id).result(timeout=60), runner.submit(second.id).result(60)]
        assert [d.status for d in done] == ["COMPLETE", "COMPLETE"]
        assert [d.result_lines for d in done] == [20, 1]

        # A running export stops at its next page once canceled.
        gate, resume = threading.Event(), threading.Event()
        import labelport.export.engine as engine

        real = engine.page_lines

        def slow_fetch(*args, **kwargs):  # type: ignore[no-untyped-def]
            gate.set()
            resume.wait(10)
            return real(*args, **kwargs)

        monkeypatch.setattr(engine, "page_lines", slow_fetch)
        third = services.start_export(store, org.id, Scope("catalog"))
        future = runner.submit(third.id)
        assert gate.wait(10)
        canceled = runner.cancel(org.id, third.id)
        assert canceled.status == "CANCELED"
        resume.set()
        final = future.result(timeout=60)
        assert final.status == "CANCELED" and final.location is None
        assert not (tmp_path / "exports" / third.id).exists()
    finally:
        runner.shutdown()


def test_a_task_canceled_before_it_starts_never_runs(
    store: Store, org: services.Organization, tmp_path: Path
) -> None:
    import_rows(store, org.id, [simple_row(1)])
    runner = InlineRunner(store, tmp_path / "exports", workers=1)
    try:
        task = services.start_export(store, org.id, Scope("catalog"))
        runner.cancel(org.id, task.id)
        final = runner.submit(task.id).result(timeout=60)
        assert final.status == "CANCELED" and final.started_at is None
    finally:
        runner.shutdown()
