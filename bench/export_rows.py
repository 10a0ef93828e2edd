"""Export throughput: a full project export with every param on, against an in-run baseline.

Generates N image rows shaped like a real project (1-10 boxes from 20 classes, one radio
classification, two metadata fields, label, performance and project details) as Labelbox
export-v2 NDJSON, imports them through ``services.import_labelbox`` and times
``services.start_export`` + ``export_tasks.execute`` of the project with every param on. In the same
run, the baseline: ``orjson.dumps`` of the same rows, already decoded in memory, written to a file.
Import, export and baseline each run in a fresh interpreter, so each peak RSS is its own, and
each starts after an ``os.sync()``, so none pays for writing back another's output.

Prints a markdown table (rows/s, MB/s, time to first row, peak RSS, ratio to the baseline) and
the targets with PASS/MISS: >= 0.3x the baseline's rows/s, first row < 200 ms, peak RSS < 200 MB.
The rows are generated so that an export gives them back unchanged; the first 100 exported rows
are compared with the first 100 generated ones ("rows match input").

    .venv/bin/python bench/export_rows.py --rows 100000
    .venv/bin/python bench/export_rows.py --rows 100000 --db both
    .venv/bin/python bench/export_rows.py --rows 1000000 --workdir /var/tmp/lp-bench --keep

With ``--workdir DIR --keep`` the generated file and the imported SQLite catalog of the same N are
kept and reused by the next run; results are recorded in ``DIR/export-results.json`` so a run of
another N in the same folder reports whether peak RSS stayed flat (within 10%).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from labelport.export.artifacts import Artifacts
from labelport.export.manifest import read_manifest, stream_info
from labelport.export.spec import every_param
from labelport.export.stream_reader import StreamReader
from pgschema import child_result, drop_schema, postgres_url

GENERATOR_VERSION = 1  # bump when the generated rows change: cached files of another version
SEED = 20250301
SAMPLE = 100  # rows compared between the export and the generated file
BASELINE_CHUNK = 100_000  # rows the baseline holds in memory at a time

TARGET_RATIO = 0.3
TARGET_TTFR_MS = 200.0
TARGET_RSS_MB = 200.0
TARGET_FLAT = 0.10

PARAMS: dict[str, Any] = every_param("project")  # every project param on

DEFAULT_POSTGRES = "postgresql+psycopg://127.0.0.1:5432/test"

# ------------------------------------------------------------------------------ the rows

_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
_BASE = datetime(2024, 6, 1, 8, 0, tzinfo=UTC)
_CLASSES = (
    "Car",
    "Truck",
    "Bus",
    "Motorcycle",
    "Bicycle",
    "Pedestrian",
    "Rider",
    "Traffic light",
    "Traffic sign",
    "Stop sign",
    "Pole",
    "Bench",
    "Dog",
    "Cat",
    "Stroller",
    "Scooter",
    "Trailer",
    "Van",
    "Fire hydrant",
    "Parking meter",
)
_WEATHER = ("clear", "cloudy", "rain", "fog", "snow")
_SITES = ("berlin", "lagos", "osaka", "lima", "toronto", "pune")
_STATUSES = ("TO_LABEL", "IN_REVIEW", "IN_REWORK", "DONE", "DONE", "DONE")
_LABELERS = ("ana@acme.test", "bao@acme.test", "chidi@acme.test", "dana@acme.test")
_REVIEWERS = ("rev.eli@acme.test", "rev.fay@acme.test")
_WIDTH, _HEIGHT = 1920, 1080
_ROWS_PER_BATCH = 5000


def _fixed_id(*parts: str) -> str:
    from labelport.ids import derived_id

    return derived_id("bench-export", *parts)


DATASET_ID = _fixed_id("dataset")
PROJECT_ID = _fixed_id("project")
ONTOLOGY_ID = _fixed_id("ontology")
SITE_FIELD = _fixed_id("field", "site")
QUALITY_FIELD = _fixed_id("field", "quality")
CLASS_SCHEMAS = {name: _fixed_id("tool", name) for name in _CLASSES}
WEATHER_SCHEMA = _fixed_id("classification", "weather")
WEATHER_OPTIONS = {name: _fixed_id("option", "weather", name) for name in _WEATHER}


def _ts(value: datetime) -> str:
    """The export's timestamp form: ``2023-03-15T14:46:58.000+00:00``."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+00:00"


