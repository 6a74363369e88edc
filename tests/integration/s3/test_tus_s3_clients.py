"""The real tus clients, unmodified, against uvicorn on 127.0.0.1 with S3 storage (moto, RGW).

tus-js-client runs under node (tests/tus_js, `npm ci --prefix tests/tus_js`),
tuspy here; the scenarios are the local-storage ones (test_tus_clients.py).
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx2
import pytest
from tests.integration.http.server import serving, uvicorn_running
from tests.integration.http.support import Harness, Headers, UploadClient
from tests.integration.http.test_tus_clients import (
    assert_stored,
    assert_the_only_file,
    file_of,
    tus_js,
)
from tests.integration.http.tus_support import OCTETS, create, patch, tus
from tests.integration.s3.conftest import PART, S3Endpoint, s3_settings
from tests.integration.s3.support import MiB

from uploadcore import bootstrap
from uploadcore.adapters.memory import FakeClock
from uploadcore.domain.parts import multipart_etag
from uploadcore.entrypoints.http.app import create_app
from uploadcore.settings import Settings


@pytest.fixture
def live_s3(settings: Settings, clock: FakeClock, s3_endpoint: S3Endpoint) -> Iterator[Harness]:
    with (
        serving() as (sock, url),
        s3_settings(replace(settings, base_url=url), s3_endpoint.url) as prepared,
    ):
        core = bootstrap.build(prepared, clock=clock)
        with (
            uvicorn_running(create_app(prepared, core), sock),
            httpx2.Client(base_url=url, timeout=60, trust_env=False) as http,
        ):
            yield Harness(prepared, core, clock, UploadClient(http))


@pytest.fixture
def user(live_s3: Harness) -> Headers:
    return live_s3.user("alice")


def no_staging_left(server: Harness) -> bool:
    root = server.settings.tus_staging_dir
    return not root.exists() or not any(root.iterdir())


@pytest.mark.parametrize("scenario", ["chunked", "resume", "deferred"])
def test_tus_js_client_uploads_to_s3(
    live_s3: Harness, user: Headers, tmp_path: Path, scenario: str
) -> None:
    data = os.urandom(300_000)

    result = tus_js(live_s3, user, scenario, data, tmp_path)

    assert_stored(live_s3, user, result["url"], data)
    assert no_staging_left(live_s3)


def test_tus_js_client_parallel_uploads_concatenate_on_s3(
    live_s3: Harness, user: Headers, tmp_path: Path
) -> None:
    data = os.urandom(3 * PART + 3)  # three partials of a part or more: copied within S3

    result = tus_js(live_s3, user, "parallel", data, tmp_path)

    assert_stored(live_s3, user, result["url"], data)
    assert_the_only_file(live_s3, user, result["url"])


def test_tus_js_client_terminates_an_upload_on_s3(
    live_s3: Harness, user: Headers, tmp_path: Path
) -> None:
    result = tus_js(live_s3, user, "terminate", os.urandom(300_000), tmp_path)

    assert file_of(live_s3, user, result["url"])["upload_status"] == "aborted"
    assert live_s3.client.http.head(result["url"], headers=tus(user)).status_code == 404
    assert no_staging_left(live_s3)


def test_tuspy_uploads_to_s3_with_checksums(
    live_s3: Harness, user: Headers, tmp_path: Path
) -> None:
    client_module = pytest.importorskip("tusclient.client", reason="tuspy is in the test extras")
    data = os.urandom(7 * MiB)
    source = tmp_path / "data.bin"
    source.write_bytes(data)
    client = client_module.TusClient(f"{live_s3.settings.base_url}/v1/tus/", headers=user)

    with source.open("rb") as stream:
        uploader = client.uploader(
            file_stream=stream, chunk_size=2 * MiB, upload_checksum=True,
            metadata={"filename": "from-tuspy.bin"},
        )  # fmt: skip
        uploader.upload()

    file = assert_stored(live_s3, user, uploader.url, data)
    # 2 MiB chunks wait on disk until three make a part; the last part is the rest.
    parts = [data[: 6 * MiB], data[6 * MiB :]]
    md5s = [hashlib.md5(p, usedforsecurity=False).hexdigest() for p in parts]
    assert file["etag"] == multipart_etag(md5s)
    assert no_staging_left(live_s3)


def test_a_patch_cut_off_midway_keeps_what_arrived(live_s3: Harness, user: Headers) -> None:
    http = live_s3.client.http
    data = os.urandom(PART + 3 * MiB)
    path = create(http, user, len(data))
    sent = PART + MiB  # of a body announced whole
    host, port = http.base_url.host, http.base_url.port
    with socket.create_connection((host, port), timeout=30) as sock:
        head = (
            f"PATCH {path} HTTP/1.1\r\nHost: {host}\r\nTus-Resumable: 1.0.0\r\n"
            f"Authorization: {user['Authorization']}\r\nUpload-Offset: 0\r\n"
            f"Content-Type: {OCTETS}\r\nContent-Length: {len(data)}\r\n\r\n"
        )
        sock.sendall(head.encode() + data[:sent])

    offset = "0"
    deadline = time.monotonic() + 30
    while offset == "0" and time.monotonic() < deadline:  # the server sees the close, then keeps
        offset = http.head(path, headers=tus(user)).headers["upload-offset"]
        time.sleep(0.05)
    assert offset == str(sent)
    assert patch(http, user, path, sent, data[sent:]).status_code == 204
    assert http.get(file_of(live_s3, user, path)["url"]).content == data
