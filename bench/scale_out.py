"""Scale-out: one project export on PostgreSQL, inline and through one and two Celery workers.

Imports N image rows (the generator and importer of ``export_rows.py``: Labelbox export-v2
NDJSON of a project with boxes, a radio classification, metadata, label, performance and project
details) into a PostgreSQL schema and exports the project with every param on, three ways, each
in fresh processes:

* inline: a fresh interpreter creates the task and runs ``export_tasks.execute`` on it (the
  in-process runner); its peak RSS from ``getrusage``;
* 1 worker / 2 workers: ``labelport worker -c 1`` processes (``LABELPORT_RUNNER=celery``, the
  broker, the catalog, a shared ``LABELPORT_HOME`` and ``LABELPORT_SHARD_ROWS``); the task is
  created here and sent with the Celery dispatcher, timed from the dispatch to COMPLETE (polling
  the task record); each worker's peak RSS is its ``VmHWM`` read before it is stopped.

Every export must be COMPLETE and pass ``manifest.verify``, and the sha256 of its RESULT stream
must be the same in every configuration (one snapshot of unchanged data: byte-identical exports).
Prints a markdown table (wall time, rows/s, MB/s, speed-up over one worker, peak RSS per process),
whether two workers beat one, and a 10M-row plan from the measured per-row costs (import and export
time, N workers at the measured two-worker efficiency, PostgreSQL and RESULT bytes, peak RSS).

    .venv/bin/python bench/scale_out.py --rows 20000 --shard-rows 5000
    .venv/bin/python bench/scale_out.py --rows 1000000 --workdir /var/tmp/lp-scale --keep \\
        --prepare-only
    .venv/bin/python bench/scale_out.py --rows 1000000 --workdir /var/tmp/lp-scale --keep

With ``--workdir DIR --keep`` the generated rows file and the imported catalog (PostgreSQL schema
``lp_scale_<N>_v<generator version>``) are kept and reused by the next run of the same N, as long
as the schema holds N data rows; importing a million rows takes minutes, so prepare it once with
``--prepare-only`` (generate and import, then stop). Results go to ``DIR/scale-results.json``; a
run on a reused catalog plans the import from the import recorded there. The broker's ``labelport``
queue is purged before each run: use a Redis database nobody else uses (default db 15).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from export_rows import GENERATOR_VERSION, PARAMS, PROJECT_ID, run_child, write_rows
from pgschema import child_result, drop_schema, kept_schema_url, postgres_url

DEFAULT_POSTGRES = "postgresql+psycopg://127.0.0.1:5432/test"
DEFAULT_BROKER = "redis://127.0.0.1:6379/15"
PLAN_ROWS = 10_000_000
PLAN_WORKERS = (4, 8)  # worker counts the plan extrapolates to
WORKING = 0.10  # a worker whose CPU time is below this share of the wall time counts as idle
FASTER = 1.10  # "2 workers faster than 1" needs at least this speed-up (beyond noise)
READY_TIMEOUT = 60.0
POLL_SECONDS = 0.05
RESULTS = "scale-results.json"
WORKER_SCRIPT = (
    "import sys\nfrom labelport.cli import cli\ncli(sys.argv[1:], prog_name='labelport')"
)

Process = subprocess.Popen[bytes]


# ------------------------------------------------------------------------------ the catalog


@dataclass(slots=True)
class Catalog:
    url: str
    schema: str
    org_id: str
    kept: bool
    imported: dict[str, Any] | None  # the import's result when this run imported


def _engine(url: str) -> Any:
    import sqlalchemy as sa

    return sa.create_engine(url)


def data_rows(url: str) -> int | None:
    """Data rows in the catalog at ``url``; None when it has no ``data_row`` table."""
    import sqlalchemy as sa

    engine = _engine(url)
    try:
        with engine.connect() as conn:
            if conn.execute(sa.text("SELECT to_regclass('data_row')")).scalar() is None:
                return None
            return int(conn.execute(sa.text("SELECT count(*) FROM data_row")).scalar_one())
    finally:
        engine.dispose()


def bench_org(url: str) -> str:
    import sqlalchemy as sa

    engine = _engine(url)
    try:
        with engine.connect() as conn:
            query = sa.text("SELECT id FROM organization WHERE name = 'bench'")
            return str(conn.execute(query).scalar_one())
    finally:
        engine.dispose()


def schema_bytes(base: str, schema: str) -> int:
    """``pg_total_relation_size`` (tables with their indexes and TOAST) over the schema's tables."""
    import sqlalchemy as sa

    engine = _engine(base)
    try:
        with engine.connect() as conn:
            query = sa.text(
                "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = :schema AND c.relkind = 'r'"
            )
            return int(conn.execute(query, {"schema": schema}).scalar_one())
    finally:
        engine.dispose()


