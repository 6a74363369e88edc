"""`GET /v1/files/uploads/{id}/` (the resume read) requests per second, over HTTP with wrk.

`uploadcore serve` on a fresh data dir holds one upload in progress: 3 parts
of 5 MiB planned, 2 received (sent with curl first). Each request checks the
API key, reads the upload and its received parts and renders them. The
yardstick (`bench/orm_yardstick.py`) is a bare Starlette endpoint doing one
SQLAlchemy ORM primary-key read on SQLite. Both run with the same uvicorn
settings, loaded in turn by `wrk -t1 -c16`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from pathlib import Path

from bench.details import CONNECTIONS, SECONDS, THREADS, _call, _wrk
from bench.harness import BenchError, Context, MiB, Row, interleave, median, median_ratio, progress
from bench.orm_yardstick import DB_VARIABLE, ROW_ID
from bench.servers import clean_environment, free_port, uploadcore_server, yardstick_server
from bench.uploads import _create_user
from bench.uploads import _without_trailing_slash as _bare

YARDSTICK_FACTORY = "bench.orm_yardstick:app_from_environment"
PART = 5 * MiB
TARGET = 2.0


def resume(ctx: Context) -> list[Row]:
    if shutil.which("wrk") is None:
        raise BenchError("wrk is not installed (apt-get install wrk)")
    root = ctx.scratch / "resume"
    root.mkdir()
    ours_port, theirs_port = free_port(), free_port()
    environ = clean_environment(
        {
            "UPLOADCORE_DATA_DIR": str(root / "uploadcore-data"),
            "UPLOADCORE_BASE_URL": f"http://127.0.0.1:{ours_port}",
        }
    )
    key = _create_user(environ)
    theirs_env = clean_environment({DB_VARIABLE: str(root / "yardstick.db")})
    with (
        uploadcore_server(environ, root / "uploadcore.log", ours_port) as ours,
        yardstick_server(
            "yardstick", YARDSTICK_FACTORY, theirs_env, root / "yardstick.log", theirs_port
        ) as theirs,
    ):
        ours.wait_ready("/healthz")
        theirs.wait_ready("/ping")
        file_id = _upload_in_progress(ours.url, key, root / "part.bin")
        header = f"Authorization: Bearer {key}"
        ours_url = f"{ours.url}/v1/files/uploads/{file_id}/"
        theirs_url = f"{theirs.url}/v1/files/uploads/{ROW_ID}/"
        progress("resume: warm-up")
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
    shutil.rmtree(root, ignore_errors=True)
    ratio = median_ratio(figures["uploadcore"], figures["yardstick"])
    return [
        Row(
            f"GET /v1/files/uploads/{{id}}/ (wrk -t{THREADS} -c{CONNECTIONS}) vs bare ORM read",
            f"{median(figures['uploadcore']):,.0f} req/s",
            f"{median(figures['yardstick']):,.0f} req/s",
            f"{ratio:.2f}x",
            f">= {TARGET:.2f}x",
            ratio >= TARGET,
        )
    ]


def _upload_in_progress(base: str, key: str, body: Path) -> str:
    """Initiate 3 parts of 5 MiB over HTTP and send the first two."""
    started = _call(base, key, "POST", "/v1/files/uploads/", {
        "file_name": "bench.bin", "file_size": 3 * PART, "num_parts": 3, "part_size": PART,
        "file_content_type": "application/octet-stream",
    })  # fmt: skip
    body.write_bytes(b"r" * PART)
    for url in started["presigned_urls"][:2]:
        done = subprocess.run(
            ["curl", "-sS", "--fail", "-T", str(body), "-H", "Expect:", _bare(url["url"])],
            capture_output=True, timeout=60, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise BenchError(f"a part upload failed: {done.stderr.decode(errors='replace')}")
    file_id = str(started["file_obj"]["id"])
    request = urllib.request.Request(  # noqa: S310 - our own server on 127.0.0.1
        f"{base}/v1/files/uploads/{file_id}/", headers={"Authorization": f"Bearer {key}"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
        state = json.loads(response.read())
    if len(state.get("parts", [])) != 2:
        raise BenchError(f"the upload state is not 2 parts received: {state}")
    return file_id
