"""A throwaway PostgreSQL schema for a benchmark run (shared by the bench scripts)."""

from __future__ import annotations

import sys


def postgres_url(base: str, prefix: str) -> tuple[str, str] | None:
    """Create a schema ``<prefix>_<pid>`` and return (URL using it, schema); None if unreachable."""
    import os

    import sqlalchemy as sa

    schema = f"{prefix}_{os.getpid()}"
    try:
        engine = sa.create_engine(base)
        with engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        engine.dispose()
    except Exception as exc:
        print(f"PostgreSQL skipped: {exc}", file=sys.stderr)
        return None
    return f"{base}?options=-csearch_path%3D{schema}", schema


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
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(base)
        with engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        engine.dispose()
    except Exception as exc:
        print(f"PostgreSQL skipped: {exc}", file=sys.stderr)
        return None
    return f"{base}?options=-csearch_path%3D{schema}"
