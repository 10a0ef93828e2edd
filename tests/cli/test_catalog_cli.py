"""`labelport ls` and the lazy root command: ids and names of what the catalog holds, and a
`--help` / `--version` that load nothing of the catalog."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import click

from labelport import services
from labelport.cli import COMMANDS, cli
from tests.factories import PROJECT, import_rows, simple_row


def test_ls_lists_every_kind_with_ids_names_and_row_counts(run_cli: Any, database: Any) -> None:
    assert run_cli("init", "--org", "acme").exit_code == 0
    from labelport.store import open_store

    store = open_store(database.url)
    try:
        org = services.find_organization(store, "acme")
        import_rows(store, org.id, [simple_row(i, project=PROJECT) for i in range(3)])
        services.save_slice(store, org.id, "recent", {"last_activity_at": ["2024-01-01", None]})
    finally:
        store.dispose()

    everything = run_cli("ls")
    assert everything.exit_code == 0, everything.output
    assert "datasets (1)" in everything.output and "model-runs (0)" in everything.output
    assert "annotation-sets (0)" in everything.output

    projects = run_cli("ls", "projects")
    header, *lines = projects.output.splitlines()
    assert header.split()[:3] == ["id", "name", "rows"]
    assert len(lines) == 1 and lines[0].startswith(PROJECT) and " 3 " in f"{lines[0]} "

    datasets = [
        json.loads(line) for line in run_cli("ls", "datasets", "--json").output.splitlines()
    ]
    assert [(d["name"], d["data_row_count"]) for d in datasets] == [("images", 3)]
    kinds = {json.loads(line)["entity"] for line in run_cli("ls", "--json").output.splitlines()}
    assert kinds == {"datasets", "projects", "slices"}  # one object per item, with its entity

    assert "no model-runs" in run_cli("ls", "model-runs").output
    wrong = run_cli("ls", "labels")
    assert wrong.exit_code == 2 and "labels" in wrong.output


def test_each_lazy_command_is_the_command_its_help_line_describes() -> None:
    ctx = click.Context(cli)
    for name, (_, _, line) in COMMANDS.items():
        command = cli.get_command(ctx, name)
        assert command is not None and command.name == name
        first = " ".join((command.help or "").split("\n\n")[0].split())
        assert first == line, f"`labelport --help` says {line!r} of {name}, its help {first!r}"
    assert cli.get_command(ctx, "nope") is None


def test_help_and_version_load_nothing_of_the_catalog() -> None:
    probe = (
        "import sys\n"
        "from labelport.cli import main\n"
        "try:\n"
        "    main([sys.argv[1]])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'rich')"
        " or m.startswith(('labelport.store', 'labelport.export', 'labelport.imports')))\n"
        "print('LOADED', heavy, file=sys.stderr)\n"
    )
    for option in ("--help", "--version"):
        ran = subprocess.run(
            [sys.executable, "-c", probe, option], capture_output=True, text=True, check=True
        )
        assert "LOADED []" in ran.stderr, ran.stderr
        assert "labelport" in ran.stdout