class RowMaker:
    """Deterministic image rows of one project; ``row(n)`` must be called for n = 0, 1, 2..."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def cuid(self) -> str:
        return "c" + "".join(self.rng.choices(_ALPHABET, k=24))

    def box(self) -> dict[str, float]:
        r = self.rng
        left, top = round(r.uniform(0, _WIDTH * 0.9), 1), round(r.uniform(0, _HEIGHT * 0.9), 1)
        return {
            "top": top,
            "left": left,
            "height": round(r.uniform(8, _HEIGHT - top), 1),
            "width": round(r.uniform(8, _WIDTH - left), 1),
        }

    def obj(self) -> dict[str, Any]:
        name = self.rng.choice(_CLASSES)
        return {
            "feature_id": self.cuid(),
            "feature_schema_id": CLASS_SCHEMAS[name],
            "name": name,
            "value": name.lower().replace(" ", "_"),
            "annotation_kind": "ImageBoundingBox",
            "classifications": [],
            "bounding_box": self.box(),
        }

    def radio(self) -> dict[str, Any]:
        answer = self.rng.choice(_WEATHER)
        return {
            "feature_id": self.cuid(),
            "feature_schema_id": WEATHER_SCHEMA,
            "name": "weather",
            "value": "weather",
            "radio_answer": {
                "feature_id": self.cuid(),
                "feature_schema_id": WEATHER_OPTIONS[answer],
                "name": answer,
                "value": answer,
                "classifications": [],
            },
        }

    def row(self, n: int) -> dict[str, Any]:
        r = self.rng
        created = _BASE + timedelta(seconds=20 * n, milliseconds=r.randrange(1000))
        labeled = created + timedelta(hours=1, milliseconds=r.randrange(86_400_000))
        reviewed = labeled + timedelta(milliseconds=r.randrange(3_600_000))
        status = _STATUSES[n % len(_STATUSES)]
        batch = n // _ROWS_PER_BATCH
        labeler = _LABELERS[n % len(_LABELERS)]
        create_s, review_s, rework_s = (
            round(r.uniform(10, 400), 1),
            round(r.uniform(2, 90), 1),
            round(r.uniform(0, 60), 1),
        )
        label_id = self.cuid()
        label = {
            "id": label_id,
            "label_kind": "Default",
            "version": "1.0.0",
            "label_details": {
                "created_at": _ts(labeled),
                "updated_at": _ts(reviewed),
                "created_by": labeler,
                "content_last_updated_at": _ts(reviewed),
                "reviews": [],
            },
            "performance_details": {
                "seconds_to_create": create_s,
                "seconds_to_review": review_s,
                "skipped": False,
                "benchmark_reference_label": None,
                "benchmark_score": None,
                "consensus_score": None,
                "consensus_label_count": None,
                "consensus_labels": None,
                "performance_details_v2": {
                    "seconds_to_create": create_s,
                    "seconds_to_review": review_s,
                    "seconds_to_rework": rework_s,
                    "seconds_total": round(create_s + review_s + rework_s, 1),
                },
            },
            "annotations": {
                "objects": [self.obj() for _ in range(r.randint(1, 10))],
                "classifications": [self.radio()],
                "relationships": [],
            },
        }
        return {
            "data_row": {
                "id": self.cuid(),
                "global_key": f"street/{n:08d}.jpg",
                "row_data": f"https://images.acme.test/street/{n:08d}.jpg",
                "details": {
                    "dataset_id": DATASET_ID,
                    "dataset_name": "street-images",
                    "created_at": _ts(created),
                    "updated_at": _ts(created),
                    "last_activity_at": _ts(reviewed),
                    "created_by": "ingest@acme.test",
                },
            },
            "media_attributes": {"height": _HEIGHT, "width": _WIDTH, "mime_type": "image/jpeg"},
            "attachments": [],
            "metadata_fields": [
                {"schema_id": SITE_FIELD, "schema_name": "site", "value": r.choice(_SITES)},
                {
                    "schema_id": QUALITY_FIELD,
                    "schema_name": "quality",
                    "value": round(r.uniform(0, 1), 3),
                },
            ],
            "embeddings": [],
            "projects": {
                PROJECT_ID: {
                    "name": "Street objects",
                    "labels": [label],
                    "project_details": {
                        "ontology_id": ONTOLOGY_ID,
                        "task_id": _fixed_id("task", status),
                        "task_name": status.replace("_", " ").title(),
                        "batch_id": _fixed_id("batch", str(batch)),
                        "batch_name": f"batch {batch + 1}",
                        "workflow_status": status,
                        "priority": r.randint(1, 5),
                        "selected_label_id": label_id,
                        "consensus_expected_label_count": 1,
                        "workflow_history": [
                            {
                                "action": "Approve" if status == "DONE" else "Submit",
                                "created_at": _ts(reviewed),
                                "created_by": _REVIEWERS[n % 2] if status == "DONE" else labeler,
                            }
                        ],
                    },
                }
            },
        }


def write_rows(path: Path, rows: int) -> int:
    """Write ``rows`` generated rows to ``path`` (atomically); returns its size in bytes."""
    partial = path.with_name(path.name + ".partial")
    maker = RowMaker(SEED)
    dumps, newline = orjson.dumps, orjson.OPT_APPEND_NEWLINE
    with partial.open("wb") as out:
        for n in range(rows):
            out.write(dumps(maker.row(n), option=newline))
    partial.rename(path)
    return path.stat().st_size


# ------------------------------------------------------------------------------ child processes


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class FirstWriteTee:
    """Remembers when the RESULT stream's first bytes were written (it is handed every write
    to the stream, and keeps none of them: copying the export elsewhere is not the export)."""

    def __init__(self) -> None:
        self.first: float | None = None

    def write(self, data: bytes) -> int:
        if self.first is None:
            self.first = time.perf_counter()
        return len(data)

    def flush(self) -> None:
        pass


def child_import(url: str, path: str) -> dict[str, Any]:
    from labelport import services
    from labelport.store import open_store

    store = open_store(url)
    org = services.create_organization(store, "bench")
    with open(path, "rb") as f:
        result = services.import_labelbox(store, org.id, f, file=path)
    store.dispose()
    return {
        "org_id": org.id,
        "rows": result.rows,
        "seconds": result.seconds,
        "rss_mb": _peak_rss_mb(),
    }


def child_export(url: str, root: str, org_id: str) -> dict[str, Any]:
    from labelport import services
    from labelport.export.spec import Scope
    from labelport.services import export_tasks
    from labelport.store import open_store

    store = open_store(url)
    rss_before = _peak_rss_mb()
    tee = FirstWriteTee()
    started = time.perf_counter()
    task = services.start_export(
        store, org_id, Scope("project", PROJECT_ID), params=PARAMS, filters=None
    )
    done = export_tasks.execute(store, Artifacts.local(Path(root)), task.id, tee=tee)
    seconds = time.perf_counter() - started
    store.dispose()
    first = None if tee.first is None else tee.first - started
    return {
        "status": done.status,
        "error": done.error_message,
        "location": done.location,
        "rows": done.result_lines or 0,
        "bytes": done.result_bytes or 0,
        "seconds": seconds,
        "ttfr": first,
        "rss_before_mb": rss_before,
        "rss_mb": _peak_rss_mb(),
    }


def child_baseline(path: str, out_path: str) -> dict[str, Any]:
    """orjson writing the rows, decoded and held in memory, to a file; only the writing is timed.

    The rows are loaded ``BASELINE_CHUNK`` at a time (all of them up to that many), so a run of
    a million rows does not need the memory of a million decoded rows.
    """
    dumps, newline = orjson.dumps, orjson.OPT_APPEND_NEWLINE
    seconds = 0.0
    rows = size = 0
    with open(path, "rb") as f, open(out_path, "wb") as out:
        while True:
            chunk = [orjson.loads(line) for line in itertools.islice(f, BASELINE_CHUNK)]
            if not chunk:
                break
            write = out.write
            started = time.perf_counter()
            for row in chunk:
                size += write(dumps(row, option=newline))
            out.flush()
            seconds += time.perf_counter() - started
            rows += len(chunk)
            del chunk
    return {"rows": rows, "bytes": size, "seconds": seconds, "rss_mb": _peak_rss_mb()}


def run_child(*args: str) -> dict[str, Any]:
    # Each phase starts with no other phase's writes pending: the baseline's gigabytes left to
    # write back would otherwise slow the export that follows (and the other way round).
    os.sync()
    return child_result(__file__, *args)


def child_main(args: list[str]) -> None:
    kind, rest = args[0], args[1:]
    runners: dict[str, Callable[..., dict[str, Any]]] = {
        "import": child_import,
        "export": child_export,
        "baseline": child_baseline,
    }
    print(json.dumps(runners[kind](*rest)))


# ------------------------------------------------------------------------------ databases


def _remove_sqlite(db: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        db.with_name(db.name + suffix).unlink(missing_ok=True)


def sqlite_catalog(
    workdir: Path, rows: int, path: Path, keep: bool
) -> tuple[str, str, dict[str, Any]]:
    """(url, org id, import result) of an imported SQLite catalog, reused when ``keep``."""
    stem = f"export-bench-{rows}-g{GENERATOR_VERSION}"
    db, meta = workdir / f"{stem}.db", workdir / f"{stem}.json"
    url = f"sqlite:///{db}"
    if keep and db.exists() and meta.exists():
        got = json.loads(meta.read_text())
        if got.get("rows_file_bytes") == path.stat().st_size:
            print(f"SQLite: reusing {db} (imported earlier in {got['seconds']:.1f} s)")
            return url, got["org_id"], {**got, "reused": True}
    meta.unlink(missing_ok=True)
    _remove_sqlite(db)
    got = run_child("import", url, str(path))
    got["rows_file_bytes"] = path.stat().st_size
    meta.write_text(json.dumps(got))
    return url, got["org_id"], got


# ------------------------------------------------------------------------------ checks


def _head(lines: Iterable[bytes], count: int) -> list[Any]:
    return [orjson.loads(line) for line in itertools.islice(lines, count)]


def rows_match(generated: Path, export: Path) -> bool:
    """Are the export's first rows the first generated ones? (Read from its RESULT stream.)"""
    info = stream_info(read_manifest(export), "result")
    with generated.open("rb") as f:
        return _head(f, SAMPLE) == _head(StreamReader(export, info).iter_lines(), SAMPLE)


