"""Alembic environment: migrations run on a connection the caller hands in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from uploadcore.adapters.sql.tables import metadata

config = context.config
connection = config.attributes.get("connection")


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    _run(connection)
else:
    with create_engine(config.get_main_option("sqlalchemy.url") or "").begin() as own:
        _run(own)
