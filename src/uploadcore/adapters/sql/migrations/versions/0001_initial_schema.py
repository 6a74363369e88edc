"""initial schema

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-24 14:12:06.501291
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "users",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=True),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_users")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_users_key_hash")),
    )
    op.create_table(
        "files",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("upload_id", sa.String(length=1024), nullable=False),
        sa.Column("storage_key", sa.String(length=1024), nullable=False),
        sa.Column("owner", sa.String(length=255), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("file_size", sa.BigInteger(), nullable=False),
        sa.Column("file_content_type", sa.String(length=255), nullable=False),
        sa.Column("num_parts", sa.Integer(), nullable=False),
        sa.Column("part_size", sa.BigInteger(), nullable=False),
        sa.Column("upload_status", sa.String(length=16), nullable=False),
        sa.Column("etag", sa.String(length=64), nullable=True),
        sa.Column("parent_content_type", sa.String(length=255), nullable=True),
        sa.Column("parent_object_id", sa.String(length=255), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_files")),
    )
    with op.batch_alter_table("files", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_files_created_id"), ["created", "id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_files_owner_created_id"), ["owner", "created", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_files_upload_status_expires_at"),
            ["upload_status", "expires_at"],
            unique=False,
        )

    op.create_table(
        "parts",
        sa.Column("file_id", sa.String(length=64), nullable=False),
        sa.Column("part_number", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("etag", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("received", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["file_id"], ["files.id"], name=op.f("fk_parts_file_id_files"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("file_id", "part_number", name=op.f("pk_parts")),
    )


def downgrade() -> None:

    op.drop_table("parts")
    with op.batch_alter_table("files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_files_upload_status_expires_at"))
        batch_op.drop_index(batch_op.f("ix_files_owner_created_id"))
        batch_op.drop_index(batch_op.f("ix_files_created_id"))

    op.drop_table("files")
    op.drop_table("users")
