"""events and webhooks: the transactional outbox, webhook endpoints, deliveries

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 10:00:00.000000

Every state change writes its event in its own transaction (`events`); each
event gets one row in `deliveries` per webhook endpoint that wants it, which
the delivery workers claim, due soonest first, through (status, next_attempt).
New tables only: nothing existing is rewritten.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("file_id", sa.String(64), nullable=False),
        _when("timestamp"),
        sa.Column("data", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
    )
    op.create_index("ix_events_timestamp_id", "events", ["timestamp", "id"])
    op.create_index("ix_events_type_timestamp_id", "events", ["type", "timestamp", "id"])
    op.create_index("ix_events_file_id", "events", ["file_id"])
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("secret", sa.String(128), nullable=False),
        sa.Column("event_types", sa.String(255), nullable=False),
        _when("created"),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_endpoints"),
    )
    op.create_table(
        "deliveries",
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("endpoint_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _when("next_attempt"),
        sa.Column("last_error", sa.String(500), nullable=True),
        _when("updated"),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name="fk_deliveries_event_id_events", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["webhook_endpoints.id"],
            name="fk_deliveries_endpoint_id_webhook_endpoints",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("event_id", "endpoint_id", name="pk_deliveries"),
    )
    op.create_index("ix_deliveries_status_next_attempt", "deliveries", ["status", "next_attempt"])
    op.create_index("ix_deliveries_endpoint_id", "deliveries", ["endpoint_id"])


def downgrade() -> None:
    op.drop_table("deliveries")
    op.drop_table("webhook_endpoints")
    op.drop_table("events")
