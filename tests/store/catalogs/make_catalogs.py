"""Write the catalogs that earlier labelports made (run once; the .sql files it writes are kept).

For each commit in :data:`MADE_BY`, the labelport of that commit (its ``src/``, taken with
``git archive``) opens a new catalog on SQLite and on PostgreSQL, and every statement it runs that
changes the catalog is written to ``vNN-<commit>.<dialect>.sql``: one statement per block, each
block ended by a line holding only ``;`` (the files also run as they are in ``sqlite3``/``psql``).
Commits that made the same statements as the one before them (a change to comments or typing
only) are left out. ``tests/store/test_migrations.py`` replays each file, upgrades the catalog to
the head and compares it with a new one.

No commit had schema version 8 as its head (one commit went from 7 to 9), so the version-8
catalog is a version-7 one brought to 8 by migration 8 as that commit wrote it. That works on
PostgreSQL only: on SQLite, migration 8 as written failed on every catalog that had the
export-ready triggers (version 6 on; its table rebuild renamed a table that triggers of other
tables name), so no SQLite catalog ever reached version 8, and there is no SQLite file for it.

    .venv/bin/python tests/store/catalogs/make_catalogs.py [--postgres URL]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tarfile
import tempfile
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]

# (schema version, the commit whose labelport made the catalog, the commit that stepped it to 8)
MADE_BY: tuple[tuple[int, str, str | None], ...] = (
    (1, "f874ee0", None),
    (1, "1e1c8ff", None),
    (2, "d0aab73", None),
    (3, "fa00e3f", None),
    (4, "28d12df", None),
    (5, "e636b16", None),
    (6, "0429ced", None),
    (6, "98ac423", None),  # export_cache kept inline on PostgreSQL (toast_tuple_target)
    (7, "5f2b203", None),
    (8, "5f2b203", "b0cf70b"),
    (9, "b0cf70b", None),
    (10, "be4a245", None),
    (10, "cb17226", None),
)

# Run by the python of this checkout with the old src/ first on sys.path.
_CHILD = r"""
import json, sys
import sqlalchemy as sa

src, url, step = sys.argv[1], sys.argv[2], sys.argv[3]
ran = []

@sa.event.listens_for(sa.engine.Engine, "before_cursor_execute")
def _record(conn, cursor, statement, parameters, context, executemany):
    ran.append([statement, None if not parameters else repr(parameters)])

import labelport.store as store
assert store.__file__.startswith(src), store.__file__
if step == "open":
    store.open_store(url).dispose()
else:  # run one migration on a catalog made before, as this commit wrote it
    from labelport.store import migrations, schema
    from labelport.times import utcnow
    st = store.open_store(url, migrate=False)
    with st.write() as conn:
        for number, _title, run in migrations.MIGRATIONS:
            if number == int(step):
                run(conn)
                stamp = {"version": number, "applied_at": utcnow()}
                conn.execute(schema.schema_version.insert(), stamp)
    st.dispose()
json.dump(ran, sys.stdout)
"""

_READS = ("SELECT", "PRAGMA", "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "SET", "SHOW")


def _checkout(commit: str, into: Path) -> Path:
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", commit, "src"],
        check=True,
        capture_output=True,
    ).stdout
    with tempfile.TemporaryFile() as f:
        f.write(archive)
        f.seek(0)
        with tarfile.open(fileobj=f) as tar:
            tar.extractall(into, filter="data")
    return into / "src"


def _run(src: Path, url: str, step: str) -> list[str]:
    """The statements that changed the catalog when the labelport in ``src`` ran ``step``."""
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(src), url, step],
        env={**os.environ, "PYTHONPATH": str(src)},
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    kept = []
    for statement, parameters in json.loads(out):
        text = statement.strip()
        verb = text.split(None, 1)[0].upper()
        if verb in _READS:
            continue
        if parameters is not None:  # only the version stamp has parameters
            if not text.startswith("INSERT INTO schema_version"):
                raise RuntimeError(f"unexpected statement with parameters: {text}")
            continue
        kept.append(text)
    return kept


def _stamp(dialect: str, version: int, commit: str) -> str:
    when = subprocess.run(
        ["git", "-C", str(REPO), "show", "-s", "--format=%cI", commit],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    at = datetime.fromisoformat(when).strftime("%Y-%m-%d %H:%M:%S")
    at = f"{at}+00:00" if dialect == "postgresql" else f"{at}.000000"
    return f"INSERT INTO schema_version (version, applied_at) VALUES ({version}, '{at}')"


def _catalog(
    dialect: str, checkouts: dict[str, Path], commit: str, stepped_by: str | None, pg_url: str
) -> list[str] | None:
    """The statements that made the catalog, or None if they failed."""
    with tempfile.TemporaryDirectory() as tmp:
        if dialect == "sqlite":
            url, admin, schema = f"sqlite:///{tmp}/catalog.db", None, None
        else:
            schema = f"lpt_make_{secrets.token_hex(4)}"
            admin = sa.create_engine(pg_url)
            with admin.begin() as conn:
                conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
            url = f"{pg_url}?options=-csearch_path%3D{schema}"
        try:
            statements = _run(checkouts[commit], url, "open")
            if stepped_by is not None:
                try:
                    statements += _run(checkouts[stepped_by], url, "8")
                except subprocess.CalledProcessError as exc:
                    print(f"{stepped_by} on {dialect}: {exc.stderr.strip().splitlines()[-3]}")
                    return None
            return statements
        finally:
            if admin is not None:
                with admin.begin() as conn:
                    conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres", default="postgresql+psycopg://127.0.0.1:5432/test")
    args = parser.parse_args()
    for old in HERE.glob("v*.sql"):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        commits = {c for _v, made, stepped in MADE_BY for c in (made, stepped) if c}
        checkouts = {c: _checkout(c, Path(tmp) / c) for c in commits}
        for dialect in ("sqlite", "postgresql"):
            before: list[str] = []
            for version, commit, stepped_by in MADE_BY:
                statements = _catalog(dialect, checkouts, commit, stepped_by, args.postgres)
                if statements is None or sorted(statements) == before:
                    continue  # (indexes come in no fixed order)
                before = sorted(statements)
                how = f"made by labelport at {commit}"
                if stepped_by:
                    how += f", then brought to 8 by migration 8 as {stepped_by} wrote it"
                header = (
                    f"-- A catalog at schema version {version} on {dialect}, {how}.\n"
                    "-- Written by tests/store/catalogs/make_catalogs.py: do not edit.\n"
                )
                stamps = [(version - 1, commit), (version, stepped_by)] if stepped_by else []
                stamps = stamps or [(version, commit)]
                blocks = statements + [_stamp(dialect, v, c) for v, c in stamps]
                path = HERE / f"v{version:02d}-{commit}.{dialect}.sql"
                path.write_text(header + "".join(f"{b}\n;\n" for b in blocks))
                print(f"{path.name}: {len(blocks)} statements")


if __name__ == "__main__":
    main()
