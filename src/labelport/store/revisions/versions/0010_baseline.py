"""The baseline: the whole catalog as schema version 10 (the last migration before Alembic) had it.

Tables, indexes (on PostgreSQL the export-order indexes with their id part ``COLLATE "C"``), the
export-ready triggers and PostgreSQL's trigger functions and storage setting, written out per
dialect in ``0010_baseline.<dialect>.sql`` beside this file: generated once from ``schema.py``
and ``triggers.py`` as they were at version 10, and frozen. A catalog from before Alembic is
brought to version 10 by ``revisions/legacy.py`` and stamped with this revision instead.
"""

from __future__ import annotations

from pathlib import Path

from alembic import op

revision = "0010"
down_revision = None
branch_labels = None
depends_on = None

DIALECTS = ("sqlite", "postgresql")


def statements(dialect: str) -> list[str]:
    """The frozen statements for ``dialect``: blocks of the .sql file, each ended by a line
    holding only ``;`` (so that a ``;`` inside a trigger or a function body is no end), without
    the ``--`` comment lines before a statement."""
    if dialect not in DIALECTS:
        raise ValueError(f"no baseline for {dialect!r}; labelport runs on {', '.join(DIALECTS)}")
    text = Path(__file__).with_name(f"0010_baseline.{dialect}.sql").read_text(encoding="utf-8")
    out = []
    for block in text.split("\n;\n"):
        lines = block.strip().splitlines()
        while lines and lines[0].startswith("--"):
            del lines[0]
        if lines:
            out.append("\n".join(lines))
    return out


def upgrade() -> None:
    bind = op.get_bind()
    for statement in statements(bind.dialect.name):
        bind.exec_driver_sql(statement)
    # The legacy table ends at version 10 in every catalog, as in those brought up to it.
    bind.exec_driver_sql(
        "INSERT INTO schema_version (version, applied_at) VALUES (10, CURRENT_TIMESTAMP)"
    )


def downgrade() -> None:
    raise NotImplementedError("there is nothing before the baseline")