def rows_file(workdir: Path, rows: int, keep: bool) -> Path:
    """The generated rows (the file name ``export_rows.py`` uses, so the two share it)."""
    path = workdir / f"rows-{rows}-g{GENERATOR_VERSION}.ndjson"
    if keep and path.exists():
        print(f"file: reusing {path}")
    else:
        started = time.perf_counter()
        write_rows(path, rows)
        print(f"file: generated {path.name} in {time.perf_counter() - started:.1f} s")
    size_mb = path.stat().st_size / 1e6
    print(f"file: {rows:,} image rows, {size_mb:,.0f} MB ({size_mb * 1e6 / rows:,.0f} B/row)")
    return path


def open_catalog(base: str, workdir: Path, rows: int, keep: bool) -> Catalog:
    """The imported catalog of ``rows`` rows: the kept schema when it is complete, else imported."""
    if keep:
        schema = f"lp_scale_{rows}_v{GENERATOR_VERSION}"
        url = kept_schema_url(base, schema)
        if url is None:
            raise SystemExit(f"PostgreSQL at {base} is not reachable")
        have = data_rows(url)
        if have == rows:
            print(f"catalog: reusing PostgreSQL schema {schema} ({rows:,} data rows)")
            return Catalog(url, schema, bench_org(url), True, None)
        if have is not None:
            print(f"catalog: schema {schema} holds {have:,} data rows, not {rows:,}; re-importing")
            drop_schema(base, schema)
            url = kept_schema_url(base, schema)
            assert url is not None
    else:
        made = postgres_url(base, f"lp_scale_{rows}")
        if made is None:
            raise SystemExit(f"PostgreSQL at {base} is not reachable")
        url, schema = made
    try:
        path = rows_file(workdir, rows, keep)
        print(f"catalog: importing {rows:,} rows into PostgreSQL schema {schema} ...", flush=True)
        got = run_child("import", url, str(path))
    except BaseException:
        if not keep:  # a kept schema left half-imported is found short and re-imported next time
            drop_schema(base, schema)
        raise
    got["recorded_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    print(
        f"import: {got['rows']:,} rows in {got['seconds']:.1f} s, "
        f"{got['rows'] / got['seconds']:,.0f} rows/s, peak RSS {got['rss_mb']:,.0f} MB"
    )
    if keep:
        (workdir / f"{schema}.json").write_text(json.dumps(got, indent=1))
    return Catalog(url, schema, str(got["org_id"]), keep, got)


def cancel_leftovers(url: str) -> None:
    """Cancel exports an interrupted earlier run left queued or running (a worker's recovery
    sweep would otherwise run them again, next to the measured one)."""
    import sqlalchemy as sa

    from labelport.services import export_tasks
    from labelport.store import open_store
    from labelport.store import schema as s

    store = open_store(url)
    t = s.export_task
    with store.read() as conn:
        left = conn.execute(
            sa.select(t.c.id, t.c.org_id).where(t.c.status.in_(("QUEUED", "IN_PROGRESS")))
        ).all()
    for task_id, org_id in left:
        with contextlib.suppress(Exception):
            export_tasks.cancel(store, str(org_id), str(task_id))
    store.dispose()
    if left:
        print(f"catalog: canceled {len(left)} export(s) left unfinished by an earlier run")


# ------------------------------------------------------------------------------ inline (child)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_inline(url: str, home: str, org_id: str) -> dict[str, Any]:
    """Create the export and run it with ``export_tasks.execute`` in this (fresh) interpreter."""
    from labelport import services
    from labelport.export.artifacts import Artifacts
    from labelport.export.spec import Scope
    from labelport.services import export_tasks
    from labelport.settings import load_settings
    from labelport.store import open_store

    settings = load_settings({}, home=home, database_url=url, runner="inline")
    store = open_store(url)
    task = services.start_export(
        store, org_id, Scope("project", PROJECT_ID), params=PARAMS, filters=None
    )
    cpu_before = _cpu_seconds()
    started = time.perf_counter()
    done = export_tasks.execute(store, Artifacts.for_settings(settings), task.id, settings=settings)
    seconds = time.perf_counter() - started
    cpu = _cpu_seconds() - cpu_before
    store.dispose()
    return {**_outcome(done), "seconds": seconds, "rss_mb": [_peak_rss_mb()], "cpu_s": [cpu]}


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _outcome(task: Any) -> dict[str, Any]:
    return {
        "task_id": task.id,
        "status": task.status,
        "error": task.error_message,
        "rows": task.result_lines or 0,
        "bytes": task.result_bytes or 0,
        "location": task.location,
    }


