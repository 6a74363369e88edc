"""The real app on SQLite and local disk: through Starlette's TestClient, or real uvicorn."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import replace

import httpx2
import pytest
import uvicorn
from starlette.testclient import TestClient
from tests.integration.http.support import Harness, Headers, MakeApi, UploadClient

from uploadcore import bootstrap
from uploadcore.adapters.memory import FakeClock
from uploadcore.entrypoints.http.app import create_app
from uploadcore.settings import Settings

SERVER_START_TIMEOUT = 20.0


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
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    prepared = bootstrap.prepare(replace(settings, base_url=url))
    core = bootstrap.build(prepared, clock=clock)
    config = uvicorn.Config(
        create_app(prepared, core),
        lifespan="on",
        loop="asyncio",
        ws="none",
        log_config=None,
        log_level="warning",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        _wait_until_started(server, thread)
        with httpx2.Client(base_url=url, timeout=30, trust_env=False) as http:
            yield Harness(prepared, core, clock, UploadClient(http))
    finally:
        server.should_exit = True
        thread.join(timeout=SERVER_START_TIMEOUT)
        sock.close()


def _wait_until_started(server: uvicorn.Server, thread: threading.Thread) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while not server.started:
        if not thread.is_alive():
            pytest.fail("uvicorn stopped before it started")
        if time.monotonic() > deadline:
            pytest.fail(f"uvicorn did not start within {SERVER_START_TIMEOUT} s")
        time.sleep(0.005)
