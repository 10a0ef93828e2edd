"""The `labelport` command through Click's runner, on both stores."""

from __future__ import annotations

import json
from pathlib import Path

import click
import orjson
import pytest
import sqlalchemy as sa

from labelport.cli import cli
from labelport.store import migrations, open_store
from labelport.store import schema as s
from tests.imports.test_load import make_row


def test_init_prints_a_key_once_and_stores_only_its_hash(run_cli, database):
    result = run_cli(
        "init", "--org", "acme", "--email", "boss@acme.test", "--timezone", "Europe/Berlin"
    )
    assert result.exit_code == 0, result.output
    key = next(
        line.split()[-1] for line in result.output.splitlines() if line.startswith("API key:")
    )
    assert key.startswith("lp_")
    st = open_store(database.url)
    with st.read() as conn:
        hashes = conn.execute(sa.select(s.api_key.c.secret_hash)).scalars().all()
        tz = conn.execute(sa.select(s.organization.c.timezone)).scalar_one()
    st.dispose()
    assert len(hashes) == 1 and key.split("_", 2)[2] not in hashes[0]
    assert tz == "Europe/Berlin"
    again = run_cli("init", "--org", "acme")
    assert again.exit_code == 75 and "already exists" in again.output


def test_keys_create_prints_only_the_key(run_cli, database):
    from labelport import services

    run_cli("init", "--org", "acme")
    result = run_cli("keys", "create", "--email", "ci@acme.test", "--role", "viewer")
    assert result.exit_code == 0
    key = result.output.strip()
    assert "\n" not in key and key.startswith("lp_")
    st = open_store(database.url)
    who = services.authenticate(st, key)
    st.dispose()
    assert (who.email, who.role) == ("ci@acme.test", "viewer")


def test_commands_need_an_organization(run_cli):
    result = run_cli("stats")
    assert result.exit_code == 66
    assert "labelport init" in result.output


def test_import_and_stats(run_cli, tmp_path: Path):
    run_cli("init")
    path = tmp_path / "rows.ndjson"
    path.write_bytes(b"".join(orjson.dumps(make_row(i)) + b"\n" for i in range(5)))
    result = run_cli("import", "labelbox", str(path))
    assert result.exit_code == 0, result.output
    assert "imported 5 rows, 5 labels" in result.output and "rows/s" in result.output
    stats = json.loads(run_cli("stats", "--json").output)
    assert stats["counts"]["data rows"] == 5 and stats["counts"]["labels"] == 5


def test_bad_import_exits_non_zero_and_names_line_and_field(run_cli, tmp_path: Path):
    run_cli("init")
    bad = make_row(2)
    bad["data_row"]["details"]["created_at"] = "soon"
    path = tmp_path / "rows.ndjson"
    path.write_bytes(orjson.dumps(make_row(1)) + b"\n" + orjson.dumps(bad) + b"\n")
    result = run_cli("import", "labelbox", str(path))
    assert result.exit_code == 65
    assert f"{path}:2: data_row.details.created_at: not an ISO 8601 timestamp" in result.output
    assert "nothing was imported" in result.output
    stats = json.loads(run_cli("stats", "--json").output)
    assert stats["counts"]["data rows"] == 0


def test_import_rows_csv(run_cli, tmp_path: Path):
    run_cli("init")
    path = tmp_path / "rows.csv"
    path.write_text("row_data,global_key\nhttps://x/1.jpg,a\nhttps://x/2.jpg,b\n")
    result = run_cli("import", "rows", str(path), "--dataset", "plain")
    assert result.exit_code == 0, result.output
    assert "imported 2 rows" in result.output


def test_missing_file_is_a_usage_error(run_cli):
    run_cli("init")
    result = run_cli("import", "labelbox", "/nonexistent.ndjson")
    assert result.exit_code == 2
    assert "no such file" in result.output


def test_db_upgrade(run_cli):
    result = run_cli("db", "upgrade")
    assert result.exit_code == 0
    assert f"version {migrations.HEAD}" in result.output
    assert "export-ready rows: up to date" in result.output


def test_db_upgrade_builds_the_export_ready_rows_an_older_catalog_lacks(run_cli, database):
    import sqlalchemy as sa

    from labelport.store import open_store
    from labelport.store import schema as s

    run_cli("init")
    path = run_cli.env["LABELPORT_HOME"] + "/rows.csv"
    with open(path, "w") as f:
        f.write("row_data,global_key\n" + "".join(f"https://x/{n}.jpg,k{n}\n" for n in range(7)))
    assert run_cli("import", "rows", path, "--dataset", "plain").exit_code == 0
    store = open_store(database.url)
    with store.write() as conn:  # what a catalog from before migration 6 looks like
        conn.execute(s.export_cache.delete())
    result = run_cli("db", "upgrade")
    assert result.exit_code == 0, result.output
    assert "built 7 export-ready row(s)" in result.output
    with store.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(s.export_cache)).scalar() == 7
    store.dispose()


def _commands(group: click.Group, prefix: tuple[str, ...] = ()):
    ctx = click.Context(group)
    for name in group.list_commands(ctx):  # the root loads its commands lazily
        command = group.get_command(ctx, name)
        assert command is not None
        yield (*prefix, name), command
        if isinstance(command, click.Group):
            yield from _commands(command, (*prefix, name))


@pytest.mark.parametrize("path", [p for p, _ in _commands(cli)], ids=" ".join)
def test_every_command_has_help_with_an_example(path):
    from click.testing import CliRunner

    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0
    command = dict(_commands(cli))[path]
    if not isinstance(command, click.Group):
        assert "Example" in result.output, f"{' '.join(path)} --help has no example"


@pytest.mark.parametrize(
    ("host", "public_url", "warns"),
    [
        ("127.0.0.1", None, False),
        ("::1", None, False),
        ("localhost", None, False),
        ("0.0.0.0", None, True),
        ("192.168.1.20", None, True),
        ("labelport.internal", None, True),
        ("0.0.0.0", "https://labelport.example.com", False),
    ],
)
def test_serve_warns_when_links_would_follow_the_host_header(host, public_url, warns):
    from labelport.cli.serving import public_url_warning

    warning = public_url_warning(host, public_url)
    assert (warning is not None) == warns
    if warns:
        assert "LABELPORT_PUBLIC_URL" in warning and host in warning
