"""appended uploads (tus): offset, deferred length, metadata, concatenation and a lease

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 06:20:00.000000

One row beside each upload filled by appending; the upload itself stays an
ordinary `files` row (owner, status, expiry, listing, gc).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "appends",
        sa.Column("file_id", sa.String(64), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("length", sa.BigInteger(), nullable=True),
        sa.Column("metadata", sa.Text(), nullable=False),
        sa.Column("concat", sa.String(16), nullable=False),
        sa.Column("partials", sa.Text(), nullable=True),
        sa.Column("lease", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["file_id"], ["files.id"], name=op.f("fk_appends_file_id_files"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("file_id", name=op.f("pk_appends")),
    )


def downgrade() -> None:
    op.drop_table("appends")
