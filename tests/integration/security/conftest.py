"""Hostile-input tests: the app with two users, and a guard that checks after every test.

The guard sees every response the test's client got. After the test it fails
if any was a 5xx, if an error was not problem+json, if a response to Bob
carried anything of Alice's (her key, name, file names, ids or tokens), or
if a file appeared anywhere but in MEDIA_ROOT's own layout.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest
import uvicorn
from starlette.testclient import TestClient
from tests.integration.http.support import Harness, Headers, Json, Started, UploadClient, token_of
from tests.integration.tally import count, report

from uploadcore import bootstrap
from uploadcore.adapters.memory import FakeClock
from uploadcore.entrypoints.http.app import create_app
from uploadcore.services.users import create_user
from uploadcore.settings import Settings

START_TIMEOUT = 20.0
BODY_TIMEOUT = timedelta(seconds=0.5)  # the live server's; a stalled body is cut off after it
ALICE = "alice-7f3a"
BOB = "bob-c21e"
ALICE_FILE = "alice-private-report.pdf"
ALICE_PARENT = "alice-parent-9d2c"
# What may live under MEDIA_ROOT (paths relative to it): part directories, parts, final files.
MEDIA_LAYOUT = re.compile(
    r"(temp_uploads|files)"
    r"|temp_uploads/[0-9a-f]{32}(/(\d{5}\.[0-9a-f]{32}|\.tmp-\d{5}-[0-9a-f]{16}))?"
    r"|files/[0-9a-f]{2}(/([0-9a-f]{32}|\.tmp-[0-9a-f]{32}-[0-9a-f]{16}))?"
)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    report(terminalreporter, "security")


@dataclass
class Seen:
    """A response as the guard keeps it."""

    method: str
    url: str
    authorization: str
    sent: str  # the request's URL and body: what it echoes of them discloses nothing
    status: int
    content_type: str
    text: str


@dataclass
class Hostile:
    """The app, Alice (the victim), Bob (the attacker), an admin, and what Bob must never see."""

    api: Harness
    alice: Headers
    bob: Headers
    admin: Headers
    seen: list[Seen] = field(default_factory=list)
    secrets: set[str] = field(default_factory=set)

    @property
    def http(self) -> httpx2.Client:
        return self.api.client.http

    def alice_upload(self, data: bytes, part_size: int = 1024, **extra: object) -> Started:
        """An upload of Alice's in progress; its ids and part tokens become secrets."""
        extra = {"file_name": ALICE_FILE, "parent_content_type": "blog.post"} | extra
        extra.setdefault("parent_object_id", ALICE_PARENT)
        started = self.api.client.start(self.alice, data, part_size, **extra)
        self.secrets |= {started.upload_id, *(token_of(u) for u in started.urls.values())}
        return started

    def alice_file(self, data: bytes) -> Json:
        """A completed file of Alice's; its download token becomes a secret too."""
        started = self.alice_upload(data, part_size=max(len(data), 1))
        refs = self.api.client.put_parts(started)
        done = self.api.client.complete(self.alice, started.file_id, refs)
        assert done.status_code == 200, done.text
        file: Json = done.json()
        self.secrets |= {file["etag"], token_of(file["url"])}
        return file

    def problems(self) -> list[str]:
        """What the guard objects to in the responses seen so far."""
        found = []
        for seen in self.seen:
            where = f"{seen.method} {seen.url[:120]} -> {seen.status}"
            if seen.status >= 500:
                found.append(f"{where}: a server error: {seen.text[:300]}")
            if seen.status >= 400 and seen.content_type != "application/problem+json":
                found.append(f"{where}: an error that is not problem+json ({seen.content_type})")
            if "traceback" in seen.text.lower():
                found.append(f"{where}: a traceback")
            if seen.authorization == self.bob["Authorization"]:
                leaked = [s for s in self.secrets if s in seen.text and s not in seen.sent]
                if leaked:
                    found.append(f"{where}: showed Bob Alice's {leaked}")
        return found


def snapshot(root: Path, skip: Path) -> set[str]:
    """Every path under `root`, outside `skip`."""
    return {str(p.relative_to(root)) for p in root.rglob("*") if not p.is_relative_to(skip)}


def media_problems(media: Path) -> list[str]:
    found = []
    for path in media.rglob("*"):
        relative = path.relative_to(media).as_posix()
        if path.is_symlink() or not path.resolve().is_relative_to(media.resolve()):
            found.append(f"{relative} leads outside MEDIA_ROOT")
        if not MEDIA_LAYOUT.fullmatch(relative):
            found.append(f"{relative} is not where uploadcore puts files")
    return found


