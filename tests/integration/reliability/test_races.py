"""50 clients x 20 parts at once against `uploadcore serve --workers 2`, on SQLite and PostgreSQL.

Every client races something: the same part uploaded twice at once, two
completions, a completion against an abort, an abort against its own part
uploads. Afterwards every answer, the stored state and the disk must agree:
each completed file is byte-exact, no upload is both completed and aborted,
and no client ever saw a 5xx, "database is locked" or a deadlock.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
import pytest
from tests.integration.reliability.server import (
    Server,
    api_key,
    fresh_postgres_database,
    running,
    server_env,
)
from tests.integration.tally import count

CLIENTS = 50
PARTS = 20
PART = 1024
SEED = 20_240_601
KINDS = (
    "complete-twice",
    "complete-vs-abort",
    "abort-during-parts",
    "complete-complete-abort",
    "complete-then-abort",
)
# What no answer may ever contain (the database's own words must stay inside).
LEAKS = ("database is locked", "deadlock", "traceback", "sqlalchemy", "psycopg")


@dataclass
class Client:
    """One racing client: its data, what it did and every answer it got."""

    number: int
    data: bytes
    auth: dict[str, str]
    kind: str
    file_id: str = ""
    upload_id: str = ""
    urls: dict[int, str] = field(default_factory=dict)
    answers: list[tuple[str, int]] = field(default_factory=list)

    @property
    def chunks(self) -> list[bytes]:
        return [self.data[i : i + PART] for i in range(0, len(self.data), PART)]

    def refs(self) -> list[dict[str, object]]:
        return [{"part_number": n, "etag": md5(c)} for n, c in enumerate(self.chunks, 1)]

    def statuses(self, what: str) -> list[int]:
        return [status for name, status in self.answers if name == what]


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


class Race:
    """Sends the clients' requests and checks every answer as it arrives."""

    def __init__(self, http: httpx2.AsyncClient) -> None:
        self.http = http
        self.requests = 0
        self.bad: list[str] = []

    async def call(self, client: Client, what: str, method: str, url: str, **kw: object) -> int:
        response = await self.http.request(method, url, **kw)  # type: ignore[arg-type]
        self.requests += 1
        client.answers.append((what, response.status_code))
        text = response.text.lower()
        if response.status_code >= 500 or any(leak in text for leak in LEAKS):
            self.bad.append(f"{method} {what}: {response.status_code} {response.text[:300]}")
        if response.status_code >= 400 and not response.headers.get("content-type", "").startswith(
            "application/problem+json"
        ):
            self.bad.append(f"{method} {what}: {response.status_code} is not problem+json")
        return response.status_code

    async def initiate(self, client: Client) -> None:
        body = {
            "file_name": f"race-{client.number}.bin",
            "file_size": len(client.data),
            "file_content_type": "application/octet-stream",
            "num_parts": PARTS,
            "part_size": PART,
        }
        response = await self.http.post("/v1/files/uploads/", headers=client.auth, json=body)
        self.requests += 1
        assert response.status_code == 201, response.text
        started = response.json()
        client.file_id, client.upload_id = started["file_obj"]["id"], started["upload_id"]
        client.urls = {u["part_number"]: u["url"] for u in started["presigned_urls"]}

    def put(self, client: Client, number: int, body: bytes) -> asyncio.Future[int]:
        coroutine = self.call(client, "part", "PUT", client.urls[number], content=body)
        return asyncio.ensure_future(coroutine)

    def complete(self, client: Client) -> asyncio.Future[int]:
        path = f"/v1/files/uploads/{client.file_id}/complete/"
        coroutine = self.call(
            client, "complete", "POST", path, headers=client.auth, json={"parts": client.refs()}
        )
        return asyncio.ensure_future(coroutine)

    def abort(self, client: Client) -> asyncio.Future[int]:
        path = f"/v1/files/uploads/{client.file_id}/"
        return asyncio.ensure_future(
            self.call(client, "abort", "DELETE", path, headers=client.auth)
        )

    async def run(self, client: Client) -> None:
        await self.initiate(client)
        chunks = client.chunks
        # A wrong version of part 1 first, then the right one twice at once with the rest.
        await self.put(client, 1, bytes(len(chunks[0])))
        parts = [self.put(client, n, c) for n, c in enumerate(chunks, 1)]
        parts.append(self.put(client, 1, chunks[0]))
        if client.kind == "abort-during-parts":
            await asyncio.gather(*parts, self.abort(client))
            return
        await asyncio.gather(*parts)
        if client.kind == "complete-twice":
            await asyncio.gather(self.complete(client), self.complete(client))
        elif client.kind == "complete-vs-abort":
            await asyncio.gather(self.complete(client), self.abort(client))
        elif client.kind == "complete-complete-abort":
            await asyncio.gather(self.complete(client), self.abort(client), self.complete(client))
        else:
            await self.complete(client)
            await self.abort(client)
            await self.complete(client)