def export_once(
    name: str, url: str, org_id: str, rows_path: Path, workdir: Path, rows: int
) -> dict[str, Any]:
    root = workdir / f"exports-{name}-{os.getpid()}"
    try:
        got = run_child("export", url, str(root), org_id)
        if got["status"] != "COMPLETE":
            raise SystemExit(f"{name} export ended {got['status']}: {got['error']}")
        got["match"] = got["rows"] == rows and rows_match(rows_path, Path(got["location"]))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return got


# ------------------------------------------------------------------------------ report


def _mb_s(got: dict[str, Any]) -> float:
    return float(got["bytes"]) / 1e6 / float(got["seconds"])


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def report(
    rows: int, baseline: dict[str, Any], exports: list[tuple[str, dict[str, Any]]]
) -> list[str]:
    base_rate = baseline["rows"] / baseline["seconds"]
    lines = [
        "| N | database | what | rows/s | MB/s | time to first row | peak RSS "
        "| ratio to baseline |",
        "|---:|---|---|---:|---:|---:|---:|---:|",
        f"| {rows:,} | (memory) | orjson baseline | {base_rate:,.0f} | {_mb_s(baseline):,.1f} "
        f"| — | {baseline['rss_mb']:,.0f} MB | 1.00× |",
    ]
    for name, got in exports:
        rate = got["rows"] / got["seconds"]
        ttfr = "—" if got["ttfr"] is None else f"{got['ttfr'] * 1000:,.0f} ms"
        lines.append(
            f"| {rows:,} | {name} | export, every param | {rate:,.0f} | {_mb_s(got):,.1f} "
            f"| {ttfr} | {got['rss_mb']:,.0f} MB | {rate / base_rate:.2f}× |"
        )
    lines.append("")
    for name, got in exports:
        ratio = got["rows"] / got["seconds"] / base_rate
        ttfr_ms = float("inf") if got["ttfr"] is None else got["ttfr"] * 1000
        lines.append(
            f"targets, {name}: rows/s ≥ {TARGET_RATIO}× baseline: {ratio:.2f}× "
            f"{_verdict(ratio >= TARGET_RATIO)} · time to first row < {TARGET_TTFR_MS:.0f} ms: "
            f"{ttfr_ms:,.0f} ms {_verdict(ttfr_ms < TARGET_TTFR_MS)} · peak RSS "
            f"< {TARGET_RSS_MB:.0f} MB: {got['rss_mb']:,.0f} MB "
            f"{_verdict(got['rss_mb'] < TARGET_RSS_MB)}"
        )
    return lines


