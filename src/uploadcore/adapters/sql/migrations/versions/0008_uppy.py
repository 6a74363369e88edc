"""uploads of open length through Uppy: how their bytes arrive, and their size limit

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 08:00:00.000000

Uppy's multipart routes create uploads without a size (settled at completion)
and its single-request uploads send one form; both keep their state in the
`appends` row beside the upload, as tus does.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("appends") as batch:
        batch.add_column(sa.Column("fill", sa.String(16), nullable=False, server_default=""))
        batch.add_column(sa.Column("size_limit", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("appends") as batch:
        batch.drop_column("size_limit")
        batch.drop_column("fill")
