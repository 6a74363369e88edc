"""Uppy through uploadcore against Uppy through Companion, on the same machine.

`python -m bench.uppy [--mib 50] [--rounds 3] [--requests 200] [--dir DIR]`

Needs `npm ci --prefix tests/browser` (Uppy, esbuild, playwright-core),
`npm ci --prefix bench/companion` (@uppy/companion, pinned) and Debian's
chromium. Starts, each as its own process on 127.0.0.1:

- `uploadcore serve`'s app (one uvicorn worker) on local storage, and one on S3;
- moto in server mode (S3), and Companion in standalone mode on it;
- the page of tests/browser in headless Chromium, on an origin of its own.

Then (1) the same page uploads a `--mib` file with Uppy's AwsS3 plugin and its
defaults (a file up to 100 MiB goes in one form POST) through uploadcore on
local storage and through Companion to moto, interleaved round by round; and
(2) times `/s3/params` and the part signing route (`/s3/multipart/{id}/{n}`)
over HTTP, one request at a time on a kept-alive connection, against
Companion's own routes. Prints medians and ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import httpx2

from bench.harness import BenchError, wait_until
from bench.servers import HOST, REPO_ROOT, Server, clean_environment, free_port
from bench.servers import uploadcore_server as serve
from uploadcore import bootstrap
from uploadcore.services.users import create_user
from uploadcore.settings import Settings

BROWSER = REPO_ROOT / "tests" / "browser"
COMPANION = REPO_ROOT / "bench" / "companion" / "node_modules" / ".bin" / "companion"
AWS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench-secret",
       "AWS_DEFAULT_REGION": "us-east-1"}  # fmt: skip
BUCKET = "bench-uploads"
MiB = 1024 * 1024


def _process(name: str, command: list[str], environ: dict[str, str], log: Path) -> Any:
    output = log.open("wb")
    process = subprocess.Popen(command, env=environ, stdout=output, stderr=subprocess.STDOUT)
    process.bench_name = name  # type: ignore[attr-defined]
    return process


@contextmanager
def stopping(process: Any) -> Iterator[Any]:
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()


def _answers(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            with httpx2.Client(timeout=2, trust_env=False) as probe:
                return probe.get(url).status_code < 500
        except httpx2.TransportError:
            return False

    return check


def uploadcore_server(name: str, root: Path, origin: str, **settings: str) -> Server:
    environ = {"UPLOADCORE_DATA_DIR": str(root), "UPLOADCORE_SECRET_KEY": "bench" * 8,
               "UPLOADCORE_CORS_ALLOW_ORIGINS": origin,
               **{f"UPLOADCORE_{k.upper()}": v for k, v in settings.items()}, **AWS}  # fmt: skip
    core = bootstrap.build(bootstrap.prepare(Settings.from_env(environ)))
    key = create_user(core.users, "bench", False, datetime.now(UTC)).api_key
    core.close()
    server = serve(clean_environment(environ), root / "server.log", free_port())
    server.name = name
    server.wait_ready("/healthz")
    server.key = key  # type: ignore[attr-defined]
    return server


def token_endpoint(server: Server) -> str:
    key = server.key  # type: ignore[attr-defined]
    with httpx2.Client(base_url=server.url, timeout=30, trust_env=False) as http:
        minted = http.post("/v1/upload-tokens/", headers={"Authorization": f"Bearer {key}"},
                           json={"expires_in": 86400})  # fmt: skip
        return str(minted.json()["uppy_endpoint"])


def run_page(port: int, data_dir: Path, scenarios: list[dict[str, Any]], tmp: Path) -> list[Any]:
    spec = tmp / "scenarios.json"
    spec.write_text(json.dumps({"port": port, "dataDir": str(data_dir), "scenarios": scenarios,
                                "timeoutMs": 600_000}))  # fmt: skip
    done = subprocess.run(
        ["node", str(BROWSER / "run.js"), str(spec)], capture_output=True, text=True,
        timeout=900, check=False, env={"PATH": os.environ["PATH"], "HOME": str(tmp)},
    )  # fmt: skip
    if done.returncode != 0:
        raise BenchError(f"the page failed: {done.stderr[-3000:]}")
    outcomes: list[Any] = json.loads(done.stdout.strip().splitlines()[-1])["outcomes"]
    for outcome in outcomes:
        if "thrown" in outcome or outcome["errors"] or len(outcome["successful"]) != 1:
            raise BenchError(f"an upload failed: {outcome}")
    return outcomes


def timed(requests: int, call: Callable[[int], httpx2.Response]) -> float:
    """The median milliseconds of one request, over `requests` made one at a time."""
    call(0)  # warm up: connection, caches
    took = []
    for i in range(1, requests + 1):
        began = time.perf_counter()
        answer = call(i)
        took.append(time.perf_counter() - began)
        if answer.status_code >= 300:
            raise BenchError(f"{answer.request.url}: {answer.status_code} {answer.text[:200]}")
    return statistics.median(took) * 1000


def request_costs(endpoints: dict[str, str], requests: int) -> dict[str, tuple[float, float]]:
    """Per endpoint: the median ms of /s3/params, and of signing one part URL."""
    return {name: _costs(base, requests) for name, base in endpoints.items()}


def _costs(base: str, requests: int) -> tuple[float, float]:
    with httpx2.Client(timeout=30, trust_env=False) as http:

        def params(i: int) -> httpx2.Response:
            query = {"filename": f"p{i}.bin", "type": "image/png"}
            return http.get(f"{base}/s3/params", params=query)

        body = {"filename": "m.bin", "type": "image/png", "metadata": {}}
        made = http.post(f"{base}/s3/multipart", json=body).json()

        def sign(i: int) -> httpx2.Response:
            url = f"{base}/s3/multipart/{made['uploadId']}/{i % 100 + 1}"
            return http.get(url, params={"key": made["key"]})

        return timed(requests, params), timed(requests, sign)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    for needed, how in ((BROWSER / "node_modules" / "@uppy", "npm ci --prefix tests/browser"),
                        (COMPANION, "npm ci --prefix bench/companion")):  # fmt: skip
        if not needed.exists():
            raise SystemExit(f"run `{how}` first")
    root = args.dir or Path(tempfile.mkdtemp(prefix="uppy-bench-"))
    page_port = free_port()
    origin = f"http://{HOST}:{page_port}"
    files = root / "files"
    files.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        moto_port = free_port()
        moto_url = f"http://{HOST}:{moto_port}"
        stack.enter_context(stopping(_process(
            "moto", [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(moto_port)],
            {**os.environ, **AWS}, root / "moto.log")))  # fmt: skip
        wait_until(_answers(moto_url + "/moto-api/"), 30, "moto to start")
        for name, value in AWS.items():
            os.environ.setdefault(name, value)
        s3 = boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        local = stack.enter_context(uploadcore_server("uploadcore", root / "local", origin))
        on_s3 = stack.enter_context(uploadcore_server(
            "uploadcore-s3", root / "s3", origin, upload_storage_handler="s3",
            aws_storage_bucket_name=BUCKET, aws_s3_endpoint_url=moto_url))  # fmt: skip
        companion_port = free_port()
        companion_url = f"http://{HOST}:{companion_port}"
        (root / "companion").mkdir(exist_ok=True)
        companion_env = {
            "PATH": os.environ["PATH"], "COMPANION_PORT": str(companion_port),
            "COMPANION_DOMAIN": f"{HOST}:{companion_port}", "COMPANION_PROTOCOL": "http",
            "COMPANION_DATADIR": str(root / "companion"), "COMPANION_SECRET": "bench" * 8,
            "COMPANION_CLIENT_ORIGINS": origin, "COMPANION_AWS_KEY": "bench",
            "COMPANION_AWS_SECRET": "bench-secret", "COMPANION_AWS_BUCKET": BUCKET,
            "COMPANION_AWS_REGION": "us-east-1", "COMPANION_AWS_ENDPOINT": moto_url,
            "COMPANION_AWS_FORCE_PATH_STYLE": "true", "NODE_ENV": "production",
            "COMPANION_UPLOAD_URLS": "^http://127\\.0\\.0\\.1:",
        }  # fmt: skip
        stack.enter_context(stopping(_process(
            "companion", [str(COMPANION)], companion_env, root / "companion.log")))  # fmt: skip
        wait_until(_answers(companion_url + "/"), 30, "Companion to start")

        uploadcore_endpoint = token_endpoint(local)
        scenarios = []
        for round_ in range(args.rounds):
            for name, endpoint in (("uploadcore", uploadcore_endpoint),
                                   ("companion", companion_url)):  # fmt: skip
                file = f"{name}-{round_}.bin"
                if not (files / file).exists():
                    (files / file).write_bytes(os.urandom(args.mib * MiB))
                scenarios.append(
                    {
                        "name": name,
                        "endpoint": endpoint,
                        "files": [
                            {
                                "name": file,
                                "type": "application/octet-stream",
                                "url": f"/data/{file}",
                            }
                        ],
                    }
                )
        outcomes = run_page(page_port, files, scenarios, root)
        seconds: dict[str, list[float]] = {}
        for outcome in outcomes:
            seconds.setdefault(outcome["name"], []).append(outcome["seconds"])
        ours, theirs = (statistics.median(seconds[n]) for n in ("uploadcore", "companion"))
        print(f"Uppy, one {args.mib} MiB file (AwsS3 defaults: one form POST), median of "
              f"{args.rounds}:")  # fmt: skip
        print(f"  uploadcore (local storage)   {ours:6.2f} s  {args.mib / ours:6.1f} MiB/s")
        print(f"  Companion + moto (S3)        {theirs:6.2f} s  {args.mib / theirs:6.1f} MiB/s")
        print(f"  ratio uploadcore/Companion   {ours / theirs:6.2f}")

        costs = request_costs({
            "uploadcore (local)": uploadcore_endpoint,
            "uploadcore (S3)": token_endpoint(on_s3),
            "Companion (S3)": companion_url,
        }, args.requests)  # fmt: skip
        print(f"Server time per request over HTTP (median of {args.requests}, one at a time):")
        print(f"  {'':22} {'/s3/params':>12} {'sign a part':>12}")
        for name, (params, sign) in costs.items():
            print(f"  {name:22} {params:9.2f} ms {sign:9.2f} ms")
        yard = costs["Companion (S3)"]
        for name in ("uploadcore (local)", "uploadcore (S3)"):
            params, sign = costs[name]
            print(f"  {name} / Companion: params {params / yard[0]:.2f}, sign {sign / yard[1]:.2f}")
    if args.dir is None:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
