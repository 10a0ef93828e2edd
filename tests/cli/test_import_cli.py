"""`labelport import labelbox|vertex|rows` on odd and malformed files, on both stores: one
line-numbered error and nothing stored; legacy and empty files; the default dataset; warnings
and --strict; a line too long for LABELPORT_MAX_LINE_BYTES, in bounded memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from labelport.store import open_store
from labelport.store import schema as s
from tests.cli.malformed import CASES, V1_ROWS, Malformed, row
from tests.imports.test_load import make_row


def counts(run_cli: Any) -> dict[str, int]:
    result = run_cli("stats", "--json")
    assert result.exit_code == 0, result.output
    found: dict[str, int] = json.loads(result.output)["counts"]
    return found


def nothing_stored(run_cli: Any) -> None:
    found = counts(run_cli)
    assert (found["data rows"], found["datasets"]) == (0, 0), found


def dataset_names(database: Any) -> list[str]:
    store = open_store(database.url)
    try:
        with store.read() as conn:
            return sorted(conn.execute(sa.select(s.dataset.c.name)).scalars())
    finally:
        store.dispose()


def options(case: Malformed) -> list[str]:
    return [arg for name, value in case.options.items() for arg in (f"--{name}", value)]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_malformed_file_is_one_clear_error_and_stores_nothing(
    run_cli: Any, tmp_path: Path, case: Malformed
) -> None:
    run_cli("init")
    path = tmp_path / case.file_name
    path.write_bytes(case.body)
    result = run_cli("import", case.source, str(path), *options(case))
    assert result.exit_code == 65, result.output
    assert case.error_line(str(path)) in result.output
    assert "1 invalid record; nothing was imported" in result.output
    assert "Traceback" not in result.output
    nothing_stored(run_cli)


def test_a_labelbox_export_v1_is_named_in_one_line(run_cli: Any, tmp_path: Path) -> None:
    run_cli("init")
    path = tmp_path / "export-v1.json"
    path.write_bytes(orjson.dumps(V1_ROWS, option=orjson.OPT_INDENT_2))  # 30+ lines
    result = run_cli("import", "labelbox", str(path))
    assert result.exit_code == 65, result.output
    listed = [line for line in result.output.splitlines() if line.startswith("  ")]
    assert len(listed) == 1, result.output
    assert listed[0].startswith(f"  {path}:1: Labelbox export v1 (legacy)")
    assert "docs/imports.md" in listed[0]
    assert "not valid JSON" not in result.output
    nothing_stored(run_cli)


def test_a_json_array_that_is_not_v1_is_one_error(run_cli: Any, tmp_path: Path) -> None:
    run_cli("init")
    path = tmp_path / "rows.json"
    path.write_bytes(orjson.dumps([make_row(1), make_row(2)], option=orjson.OPT_INDENT_2))
    result = run_cli("import", "labelbox", str(path))
    assert result.exit_code == 65, result.output
    assert f"{path}:1: the file is a JSON array, not JSON Lines" in result.output
    assert "1 invalid record" in result.output
    nothing_stored(run_cli)


def test_rows_without_details_go_to_a_dataset_named_after_the_file(
    run_cli: Any, tmp_path: Path, database: Any
) -> None:
    run_cli("init")
    path = tmp_path / "street-scenes.ndjson"
    path.write_bytes(row(1) + row(2))
    result = run_cli("import", "labelbox", str(path))
    assert result.exit_code == 0, result.output
    assert "imported 2 rows" in result.output
    assert (
        "rows without data_row.details went to dataset street-scenes (named after the file)"
        in result.output
    )
    assert dataset_names(database) == ["street-scenes"]
    named = tmp_path / "more.ndjson"
    named.write_bytes(row(3))
    given = run_cli("import", "labelbox", str(named), "--dataset", "chosen")
    assert given.exit_code == 0, given.output
    assert "named after the file" not in given.output
    assert dataset_names(database) == ["chosen", "street-scenes"]


def test_rows_with_details_do_not_mention_a_default_dataset(
    run_cli: Any, tmp_path: Path, database: Any
) -> None:
    run_cli("init")
    path = tmp_path / "detailed.ndjson"
    path.write_bytes(orjson.dumps(make_row(1)) + b"\n")
    result = run_cli("import", "labelbox", str(path))
    assert result.exit_code == 0, result.output
    assert "went to dataset" not in result.output
    assert dataset_names(database) == ["street"]


def test_a_byte_order_mark_is_accepted_in_json_lines(run_cli: Any, tmp_path: Path) -> None:
    run_cli("init")
    path = tmp_path / "bom.ndjson"
    path.write_bytes(b"\xef\xbb\xbf" + row(1) + row(2))
    result = run_cli("import", "labelbox", str(path), "--dataset", "d")
    assert result.exit_code == 0, result.output
    assert counts(run_cli)["data rows"] == 2


def unknown_field_file(tmp_path: Path) -> Path:
    path = tmp_path / "future.ndjson"
    path.write_bytes(row(1, future_field=1) + row(2) + row(3, future_field={"x": 2}))
    return path


def test_warnings_are_listed_after_the_summary(run_cli: Any, tmp_path: Path) -> None:
    run_cli("init")
    result = run_cli("import", "labelbox", str(unknown_field_file(tmp_path)), "--dataset", "d")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    summary = next(i for i, line in enumerate(lines) if line.startswith("imported 3 rows"))
    assert lines[summary + 1 :] == [
        "1 warning (--strict makes them errors):",
        "  warning: future_field: unknown field, kept as given (2×; lines 1, 3)",
    ]
    assert counts(run_cli)["data rows"] == 3


def test_strict_turns_a_warning_into_an_error(run_cli: Any, tmp_path: Path) -> None:
    run_cli("init")
    path = unknown_field_file(tmp_path)
    result = run_cli("import", "labelbox", str(path), "--dataset", "d", "--strict")
    assert result.exit_code == 65, result.output
    assert f"{path}:1: future_field: unknown field, kept as given (--strict)" in result.output
    assert f"{path}:3: future_field" in result.output
    assert "2 invalid records; nothing was imported" in result.output
    nothing_stored(run_cli)


@pytest.mark.parametrize(
    ("source", "file_name", "body", "args"),
    [
        ("rows", "r.jsonl", b'{"row_data": "x", "media_type": "SMELL"}\n', ["--dataset", "d"]),
        (
            "vertex",
            "v.jsonl",
            b'{"imageGcsUri": "gs://b/1.jpg", "classificationAnnotation": '
            b'{"displayName": "rose"}, "futureKey": 1}\n',
            ["--dataset", "d", "--objective", "image_classification_single_label"],
        ),
    ],
)
def test_every_line_importer_takes_strict(
    run_cli: Any, tmp_path: Path, source: str, file_name: str, body: bytes, args: list[str]
) -> None:
    run_cli("init")
    path = tmp_path / file_name
    path.write_bytes(body)
    strict = run_cli("import", source, str(path), *args, "--strict")
    assert strict.exit_code == 65, strict.output
    assert "(--strict)" in strict.output
    nothing_stored(run_cli)
    lenient = run_cli("import", source, str(path), *args)
    assert lenient.exit_code == 0, lenient.output
    assert "1 warning (--strict makes them errors):" in lenient.output


def test_the_summary_counts_model_runs_and_their_labels(run_cli: Any, tmp_path: Path) -> None:
    run_cli("init")
    label = make_row(1)["projects"]["cprojaaaaaaaaaaaaaaaaaaaa"]["labels"][0]
    runs = {"crun00000000000000000000a": {"name": "run A", "labels": [dict(label, id="clrun1")]}}
    only_runs = make_row(1, experiments={"cmodel000000000000000000a": {"name": "m", "runs": runs}})
    del only_runs["projects"]
    path = tmp_path / "runs.ndjson"
    path.write_bytes(orjson.dumps(only_runs) + b"\n")
    result = run_cli("import", "labelbox", str(path))
    assert result.exit_code == 0, result.output
    assert "imported 1 row, 1 model run, 1 model-run label from" in result.output


def test_a_line_over_the_limit_is_an_error_naming_it(run_cli: Any, tmp_path: Path) -> None:
    run_cli("init")
    run_cli.env["LABELPORT_MAX_LINE_BYTES"] = "300"
    path = tmp_path / "long.ndjson"
    path.write_bytes(row(1) + row(2, media_attributes={"note": "n" * 400}) + row(3))
    result = run_cli("import", "labelbox", str(path), "--dataset", "d")
    assert result.exit_code == 65, result.output
    assert (
        f"{path}:2: the line is longer than the limit of 300 bytes (LABELPORT_MAX_LINE_BYTES)"
        in result.output
    )
    nothing_stored(run_cli)
    csv = tmp_path / "long.csv"
    csv.write_bytes(b"row_data\nhttps://m.test/" + b"c" * 400 + b".jpg\n")
    result = run_cli("import", "rows", str(csv), "--dataset", "d")
    assert result.exit_code == 65, result.output
    assert f"{csv}:2: the line is longer than the limit of 300 bytes" in result.output


# The child's own peak: VmHWM belongs to the process's address space, which exec replaces, while
# getrusage's ru_maxrss survives exec and so would report the (large) pytest parent's RSS at fork.
CHILD = """
import sys
from labelport.cli import cli
try:
    cli(sys.argv[1:])
