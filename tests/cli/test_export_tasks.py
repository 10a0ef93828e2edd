"""`labelport exports` (:mod:`labelport.cli.export_tasks`) through Click's runner, on both
stores: list, show, archive, cancel, and reading a finished export from a line or byte."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_export_cli import _catalog
from tests.factories import PROJECT


def test_exports_list_show_archive(run_cli, tmp_path: Path):
    _catalog(run_cli, tmp_path)
    first = run_cli("export", "project", PROJECT).output.split()[1]
    second = run_cli("export", "catalog").output.split()[1]
    listed = run_cli("exports", "list", "--json")
    assert [json.loads(line)["id"] for line in listed.output.splitlines()] == [second, first]
    table = run_cli("exports", "list", "--scope", "project")
    assert first in table.output and second not in table.output
    shown = json.loads(run_cli("exports", "show", first, "--manifest").output)
    assert shown["status"] == "COMPLETE" and shown["result"]["lines"] == 5
    assert shown["manifest"]["counts"]["labels"] == {PROJECT: 5}
    assert shown["manifest"]["counts"]["annotations"] == {"ImageBoundingBox": 5}
    assert run_cli("exports", "archive", first).exit_code == 0
    assert first not in run_cli("exports", "list").output
    assert first in run_cli("exports", "list", "--archived").output
    canceled = run_cli("exports", "cancel", first)
    assert canceled.exit_code == 75 and "already COMPLETE" in canceled.output
    missing = run_cli("exports", "show", "cmissing00000000000000000")
    assert missing.exit_code == 66


def test_exports_read_seeks_by_line_and_offset(run_cli, tmp_path: Path):
    _catalog(run_cli, tmp_path, rows=6)
    task_id = run_cli("export", "catalog").output.split()[1]
    whole = run_cli("exports", "read", task_id).stdout_bytes
    lines = whole.splitlines(keepends=True)
    assert len(lines) == 6
    assert run_cli("exports", "read", task_id, "--line", "4").stdout_bytes == b"".join(lines[4:])
    got = run_cli("exports", "read", task_id, "--line", "1", "--limit", "2").stdout_bytes
    assert got == b"".join(lines[1:3])
    start = len(lines[0]) + 5
    assert run_cli("exports", "read", task_id, "--offset", str(start)).stdout_bytes == whole[start:]
    past = run_cli("exports", "read", task_id, "--line", "7")
    assert past.exit_code == 2 and "line" in past.output
    empty = run_cli("exports", "read", task_id, "--stream", "errors")
    assert empty.exit_code == 0 and empty.stdout_bytes == b""
    for option, value in (("--limit", "-3"), ("--line", "-1"), ("--offset", "-5")):
        negative = run_cli("exports", "read", task_id, option, value)
        assert negative.exit_code == 2 and option in negative.output, (option, negative.output)
    assert run_cli("exports", "list", "--limit", "0").exit_code == 2
