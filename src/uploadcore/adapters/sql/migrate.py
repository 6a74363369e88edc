"""Apply the Alembic migrations that ship inside the package.

Alembic (and Mako, and Pygments with it) costs a server about 10 MiB of
memory for as long as it runs. A database already at the newest revision
needs none of it: `upgrade` reads the revision in `alembic_version` with one
query and imports Alembic only when there is something to apply.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
_ASSIGNMENT = re.compile(r"^(revision|down_revision)\s*(?::[^=]*)?=\s*(.+)$", re.MULTILINE)
#: The PostgreSQL advisory lock every uploadcore migration holds ("upld" in ASCII).
MIGRATION_LOCK = 0x75706C64


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

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
    A database already at the newest revision is left alone without Alembic.
    """
    if revision == "head" and current_revision(engine) == head_revision():
        return
    from alembic import command

    config = alembic_config(engine)
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None if it was never migrated, or is branched)."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    return str(rows[0][0]) if len(rows) == 1 else None


def head_revision() -> str | None:
    """The newest revision among the shipped migrations, read from their files as text.

    None unless there is exactly one head (then Alembic decides, and says what is wrong).
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (MIGRATIONS / "versions").glob("*.py"):
        found = dict(_ASSIGNMENT.findall(script.read_text(encoding="utf-8")))
        if "revision" not in found:
            continue
        revisions.add(found["revision"].strip().strip("\"'"))
        parent = found.get("down_revision", "None").strip().strip("\"'")
        if parent != "None":
            parents.add(parent)
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None
