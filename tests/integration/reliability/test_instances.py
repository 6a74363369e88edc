"""Two `uploadcore serve --workers 2` instances on one PostgreSQL database and one S3 bucket.

Set up as the deployment guide (docs/deployment.md) says: `uploadcore db
upgrade` once, then the instances, each with a data directory of its own and
the same `SECRET_KEY` and `BASE_URL`. Clients send each request to either
instance at random (the load balancer is in their transport), many uploads at
once: the repository's own upload client and raw requests, completions racing
across instances on one upload and against aborts, while `uploadcore gc` runs
again and again with a policy that collects what is expired (uploads made
expired, S3 multipart uploads nobody owns).

Afterwards: no answer was a 5xx and no instance logged a traceback; every
completed file downloads byte-exact through either instance; each upload has
exactly one terminal event (one `upload.completed` per completed file); the
bucket holds the completed files' objects and no multipart upload; gc
collected what was expired and touched nothing live. Prints the request count
and the p50/p95 of completions.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest
from sqlalchemy import func, select
from tests.integration.reliability.instance_clients import (
    CLIENT_UPLOADS,
    PART,
    PARTS,
    SEED,
    KiB,
    Upload,
    load,
    make_uploads,
)
from tests.integration.reliability.instances import (
    PIN,
    PUBLIC,
    BalancedSync,
    GcLoop,
    Recorder,
    Store,
    s3_server,
)
from tests.integration.reliability.server import (
    UPLOADCORE,
    Server,
    fresh_postgres_database,
    server_env,
)
from tests.integration.s3.support import FAKE_AWS_ENV, drop_bucket, new_bucket
from tests.integration.tally import count

from uploadcore import bootstrap
from uploadcore.adapters.sql import make_engine
from uploadcore.adapters.sql.tables import events
from uploadcore.domain.upload import Principal
from uploadcore.entrypoints.links import HttpLinks
from uploadcore.services.initiate import NewUpload
from uploadcore.settings import Settings

pytestmark = pytest.mark.postgres

PREFIX = "uploadcore/"
EXPIRED_WITH_PART, EXPIRED_EMPTY, ORPHANS = 4, 2, 3


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in FAKE_AWS_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def store(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    with s3_server(monkeypatch, PART) as found:
        yield found


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(UPLOADCORE), *args], env=env, capture_output=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode()


def stage_expired(settings: Settings, s3: Any, bucket: str) -> tuple[list[str], list[str]]:
    """Uploads that expire in a second (some with a part in S3); multipart uploads nobody owns."""
    core = bootstrap.build(replace(settings, upload_expires_in=timedelta(seconds=1)))
    expired = []
    try:
        for n in range(EXPIRED_WITH_PART + EXPIRED_EMPTY):
            new = NewUpload(
                file_name=f"expired-{n}.bin", file_size=2 * PART, file_content_type="text/plain",
                num_parts=2, part_size=PART,
            )  # fmt: skip
            started = core.initiate(Principal("alice"), new, HttpLinks(PUBLIC))
            expired.append(started.upload.id)
            if n < EXPIRED_WITH_PART:
                put = httpx2.put(started.presigned_urls[0].url, content=bytes(PART))
                assert put.status_code == 200, put.text
    finally:
        core.close()
    orphans = [
        s3.create_multipart_upload(Bucket=bucket, Key=f"{PREFIX}orphan-{n}")["UploadId"]
        for n in range(ORPHANS)
    ]
    return expired, orphans


def terminal_events(database_url: str) -> dict[str, Counter[str]]:
    """Each file's events of each type, straight from the outbox table."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(events.c.file_id, events.c.type, func.count()).group_by(
                    events.c.file_id, events.c.type
                )
            ).all()
    finally:
        engine.dispose()
    found: dict[str, Counter[str]] = {}
    for file_id, kind, times in rows:
        found.setdefault(file_id, Counter())[kind] = times
    return found


