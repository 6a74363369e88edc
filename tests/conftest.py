"""Fixtures shared by every test: clocks, settings, databases."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from uploadcore.adapters.memory import FakeClock
from uploadcore.adapters.sql import make_engine, upgrade
from uploadcore.settings import Settings

POSTGRES_ENV = "UPLOADCORE_TEST_POSTGRES_URL"
SECRET = "test-secret-key-0123456789abcdef-0123456789"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Embedded-default settings under a fresh directory, with small parts allowed."""
    return Settings(
        data_dir=tmp_path / "data",
        secret_key=SECRET,
        min_part_size=1024,
        base_url="http://testserver",
    )


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'test.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated; dropped at the end."""
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(
            f"PostgreSQL tests need {POSTGRES_ENV} "
            "(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test); .ci/run sets it"
        )
    name = f"uploadcore_test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    test_url = make_url(url).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(test_url)
    upgrade(engine)
    engine.dispose()
    yield test_url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def postgres_engine(postgres_database: str) -> Iterator[Engine]:
    engine = make_engine(postgres_database)
    with engine.begin() as connection:
        connection.execute(
            text(
                "TRUNCATE parts, files, users, upload_tokens, deliveries, events,"
                " webhook_endpoints CASCADE"
            )
        )
    yield engine
    engine.dispose()
