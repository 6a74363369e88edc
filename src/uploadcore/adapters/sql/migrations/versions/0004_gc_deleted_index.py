"""gc index: keyset walk over records whose deletion was cut short

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 10:00:00.000000

`uploadcore gc` finishes deletions that marked a record deleted but never
removed it, reading records with `deleted` at or before a cutoff ordered by
(deleted, id), 500 at a time: with this index each batch is an index seek.
It is partial (`deleted IS NOT NULL`): it holds only the few marked rows, and
the file listings, which ask for `deleted IS NULL`, never choose it.

On a large PostgreSQL table, build the index first with CREATE INDEX
CONCURRENTLY under the same name; this migration then skips it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

INDEX = "ix_files_deleted_id"


def upgrade() -> None:
    existing = {str(index["name"]) for index in sa.inspect(op.get_bind()).get_indexes("files")}
    if INDEX not in existing:
        marked = sa.text("deleted IS NOT NULL")
        op.create_index(
            INDEX,
            "files",
            ["deleted", "id"],
            unique=False,
            sqlite_where=marked,
            postgresql_where=marked,
        )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="files")
