"""The schema, as SQLAlchemy Core tables. Alembic migrations must produce exactly this."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

users = Table(
    "users",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("key_hash", String(64), nullable=True, unique=True),
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("created", UtcDateTime, nullable=False),
)

files = Table(
    "files",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("upload_id", String(1024), nullable=False),
    Column("storage_key", String(1024), nullable=False),
    # A user name, not a foreign key: an embedder's own authenticator has its own users.
    Column("owner", String(255), nullable=False),
    Column("file_name", String(255), nullable=False),
    Column("file_size", BigInteger, nullable=False),
    Column("file_content_type", String(255), nullable=False),
    Column("num_parts", Integer, nullable=False),
    Column("part_size", BigInteger, nullable=False),
    Column("upload_status", String(16), nullable=False),
    Column("etag", String(64), nullable=True),
    Column("parent_content_type", String(255), nullable=True),
    Column("parent_object_id", String(255), nullable=True),
    Column("created", UtcDateTime, nullable=False),
    Column("modified", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    # Set when a deletion began; the row goes once the stored bytes are gone.
    Column("deleted", UtcDateTime, nullable=True),
    # The upload token that started it (no foreign key: tokens are purged, files stay).
    Column("token_id", String(64), nullable=True),
    # Listing newest first is an index seek for every owner/status/parent filter
    # (equality columns, then the sort key), and so is finding expired uploads.
    Index(None, "owner", "created", "id"),
    Index(None, "owner", "upload_status", "created", "id"),
    Index(None, "created", "id"),
    Index(None, "upload_status", "created", "id"),
    Index(None, "parent_content_type", "parent_object_id", "created", "id"),
    # gc walks expired uploads and old ended records in keyset batches (status, then
    # the sort key and id), and asks whether a storage upload id belongs to a live upload.
    Index(None, "upload_status", "expires_at", "id"),
    Index(None, "upload_status", "modified", "id"),
    Index(None, "upload_id"),
)

# gc finishes deletions cut short: records marked deleted, walked by (deleted, id).
# Partial: it holds only the few marked rows, and listings (`deleted IS NULL`) never pick it.
# Migration 0004 makes it partial on PostgreSQL too (a test checks both databases); its
# `postgresql_where` is not repeated here, as naming it would load SQLAlchemy's PostgreSQL
# dialect into every SQLite server (2 MiB), and Alembic's comparison ignores predicates.
Index(
    "ix_files_deleted_id",
    files.c.deleted,
    files.c.id,
    sqlite_where=files.c.deleted.is_not(None),
)

parts = Table(
    "parts",
    metadata,
    Column("file_id", String(64), ForeignKey("files.id", ondelete="CASCADE"), primary_key=True),
    Column("part_number", Integer, primary_key=True, autoincrement=False),
    Column("etag", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("received", UtcDateTime, nullable=False),
)

upload_tokens = Table(
    "upload_tokens",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("owner", String(255), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("revoked", UtcDateTime, nullable=True),
    Column("max_file_size", BigInteger, nullable=True),
    Column("max_files", Integer, nullable=True),
    Column("files_started", Integer, nullable=False),
    Column("allowed_content_types", Text, nullable=False),  # a JSON array of strings
    Column("parent_content_type", String(255), nullable=True),
    Column("parent_object_id", String(255), nullable=True),
)

# -- the outbox -----------------------------------------------------------------
# Events are written in the transaction of the change they describe. They keep no
# foreign key to `files`: an event outlives the record it describes.
events = Table(
    "events",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("type", String(32), nullable=False),
    Column("file_id", String(64), nullable=False),
    Column("timestamp", UtcDateTime, nullable=False),
    Column("data", Text, nullable=False),  # the file's representation, as JSON
    Index(None, "timestamp", "id"),
    Index(None, "type", "timestamp", "id"),
    Index(None, "file_id"),
)

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("url", String(2048), nullable=False),
    Column("secret", String(128), nullable=False),
    # Space-separated event types; empty for every type.
    Column("event_types", String(255), nullable=False),
    Column("created", UtcDateTime, nullable=False),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("event_id", String(64), ForeignKey("events.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "endpoint_id",
        String(64),
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    # When a pending delivery is due; while claimed, when its claim runs out.
    Column("next_attempt", UtcDateTime, nullable=False),
    Column("last_error", String(500), nullable=True),
    Column("updated", UtcDateTime, nullable=False),
    # Workers claim the pending deliveries due soonest: an index seek.
    Index(None, "status", "next_attempt"),
    Index(None, "endpoint_id"),
)

# Uploads filled by appending (tus), or of open length (Uppy): the offset the
# service acknowledged, the length once declared, the metadata as sent, and the
# lease of the one request appending now (so two appends never interleave,
# across processes and hosts).
appends = Table(
    "appends",
    metadata,
    Column("file_id", String(64), ForeignKey("files.id", ondelete="CASCADE"), primary_key=True),
    Column("offset", BigInteger, nullable=False),
    Column("length", BigInteger, nullable=True),
    Column("metadata", Text, nullable=False),
    Column("concat", String(16), nullable=False),
    Column("partials", Text, nullable=True),  # a final's partial file ids, space-separated
    Column("lease", String(64), nullable=True),
    Column("lease_until", UtcDateTime, nullable=True),
    # Uppy's uploads of open length: how their bytes arrive ("" appended, "parts", "form")
    # and the most bytes they may hold, fixed when they start.
    Column("fill", String(16), nullable=False, server_default=""),
    Column("size_limit", BigInteger, nullable=True),
    # Stores that stage the last bytes on one machine (S3): how many, and the tail's name.
    Column("staged", BigInteger, nullable=False, server_default="0"),
    Column("tail", String(64), nullable=False, server_default=""),
    Column("next_part", Integer, nullable=False, server_default="1"),  # never handed out twice
)

# What every gc run did, in running totals by kind of action (`/metrics` reads them): gc
# runs as its own process (cron), whose counters would otherwise end with it.
gc_actions = Table(
    "gc_actions",
    metadata,
    Column("kind", String(64), primary_key=True),
    Column("count", BigInteger, nullable=False),
)
