"""The real Uppy (@uppy/core and @uppy/aws-s3, pinned in tests/browser/package-lock.json),
bundled by esbuild, in headless Debian Chromium, against `uploadcore serve`.

The page comes from an origin of its own (another port), so CORS is real:
uploadcore's on local storage, the bucket's CORS rule on S3 (moto in server
mode, its global allow-all CORS turned off). Each storage runs every case in
one page load; every result is checked through the REST API.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, cast

import boto3
import httpx2
import pytest
from moto.moto_server import werkzeug_app
from moto.server import ThreadedMotoServer
from tests.integration.reliability.server import Server, api_key, free_port, running, server_env
from tests.integration.s3.support import FAKE_AWS_ENV, StartResponse, WsgiApp

BROWSER = Path(__file__).resolve().parents[2] / "browser"
CHROMIUM = "/usr/bin/chromium"
NODE_TIMEOUT = 240  # seconds; the scenarios of one storage take some 20
MiB = 1024 * 1024
Json = dict[str, Any]


def _needs(missing: str) -> NoReturn:
    message = f"{missing}: run `npm ci --prefix tests/browser` and install chromium (.ci/run does)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def _check_tools() -> str:
    node = shutil.which("node")
    if node is None:
        _needs("node is not installed")
    if not (BROWSER / "node_modules" / "@uppy" / "aws-s3").is_dir():
        _needs("the browser test's npm packages are not installed")
    if not Path(CHROMIUM).exists():
        _needs(f"{CHROMIUM} is not installed")
    return node


def data_of(name: str, size: int) -> bytes:
    """Bytes every run makes alike, distinct per file (a test compares them exactly)."""
    seed = name.encode() * 64
    block = (seed * (4096 // len(seed) + 1))[:4096]
    return (block * (size // 4096 + 1))[:size]


class Files:
    """The test's files, served to the page from its own origin."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.sizes: dict[str, int] = {}

    def add(self, name: str, size: int, type: str = "application/octet-stream") -> Json:
        (self.root / name).write_bytes(data_of(name, size))
        self.sizes[name] = size
        return {"name": name, "type": type, "url": f"/data/{name}"}


