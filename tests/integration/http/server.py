"""Real uvicorn on 127.0.0.1, in a thread: for true concurrency, streaming and browsers."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import uvicorn
from starlette.types import ASGIApp

SERVER_START_TIMEOUT = 20.0


@contextmanager
def serving() -> Iterator[tuple[socket.socket, str]]:
    """A socket bound to a free port of 127.0.0.1, and its URL (to configure an app with)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock, f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


@contextmanager
def uvicorn_running(app: ASGIApp, sock: socket.socket) -> Iterator[None]:
    """`app` answering on `sock` until the block ends."""
    config = uvicorn.Config(
        app, lifespan="on", loop="asyncio", ws="none", log_config=None, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        _wait_until_started(server, thread)
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=SERVER_START_TIMEOUT)


def _wait_until_started(server: uvicorn.Server, thread: threading.Thread) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while not server.started:
        if not thread.is_alive():
            pytest.fail("uvicorn stopped before it started")
        if time.monotonic() > deadline:
            pytest.fail(f"uvicorn did not start within {SERVER_START_TIMEOUT} s")
        time.sleep(0.005)
