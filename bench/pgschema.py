"""Helpers shared by the bench scripts: throwaway or kept PostgreSQL schemas, child runs."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any


def postgres_url(base: str, prefix: str) -> tuple[str, str] | None:
    """Create a schema ``<prefix>_<pid>`` and return (URL using it, schema); None if unreachable."""
    import os

    schema = f"{prefix}_{os.getpid()}"
    url = _schema_url(base, schema, f'CREATE SCHEMA "{schema}"')
    return None if url is None else (url, schema)


def drop_schema(base: str, schema: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(base)
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


def kept_schema_url(base: str, schema: str) -> str | None:
    """Create schema ``schema`` unless it exists and return a URL using it; None if unreachable.

    Unlike :func:`postgres_url` the name is fixed, so a benchmark can keep a catalog across runs.
    """
    return _schema_url(base, schema, f'CREATE SCHEMA IF NOT EXISTS "{schema}"')


def _schema_url(base: str, schema: str, create: str) -> str | None:
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(base)
        with engine.begin() as conn:
            conn.execute(sa.text(create))
        engine.dispose()
    except Exception as exc:
        print(f"PostgreSQL skipped: {exc}", file=sys.stderr)
        return None
    return f"{base}?options=-csearch_path%3D{schema}"


def child_result(script: str, *args: str) -> dict[str, Any]:
    """Run ``script --child ARGS`` in a fresh interpreter (its own peak RSS) and return the
    JSON object its last line of output holds."""
    out = subprocess.run([sys.executable, script, "--child", *args], capture_output=True, text=True)
    if out.returncode != 0:
        sys.stderr.write(out.stderr)
        raise SystemExit(f"child {args[0]} failed (exit {out.returncode})")
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]
