"""The commands the docs show work: every code block marked ``runnable`` in README.md and
docs/*.md runs, as written, in a fresh home (``sh runnable`` after the opening fence).

A block is one shell script (``set -eu``): its commands may use what earlier ones made. Blocks
with placeholders (``PROJECT_ID``) are not marked; a block that is marked must pass here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FENCE = re.compile(r"^```sh runnable\n(.*?)^```", re.M | re.S)


def runnable_blocks() -> list[tuple[str, int, str]]:
    found = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = doc.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append((doc.relative_to(ROOT).as_posix(), line, match.group(1)))
    return found


BLOCKS = runnable_blocks()


def test_the_docs_mark_runnable_blocks() -> None:
    assert any(doc == "README.md" for doc, _, _ in BLOCKS)  # the README's tour is one of them


@pytest.mark.parametrize(("doc", "line", "script"), BLOCKS, ids=[f"{d}:{n}" for d, n, _ in BLOCKS])
def test_a_runnable_block_runs(doc: str, line: int, script: str, tmp_path: Path) -> None:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("LABELPORT_")
    }  # the reader's shell, not this test run's settings
    env["LABELPORT_HOME"] = str(tmp_path / "home")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    done = subprocess.run(
        ["bash", "-c", "set -eu -o pipefail\n" + script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, (
        f"{doc}:{line}: the block failed (exit {done.returncode})\n"
        f"--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}"
    )