finally:
    with open("/proc/self/status") as status:
        peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    print(f"PEAK_KB={peak}", file=sys.stderr)
"""


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_a_50_mb_line_is_refused_in_bounded_memory(run_cli: Any, tmp_path: Path) -> None:
    run_cli("init")
    path = tmp_path / "huge.ndjson"
    with path.open("wb") as out:
        out.write(row(1))
        out.write(b'{"data_row": {"row_data": "https://m.test/x.jpg"}, "media_attributes": {"a": "')
        block = b"z" * (1024 * 1024)
        for _ in range(50):
            out.write(block)
        out.write(b'"}}\n')
        out.write(row(3))
    env = {**os.environ, **run_cli.env, "LABELPORT_MAX_LINE_BYTES": str(1024 * 1024)}
    child = subprocess.run(
        [sys.executable, "-c", CHILD, "import", "labelbox", str(path), "--dataset", "d"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 65, child.stderr
    assert f"{path}:2: the line is longer than the limit of 1,048,576 bytes" in child.stderr
    peak_mb = int(child.stderr.rsplit("PEAK_KB=", 1)[1].split()[0]) / 1024
    assert peak_mb < 200, f"peak RSS {peak_mb:.0f} MB for a 50 MB line"
    nothing_stored(run_cli)
