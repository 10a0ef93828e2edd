"""Import throughput: a Labelbox export-v2 file into SQLite and PostgreSQL.

Prints a table of rows/s with ratios against baselines measured in the same run on the same file:
``parse`` (orjson.loads of every line: the floor any importer pays) and ``parse+validate``.
Each import runs in a fresh process so its peak RSS is its own; ``re-import`` imports the same
unchanged file again into the same catalog.

Two row shapes: ``peers`` (image rows with 1-10 boxes, one radio, three metadata fields: the
data Label Studio, CVAT and FiftyOne were measured on; bench/peers.py) and ``media`` (the demo's
rows of every media type).

    .venv/bin/python bench/import_rows.py --rows 100000 --shape peers
    .venv/bin/python bench/import_rows.py --rows 20000 --db postgres --shape media
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

import peers
from labelport.demo import rows as demo_rows
from labelport.imports.canonical import check_row
from pgschema import drop_schema, postgres_url

# The child's peak RSS is VmHWM, which belongs to its own address space (getrusage's ru_maxrss
# survives exec and would report this process's RSS at the fork).
CHILD = """
import json, sys, time
from labelport import services
from labelport.store import open_store

def peak_mb():
    with open("/proc/self/status") as status:
        return next(int(l.split()[1]) for l in status if l.startswith("VmHWM:")) / 1024

url, path = sys.argv[1], sys.argv[2]
store = open_store(url)
org = services.create_organization(store, "bench")
with open(path, "rb") as f:
    result = services.import_labelbox(store, org.id, f, file=path)
first_mb = peak_mb()
again_started = time.perf_counter()
with open(path, "rb") as f:
    services.import_labelbox(store, org.id, f, file=path)
again = time.perf_counter() - again_started
print(json.dumps({"rows": result.rows, "seconds": result.seconds, "again": again,
                  "rss_mb": first_mb, "again_rss_mb": peak_mb()}))
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
    parser.add_argument(
        "--shape",
        choices=("peers", "media"),
        default="peers",
        help="peers: image rows with 1-10 boxes, a radio, 3 metadata fields (default); "
        "media: the demo's rows of every media type",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rows.ndjson"
        with path.open("wb") as out:
            if args.shape == "peers":
                rows = peers.write(out, args.rows)
                what = "image rows with 1-10 boxes, a radio and 3 metadata fields"
            else:
                rows = demo_rows.write_labelbox(
                    out, max(1, args.rows // len(demo_rows.MEDIA)), seed=11
                )
                what = "rows of every media type"
        size_mb = path.stat().st_size / 1e6
        print(f"file: {rows:,} Labelbox export-v2 {what}, {size_mb:,.0f} MB")

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

        results: list[tuple[str, dict[str, float]]] = [
            ("parse (baseline)", {"seconds": parse}),
            ("parse+validate", {"seconds": validate}),
        ]
        if args.db in ("both", "sqlite"):
            sqlite = import_in_child(f"sqlite:///{tmp}/bench.db", path)
            results.append(("import, SQLite", sqlite))
        pg = postgres_url(args.postgres, "lp_bench") if args.db != "sqlite" else None
        if pg is not None:
            try:
                got = import_in_child(pg[0], path)
                results.append(("import, PostgreSQL", got))
            finally:
                drop_schema(args.postgres, pg[1])

    header = ("stage", "seconds", "rows/s", "MB/s", "x parse", "re-import s", "peak MB", "+re MB")
    print()
    print("{:<20} {:>8} {:>9} {:>7} {:>8} {:>12} {:>8} {:>7}".format(*header))
    for name, got in results:
        seconds = got["seconds"]
        print(
            f"{name:<20} {seconds:>8.2f} {rows / seconds:>9,.0f} {size_mb / seconds:>7.1f} "
            f"{seconds / parse:>8.1f} {_opt(got.get('again'), '.2f'):>12} "
            f"{_opt(got.get('rss_mb'), '.0f'):>8} {_opt(got.get('again_rss_mb'), '.0f'):>7}"
        )
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nthis process (generator and baselines): peak RSS {own:.0f} MB")


def _opt(value: float | None, spec: str) -> str:
    return "" if value is None else format(value, spec)


if __name__ == "__main__":
    main()
