"""SIGTERM while a part is being sent: within SHUTDOWN_GRACE it is kept, past it nothing is.

The part goes over a raw socket, its body in two halves, so the signal
arrives while the server is reading it. The server has begun the part when
its temporary file appears in the upload's directory.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx2
import pytest
from tests.integration.cli.support import wait_until
from tests.integration.reliability.server import STOP_TIMEOUT, Server, api_key, server_env

from uploadcore import bootstrap
from uploadcore.adapters.local import LocalDiskBlobStore
from uploadcore.domain.upload import Principal
from uploadcore.settings import Settings

PART = 256 * 1024


@contextmanager
def serving(tmp_path: Path, workers: int, grace: str) -> Iterator[tuple[Server, dict[str, str]]]:
    env = server_env(tmp_path / "data", min_part_size=str(PART), shutdown_grace=grace)
    server = Server(env, tmp_path / "serve.log", workers=workers)
    server.start()
    try:
        yield server, env
    finally:
        if server.process is not None and server.process.poll() is None:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(STOP_TIMEOUT)


def start_upload(server: Server, env: dict[str, str]) -> tuple[str, str, str]:
    """A two-part upload: its file id, upload id and the URL of part 1."""
    auth = {"Authorization": f"Bearer {api_key(env, 'alice')}"}
    body = {
        "file_name": "slow.bin",
        "file_size": 2 * PART,
        "file_content_type": "application/octet-stream",
        "num_parts": 2,
        "part_size": PART,
    }
    answer = httpx2.post(f"{server.url}/v1/files/uploads/", json=body, headers=auth)
    assert answer.status_code == 201, answer.text
    started = answer.json()
    url = started["presigned_urls"][0]["url"]
    return started["file_obj"]["id"], started["upload_id"], url


def begin_part(url: str) -> socket.socket:
    """Send a part's headers and the first half of its body; the socket, to send the rest."""
    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
    head = (
        f"PUT {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Content-Length: {PART}\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    sock.sendall(head.encode() + b"a" * (PART // 2))
    return sock


def status_of(sock: socket.socket) -> int | None:
    """The status the server answered on `sock`; None if it closed without an answer."""
    received = b""
    while b"\r\n" not in received:
        try:
            chunk = sock.recv(4096)
        except ConnectionResetError:
            return None
        if not chunk:
            return None
        received += chunk
    return int(received.split(b" ", 2)[1])


def receiving(env: dict[str, str], upload_id: str) -> bool:
    temp = LocalDiskBlobStore(Settings.from_env(env).media_root).temp_dir(upload_id)
    return any(temp.glob(".tmp-*"))


def parts_recorded(env: dict[str, str], file_id: str) -> list[int]:
    core = bootstrap.build(Settings.from_env(env))
    try:
        state = core.upload_state(Principal("alice"), file_id)
        return [part.part_number for part in state.parts]
    finally:
        core.close()


def signal_server(server: Server, whole_group: bool) -> subprocess.Popen[bytes]:
    process = server.process
    assert process is not None
    if whole_group:  # systemd's default (KillMode=control-group): every process at once
        os.killpg(process.pid, signal.SIGTERM)
    else:  # a container runtime's: the main process only, which tells its workers
        process.send_signal(signal.SIGTERM)
    return process


@pytest.mark.parametrize(
    ("workers", "whole_group"),
    [(1, False), (2, False), (2, True)],
    ids=["1-worker", "2-workers-main-process", "2-workers-whole-group"],
)
def test_a_part_in_flight_at_sigterm_is_kept_and_the_server_exits_cleanly(
    tmp_path: Path, workers: int, whole_group: bool
) -> None:
    with serving(tmp_path, workers, "30s") as (server, env):
        file_id, upload_id, url = start_upload(server, env)
        with begin_part(url) as sock:
            wait_until(lambda: receiving(env, upload_id), "the server to begin the part")
            process = signal_server(server, whole_group)
            sock.sendall(b"b" * (PART // 2))
            status = status_of(sock)
        returncode = process.wait(STOP_TIMEOUT)

    assert status == 200, server.logged()
    assert returncode in (0, -signal.SIGTERM), server.logged()
    assert parts_recorded(env, file_id) == [1]
    assert "Traceback" not in server.logged()


def test_a_part_still_arriving_when_the_grace_ends_is_not_kept(tmp_path: Path) -> None:
    with serving(tmp_path, 1, "1s") as (server, env):
        file_id, upload_id, url = start_upload(server, env)
        with begin_part(url) as sock:
            wait_until(lambda: receiving(env, upload_id), "the server to begin the part")
            process = signal_server(server, whole_group=False)
            returncode = process.wait(STOP_TIMEOUT)  # the rest of the body never comes
            status = status_of(sock)

    assert status in (None, 503)  # 503 shutting_down when the connection still carries it
    assert returncode in (0, -signal.SIGTERM), server.logged()
    assert parts_recorded(env, file_id) == []
    assert not receiving(env, upload_id)  # the half-written part was thrown away
    assert "request cut off: the server stopped" in server.logged()
    assert "Traceback" not in server.logged()
