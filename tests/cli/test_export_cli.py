"""`labelport export` and `verify` through Click's runner, on both stores."""

from __future__ import annotations

import json
from pathlib import Path

import orjson

from tests.factories import PROJECT, simple_row


def _catalog(run_cli, tmp_path: Path, rows: int = 5) -> None:
    assert run_cli("init", "--org", "acme").exit_code == 0
    source = tmp_path / "rows.ndjson"
    source.write_bytes(
        b"".join(orjson.dumps(simple_row(n, project=PROJECT)) + b"\n" for n in range(rows))
    )
    assert run_cli("import", "labelbox", str(source)).exit_code == 0


def test_export_project_to_a_file_and_verify(run_cli, tmp_path: Path):
    _catalog(run_cli, tmp_path)
    out = tmp_path / "out.ndjson"
    result = run_cli(
        "export", "project", PROJECT,
        "--params", '{"label_details": true, "project_details": true}',
        "--filters", '{"global_keys": ["row-1", "row-3"]}',
        "-o", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert [r["data_row"]["global_key"] for r in rows] == ["row-1", "row-3"]
    assert "label_details" in rows[0]["projects"][PROJECT]["labels"][0]
    assert "rows      2" in result.output and "errors    0" in result.output
    task_id = result.output.split()[1]
    manifest = Path(result.output.split("manifest  ")[1].split()[0])
    assert manifest.is_file() and not (tmp_path / "out.ndjson.partial").exists()

    verified = run_cli("verify", task_id)
    assert verified.exit_code == 0, verified.output
    assert "everything matches" in verified.output
    by_dir = run_cli("verify", str(manifest.parent))
    assert by_dir.exit_code == 0

    shard = manifest.parent / "result-00000.ndjson"
    data = bytearray(shard.read_bytes())
    data[10] = ord("X") if data[10] != ord("X") else ord("Y")
    shard.write_bytes(bytes(data))
    broken = run_cli("verify", task_id)
    assert broken.exit_code == 1
    assert "DIFFERS" in broken.output and "result-00000.ndjson" in broken.output


def test_export_to_stdout_streams_rows_only(run_cli, tmp_path: Path):
    _catalog(run_cli, tmp_path, rows=3)
    result = run_cli("export", "catalog", "--params", '{"all_projects": true}', "-o", "-")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert [json.loads(line)["data_row"]["global_key"] for line in lines] == [
        "row-0",
        "row-1",
        "row-2",
    ]
    assert "COMPLETE" in result.stderr


def test_data_rows_by_global_key(run_cli, tmp_path: Path):
    _catalog(run_cli, tmp_path)
    out = tmp_path / "o.ndjson"
    result = run_cli("export", "data-rows", "--global-keys", "row-4", "row-0", "-o", str(out))
    assert result.exit_code == 0, result.output
    keys = [orjson.loads(line)["data_row"]["global_key"] for line in out.read_bytes().splitlines()]
    assert keys == ["row-0", "row-4"]  # export order, not argument order


def test_bad_requests_fail_before_work(run_cli, tmp_path: Path):
    _catalog(run_cli, tmp_path)
    cases = [
        (["export", "project", PROJECT, "--params", '{"predictions": true}'], 2,
         "params.predictions: not available for a project export"),
        (["export", "dataset", "cnope000000000000000000000"], 66, "dataset not found"),
        (["export", "catalog", "--filters", '{"workflow_status": "Done"}'], 2,
         "filters.workflow_status: not available for a catalog export"),
        (["export", "catalog", "--params", "{nope"], 2, "not valid JSON"),
        (["export", "catalog", "--params", "[]"], 2, "must be a JSON object"),
        (["export", "project", PROJECT, "--filters", '{"last_activity_at": ["yesterday", null]}'],
         2, "'yesterday' is not a date"),
    ]  # fmt: skip
    for args, code, message in cases:
        result = run_cli(*args)
        assert result.exit_code == code, (args, result.output)
        assert message in result.output, (args, result.output)
    listed = run_cli("exports", "list")
    assert "no exports yet" in listed.output


def test_a_terminal_gets_a_progress_bar_with_rows_per_second(run_cli, tmp_path: Path):
    import os
    import pty
    import subprocess
    import sys

    _catalog(run_cli, tmp_path, rows=60)  # more than the first page
    out = tmp_path / "out.ndjson"
    leader, follower = pty.openpty()
    env = {**os.environ, **run_cli.env, "TERM": "xterm-256color", "COLUMNS": "120"}
    labelport = str(Path(sys.executable).parent / "labelport")
    command = [labelport, "export", "project", PROJECT, "-o", str(out)]
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=follower) as process:
        os.close(follower)
        screen = b""
        while True:  # read the terminal until the command closes it
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            screen += chunk
        os.close(leader)
        summary = process.communicate(timeout=60)[0].decode()
    drawn = screen.decode(errors="replace")
    assert process.returncode == 0, drawn
    assert "export" in drawn and "rows/s" in drawn and "60/60 rows" in drawn, drawn
    assert "rows      60" in summary + drawn
    assert len(out.read_bytes().splitlines()) == 60
