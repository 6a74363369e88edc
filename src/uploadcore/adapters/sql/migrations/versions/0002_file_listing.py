"""files as a resource: listing indexes and the deletion mark

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 09:00:00.000000

Listing newest first seeks an index for each filter a listing can combine
(owner, status, parent), so a page deep in the listing costs what the first
one does. `deleted` marks a file whose deletion has begun.

On a large PostgreSQL table, build the indexes first with CREATE INDEX
CONCURRENTLY under the same names; this migration then only adds the column.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_files_owner_upload_status_created_id": ["owner", "upload_status", "created", "id"],
    "ix_files_upload_status_created_id": ["upload_status", "created", "id"],
    "ix_files_parent_content_type_parent_object_id_created_id": [
        "parent_content_type",
        "parent_object_id",
        "created",
        "id",
    ],
}


def upgrade() -> None:
    with op.batch_alter_table("files", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deleted", sa.DateTime(timezone=True), nullable=True))
    existing = {index["name"] for index in sa.inspect(op.get_bind()).get_indexes("files")}
    for name, columns in INDEXES.items():
        if name not in existing:
            op.create_index(name, "files", columns, unique=False)


def downgrade() -> None:
    for name in reversed(INDEXES):
        op.drop_index(name, table_name="files")
    with op.batch_alter_table("files", schema=None) as batch_op:
        batch_op.drop_column("deleted")
