"""CLI start-up: how long `labelport` takes before (and while) it does anything.

Prints the median wall time of N runs of each command, with ratios against baselines measured in
the same run: a bare interpreter (`python -c pass`) and `python -c "import click"` (the least a
click command pays). `stats` and `ls` run on a small SQLite catalog made here first. Targets
(issue #15): --help and --version <= 200 ms, stats <= 400 ms.

    .venv/bin/python bench/cli_startup.py --runs 9
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

LABELPORT = [sys.executable, "-m", "labelport.cli"]
TARGETS = {"--help": 0.2, "--version": 0.2, "stats": 0.4}


def timed(command: list[str], env: dict[str, str], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=7, help="runs per command (default 7)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "LABELPORT_HOME": home}
        env.pop("LABELPORT_DATABASE_URL", None)
        subprocess.run(
            [*LABELPORT, "demo", "--rows", "3"], env=env, check=True, capture_output=True
        )
        rows: list[tuple[str, float]] = [
            ("python -c pass", timed([sys.executable, "-c", "pass"], env, args.runs)),
            (
                "python -c 'import click'",
                timed([sys.executable, "-c", "import click"], env, args.runs),
            ),
        ]
        for name in ("--version", "--help", "stats", "ls", "exports --help"):
            rows.append((f"labelport {name}", timed([*LABELPORT, *name.split()], env, args.runs)))
    base = rows[0][1]
    print(f"median of {args.runs} runs; catalog: the demo with 3 rows per media type (SQLite)\n")
    print(f"{'command':<28} {'ms':>7} {'x python':>9} {'target ms':>10}")
    for name, seconds in rows:
        target = TARGETS.get(name.removeprefix("labelport "))
        shown = f"{target * 1000:.0f}" if target else ""
        print(f"{name:<28} {seconds * 1000:>7.0f} {seconds / base:>9.1f} {shown:>10}")


if __name__ == "__main__":
    main()