def make_clients(keys: list[str]) -> list[Client]:
    rng = random.Random(SEED)
    clients = []
    for number in range(CLIENTS):
        size = (PARTS - 1) * PART + rng.randint(1, PART)
        auth = {"Authorization": f"Bearer {keys[number % len(keys)]}"}
        kind = KINDS[number % len(KINDS)]
        clients.append(Client(number, rng.randbytes(size), auth, kind))
    return clients


async def race(url: str, clients: list[Client]) -> Race:
    limits = httpx2.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx2.AsyncClient(
        base_url=url, timeout=120, trust_env=False, limits=limits
    ) as http:
        racing = Race(http)
        await asyncio.gather(*(racing.run(client) for client in clients))
        return racing


def check_answers(client: Client, status: str) -> None:
    """The answers agree with the final state: never both a completion and an abort."""
    parts, completes, aborts = (client.statuses(w) for w in ("part", "complete", "abort"))
    assert set(parts) <= ({200, 409} if client.kind == "abort-during-parts" else {200}), client
    assert set(completes) <= {200, 409}, client
    assert set(aborts) <= {204, 409}, client
    if status == "completed":
        assert 200 in completes, client
        assert 204 not in aborts, f"client {client.number}: completed, yet an abort won"
    else:
        assert status == "aborted", client
        assert 200 not in completes, f"client {client.number}: aborted, yet a completion won"
        assert 204 in aborts, client


def check_stored(http: httpx2.Client, media: Path, client: Client) -> str:
    """The state, the download and the disk agree; returns the final status."""
    state = http.get(f"/v1/files/uploads/{client.file_id}/", headers=client.auth)
    assert state.status_code == 200, state.text
    status: str = state.json()["upload_status"]
    final = media / "files" / client.file_id[:2] / client.file_id
    assert not (media / "temp_uploads" / client.upload_id).exists(), client
    if status == "completed":
        assert final.read_bytes() == client.data, f"client {client.number}: final file differs"
        file = http.get(f"/v1/files/{client.file_id}/", headers=client.auth).json()
        assert http.get(file["url"]).content == client.data
    else:
        assert not final.exists(), f"client {client.number}: an aborted upload left its file"
    check_answers(client, status)
    return status


def run_the_race(server: Server) -> None:
    keys = [api_key(server.env, f"racer{n}") for n in range(5)]
    clients = make_clients(keys)
    media = server.settings.media_root
    with running(server):
        racing = asyncio.run(race(server.url, clients))
        assert racing.bad == [], "\n".join(racing.bad[:20])
        with httpx2.Client(base_url=server.url, timeout=30, trust_env=False) as http:
            statuses = [check_stored(http, media, client) for client in clients]
    assert "Traceback" not in server.logged(), server.logged()
    assert not list(media.rglob(".tmp-*")), "a temporary file outlived its request"
    for kind in ("complete-twice", "complete-then-abort"):
        assert {s for s, c in zip(statuses, clients, strict=True) if c.kind == kind} == {
            "completed"
        }
    count("reliability: race requests", racing.requests)
    count("reliability: race uploads completed", statuses.count("completed"))
    count("reliability: race uploads aborted", statuses.count("aborted"))


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def test_racing_clients_on_sqlite_lose_nothing(data_dir: Path, tmp_path: Path) -> None:
    env = server_env(data_dir, min_part_size="1KiB")
    run_the_race(Server(env, tmp_path / "serve.log", workers=2))


@pytest.mark.postgres
def test_racing_clients_on_postgresql_lose_nothing(data_dir: Path, tmp_path: Path) -> None:
    with fresh_postgres_database() as url:
        env = server_env(data_dir, min_part_size="1KiB", database_url=url)
        run_the_race(Server(env, tmp_path / "serve.log", workers=2))
