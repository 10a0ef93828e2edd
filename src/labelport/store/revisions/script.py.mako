"""${message}

Revision ${up_revision}, after ${down_revision | comma,n}. Self-contained: write the change out
(op.add_column, op.create_table, op.execute, ...) with SQLAlchemy types as they are today; never
import labelport.store.schema or anything else that changes. See docs/dev/migrations.md.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "${up_revision}"
down_revision = "${down_revision}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # e.g. op.add_column("label", sa.Column("colour", sa.String(16)))
    ${upgrades if upgrades else "..."}


def downgrade() -> None:
    raise NotImplementedError("labelport catalogs are only upgraded")