def flatness(results: dict[str, Any], name: str) -> str | None:
    """Peak RSS of the largest N recorded for ``name`` against 100k rows (else the smallest N)."""
    runs = dict(sorted((int(n), got) for n, got in results.get(name, {}).items()))
    if len(runs) < 2:
        return None
    big_n = max(runs)
    small_n = 100_000 if 100_000 in runs and big_n != 100_000 else min(runs)
    small, big = runs[small_n], runs[big_n]
    growth = big["rss_mb"] / small["rss_mb"] - 1
    return (
        f"flat RSS, {name}: {big_n:,} rows {big['rss_mb']:,.0f} MB vs {small_n:,} rows "
        f"{small['rss_mb']:,.0f} MB ({growth:+.1%}; target within {TARGET_FLAT:.0%}) "
        f"{_verdict(abs(growth) <= TARGET_FLAT)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000, help="rows (default 100000)")
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="sqlite")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("LABELPORT_TEST_POSTGRES_URL", DEFAULT_POSTGRES),
        help="PostgreSQL URL (default $LABELPORT_TEST_POSTGRES_URL or %(default)s)",
    )
    parser.add_argument("--workdir", type=Path, help="where files go (default a temp dir)")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="reuse the rows file and SQLite catalog of the same N left in --workdir",
    )
    args = parser.parse_args()
    if args.rows < 1:
        parser.error("--rows must be at least 1")
    if args.keep and args.workdir is None:
        parser.error("--keep reuses files in --workdir; give one")
    with contextlib.ExitStack() as stack:
        if args.workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        else:
            workdir = args.workdir.resolve()
            workdir.mkdir(parents=True, exist_ok=True)
        run(args, workdir)


