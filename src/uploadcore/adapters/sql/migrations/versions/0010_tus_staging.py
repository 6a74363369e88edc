"""tus on S3: the staged tail of an appended upload, and part numbers handed out once

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 08:10:00.000000

On S3 the last bytes of an appended upload wait on one machine's disk until
they make a part: `staged` counts them (of `offset`) and `tail` names the
file that holds them. `next_part` hands each part number out once, so a
writer that lost its lease never overwrites a part another one recorded.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("appends") as batch:
        batch.add_column(sa.Column("staged", sa.BigInteger(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("tail", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("next_part", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    with op.batch_alter_table("appends") as batch:
        batch.drop_column("next_part")
        batch.drop_column("tail")
        batch.drop_column("staged")
