"""gc's running totals by kind of action, for /metrics

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 08:10:00.000000

`uploadcore gc` runs as a process of its own; what it did is added here, so
every instance's `/metrics` can show it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gc_actions",
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("kind", name=op.f("pk_gc_actions")),
    )


def downgrade() -> None:
    op.drop_table("gc_actions")