def run(args: argparse.Namespace, workdir: Path) -> None:
    rows: int = args.rows
    path = workdir / f"rows-{rows}-g{GENERATOR_VERSION}.ndjson"
    if args.keep and path.exists():
        print(f"file: reusing {path}")
    else:
        started = time.perf_counter()
        write_rows(path, rows)
        print(f"file: generated in {time.perf_counter() - started:.1f} s")
    size_mb = path.stat().st_size / 1e6
    print(f"file: {rows:,} image rows, {size_mb:,.0f} MB ({size_mb * 1e6 / rows:,.0f} B/row)")

    out = workdir / f"baseline-{os.getpid()}.ndjson"
    try:
        baseline = run_child("baseline", str(path), str(out))
    finally:
        out.unlink(missing_ok=True)

    exports: list[tuple[str, dict[str, Any]]] = []
    imports: list[tuple[str, dict[str, Any]]] = []
    if args.db in ("sqlite", "both"):
        url, org_id, got = sqlite_catalog(workdir, rows, path, args.keep)
        imports.append(("SQLite", got))
        exports.append(("SQLite", export_once("sqlite", url, org_id, path, workdir, rows)))
    if args.db in ("postgres", "both"):
        pg = postgres_url(args.postgres, "lp_bench_export")
        if pg is not None:
            try:
                got = run_child("import", pg[0], str(path))
                imports.append(("PostgreSQL", got))
                done = export_once("postgres", pg[0], got["org_id"], path, workdir, rows)
                exports.append(("PostgreSQL", done))
            finally:
                drop_schema(args.postgres, pg[1])

    print()
    for name, got in imports:
        reused = " (reused from an earlier run)" if got.get("reused") else ""
        print(
            f"import, {name}: {got['rows']:,} rows in {got['seconds']:.1f} s, "
            f"{got['rows'] / got['seconds']:,.0f} rows/s, peak RSS {got['rss_mb']:,.0f} MB{reused}"
        )
    for name, got in exports:
        print(
            f"export, {name}: {got['rows']:,} rows, {got['bytes'] / 1e6:,.0f} MB in "
            f"{got['seconds']:.1f} s; RSS before the export {got['rss_before_mb']:,.0f} MB, "
            f"peak {got['rss_mb']:,.0f} MB; rows match input: {'yes' if got['match'] else 'no'}"
        )
    print(
        f"baseline: {baseline['rows']:,} rows, {baseline['bytes'] / 1e6:,.0f} MB written in "
        f"{baseline['seconds']:.2f} s"
    )
    print()
    print("\n".join(report(rows, baseline, exports)))

    record = workdir / "export-results.json"
    results: dict[str, Any] = json.loads(record.read_text()) if record.exists() else {}
    for name, got in exports:
        results.setdefault(name, {})[str(rows)] = {
            "rss_mb": got["rss_mb"],
            "rows_per_s": got["rows"] / got["seconds"],
            "ttfr": got["ttfr"],
        }
    record.write_text(json.dumps(results, indent=1))
    for name, _ in exports:
        line = flatness(results, name)
        print(
            line
            or f"flat RSS, {name}: run another N with the same --workdir to compare "
            f"(target: 1M rows within {TARGET_FLAT:.0%} of 100k)"
        )


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child_main(sys.argv[2:])
    else:
        main()