def run_local_child(*args: str) -> dict[str, Any]:
    return child_result(__file__, *args)


# ------------------------------------------------------------------------------ Celery workers


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.1)


def vm_hwm_mb(pid: int) -> float | None:
    """Peak resident set size of a running process (``VmHWM``), in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time a running process has used (all its threads), in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Workers:
    """``labelport worker -c 1`` subprocesses, each in a session of its own."""

    def __init__(self, env: dict[str, str], folder: Path) -> None:
        self.env = env
        self.folder = folder
        self.processes: list[Process] = []
        self.logs: list[Path] = []

    def start(self, count: int) -> None:
        for n in range(count):
            log = self.folder / f"worker-{n}.log"
            with log.open("wb") as out:
                command = [sys.executable, "-c", WORKER_SCRIPT, "worker", "-c", "1"]
                self.processes.append(
                    subprocess.Popen(
                        [*command, "--log-level", "info"],
                        env=self.env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
            self.logs.append(log)
        for n, (process, log) in enumerate(zip(self.processes, self.logs, strict=True)):

            def ready(process: Process = process, log: Path = log) -> bool:
                if process.poll() is not None:
                    raise SystemExit(f"worker exited (code {process.returncode}); see {log}")
                return " ready." in log.read_text(errors="replace")

            wait_for(ready, READY_TIMEOUT, f"worker {n} to be ready (log {log})")

    def cpu_seconds(self) -> list[float | None]:
        return [cpu_seconds(process.pid) for process in self.processes]

    def peak_rss_mb(self) -> list[float | None]:
        return [vm_hwm_mb(process.pid) for process in self.processes]

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def purge_queue(app: Any) -> int:
    """Drop the messages waiting in the ``labelport`` queue; how many there were."""
    from labelport.settings import load_settings

    with app.connection_for_write() as conn:
        try:
            return int(conn.default_channel.queue_purge(load_settings({}).queue) or 0)
        except Exception:  # the queue does not exist yet (AMQP)
            return 0


def worker_env(cat: Catalog, broker: str, home: Path, shard_rows: int) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("LABELPORT_")},
        "LABELPORT_RUNNER": "celery",
        "LABELPORT_BROKER_URL": broker,
        "LABELPORT_DATABASE_URL": cat.url,
        "LABELPORT_HOME": str(home),
        "LABELPORT_SHARD_ROWS": str(shard_rows),
    }


def run_celery(
    cat: Catalog, count: int, broker: str, shard_rows: int, folder: Path, timeout: float
) -> dict[str, Any]:
    """The export sent to ``count`` fresh workers, timed from the dispatch to COMPLETE."""
    from labelport import services
    from labelport.export.spec import Scope
    from labelport.services import export_tasks
    from labelport.settings import load_settings
    from labelport.store import open_store
    from labelport.tasks import celery

    home = folder / "home"
    env = worker_env(cat, broker, home, shard_rows)
    settings = load_settings(env)
    app = celery.make_app(settings)
    purged = purge_queue(app)
    if purged:
        print(f"broker: purged {purged} waiting message(s)")
    workers = Workers(env, folder)
    store = open_store(cat.url)
    try:
        workers.start(count)
        task = services.start_export(
            store, cat.org_id, Scope("project", PROJECT_ID), params=PARAMS, filters=None
        )
        cpu_before = workers.cpu_seconds()
        started = time.perf_counter()
        celery.dispatcher(app)("export", task.id)
        deadline = time.monotonic() + timeout
        while True:
            done = export_tasks.get(store, cat.org_id, task.id)
            if done.finished:
                break
            dead = [p.returncode for p in workers.processes if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                why = f"a worker exited ({dead})" if dead else f"still {done.status}"
                raise SystemExit(f"{count}-worker export {task.id}: {why}; logs in {folder}")
            time.sleep(POLL_SECONDS)
        seconds = time.perf_counter() - started
        rss = workers.peak_rss_mb()
        cpu = [
            None if a is None or b is None else b - a
            for a, b in zip(cpu_before, workers.cpu_seconds(), strict=True)
        ]
    finally:
        workers.stop()
        store.dispose()
        purge_queue(app)  # what the stopped workers left (e.g. messages of finished work)
    return {**_outcome(done), "seconds": seconds, "rss_mb": rss, "cpu_s": cpu}


# ------------------------------------------------------------------------------ one measurement


@dataclass(slots=True)
class Measured:
    name: str
    processes: int
    got: dict[str, Any]
    sha256: str = ""
    verified: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return float(self.got["rows"]) / float(self.got["seconds"])

    @property
    def mb_s(self) -> float:
        return float(self.got["bytes"]) / 1e6 / float(self.got["seconds"])


def check(name: str, processes: int, got: dict[str, Any], rows: int) -> Measured:
    """Verify the export (COMPLETE, manifest, row count), note its RESULT sha256, remove it."""
    from labelport.export.manifest import read_manifest, stream_info, verify

    m = Measured(name, processes, got)
    if got["status"] != "COMPLETE":
        raise SystemExit(f"{name}: export {got['task_id']} ended {got['status']}: {got['error']}")
    folder = Path(got["location"])
    try:
        result = verify(folder)
        m.problems.extend(result.problems[:5])
        m.sha256 = stream_info(read_manifest(folder), "result").sha256
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if got["rows"] != rows:
        m.problems.append(f"{got['rows']:,} rows exported, not {rows:,}")
    m.verified = not m.problems
    status = "verified" if m.verified else "PROBLEMS: " + "; ".join(m.problems)
    print(
        f"{name}: {got['rows']:,} rows, {got['bytes'] / 1e6:,.1f} MB in {got['seconds']:.2f} s "
        f"({m.rate:,.0f} rows/s); {status}",
        flush=True,
    )
    return m


# ------------------------------------------------------------------------------ report


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:,.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:,.1f} min"
    return f"{seconds / 3600:,.1f} h"


def _rss(values: list[float | None]) -> str:
    return " / ".join("?" if v is None else f"{v:,.0f}" for v in values)


def _cpu(values: list[float | None]) -> str:
    return " / ".join("?" if v is None else f"{v:,.1f}" for v in values)


def one_worker(measured: list[Measured]) -> Measured | None:
    return next((m for m in measured if m.name == "1 worker"), None)


def two_workers(measured: list[Measured]) -> Measured | None:
    return next((m for m in measured if m.name == "2 workers"), None)


def report(rows: int, measured: list[Measured]) -> list[str]:
    base = one_worker(measured)
    lines = [
        f"| configuration ({rows:,} rows) | processes | wall s | rows/s | MB/s "
        "| speed-up vs 1 worker | CPU s per process | peak RSS per process (MB) | verified |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for m in measured:
        speed = "—" if base is None else f"{m.rate / base.rate:.2f}×"
        lines.append(
            f"| {m.name} | {m.processes} | {m.got['seconds']:,.2f} | {m.rate:,.0f} "
            f"| {m.mb_s:,.1f} | {speed} | {_cpu(m.got['cpu_s'])} | {_rss(m.got['rss_mb'])} "
            f"| {'yes' if m.verified else 'NO'} |"
        )
    lines.append("")
    shas = {m.sha256 for m in measured}
    same = len(shas) == 1 and "" not in shas
    names = " = ".join(m.name for m in measured)
    detail = (
        next(iter(shas))[:16] + "…"
        if same
        else ", ".join(f"{m.name} {m.sha256[:12]}" for m in measured)
    )
    lines.append(f"RESULT sha256 identical ({names}): {'PASS' if same else 'FAIL'} ({detail})")
    two = two_workers(measured)
    if base is not None and two is not None:
        speed_up = two.rate / base.rate
        # both at work: each worker spent at least a tenth of the wall time on the CPU
        shared = all(c is not None and c >= WORKING * two.got["seconds"] for c in two.got["cpu_s"])
        if speed_up >= FASTER and shared:
            verdict, note = "PASS", ""
        elif speed_up >= FASTER:
            verdict, note = "INFO", " (but one worker was idle: noise, not parallelism)"
        else:
            verdict, note = "INFO", " (no parallel speed-up: is sharding active?)"
        lines.append(
            f"2 workers faster than 1 (speed-up ≥ {FASTER:.2f}× with both workers at work): "
            f"{verdict} {speed_up:.3f}×{note}"
        )
    return lines


def import_basis(results: dict[str, Any], rows: int, cat: Catalog) -> tuple[float, str] | None:
    """(rows/s, where it comes from) of the import to plan with."""
    if cat.imported is not None:
        return cat.imported["rows"] / cat.imported["seconds"], "measured in this run"
    imports: dict[str, Any] = results.get("imports", {})
    key = str(rows) if str(rows) in imports else max(imports, key=int, default=None)
    if key is None:
        return None
    got = imports[key]
    return float(got["rows_per_s"]), f"recorded {got['recorded_at']} ({int(key):,} rows)"


def plan(
    rows: int,
    measured: list[Measured],
    importing: tuple[float, str] | None,
    pg_bytes: int,
) -> list[str]:
    n = PLAN_ROWS
    lines = [
        f"10M-row plan ({n:,} rows, from the per-row costs measured at {rows:,} rows)",
        "",
        "| item | measured | basis | estimate |",
        "|---|---:|---|---:|",
    ]
    if importing is None:
        lines.append("| import | — | no import measured or recorded | — |")
    else:
        rate, where = importing
        lines.append(f"| import | {rate:,.0f} rows/s | {where} | {_duration(n / rate)} |")
    for m in measured:
        lines.append(
            f"| export, {m.name} | {m.rate:,.0f} rows/s | {n:,} / rows/s "
            f"| {_duration(n / m.rate)} |"
        )
    base, two = one_worker(measured), two_workers(measured)
    if base is not None and two is not None:
        speed_up = two.rate / base.rate
        efficiency = speed_up / 2
        # Amdahl: the parallel share p that gives the measured 2-worker speed-up
        parallel = min(1.0, max(0.0, 2 * (1 - 1 / speed_up)))
        for workers in PLAN_WORKERS:
            flat = base.rate * workers * efficiency
            amdahl = base.rate / ((1 - parallel) + parallel / workers)
            lines.append(
                f"| export, {workers} workers | {efficiency:.0%} efficiency per worker "
                f"| 1-worker rate × {workers} × the 2-worker efficiency "
                f"(Amdahl, parallel share {parallel:.0%}: {_duration(n / amdahl)}) "
                f"| {_duration(n / flat)} |"
            )
    lines.append(
        f"| PostgreSQL size | {pg_bytes / rows:,.0f} B/row | pg_total_relation_size of the "
        f"schema's tables / {rows:,} | {pg_bytes / rows * n / 1e9:,.1f} GB |"
    )
    result = measured[0].got["bytes"] / rows if measured else 0.0
    lines.append(
        f"| RESULT size | {result:,.0f} B/row | RESULT bytes / rows | {result * n / 1e9:,.1f} GB |"
    )
    peaks = [v for m in measured for v in m.got["rss_mb"] if v is not None]
    if peaks:
        lines.append(
            f"| peak RSS per process | ≤ {max(peaks):,.0f} MB | flat: the engine holds one page "
            f"at a time (as measured) | ≤ {max(peaks):,.0f} MB |"
        )
    return lines


# ------------------------------------------------------------------------------ main


def worker_counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--workers wants e.g. 1,2, not {text!r}") from exc
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("--workers wants counts of at least 1, e.g. 1,2")
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows (default 1000000)")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("LABELPORT_TEST_POSTGRES_URL", DEFAULT_POSTGRES),
        help="PostgreSQL URL (default $LABELPORT_TEST_POSTGRES_URL or %(default)s)",
    )
    parser.add_argument(
        "--broker",
        default=DEFAULT_BROKER,
        help="Celery broker URL, a Redis db nobody else uses (default %(default)s)",
    )
    parser.add_argument(
        "--workers", type=worker_counts, default=[1, 2], help="worker counts (default 1,2)"
    )
    parser.add_argument(
        "--shard-rows",
        type=int,
        default=50_000,
        help="LABELPORT_SHARD_ROWS of the workers (default %(default)s)",
    )
    parser.add_argument(
        "--timeout", type=float, default=7200.0, help="seconds one export may take (default 7200)"
    )
    parser.add_argument("--workdir", type=Path, help="where files go (default a temp dir)")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep and reuse the rows file and the PostgreSQL catalog of the same N",
    )
    parser.add_argument(
        "--prepare-only",
        action="store_true",
        help="generate and import the catalog (needs --keep), then stop",
    )
    args = parser.parse_args()
    if isinstance(sys.stdout, io.TextIOWrapper):  # progress shows in a log file as it happens
        sys.stdout.reconfigure(line_buffering=True)
    if args.rows < 1:
        parser.error("--rows must be at least 1")
    if args.shard_rows < 1:
        parser.error("--shard-rows must be at least 1")
    if args.keep and args.workdir is None:
        parser.error("--keep reuses files in --workdir; give one")
    if args.prepare_only and not args.keep:
        parser.error("--prepare-only builds a catalog for later runs; give --workdir DIR --keep")
    with contextlib.ExitStack() as stack:
        if args.workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        else:
            workdir = args.workdir.resolve()
            workdir.mkdir(parents=True, exist_ok=True)
        run(args, workdir)


@contextlib.contextmanager
def run_folder(workdir: Path) -> Iterator[Path]:
    """A folder for this run's home and worker logs; kept (for the logs) when the run fails."""
    folder = Path(tempfile.mkdtemp(prefix="scale-run-", dir=workdir))
    try:
        yield folder
    except BaseException:
        print(f"run folder kept for its logs: {folder}", file=sys.stderr)
        raise
    shutil.rmtree(folder, ignore_errors=True)


