"""The real app on SQLite and local disk: through Starlette's TestClient, or real uvicorn."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import replace

import httpx2
import pytest
from starlette.testclient import TestClient
from tests.integration.http.server import serving, uvicorn_running
from tests.integration.http.support import Harness, Headers, MakeApi, UploadClient

from uploadcore import bootstrap
from uploadcore.adapters.memory import FakeClock
from uploadcore.entrypoints.http.app import create_app
from uploadcore.settings import Settings


@pytest.fixture
def make_api(settings: Settings, clock: FakeClock) -> Iterator[MakeApi]:
    """Build the app with some settings replaced: `make_api(cors_allow_origins=(...))`."""
    with ExitStack() as stack:

        def make(**overrides: object) -> Harness:
            prepared = bootstrap.prepare(replace(settings, **overrides))  # type: ignore[arg-type]
            core = bootstrap.build(prepared, clock=clock)
            client = stack.enter_context(TestClient(create_app(prepared, core)))
            return Harness(prepared, core, clock, UploadClient(client))

        yield make


@pytest.fixture
def api(make_api: MakeApi) -> Harness:
    return make_api()


@pytest.fixture
def alice(api: Harness) -> Headers:
    return api.user("alice")


@pytest.fixture
def bob(api: Harness) -> Headers:
    return api.user("bob")


@pytest.fixture
def admin(api: Harness) -> Headers:
    return api.user("root", admin=True)


@pytest.fixture
def live_server(settings: Settings, clock: FakeClock) -> Iterator[Harness]:
    """The same app under real uvicorn on 127.0.0.1, for true concurrency and streaming."""
    with serving() as (sock, url):
        prepared = bootstrap.prepare(replace(settings, base_url=url))
        core = bootstrap.build(prepared, clock=clock)
        with (
            uvicorn_running(create_app(prepared, core), sock),
            httpx2.Client(base_url=url, timeout=30, trust_env=False) as http,
        ):
            yield Harness(prepared, core, clock, UploadClient(http))
