"""gc indexes: keyset walks over expired uploads and ended records, upload id lookups

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 15:00:00.000000

`uploadcore gc` reads expired uploads ordered by (expires_at, id) and aborted
or failed records ordered by (modified, id), per status, 500 at a time: with
`id` in the index each batch is an index seek, with no sort of every
candidate. (upload_status, expires_at, id) replaces (upload_status,
expires_at), its prefix. Leftover storage is matched to live uploads by the
storage's upload id.

On a large PostgreSQL table, build the indexes first with CREATE INDEX
CONCURRENTLY under the same names; this migration then skips them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

OLD_INDEX = "ix_files_upload_status_expires_at"
INDEXES = {
    "ix_files_upload_status_expires_at_id": ["upload_status", "expires_at", "id"],
    "ix_files_upload_status_modified_id": ["upload_status", "modified", "id"],
    "ix_files_upload_id": ["upload_id"],
}


def _existing() -> set[str]:
    return {str(index["name"]) for index in sa.inspect(op.get_bind()).get_indexes("files")}


def upgrade() -> None:
    existing = _existing()
    for name, columns in INDEXES.items():
        if name not in existing:
            op.create_index(name, "files", columns, unique=False)
    if OLD_INDEX in existing:
        op.drop_index(OLD_INDEX, table_name="files")


def downgrade() -> None:
    op.create_index(OLD_INDEX, "files", ["upload_status", "expires_at"], unique=False)
    for name in reversed(INDEXES):
        op.drop_index(name, table_name="files")
