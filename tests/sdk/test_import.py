"""The SDK can ship alone: importing it loads httpx and itself, nothing of the server side."""

from __future__ import annotations

import subprocess
import sys

SERVER_PACKAGES = {
    "fastapi",
    "starlette",
    "sqlalchemy",
    "uvicorn",
    "pydantic",
    "psycopg",
    "celery",
    "fsspec",
    "jinja2",
    "ijson",
}
# leaf modules without imports: the one error tree and the shared words (task states)
ALLOWED_LABELPORT = {"labelport", "labelport.errors", "labelport.vocab"}


def test_importing_the_sdk_loads_nothing_of_the_server() -> None:
    code = "import sys, labelport.sdk; print('\\n'.join(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    modules = set(done.stdout.split())
    assert {"httpx", "labelport.sdk", "labelport.sdk.client", "labelport.sdk.tasks"} <= modules
    server = sorted(m for m in modules if m.split(".")[0] in SERVER_PACKAGES)
    assert server == []
    ours = sorted(
        m
        for m in modules
        if m.startswith("labelport")
        and not m.startswith("labelport.sdk")
        and m not in ALLOWED_LABELPORT
    )
    assert ours == []  # no labelport.store, .export, .server, .services, .tasks, .cli ...
