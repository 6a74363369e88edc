"""`POST /v1/files/uploads/` with 10,000 parts over HTTP, against a bare Starlette endpoint.

`uploadcore serve` on a fresh data dir with `MAX_FILE_UPLOAD_SIZE` raised to
64 GiB (so 10,000 parts of 5 MiB are allowed), and the yardstick
(`bench/initiate_yardstick.py`: sign 10,000 part tokens, answer the JSON).
Each round curl POSTs the same request to each, timed from curl's start to
its exit (the ~2 MB answer read whole); uploadcore's upload is aborted
afterwards, untimed. Target: uploadcore <= 2.00x the yardstick.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.harness import BenchError, Context, MiB, Row, interleave, median, median_ratio, progress
from bench.initiate_yardstick import SECRET_VARIABLE
from bench.servers import (
    Server,
    clean_environment,
    free_port,
    uploadcore_server,
    yardstick_server,
)
from bench.uploads import _create_user

NUM_PARTS = 10_000
PART_SIZE = 5 * MiB
TARGET = 2.0
FACTORY = "bench.initiate_yardstick:app_from_environment"
REQUEST = {
    "file_name": "bench.bin", "file_size": NUM_PARTS * PART_SIZE,
    "file_content_type": "application/octet-stream",
    "num_parts": NUM_PARTS, "part_size": PART_SIZE,
}  # fmt: skip


def initiate_http(ctx: Context) -> list[Row]:
    root = ctx.scratch / "initiate-http"
    root.mkdir()
    ours_port, theirs_port = free_port(), free_port()
    environ = clean_environment({
        "UPLOADCORE_DATA_DIR": str(root / "data"),
        "UPLOADCORE_BASE_URL": f"http://127.0.0.1:{ours_port}",
        "UPLOADCORE_MAX_FILE_UPLOAD_SIZE": str(64 * 1024 * MiB),
    })  # fmt: skip
    key = _create_user(environ)
    theirs_env = clean_environment({SECRET_VARIABLE: secrets.token_hex(32)})
    try:
        with (
            uploadcore_server(environ, root / "uploadcore.log", ours_port) as ours,
            yardstick_server("yardstick", FACTORY, theirs_env, root / "ys.log", theirs_port) as ys,
        ):
            ours.wait_ready("/healthz")
            ys.wait_ready("/ping")

            def ours_run() -> float:
                seconds, answer = _post(ours, key, root / "ours.json")
                _abort(ours, key, str(answer["file_obj"]["id"]))
                return seconds

            def theirs_run() -> float:
                return _post(ys, key, root / "theirs.json")[0]

            progress("initiate-http: warm-up")
            ours_run()
            theirs_run()
            figures = interleave(ctx.rounds, [("uploadcore", ours_run), ("yardstick", theirs_run)])
    finally:
        shutil.rmtree(root, ignore_errors=True)
    ratio = median_ratio(figures["uploadcore"], figures["yardstick"])
    return [
        Row(
            f"POST /v1/files/uploads/ with {NUM_PARTS:,} parts, HTTP, vs bare signing endpoint",
            f"{median(figures['uploadcore']) * 1000:.0f} ms",
            f"{median(figures['yardstick']) * 1000:.0f} ms",
            f"{ratio:.2f}x",
            f"<= {TARGET:.2f}x",
            ratio <= TARGET,
        )
    ]


def _abort(server: Server, key: str, file_id: str) -> None:
    request = urllib.request.Request(  # noqa: S310 - our own server on 127.0.0.1
        f"{server.url}/v1/files/uploads/{file_id}/",
        method="DELETE",
        headers={"Authorization": f"Bearer {key}"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
        if response.status != 204:
            raise BenchError(f"abort answered {response.status}")


def _post(server: Server, key: str, out: Path) -> tuple[float, dict[str, Any]]:
    server.check_alive()
    command = [
        "curl", "-sS", "--fail", "-X", "POST", "-H", f"Authorization: Bearer {key}",
        "-H", "Content-Type: application/json", "--data-binary", json.dumps(REQUEST),
        "-o", str(out), f"{server.url}/v1/files/uploads/",
    ]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, timeout=120, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise BenchError(f"{server.name}: initiate failed: {done.stderr.decode(errors='replace')}")
    answer: dict[str, Any] = json.loads(out.read_bytes())
    urls = answer.get("presigned_urls")
    if not isinstance(urls, list) or len(urls) != NUM_PARTS:
        raise BenchError(f"{server.name}: the answer does not hold {NUM_PARTS} part URLs")
    return seconds, answer
