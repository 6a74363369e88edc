"""`GET /v1/files/{id}/` requests per second, against a bare Starlette JSON endpoint.

Both servers run side by side as `uvicorn --loop uvloop --http httptools`
with one worker (the flags in `bench.servers`); `wrk` (Debian's package) loads
each in turn for a few seconds per round, with the same threads and
connections. uploadcore answers from its real SQLite database on a fresh data
dir, for a completed file uploaded over HTTP first: each request checks the API
key (a database lookup), reads the file's record (another), checks ownership,
signs a fresh download URL and renders the file. The yardstick answers a
file-shaped JSON body and does nothing else.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.harness import BenchError, Context, Row, interleave, median, median_ratio, progress
from bench.servers import clean_environment, free_port, uploadcore_server, yardstick_server
from bench.uploads import _create_user

YARDSTICK_FACTORY = "bench.json_yardstick:create_app"
SECONDS = 5  # per wrk run
THREADS, CONNECTIONS = 1, 16  # the machine has 2 cores: one for wrk, one for the server
WRK_TIMEOUT = 120


def details(ctx: Context) -> list[Row]:
    def paths(base: str, key: str, root: Path) -> tuple[str, str]:
        file_id = _completed_file(base, key)
        return f"/v1/files/{file_id}/", f"/v1/files/{file_id}/"

    figures = wrk_against_yardstick(ctx, "details", YARDSTICK_FACTORY, {}, paths)
    ratio = median_ratio(figures["uploadcore"], figures["yardstick"])
    return [
        Row(
            f"GET /v1/files/{{id}}/ (wrk -t{THREADS} -c{CONNECTIONS}) vs bare Starlette JSON",
            f"{median(figures['uploadcore']):,.0f} req/s",
            f"{median(figures['yardstick']):,.0f} req/s",
            f"{ratio:.2f}x",
            ">= 0.65x",
            ratio >= 0.65,
        )
    ]


def wrk_against_yardstick(
    ctx: Context,
    name: str,
    factory: str,
    yardstick_env: dict[str, str],
    paths: Callable[[str, str, Path], tuple[str, str]],
) -> dict[str, list[float]]:
    """`uploadcore serve` and a yardstick app side by side, loaded in turn by wrk.

    `paths(uploadcore_url, api_key, root)` prepares what to read and returns the
    path to load on each. Figures: requests per second, per round.
    """
    if shutil.which("wrk") is None:
        raise BenchError("wrk is not installed (apt-get install wrk)")
    root = ctx.scratch / name
    root.mkdir()
    ours_port, theirs_port = free_port(), free_port()
    environ = clean_environment(
        {
            "UPLOADCORE_DATA_DIR": str(root / "uploadcore-data"),
            "UPLOADCORE_BASE_URL": f"http://127.0.0.1:{ours_port}",
        }
    )
    key = _create_user(environ)
    theirs_env = clean_environment(yardstick_env)
    try:
        with (
            uploadcore_server(environ, root / "uploadcore.log", ours_port) as ours,
            yardstick_server(
                "yardstick", factory, theirs_env, root / "yardstick.log", theirs_port
            ) as theirs,
        ):
            ours.wait_ready("/healthz")
            theirs.wait_ready("/ping")
            ours_path, theirs_path = paths(ours.url, key, root)
            header = f"Authorization: Bearer {key}"
            ours_url, theirs_url = ours.url + ours_path, theirs.url + theirs_path
            progress(f"{name}: warm-up")
            _wrk(ours_url, header, 2)
            _wrk(theirs_url, header, 2)
            figures = interleave(
                ctx.rounds,
                [
                    ("uploadcore", lambda: _wrk(ours_url, header, SECONDS)),
                    ("yardstick", lambda: _wrk(theirs_url, header, SECONDS)),
                ],
            )
            ours.check_alive()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return figures


def _wrk(url: str, header: str, seconds: int, connections: int = CONNECTIONS) -> float:
    """Requests per second over `seconds`; every answer must be a 200."""
    command = [
        "wrk", f"-t{THREADS}", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s",
        "-H", header, url,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=WRK_TIMEOUT, check=False)
    if done.returncode != 0:
        raise BenchError(f"wrk failed: {done.stderr.strip() or done.stdout.strip()}")
    if "Non-2xx" in done.stdout or "Socket errors" in done.stdout:
        raise BenchError(f"wrk saw failed requests:\n{done.stdout}")
    found = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    if found is None:
        raise BenchError(f"no Requests/sec in wrk's output:\n{done.stdout}")
    return float(found.group(1))


def _completed_file(base: str, key: str) -> str:
    """Upload one small file over HTTP: initiate, PUT its one part, complete."""
    data = b"uploadcore details benchmark\n" * 32
    started = _call(base, key, "POST", "/v1/files/uploads/", {
        "file_name": "bench.bin", "file_size": len(data), "num_parts": 1,
        "part_size": len(data), "file_content_type": "application/octet-stream",
    })  # fmt: skip
    file_id = str(started["file_obj"]["id"])
    part_url = started["presigned_urls"][0]["url"]
    # Always http://127.0.0.1:PORT, our own server.
    put = urllib.request.Request(part_url, data=data, method="PUT")  # noqa: S310
    with urllib.request.urlopen(put, timeout=60) as response:  # noqa: S310
        etag = json.loads(response.read())["etag"]
    if etag != hashlib.md5(data, usedforsecurity=False).hexdigest():
        raise BenchError("the part's etag is not its md5")
    done = _call(base, key, "POST", f"/v1/files/uploads/{file_id}/complete/", {
        "parts": [{"part_number": 1, "etag": etag}]})  # fmt: skip
    if done["upload_status"] != "completed":
        raise BenchError(f"the upload did not complete: {done}")
    return file_id


def _call(base: str, key: str, method: str, path: str, body: Any) -> Any:
    request = urllib.request.Request(  # noqa: S310
        base + path,
        data=json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
        return json.loads(response.read())
