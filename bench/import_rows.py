"""Import throughput: a Labelbox export-v2 file into SQLite and PostgreSQL.

Prints a table of rows/s with ratios against baselines measured in the same run on the same file:
``parse`` (orjson.loads of every line: the floor any importer pays) and ``parse+validate``.
Each import runs in a fresh process so its peak RSS is its own.

    .venv/bin/python bench/import_rows.py --rows 100000
    .venv/bin/python bench/import_rows.py --rows 20000 --db postgres
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

from labelport import demo
from labelport.imports.canonical import check_row
from pgschema import drop_schema, postgres_url

CHILD = """
import json, resource, sys, time
from labelport import services
from labelport.store import open_store
url, path = sys.argv[1], sys.argv[2]
store = open_store(url)
org = services.create_organization(store, "bench")
with open(path, "rb") as f:
    result = services.import_labelbox(store, org.id, f, file=path)
again_started = time.perf_counter()
with open(path, "rb") as f:
    services.import_labelbox(store, org.id, f, file=path)
again = time.perf_counter() - again_started
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"rows": result.rows, "seconds": result.seconds, "again": again, "rss_mb": rss}))
"""


def import_in_child(url: str, path: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, url, str(path)], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rows", type=int, default=100_000, help="rows in the file (default 100000)"
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "LABELPORT_TEST_POSTGRES_URL", "postgresql+psycopg://127.0.0.1:5432/test"
        ),
    )
    parser.add_argument(
        "--db",
        choices=("both", "sqlite", "postgres"),
        default="both",
        help="which catalogs to import into (default both)",
    )
    args = parser.parse_args()
    per_type = max(1, args.rows // len(demo.MEDIA))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rows.ndjson"
        with path.open("wb") as out:
            rows = demo.write_labelbox(out, per_type, seed=11)
        size_mb = path.stat().st_size / 1e6
        print(f"file: {rows:,} Labelbox export-v2 rows of every media type, {size_mb:,.0f} MB")

        started = time.perf_counter()
        with path.open("rb") as f:
            for line in f:
                orjson.loads(line)
        parse = time.perf_counter() - started
        started = time.perf_counter()
        with path.open("rb") as f:
            for line in f:
                check_row(orjson.loads(line))
        validate = time.perf_counter() - started

        results = [
            ("parse (baseline)", parse, None, None),
            ("parse+validate", validate, None, None),
        ]
        if args.db in ("both", "sqlite"):
            sqlite = import_in_child(f"sqlite:///{tmp}/bench.db", path)
            results.append(("import, SQLite", sqlite["seconds"], sqlite["again"], sqlite["rss_mb"]))
        pg = postgres_url(args.postgres, "lp_bench") if args.db != "sqlite" else None
        if pg is not None:
            try:
                got = import_in_child(pg[0], path)
                results.append(("import, PostgreSQL", got["seconds"], got["again"], got["rss_mb"]))
            finally:
                drop_schema(args.postgres, pg[1])

    header = ("stage", "seconds", "rows/s", "MB/s", "x parse", "re-import s", "peak RSS MB")
    print()
    print("{:<20} {:>8} {:>9} {:>7} {:>8} {:>12} {:>12}".format(*header))
    for name, seconds, again, rss in results:
        print(
            f"{name:<20} {seconds:>8.2f} {rows / seconds:>9,.0f} {size_mb / seconds:>7.1f} "
            f"{seconds / parse:>8.1f} {_opt(again, '.2f'):>12} {_opt(rss, '.0f'):>12}"
        )
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nthis process (generator and baselines): peak RSS {own:.0f} MB")


def _opt(value: float | None, spec: str) -> str:
    return "" if value is None else format(value, spec)


if __name__ == "__main__":
    main()
