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
import subprocess
import urllib.request
from pathlib import Path

from bench.details import CONNECTIONS, THREADS, _call, wrk_against_yardstick
from bench.harness import BenchError, Context, MiB, Row, median, median_ratio
from bench.orm_yardstick import DB_VARIABLE, ROW_ID
from bench.uploads import _without_trailing_slash as _bare

YARDSTICK_FACTORY = "bench.orm_yardstick:app_from_environment"
PART = 5 * MiB
TARGET = 2.0


def resume(ctx: Context) -> list[Row]:
    def paths(base: str, key: str, root: Path) -> tuple[str, str]:
        file_id = _upload_in_progress(base, key, root / "part.bin")
        return f"/v1/files/uploads/{file_id}/", f"/v1/files/uploads/{ROW_ID}/"

    figures = wrk_against_yardstick(
        ctx, "resume", YARDSTICK_FACTORY, {DB_VARIABLE: str(ctx.scratch / "orm.db")}, paths
    )
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
