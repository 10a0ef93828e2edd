"""docs/sdk.md's first example runs as written (with this server's URL, key and project)."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path
from typing import Any

from tests.factories import PROJECT, import_rows, simple_row

DOC = Path(__file__).parents[2] / "docs" / "sdk.md"


def test_the_guides_first_example_runs(server: Any, tmp_path: Path, monkeypatch: Any) -> None:
    import_rows(server.store, server.org.id, [simple_row(n, project=PROJECT) for n in range(3)])
    example = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)[0]
    example = example.replace('"http://127.0.0.1:8000", "lp_…"', f'"{server.url}", KEY')
    example = example.replace('"ckx…"', f'"{PROJECT}"')
    assert "KEY" in example and PROJECT in example  # the guide still reads as this test expects
    monkeypatch.chdir(tmp_path)
    printed = io.StringIO()
    names: dict[str, Any] = {"KEY": server.keys["editor"]}
    try:
        with contextlib.redirect_stdout(printed):
            exec(compile(example, str(DOC), "exec"), names)
    finally:
        if "client" in names:
            names["client"].close()
    assert printed.getvalue().split() == ["row-0", "row-1", "row-2"]
    assert (tmp_path / "done.ndjson").read_bytes().count(b"\n") == 3
