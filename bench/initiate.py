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
import secrets
import shutil
import time
from datetime import UTC, datetime
from typing import Any

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
from uploadcore.adapters.signer import ItsDangerousSigner
from uploadcore.bootstrap import build, prepare
from uploadcore.domain.upload import Principal
from uploadcore.entrypoints.http import schemas
from uploadcore.entrypoints.http.responses import JsonResponse
from uploadcore.entrypoints.links import HttpLinks
from uploadcore.ports.signer import TokenClaims
from uploadcore.services.initiate import NewUpload
from uploadcore.services.urls import PART_PURPOSE
from uploadcore.settings import Settings

NUM_PARTS = 10_000
PART_SIZE = 5 * MiB
BASE_URL = "http://127.0.0.1:8000"


def _yardstick(signer: ItsDangerousSigner, expires_in: int) -> bytes:
    """Mint 10,000 part tokens and render an equivalent 201 body; nothing else."""
    file_id, upload_id = secrets.token_hex(16), secrets.token_hex(16)
    now = datetime.now(UTC)
    expires = int(now.timestamp()) + expires_in
    prefix = f"{BASE_URL}/v1/files/presigned-uploads/{file_id}/upload-part/"
    urls = [
        {
            "part_number": n,
            "url": f"{prefix}{n}/?token="
            + signer.sign(TokenClaims(PART_PURPOSE, file_id, upload_id, n, expires)),
            "method": "PUT",
        }
        for n in range(1, NUM_PARTS + 1)
    ]
    stamp = now.isoformat().replace("+00:00", "Z")
    body: dict[str, Any] = {
        "file_obj": {
            "id": file_id, "file_name": "bench.bin", "file_size": NUM_PARTS * PART_SIZE,
            "file_content_type": "application/octet-stream", "upload_status": "uploading",
            "url": None, "etag": None, "parent_content_type": None, "parent_object_id": None,
            "owner": "bench", "created": stamp, "modified": stamp,
        },
        "upload_id": upload_id,
        "presigned_urls": urls,
        "expires_in": expires_in,
    }  # fmt: skip
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
