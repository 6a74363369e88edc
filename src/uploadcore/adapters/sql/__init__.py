"""The relational adapters: SQLite (embedded) and PostgreSQL."""

from __future__ import annotations

from uploadcore.adapters.sql.engine import make_engine
from uploadcore.adapters.sql.migrate import upgrade
from uploadcore.adapters.sql.repository import SqlAlchemyRepository

__all__ = ["SqlAlchemyRepository", "make_engine", "upgrade"]
