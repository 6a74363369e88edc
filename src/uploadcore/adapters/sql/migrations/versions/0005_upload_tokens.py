"""upload tokens: browser sessions an application's backend mints with its API key

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 06:00:00.000000

A new table keeps each token's hash (never the token), its owner, expiry,
revocation and limits; `files.token_id` names the token that started an
upload, so a token acts only on its own uploads.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "upload_tokens",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked", sa.DateTime(timezone=True), nullable=True),
        sa.Column("max_file_size", sa.BigInteger(), nullable=True),
        sa.Column("max_files", sa.Integer(), nullable=True),
        sa.Column("files_started", sa.Integer(), nullable=False),
        sa.Column("allowed_content_types", sa.Text(), nullable=False),
        sa.Column("parent_content_type", sa.String(255), nullable=True),
        sa.Column("parent_object_id", sa.String(255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_upload_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_upload_tokens_token_hash")),
    )
    with op.batch_alter_table("files") as batch:
        batch.add_column(sa.Column("token_id", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("files") as batch:
        batch.drop_column("token_id")
    op.drop_table("upload_tokens")