def _record(hostile: Hostile, response: httpx2.Response) -> None:
    response.read()
    hostile.seen.append(
        Seen(
            response.request.method,
            str(response.request.url),
            response.request.headers.get("authorization", ""),
            _sent(response.request),
            response.status_code,
            response.headers.get("content-type", ""),
            response.text,
        )
    )


def _sent(request: httpx2.Request) -> str:
    try:
        body = request.content.decode(errors="replace")
    except httpx2.RequestNotRead:  # a streamed body: the test sent it, and it is no secret
        body = ""
    return str(request.url) + body


class Guard:
    """Watches the file system around one test: nothing may appear outside MEDIA_ROOT."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = tmp_path
        self.cwd = tmp_path / "cwd"  # relative paths would land here
        self.cwd.mkdir()
        monkeypatch.chdir(self.cwd)
        self.before: set[str] = set()

    def prepare(self, settings: Settings) -> Settings:
        """The settings made ready (database, secret), then the file system as it is."""
        prepared = bootstrap.prepare(settings)
        self.before = snapshot(self.root, prepared.data_dir)
        return prepared

    def check(self, hostile: Hostile) -> None:
        data_dir = hostile.api.settings.data_dir
        problems = hostile.problems()
        problems += media_problems(hostile.api.media_root)
        appeared = snapshot(self.root, data_dir) - self.before
        problems += [f"{p} appeared outside MEDIA_ROOT" for p in sorted(appeared)]
        problems += [
            f"{p.name} appeared in DATA_DIR"
            for p in data_dir.iterdir()
            if p.name not in ("media", "secret_key") and not p.name.startswith("uploadcore.db")
        ]
        count("security: cases run")
        count("security: requests sent", len(hostile.seen))
        assert problems == [], "\n".join(problems)


def make_hostile(
    prepared: Settings, core: bootstrap.Uploadcore, clock: FakeClock, http: httpx2.Client
) -> Hostile:
    hostile = Hostile(
        Harness(prepared, core, clock, UploadClient(http)),
        alice=_user(core, clock, ALICE),
        bob=_user(core, clock, BOB),
        admin=_user(core, clock, "root-5b1d", admin=True),
    )
    hostile.secrets |= {ALICE, ALICE_FILE, ALICE_PARENT, hostile.alice["Authorization"][7:]}
    http.event_hooks["response"].append(lambda response: _record(hostile, response))
    return hostile


def _user(core: bootstrap.Uploadcore, clock: FakeClock, name: str, admin: bool = False) -> Headers:
    return {"Authorization": f"Bearer {create_user(core.users, name, admin, clock.now()).api_key}"}


@pytest.fixture
def hostile(
    settings: Settings, clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Hostile]:
    """The app through Starlette's TestClient, guarded."""
    guard = Guard(tmp_path, monkeypatch)
    prepared = guard.prepare(settings)
    core = bootstrap.build(prepared, clock=clock)
    with TestClient(create_app(prepared, core), raise_server_exceptions=False) as client:
        hostile = make_hostile(prepared, core, clock, client)
        yield hostile
    guard.check(hostile)


@dataclass
class Live:
    """The guarded app under real uvicorn, for what only a real socket shows."""

    hostile: Hostile
    host: str
    port: int

    def connect(self) -> socket.socket:
        return socket.create_connection((self.host, self.port), timeout=10)


@pytest.fixture
def live(
    settings: Settings, clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Live]:
    """The app under uvicorn on 127.0.0.1, with a short BODY_READ_TIMEOUT."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    guard = Guard(tmp_path, monkeypatch)
    prepared = guard.prepare(replace(settings, base_url=url, body_read_timeout=BODY_TIMEOUT))
    core = bootstrap.build(prepared, clock=clock)
    with (
        serving(create_app(prepared, core), sock),
        httpx2.Client(base_url=url, timeout=30, trust_env=False) as client,
    ):
        hostile = make_hostile(prepared, core, clock, client)
        yield Live(hostile, "127.0.0.1", port)
    guard.check(hostile)


@contextmanager
def serving(app: Any, sock: socket.socket) -> Iterator[None]:
    config = uvicorn.Config(app, lifespan="on", ws="none", log_config=None, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                pytest.fail("uvicorn did not start")
            time.sleep(0.005)
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=START_TIMEOUT)
        sock.close()
