"""The real tus clients, unmodified, against a real server on 127.0.0.1.

tus-js-client (pinned in tests/tus_js/package-lock.json) runs under node
through tests/tus_js/scenario.js; tuspy (pinned in the test extras) runs here.
Without node or the npm packages these tests skip, saying how to get them;
under CI (`CI=true`, which `.ci/run` installs them for) they fail instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, NoReturn

import pytest
from tests.integration.http.support import Harness, Headers
from tests.integration.http.tus_support import tus

from uploadcore.domain.parts import multipart_etag

TUS_JS = Path(__file__).resolve().parents[2] / "tus_js"
NODE_TIMEOUT = 120  # seconds; a scenario takes well under one


def _needs(missing: str) -> NoReturn:
    message = f"{missing}: run `npm ci --prefix tests/tus_js` (.ci/run does)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def tus_js(server: Harness, headers: Headers, scenario: str, data: bytes, tmp: Path) -> Any:
    node = shutil.which("node")
    if node is None:
        return _needs("node is not installed")
    if not (TUS_JS / "node_modules" / "tus-js-client").is_dir():
        _needs("tus-js-client is not installed")
    source = tmp / "data.bin"
    source.write_bytes(data)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "ENDPOINT": f"{server.settings.base_url}/v1/tus/",
        "AUTH": headers["Authorization"],
        "DATA": str(source),
    }
    done = subprocess.run(
        [node, str(TUS_JS / "scenario.js"), scenario],
        env=env, capture_output=True, text=True, timeout=NODE_TIMEOUT, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def file_of(server: Harness, headers: Headers, url: str) -> dict[str, Any]:
    response = server.client.http.get(f"/v1/files/{url.rsplit('/', 1)[1]}/", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def assert_stored(server: Harness, headers: Headers, url: str, data: bytes) -> dict[str, Any]:
    file = file_of(server, headers, url)
    assert file["upload_status"] == "completed"
    assert file["file_size"] == len(data)
    assert server.client.download(file["url"]).content == data
    return file


def assert_the_only_file(server: Harness, headers: Headers, url: str) -> None:
    """The upload at `url` is the user's one file (a concatenation's partials are none)."""
    listed = server.client.http.get("/v1/files/?upload_status=all", headers=headers).json()
    assert [f["id"] for f in listed["results"]] == [url.rsplit("/", 1)[1]]


@pytest.fixture
def user(live_server: Harness) -> Headers:
    return live_server.user("alice")


def test_tus_js_client_uploads_in_chunks(
    live_server: Harness, user: Headers, tmp_path: Path
) -> None:
    data = os.urandom(300_000)

    result = tus_js(live_server, user, "chunked", data, tmp_path)

    file = assert_stored(live_server, user, result["url"], data)
    assert (file["file_name"], file["file_content_type"]) == (
        "from-tus-js.bin",
        "application/x-test",
    )
    patches = [r for r in result["requests"] if r["method"] == "PATCH"]
    assert [int(r["offset"]) for r in patches] == list(range(0, 300_000, 65_536))


def test_a_new_tus_js_client_resumes_where_an_aborted_one_stopped(
    live_server: Harness, user: Headers, tmp_path: Path
) -> None:
    data = os.urandom(300_000)

    result = tus_js(live_server, user, "resume", data, tmp_path)

    assert result["url"] == result["firstUrl"]
    assert_stored(live_server, user, result["url"], data)
    resumed = result["resumed"]
    assert resumed[0]["method"] == "HEAD"
    assert resumed[1] == {"method": "PATCH", "offset": "65536"}  # nothing sent twice


def test_tus_js_client_parallel_uploads_concatenate(
    live_server: Harness, user: Headers, tmp_path: Path
) -> None:
    data = os.urandom(400_000)

    result = tus_js(live_server, user, "parallel", data, tmp_path)

    assert_stored(live_server, user, result["url"], data)
    assert_the_only_file(live_server, user, result["url"])


def test_tus_js_client_with_a_deferred_length(
    live_server: Harness, user: Headers, tmp_path: Path
) -> None:
    data = os.urandom(250_000)

    result = tus_js(live_server, user, "deferred", data, tmp_path)

    assert_stored(live_server, user, result["url"], data)
    posts = [r for r in result["requests"] if r["method"] == "POST"]
    assert len(posts) == 1


def test_tus_js_client_terminates_an_upload(
    live_server: Harness, user: Headers, tmp_path: Path
) -> None:
    result = tus_js(live_server, user, "terminate", os.urandom(300_000), tmp_path)

    assert file_of(live_server, user, result["url"])["upload_status"] == "aborted"
    head = live_server.client.http.head(result["url"], headers=tus(user))
    assert head.status_code == 404
    assert not any((live_server.media_root / "temp_uploads").iterdir())


def test_tuspy_uploads_with_checksums(live_server: Harness, user: Headers, tmp_path: Path) -> None:
    client_module = pytest.importorskip("tusclient.client", reason="tuspy is in the test extras")
    data = os.urandom(200_000)
    source = tmp_path / "data.bin"
    source.write_bytes(data)
    client = client_module.TusClient(f"{live_server.settings.base_url}/v1/tus/", headers=user)

    # tuspy leaves a file it opened itself open: hand it a stream and close it here.
    with source.open("rb") as stream:
        uploader = client.uploader(
            file_stream=stream, chunk_size=64 * 1024, upload_checksum=True,
            metadata={"filename": "from-tuspy.bin", "filetype": "text/plain"},
        )  # fmt: skip
        uploader.upload()

    file = assert_stored(live_server, user, uploader.url, data)
    assert file["file_name"] == "from-tuspy.bin"
    chunks = [data[i : i + 64 * 1024] for i in range(0, len(data), 64 * 1024)]
    md5s = [hashlib.md5(c, usedforsecurity=False).hexdigest() for c in chunks]
    assert file["etag"] == multipart_etag(md5s)  # each PATCH's bytes count as a part