def record(workdir: Path) -> dict[str, Any]:
    path = workdir / RESULTS
    got: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    return got


def run(args: argparse.Namespace, workdir: Path) -> None:
    rows: int = args.rows
    cat = open_catalog(args.postgres, workdir, rows, args.keep)
    results = record(workdir)
    if cat.imported is not None:
        results.setdefault("imports", {})[str(rows)] = {
            "rows_per_s": cat.imported["rows"] / cat.imported["seconds"],
            "seconds": cat.imported["seconds"],
            "rss_mb": cat.imported["rss_mb"],
            "recorded_at": cat.imported["recorded_at"],
        }
        (workdir / RESULTS).write_text(json.dumps(results, indent=1))
    try:
        if args.prepare_only:
            print(
                f"prepared: schema {cat.schema} with {rows:,} rows; results in {workdir / RESULTS}"
            )
            return
        measure(args, workdir, cat, results)
    finally:
        if not cat.kept:
            drop_schema(args.postgres, cat.schema)


def measure(args: argparse.Namespace, workdir: Path, cat: Catalog, results: dict[str, Any]) -> None:
    rows: int = args.rows
    cancel_leftovers(cat.url)
    measured: list[Measured] = []
    with run_folder(workdir) as folder:
        home = folder / "home"
        got = run_local_child("inline", cat.url, str(home), cat.org_id)
        measured.append(check("inline", 1, got, rows))
        for count in args.workers:
            sub = folder / f"workers-{count}"
            sub.mkdir()
            (sub / "home").mkdir()
            name = f"{count} worker{'s' if count > 1 else ''}"
            got = run_celery(cat, count, args.broker, args.shard_rows, sub, args.timeout)
            measured.append(check(name, count, got, rows))
    pg_bytes = schema_bytes(args.postgres, cat.schema)

    print()
    print(
        f"{rows:,} rows on PostgreSQL (schema {cat.schema}); broker {args.broker}; "
        f"LABELPORT_SHARD_ROWS={args.shard_rows}; {os.cpu_count()} CPUs"
    )
    print()
    print("\n".join(report(rows, measured)))
    print()
    print("\n".join(plan(rows, measured, import_basis(results, rows, cat), pg_bytes)))

    results.setdefault("runs", {})[str(rows)] = {
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "shard_rows": args.shard_rows,
        "pg_bytes": pg_bytes,
        "configurations": {
            m.name: {
                "processes": m.processes,
                "seconds": m.got["seconds"],
                "rows": m.got["rows"],
                "bytes": m.got["bytes"],
                "rows_per_s": m.rate,
                "rss_mb": m.got["rss_mb"],
                "cpu_s": m.got["cpu_s"],
                "sha256": m.sha256,
                "verified": m.verified,
            }
            for m in measured
        },
    }
    (workdir / RESULTS).write_text(json.dumps(results, indent=1))
    print()
    print(f"recorded in {workdir / RESULTS}")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        kind, rest = sys.argv[2], sys.argv[3:]
        if kind != "inline":
            raise SystemExit(f"unknown child {kind!r}")
        print(json.dumps(child_inline(*rest)))
    else:
        main()
