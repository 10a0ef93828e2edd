"""`labelport export … --url URL --api-key KEY`: the same export on a live server through the SDK,
compared with the local command on the same catalog (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner, Result

from labelport.cli import cli
from labelport.sdk._http import Http
from tests.factories import PROJECT, import_rows, simple_row

PARAMS = '{"label_details": true, "project_details": true}'


class Shell:
    """The `labelport` command with the test's catalog in its environment, like a user's."""

    def __init__(self, server: Any, database_url: str, tmp_path: Path) -> None:
        self.server = server
        self.env = {
            "LABELPORT_DATABASE_URL": database_url,
            "LABELPORT_HOME": str(tmp_path / "home"),
            "LABELPORT_URL": None,
            "LABELPORT_API_KEY": None,
        }

    def __call__(self, *args: str, **env: str) -> Result:
        return CliRunner().invoke(cli, list(args), env={**self.env, **env}, catch_exceptions=False)

    def local(self, *args: str) -> Result:
        return self(*args, "--org", "acme")

    def remote(self, *args: str, role: str = "editor") -> Result:
        return self(*args, "--url", self.server.url, "--api-key", self.server.keys[role])


@pytest.fixture
def shell(server: Any, database: Any, tmp_path: Path) -> Shell:
    rows = [simple_row(n, project=PROJECT) for n in range(40)]
    import_rows(server.store, server.org.id, rows)
    return Shell(server, database.url, tmp_path)


def summary(result: Result) -> dict[str, str]:
    """The summary lines by their first word (`export`, `rows`, `bytes`, ...)."""
    out: dict[str, str] = {}
    for line in result.stdout.splitlines() if result.stdout.strip() else result.stderr.splitlines():
        word, _, rest = line.strip().partition(" ")
        out[word] = rest.strip()
    return out


def test_a_remote_export_writes_the_same_file_and_summary_as_a_local_one(
    shell: Shell, server: Any, tmp_path: Path
) -> None:
    filters = '{"workflow_status": "Done", "global_keys": ["row-3", "row-1", "row-30"]}'
    spec = ("export", "project", PROJECT, "--params", PARAMS, "--filters", filters)
    local_file, remote_file = tmp_path / "local.ndjson", tmp_path / "remote.ndjson"
    local = shell.local(*spec, "-o", str(local_file))
    remote = shell.remote(*spec, "-o", str(remote_file))
    assert local.exit_code == 0, local.output
    assert remote.exit_code == 0, remote.output
    body = remote_file.read_bytes()
    assert body == local_file.read_bytes() and body.count(b"\n") == 3
    keys = [orjson.loads(line)["data_row"]["global_key"] for line in body.splitlines()]
    assert keys == ["row-1", "row-3", "row-30"]
    assert list(tmp_path.glob("*.partial")) == []

    mine, theirs = summary(local), summary(remote)
    assert list(mine) == list(theirs) == ["export", "rows", "bytes", "errors", "manifest", "output"]
    task_id = theirs["export"].split()[0]
    assert theirs["export"] == f"{task_id} COMPLETE" and task_id != mine["export"].split()[0]
    assert theirs["rows"].startswith("3 in ") and mine["rows"].startswith("3 in ")
    assert theirs["bytes"] == mine["bytes"] == f"{len(body):,}"
    assert theirs["errors"] == mine["errors"] == "0"
    assert theirs["output"] == str(remote_file)
    assert theirs["manifest"] == f"{server.url}/api/v1/exports/{task_id}/manifest"
    with server.client("viewer") as http:
        manifest = http.get(theirs["manifest"]).json()
    assert manifest["streams"]["result"]["sha256"] == hashlib.sha256(body).hexdigest()
    assert manifest["filters"]["workflow_status"] == "Done"


def test_remote_to_stdout_from_the_environment_and_every_scope(shell: Shell, server: Any) -> None:
    for spec in [
        ("export", "catalog", "--params", '{"all_projects": true}'),
        ("export", "data-rows", "--global-keys", "row-7", "row-2", "--params", PARAMS),
        (
            "export",
            "dataset",
            "cdataset00000000000000001",
            "--filters",
            '{"global_keys": ["row-9"]}',
        ),
    ]:
        local = shell.local(*spec, "-o", "-")
        remote = shell(
            *spec, "-o", "-", LABELPORT_URL=server.url, LABELPORT_API_KEY=server.keys["editor"]
        )
        assert local.exit_code == 0 and remote.exit_code == 0, remote.output
        assert remote.stdout_bytes == local.stdout_bytes != b""
        assert "COMPLETE" in remote.stderr and "manifest  http://" in remote.stderr
    assert remote.stdout_bytes.count(b"\n") == 1

    nothing = shell.remote("export", "project", PROJECT, "--filters", '{"global_keys": ["zz"]}')
    assert nothing.exit_code == 0 and "rows      0 in" in nothing.stdout


def test_flags_that_do_not_combine_are_usage_errors(shell: Shell, server: Any) -> None:
    both = shell.remote("export", "catalog", "--org", "acme")
    assert (
        both.exit_code == 2 and "--org" in both.stderr and "API key's organization" in both.stderr
    )
    key_only = shell("export", "catalog", "--api-key", server.keys["editor"])
    assert key_only.exit_code == 2 and "--api-key is for a server export" in key_only.stderr
    no_key = shell("export", "catalog", "--url", server.url)
    assert no_key.exit_code == 2 and "--url needs an API key" in no_key.stderr
    from_env = shell("export", "catalog", LABELPORT_URL=server.url)
    assert from_env.exit_code == 2 and "--url needs an API key" in from_env.stderr
    # a key in the environment alone leaves the local command alone
    local = shell("export", "catalog", "--org", "acme", LABELPORT_API_KEY=server.keys["editor"])
    assert local.exit_code == 0, local.output
    assert "manifest  " in local.stdout and "http" not in local.stdout.split("manifest  ")[1]


def test_remote_errors_are_the_servers_words_with_exit_codes(shell: Shell, server: Any) -> None:
    bad = shell.remote("export", "project", PROJECT, "--params", '{"nope": true}')
    assert bad.exit_code == 2 and "params.nope: unknown param" in bad.stderr
    missing = shell.remote("export", "project", "cnosuchproject00000000001")
    assert missing.exit_code == 66 and "project not found" in missing.stderr
    weak = shell.remote("export", "catalog", role="viewer")
    assert weak.exit_code == 77 and "editor role" in weak.stderr
    stranger = shell("export", "catalog", "--url", server.url, "--api-key", "lp_no_key")
    assert stranger.exit_code == 77
    bad_json = shell.remote("export", "catalog", "--params", "{nope")
    assert bad_json.exit_code == 2 and "not valid JSON" in bad_json.stderr


def test_an_unreachable_server_is_exit_69_after_the_retries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[int] = []
    monkeypatch.setattr(
        Http, "sleep", lambda self, attempt, retry_after=None: waits.append(attempt)
    )
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    env = {"LABELPORT_HOME": str(tmp_path / "home")}
    gone = CliRunner().invoke(
        cli, ["export", "catalog", "--url", url, "--api-key", "lp_a_b"], env=env
    )
    assert gone.exit_code == 69 and "no answer from the server" in gone.stderr
    assert waits == [0, 1, 2]  # three retries, each waiting longer
