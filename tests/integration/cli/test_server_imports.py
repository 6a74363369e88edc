"""A server on local storage holds only what local storage and its database need in memory.

Checked in a fresh interpreter, as `uploadcore serve` builds its app: no
boto3/botocore without S3, no Alembic once the database is at the newest
revision, no PostgreSQL dialect on SQLite, no httpx2 until a webhook is sent.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = [
    "alembic", "boto3", "botocore", "httpx2", "mako", "moto", "rich", "websockets",
    "sqlalchemy.dialects.postgresql",  # a SQLite server needs SQLAlchemy's SQLite dialect only
]  # fmt: skip

SERVER = f"""
import asyncio, json, os, sys
from uploadcore import bootstrap
from uploadcore.entrypoints.http.app import create_app
from uploadcore.settings import Settings

settings = bootstrap.prepare(Settings.from_env(os.environ))
app = create_app(settings, deliver_webhooks=True)

async def start_and_stop():
    async with app.router.lifespan_context(app):
        await asyncio.sleep(0)

asyncio.run(start_and_stop())
print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))
"""


def loaded(data_dir: Path) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UPLOADCORE_")}
    env["UPLOADCORE_DATA_DIR"] = str(data_dir)
    result = subprocess.run(
        [sys.executable, "-c", SERVER], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    found: list[str] = json.loads(result.stdout.splitlines()[-1])
    return found


def test_a_local_server_imports_neither_boto_nor_alembic_nor_httpx(tmp_path: Path) -> None:
    first_start = loaded(tmp_path / "data")  # creates and migrates the database
    assert "alembic" in first_start  # migrating needs it: the check sees what is loaded

    assert loaded(tmp_path / "data") == []


def test_the_allocator_keeps_body_sized_blocks_and_a_setting_given_wins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from uploadcore.entrypoints.cli.serve import MALLOC_SETTINGS, tune_allocator

    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "131072")

    tune_allocator()  # mallopt on this process too: harmless for a test run

    # Worker processes read these at their start.
    assert os.environ["MALLOC_MMAP_THRESHOLD_"] == str(MALLOC_SETTINGS["MALLOC_MMAP_THRESHOLD_"])
    assert os.environ["MALLOC_TRIM_THRESHOLD_"] == "131072"
