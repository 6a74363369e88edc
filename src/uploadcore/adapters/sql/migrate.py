"""Apply the Alembic migrations that ship inside the package."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

MIGRATIONS = Path(__file__).with_name("migrations")
#: The PostgreSQL advisory lock every uploadcore migration holds ("upld" in ASCII).
MIGRATION_LOCK = 0x75706C64


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` (default: the newest). Safe to run again, and at once.

    On PostgreSQL, several instances starting together (each `serve` migrates)
    take turns: the first migrates while the others wait on an advisory lock
    held until its transaction ends, then find the schema up to date. Without
    it, they would race to create the same tables and all but one would fail.
    """
    config = alembic_config(engine)
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
