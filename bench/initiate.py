"""Initiating an upload of 10,000 parts on local storage, measured in-process.

uploadcore: `InitiateUpload` (`core.initiate`) on the real adapters (SQLite database,
local disk store, itsdangerous signer) plus rendering the 201 body the way the
route does (`schemas.initiated_json` into the API's `JsonResponse`).
Yardstick: 10,000 `ItsDangerousSigner.sign` calls building the same URLs, plus
`json.dumps` of an equivalent response with the options Starlette's JSONResponse uses.

In-process rather than over HTTP: the part that grows with num_parts is all
here, and the HTTP route adds only a fixed cost (reading a small JSON body,
one API-key lookup) that is the same for 1 part or 10,000, while a client
reading a 2 MB answer over a socket would add noise of its own.
"""

from __future__ import annotations

import json
import shutil
import time

from bench.harness import (
    BenchError,
    Context,
    GiB,
    MiB,
    Row,
    interleave,
    median,
    median_ratio,
    progress,
)
from bench.initiate_yardstick import initiated_body
from uploadcore.adapters.signer import ItsDangerousSigner
from uploadcore.bootstrap import build, prepare
from uploadcore.domain.upload import Principal
from uploadcore.entrypoints.http import schemas
from uploadcore.entrypoints.http.responses import JsonResponse
from uploadcore.entrypoints.links import HttpLinks
from uploadcore.services.initiate import NewUpload
from uploadcore.settings import Settings

NUM_PARTS = 10_000
PART_SIZE = 5 * MiB
BASE_URL = "http://127.0.0.1:8000"


def _yardstick(signer: ItsDangerousSigner, expires_in: int) -> bytes:
    """Mint 10,000 part tokens and render an equivalent 201 body; nothing else."""
    asked = {
        "file_name": "bench.bin", "file_size": NUM_PARTS * PART_SIZE,
        "file_content_type": "application/octet-stream", "num_parts": NUM_PARTS,
    }  # fmt: skip
    body = initiated_body(signer, BASE_URL, asked, expires_in)
    return json.dumps(
        body, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode("utf-8")


def initiate(ctx: Context) -> list[Row]:
    root = ctx.scratch / "initiate"
    root.mkdir()
    try:
        settings = prepare(
            Settings(data_dir=root, base_url=BASE_URL, max_file_upload_size=64 * GiB)
        )
        core = build(settings)
        principal = Principal("bench")
        request = NewUpload(
            file_name="bench.bin",
            file_size=NUM_PARTS * PART_SIZE,
            file_content_type="application/octet-stream",
            num_parts=NUM_PARTS,
            part_size=PART_SIZE,
        )
        if not isinstance(core.urls.signer, ItsDangerousSigner):
            raise BenchError("expected the service to sign with ItsDangerousSigner")
        signer = core.urls.signer
        expires_in = core.policy.url_expires_in_seconds
        sizes: dict[str, int] = {}

        def ours() -> float:
            started = time.perf_counter()
            initiated = core.initiate(principal, request, HttpLinks(BASE_URL))
            body = JsonResponse(schemas.initiated_json(initiated), status_code=201).body
            seconds = time.perf_counter() - started
            sizes["uploadcore"] = len(body)
            if len(initiated.presigned_urls) != NUM_PARTS:
                raise BenchError("initiate did not mint one URL per part")
            return seconds

        def theirs() -> float:
            started = time.perf_counter()
            body = _yardstick(signer, expires_in)
            seconds = time.perf_counter() - started
            sizes["yardstick"] = len(body)
            return seconds

        try:
            progress("initiate: warm-up")
            ours()
            theirs()
            figures = interleave(ctx.rounds, [("uploadcore", ours), ("yardstick", theirs)])
        finally:
            core.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    progress(f"initiate: response bodies {sizes['uploadcore']} vs {sizes['yardstick']} bytes")
    ratio = median_ratio(figures["uploadcore"], figures["yardstick"])
    return [
        Row(
            "in-process: initiate 10,000 parts",
            f"{median(figures['uploadcore']) * 1000:.0f} ms",
            f"{median(figures['yardstick']) * 1000:.0f} ms",
            f"{ratio:.2f}x",
            "<= 2.00x",
            ratio <= 2.0,
        )
    ]
