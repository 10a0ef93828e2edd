"""The revision files: self-contained, one line of history, the head that the code names."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from labelport.store import migrations

VERSIONS = migrations.REVISIONS / "versions"


def _imports(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            modules |= {base} | {f"{base}.{alias.name}".lstrip(".") for alias in node.names}
    return modules


def test_no_revision_imports_the_live_schema_or_anything_of_labelport():
    """A revision is the change it made, written out: importing schema.py (or anything else
    that changes) would change what an old revision builds."""
    files = sorted(migrations.REVISIONS.rglob("*.py"))
    assert VERSIONS / "0010_baseline.py" in files and migrations.REVISIONS / "legacy.py" in files
    for path in files:
        found = {m for m in _imports(path) if m.startswith((".", "labelport", "importlib"))}
        assert not found, f"{path.name} imports {sorted(found)}"
        assert "__import__" not in path.read_text(), path.name


def test_the_head_the_code_names_is_the_last_revision_of_one_line_of_history():
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrations.config())
    assert script.get_heads() == [migrations.HEAD]
    chain = [r.revision for r in script.walk_revisions("base", "heads")][::-1]
    assert chain[0] == migrations.BASELINE == "0010"
    assert chain == [f"{n:04d}" for n in range(10, 10 + len(chain))]  # numbered in turn
    for rev in script.walk_revisions("base", "heads"):
        assert Path(rev.path).name.startswith(f"{rev.revision}_"), rev.path


def test_the_baseline_has_frozen_statements_for_both_dialects():
    from importlib.util import module_from_spec, spec_from_file_location

    spec = spec_from_file_location("baseline", VERSIONS / "0010_baseline.py")
    assert spec is not None and spec.loader is not None
    baseline = module_from_spec(spec)
    spec.loader.exec_module(baseline)
    for dialect in ("sqlite", "postgresql"):
        statements = baseline.statements(dialect)
        assert sum(s.startswith("CREATE TABLE") for s in statements) == 29  # frozen: never more
        assert any('COLLATE "C"' in s for s in statements) == (dialect == "postgresql")
        assert sum("CREATE TRIGGER" in s for s in statements) == 35
    with pytest.raises(ValueError, match="mysql"):
        baseline.statements("mysql")


def test_opening_a_catalog_at_the_head_imports_nothing_of_alembic(tmp_path):
    """Opening (``labelport stats``) only reads when nothing is pending: no Alembic import."""
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    code = (
        "import sys; from labelport.store import open_store; "
        f"open_store({url!r}).dispose(); print('alembic' in sys.modules)"
    )
    first = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    again = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert first.stdout.strip() == "True", first.stderr  # a new catalog: Alembic made it
    assert again.stdout.strip() == "False", again.stderr


def test_a_new_revision_comes_from_the_template_after_the_head(tmp_path, monkeypatch):
    copy = tmp_path / "revisions"
    shutil.copytree(migrations.REVISIONS, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(migrations, "REVISIONS", copy)
    path = migrations.new_revision("label gets a colour")
    assert path.parent == copy / "versions"
    number = f"{int(migrations.HEAD) + 1:04d}"
    assert path.name == f"{number}_label_gets_a_colour.py"
    text = path.read_text()
    assert f'revision = "{number}"' in text
    assert f'down_revision = "{migrations.HEAD}"' in text
    assert not {m for m in _imports(path) if m.startswith("labelport")}
    compile(text, str(path), "exec")
