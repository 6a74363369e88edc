"""`uploadcore serve` delivers webhooks: after a SIGKILL and a restart, and from two instances.

Real processes on 127.0.0.1; the receiver verifies every signature with
`standardwebhooks`. Waits are bounded conditions (events arriving), never sleeps.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx2
from tests.integration.reliability.server import (
    Server,
    api_key,
    free_port,
    fresh_postgres_database,
    running,
    server_env,
)
from tests.integration.webhooks.receiver import receiving

from uploadcore import bootstrap
from uploadcore.settings import Settings

PART = 1024
DATA = bytes(range(256)) * 8  # two parts


def add_endpoint(env: dict[str, str], url: str) -> str:
    core = bootstrap.build(bootstrap.prepare(Settings.from_env(env)))
    try:
        assert core.webhooks is not None
        return core.webhooks.add(url).secret
    finally:
        core.close()


def upload(base_url: str, key: str, *, complete: bool = True) -> str:
    """Initiate, send both parts and (if asked) complete an upload over HTTP; its file id."""
    auth = {"authorization": f"Bearer {key}"}
    body = {
        "file_name": "hooked.bin",
        "file_size": len(DATA),
        "file_content_type": "application/octet-stream",
        "num_parts": 2,
        "part_size": PART,
    }
    with httpx2.Client(base_url=base_url, timeout=30, trust_env=False) as http:
        started = http.post("/v1/files/uploads/", headers=auth, json=body).json()
        file_id: str = started["file_obj"]["id"]
        if not complete:
            return file_id
        refs = []
        for n, url in enumerate(u["url"] for u in started["presigned_urls"]):
            chunk = DATA[n * PART : (n + 1) * PART]
            assert http.put(url, content=chunk).status_code == 200
            refs.append({"part_number": n + 1, "etag": hashlib.md5(chunk).hexdigest()})  # noqa: S324
        done = http.post(
            f"/v1/files/uploads/{file_id}/complete/", headers=auth, json={"parts": refs}
        )
        assert done.status_code == 200, done.text
    return file_id


def test_an_event_committed_before_a_sigkill_is_delivered_after_the_restart(
    tmp_path: Path,
) -> None:
    env = server_env(tmp_path / "data", min_part_size="1KiB", webhook_backoff="1s")
    key = api_key(env, "alice")
    port = free_port()
    secret = add_endpoint(env, f"http://127.0.0.1:{port}/hooks")
    server = Server(env, tmp_path / "serve.log")

    with running(server):
        file_id = upload(server.url, key, complete=False)  # committed; the receiver is down
        server.kill()
    with receiving(secret, port) as receiver, running(server):
        events = receiver.wait_for(1)

    assert [e["type"] for e in events if e["data"]["id"] == file_id][:1] == ["upload.created"]
    assert receiver.received.unverified == []


def test_two_instances_on_one_postgresql_database_deliver_each_event_once(
    tmp_path: Path,
) -> None:
    with fresh_postgres_database() as url, receiving() as receiver:
        env = server_env(tmp_path / "data", min_part_size="1KiB", database_url=url)
        key = api_key(env, "alice")
        receiver.secret = add_endpoint(env, receiver.url)
        first = Server(env, tmp_path / "first.log", workers=2)
        second = Server(env, tmp_path / "second.log", workers=2)
        with running(first), running(second):
            files = [upload((first, second)[i % 2].url, key) for i in range(12)]
            receiver.wait_for(2 * len(files))

        assert receiver.received.unverified == []
        assert not receiver.received.duplicates()
        for file_id in files:
            assert sorted(receiver.received.types_of(file_id)) == [
                "upload.completed",
                "upload.created",
            ]