@pytest.fixture
def database_url() -> Iterator[str]:
    """A PostgreSQL database of this test's own (skips, naming the variable, without one)."""
    with fresh_postgres_database() as url:
        yield url


def test_two_instances_on_one_database_and_bucket(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    s3 = bootstrap.s3_client(Settings(aws_s3_endpoint_url=store.url))
    bucket = new_bucket(s3)
    try:
        run_scenario(tmp_path, store, database_url, s3, bucket)
    finally:
        drop_bucket(s3, bucket)


def run_scenario(tmp_path: Path, store: Store, database_url: str, s3: Any, bucket: str) -> None:
    began = time.monotonic()
    shared = {
        "database_url": database_url,
        "upload_storage_handler": "s3",
        "aws_storage_bucket_name": bucket,
        "aws_s3_endpoint_url": store.url,
        "base_url": PUBLIC,
        "min_part_size": f"{PART // KiB}KiB",
    }
    env_a, env_b = (server_env(tmp_path / name, **shared) for name in ("a", "b"))
    cli(env_a, "db", "upgrade")  # once, before any instance starts
    key = cli(env_a, "users", "create", "alice").strip().splitlines()[-1]
    expired, orphans = stage_expired(Settings.from_env(env_a), s3, bucket)
    outside = s3.create_multipart_upload(Bucket=bucket, Key="elsewhere/not-ours")["UploadId"]
    # gc from two other machines at once: the same settings, a policy that collects within seconds.
    gc_env = server_env(tmp_path / "gc", **shared, upload_expires_in="5s")
    gc, gc_too = (GcLoop(gc_env, ("--purge-after", "0s")) for _ in range(2))
    rng = random.Random(SEED)
    uploads = make_uploads(rng)
    files = []
    for n in range(CLIENT_UPLOADS):
        files.append(tmp_path / f"client-{n}.bin")
        files[-1].write_bytes(rng.randbytes(PARTS * PART - rng.randint(0, PART - 1)))

    a = Server(env_a, tmp_path / "a.log", workers=2)
    b = Server(env_b, tmp_path / "b.log", workers=2)
    stages = {"setup": time.monotonic() - began}
    with serving(a, b):
        stages["start"] = time.monotonic() - began
        recorder = Recorder([httpx2.URL(a.url), httpx2.URL(b.url)], SEED)
        with gc.running(), gc_too.running():
            loaded = time.monotonic()
            uploaded = asyncio.run(load(uploads, files, key, recorder))
            unloaded = time.monotonic()
        gc_during_load = gc.overlapping(loaded, unloaded) + gc_too.overlapping(loaded, unloaded)
        gc.reports += gc_too.reports
        gc.failures += gc_too.failures
        # What gc could not reach yet (younger than its 5 s), it collects now.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not all(
            done >= due for done, due in zip(collected(gc), (len(expired), ORPHANS), strict=True)
        ):
            gc.run_once()
            time.sleep(0.5)
        stages["gc"] = time.monotonic() - began
        check_files(uploads, files, uploaded, key, recorder)
        stages["check"] = time.monotonic() - began
        logs = a.logged() + b.logged()

    assert recorder.failures() == [], recorder.failures()[:10]
    assert "Traceback" not in logs, logs[-5000:]
    assert gc.failures == [], gc.failures
    assert gc_during_load >= 1
    check_events(database_url, uploads, uploaded, expired)
    assert collected(gc) == (len(expired), ORPHANS), gc.reports
    left = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert [(u["Key"], u["UploadId"]) for u in left] == [("elsewhere/not-ours", outside)]
    s3.abort_multipart_upload(Bucket=bucket, Key="elsewhere/not-ours", UploadId=outside)
    completed = {u.file_id for u in uploads if ("complete", 200) in u.answers}
    completed |= {f["id"] for f in uploaded}
    objects = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    assert sorted(o["Key"] for o in objects) == sorted(PREFIX + i for i in completed)
    assert set(orphans).isdisjoint(u["UploadId"] for u in left)

    summary = {
        "s3": store.name,
        **recorder.summary(),
        "gc_runs": len(gc.reports),
        "gc_runs_during_load": gc_during_load,
        "load_seconds": round(unloaded - loaded, 1),
        "test_seconds": round(time.monotonic() - began, 1),
        "stages": {k: round(v, 1) for k, v in stages.items()},
    }
    print(f"\nseveral instances: {summary}")
    for name in ("requests", "completes", "complete_p50_ms", "complete_p95_ms", "gc_runs"):
        count(f"reliability: two instances, {name}", int(summary[name]))