def run_page(node: str, port: int, data_dir: Path, scenarios: list[Json], tmp: Path) -> list[Json]:
    spec = tmp / "scenarios.json"
    spec.write_text(json.dumps({"port": port, "dataDir": str(data_dir), "scenarios": scenarios}))
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp)}
    done = subprocess.run(
        [node, str(BROWSER / "run.js"), str(spec)],
        env=env, capture_output=True, text=True, timeout=NODE_TIMEOUT, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-5000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    outcomes: list[Json] = result["outcomes"]
    for outcome in outcomes:
        assert "thrown" not in outcome, (outcome, result["logs"])
    return outcomes


class Api:
    """The REST API as the application's backend uses it (its API key)."""

    def __init__(self, url: str, key: str) -> None:
        self.url = url
        self.http = httpx2.Client(base_url=url, timeout=30, trust_env=False)
        self.headers = {"Authorization": f"Bearer {key}"}

    def mint(self, **limits: object) -> Json:
        answer = self.http.post("/v1/upload-tokens/", headers=self.headers, json=limits)
        assert answer.status_code == 201, answer.text
        minted: Json = answer.json()
        return minted

    def revoke(self, minted: Json) -> None:
        answer = self.http.delete(f"/v1/upload-tokens/{minted['id']}/", headers=self.headers)
        assert answer.status_code == 204

    def file(self, file_id: str) -> Json:
        answer = self.http.get(f"/v1/files/{file_id}/", headers=self.headers)
        assert answer.status_code == 200, answer.text
        found: Json = answer.json()
        return found

    def by_name(self, name: str) -> list[Json]:
        answer = self.http.get(
            "/v1/files/", params={"upload_status": "all", "limit": 1000}, headers=self.headers
        )
        return [f for f in answer.json()["results"] if f["file_name"] == name]

    def eventually(self, file_id: str, status: str, timeout: float = 15.0) -> Json:
        """The file once it has `status` (arrivals and aborts may follow Uppy's answer)."""
        deadline = time.monotonic() + timeout
        while True:
            file = self.file(file_id)
            if file["upload_status"] == status or time.monotonic() > deadline:
                return file
            time.sleep(0.1)

    def content(self, file: Json) -> bytes:
        answer = self.http.get(file["url"])
        assert answer.status_code == 200
        return answer.content


def scenarios(api: Api, files: Files, *, tus: bool = False) -> list[Json]:
    """Every case, each with its own Uppy and token: what the page runs, and the tokens."""
    endpoint = api.mint()["uppy_endpoint"]
    small = api.mint(max_file_size=MiB)
    images = api.mint(allowed_content_types=["image/*"])
    revoked = api.mint()
    api.revoke(revoked)
    big = 12 * MiB
    cases = [
        {"name": "small", "endpoint": endpoint, "files": [files.add("small.bin", 100_000)]},
        {"name": "multipart", "endpoint": endpoint, "multipart": True,
         "files": [files.add("big.bin", big, "video/mp4")]},
        {"name": "three", "endpoint": endpoint,
         "files": [files.add(f"three-{i}.bin", 50_000 * (i + 1)) for i in range(3)]},
        {"name": "cancel", "endpoint": endpoint, "multipart": True, "action": "cancel",
         "files": [files.add("cancel.bin", big)]},
        {"name": "pause", "endpoint": endpoint, "multipart": True, "action": "pause",
         "files": [files.add("pause.bin", big)]},
        {"name": "empty", "endpoint": endpoint, "files": [files.add("empty.bin", 0)]},
        {"name": "too-large", "endpoint": small["uppy_endpoint"],
         "files": [files.add("too-large.bin", MiB + 1)]},
        {"name": "too-large-multipart", "endpoint": small["uppy_endpoint"], "multipart": True,
         "files": [files.add("too-large-multipart.bin", 6 * MiB)]},
        {"name": "type", "endpoint": images["uppy_endpoint"],
         "files": [files.add("type.txt", 1000, "text/plain")]},
        {"name": "revoked", "endpoint": revoked["uppy_endpoint"],
         "files": [files.add("revoked.bin", 1000)]},
    ]  # fmt: skip
    if tus:
        token = api.mint()
        tus_client = {"endpoint": token["tus_endpoint"], "token": token["token"]}
        cases.append({"name": "tus", "tus": tus_client, "files": [files.add("tus.bin", 300_000)]})
    return cases


def check(api: Api, files: Files, outcomes: list[Json], store: str) -> None:
    seen = {o["name"]: o for o in outcomes}

    def completed(name: str) -> Json:
        found = api.by_name(name)
        assert len(found) == 1, (name, found)
        file = api.eventually(found[0]["id"], "completed")
        assert file["upload_status"] == "completed", (name, file)
        assert file["file_size"] == files.sizes[name]
        assert api.content(file) == data_of(name, files.sizes[name])
        return file

    for case, names in (("small", ["small.bin"]), ("multipart", ["big.bin"]),
                        ("three", [f"three-{i}.bin" for i in range(3)]),
                        ("pause", ["pause.bin"]), ("empty", ["empty.bin"])):  # fmt: skip
        outcome = seen[case]
        assert outcome["errors"] == [], outcome
        assert sorted(s["name"] for s in outcome["successful"]) == names
        for name in names:
            completed(name)
    assert completed("big.bin")["etag"].endswith("-3")  # three parts of 5, 5 and 2 MiB
    assert completed("big.bin")["file_content_type"] == "video/mp4"

    cancelled = seen["cancel"]
    assert cancelled["successful"] == []
    assert "cancel.bin" in cancelled["started"]
    file_id = cancelled["started"]["cancel.bin"]["key"].rsplit("/", 1)[1]
    assert api.eventually(file_id, "aborted")["upload_status"] == "aborted"

    for case in ("too-large-multipart", "type", "revoked"):
        assert seen[case]["successful"] == [], seen[case]
        assert len(seen[case]["errors"]) == 1, seen[case]
    assert [f["upload_status"] for f in api.by_name("type.txt")] == []  # refused at /s3/params
    assert [f["upload_status"] for f in api.by_name("revoked.bin")] == []
    # Local storage refuses the part past the limit (413), leaving the upload to its client
    # or to gc; on S3 the parts go to the bucket and the completion finds them too large.
    assert [f["upload_status"] for f in api.by_name("too-large-multipart.bin")] == [
        "uploading" if store == "local" else "aborted"
    ]

    too_large = seen["too-large"]
    [record] = api.by_name("too-large.bin")
    if store == "local":  # uploadcore refuses the 1st byte past the limit: 413
        assert too_large["successful"] == [], too_large
        assert len(too_large["errors"]) == 1, too_large
    # moto takes any size (no POST policy check): the arrival check finds it too large
    assert api.eventually(record["id"], "aborted")["upload_status"] == "aborted"

    if "tus" in seen:
        assert seen["tus"]["errors"] == [], seen["tus"]
        completed("tus.bin")


@pytest.fixture
def node() -> str:
    return _check_tools()


def test_uppy_on_local_storage(node: str, tmp_path: Path) -> None:
    page_port = free_port()
    env = server_env(tmp_path / "data", cors_allow_origins=f"http://127.0.0.1:{page_port}")
    upload_through_the_page(node, env, page_port, tmp_path, "local", tus=True)


def upload_through_the_page(
    node: str,
    env: dict[str, str],
    page_port: int,
    tmp_path: Path,
    storage: str,
    *,
    tus: bool = False,
) -> None:
    """Serve uploadcore with `env`, run every case in the page, check each through the API."""
    server = Server(env, tmp_path / "serve.log")
    (tmp_path / "files").mkdir()
    files = Files(tmp_path / "files")
    with running(server):
        api = Api(server.url, api_key(env, "alice"))
        with api.http:
            cases = scenarios(api, files, tus=tus)
            outcomes = run_page(node, page_port, files.root, cases, tmp_path)
            check(api, files, outcomes, storage)


class PostObjectCors:
    """What S3 does and moto omits: the bucket's CORS headers on a POST Object answer.

    moto answers a browser's preflight from the bucket's CORS rule, and adds
    its headers to PUT and GET answers, but not to the answer of a form POST,
    which a browser then reports as a network error. This adds them, for the
    test's one rule, to POST answers that lack them.
    """

    def __init__(self, app: WsgiApp, origin: str) -> None:
        self.app = app
        self.origin = origin

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "POST" or environ.get("HTTP_ORIGIN") != self.origin:
            return self.app(environ, start_response)

        def starting(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
            if not any(k.lower() == "access-control-allow-origin" for k, _ in headers):
                headers += [("Access-Control-Allow-Origin", self.origin),
                            ("Access-Control-Expose-Headers", "ETag")]  # fmt: skip
            return start_response(status, headers, *rest)

        return self.app(environ, starting)


@contextmanager
def moto_for_browsers(origin: str) -> Iterator[str]:
    """moto in server mode with its global allow-all CORS off: the bucket's rule decides."""
    original = werkzeug_app.DISABLE_GLOBAL_CORS  # type: ignore[attr-defined]
    werkzeug_app.DISABLE_GLOBAL_CORS = True  # type: ignore[attr-defined]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    try:
        server.start()
        wsgi = server._server
        assert wsgi is not None
        wsgi.app = PostObjectCors(cast(WsgiApp, wsgi.app), origin)
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        werkzeug_app.DISABLE_GLOBAL_CORS = original  # type: ignore[attr-defined]


def test_uppy_on_s3(node: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    page_port = free_port()
    origin = f"http://127.0.0.1:{page_port}"
    for name, value in FAKE_AWS_ENV.items():
        monkeypatch.setenv(name, value)
    with moto_for_browsers(origin) as moto_url:
        uppy_on_s3(node, moto_url, origin, page_port, tmp_path)


def uppy_on_s3(node: str, moto_s3: str, origin: str, page_port: int, tmp_path: Path) -> None:
    s3 = boto3.client("s3", endpoint_url=moto_s3, region_name="us-east-1")
    s3.create_bucket(Bucket="uploads")
    s3.put_bucket_cors(
        Bucket="uploads",
        CORSConfiguration={"CORSRules": [{
            "AllowedOrigins": [origin], "AllowedMethods": ["GET", "PUT", "POST"],
            "AllowedHeaders": ["*"], "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 600,
        }]},
    )  # fmt: skip
    env = server_env(
        tmp_path / "data", cors_allow_origins=origin, upload_storage_handler="s3",
        aws_storage_bucket_name="uploads", aws_s3_endpoint_url=moto_s3,
    )  # fmt: skip
    env.update(FAKE_AWS_ENV)
    upload_through_the_page(node, env, page_port, tmp_path, "s3")