@contextmanager
def serving(*servers: Server) -> Iterator[None]:
    """The servers started at once (each waited for), and stopped afterwards."""
    try:
        with ThreadPoolExecutor(len(servers)) as pool:
            for started in [pool.submit(server.start) for server in servers]:
                started.result()
        yield
    finally:
        for server in servers:
            if server.process is not None:
                server.stop()


def collected(gc: GcLoop) -> tuple[int, int]:
    """Expired uploads gc aborted and S3 multipart uploads it removed, over every run."""
    expired = sum(r["expired_uploads"]["count"] for r in gc.reports)
    multipart = sum(r["leftovers"]["by_kind"].get("multipart_upload", 0) for r in gc.reports)
    return expired, multipart


def check_files(
    uploads: list[Upload],
    files: list[Path],
    uploaded: list[dict[str, Any]],
    key: str,
    recorder: Recorder,
) -> None:
    """Each completed file, read through each instance, downloads byte-exact; listing agrees."""
    auth = {"Authorization": f"Bearer {key}"}
    expected = {u.file_id: u.data for u in uploads if ("complete", 200) in u.answers}
    expected |= {f["id"]: path.read_bytes() for f, path in zip(uploaded, files, strict=True)}
    transport = BalancedSync(recorder)
    with httpx2.Client(base_url=PUBLIC, transport=transport, timeout=60, trust_env=False) as http:
        for file_id, data in expected.items():
            for instance in ("0", "1"):
                file = http.get(f"/v1/files/{file_id}/", headers={**auth, PIN: instance})
                assert file.status_code == 200, file.text
                assert file.json()["upload_status"] == "completed"
                got = http.get(file.json()["url"])
                assert hashlib.sha256(got.content).digest() == hashlib.sha256(data).digest()
        listed: list[str] = []
        url: str | None = "/v1/files/?limit=7"
        while url:  # each page from either instance: the cursor is signed with the shared key
            page = http.get(url, headers=auth)
            assert page.status_code == 200, page.text
            listed += [f["id"] for f in page.json()["results"]]
            url = page.json()["next"]
        assert sorted(listed) == sorted(expected)
    for upload in uploads:
        assert upload.got("complete") <= {200, 404, 409}, upload
        assert upload.got("abort") <= {204, 404, 409}, upload
        assert upload.got("part") <= ({200, 404} if upload.kind == "abort-during-parts" else {200})


def check_events(
    database_url: str, uploads: list[Upload], uploaded: list[dict[str, Any]], expired: list[str]
) -> None:
    """Exactly one terminal event per upload, agreeing with what its client was told."""
    found = terminal_events(database_url)
    for upload in uploads:
        seen = found.get(upload.file_id, Counter())
        if ("complete", 200) in upload.answers:
            assert (seen["upload.completed"], seen["upload.aborted"]) == (1, 0), upload
            assert ("abort", 204) not in upload.answers, upload
        else:  # aborted by its own client, never by gc
            assert (seen["upload.completed"], seen["upload.aborted"]) == (0, 1), upload
            assert ("abort", 204) in upload.answers, upload
        assert seen["upload.failed"] == 0, upload
    for file in uploaded:
        assert found[file["id"]]["upload.completed"] == 1
        assert found[file["id"]]["upload.aborted"] == 0
    for file_id in expired:
        assert found[file_id]["upload.aborted"] == 1
        assert found[file_id]["upload.completed"] == 0
