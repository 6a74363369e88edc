"""The initiate yardstick: a bare Starlette endpoint minting one part URL per part.

It reads the JSON body, signs one part token per part with the same signer
uploadcore uses (`ItsDangerousSigner`) and answers an equivalent 201 body with
Starlette's JSONResponse. No authentication, no plan check, no database, no
storage. Run it with uvicorn:

    BENCH_SECRET=... uvicorn --factory bench.initiate_yardstick:app_from_environment
"""

from __future__ import annotations

import os
import secrets
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from uploadcore.adapters.signer import ItsDangerousSigner
from uploadcore.ports.signer import TokenClaims
from uploadcore.services.urls import PART_PURPOSE

SECRET_VARIABLE = "BENCH_SECRET"
EXPIRES_IN = 3600


def create_app(secret: str) -> Starlette:
    signer = ItsDangerousSigner(secret)

    async def initiate(request: Request) -> Response:
        asked = await request.json()
        body = initiated_body(signer, str(request.base_url).rstrip("/"), asked, EXPIRES_IN)
        return JSONResponse(body, status_code=201)

    async def ping(request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[Route("/v1/files/uploads/", initiate, methods=["POST"]), Route("/ping", ping)]
    )


def initiated_body(
    signer: ItsDangerousSigner, base_url: str, asked: dict[str, Any], expires_in: int
) -> dict[str, Any]:
    """A 201 body for `asked` (an initiate request): one signed part URL per part."""
    file_id, upload_id = secrets.token_hex(16), secrets.token_hex(16)
    now = datetime.now(UTC)
    expires = int(now.timestamp()) + expires_in
    prefix = f"{base_url}/v1/files/presigned-uploads/{file_id}/upload-part/"
    urls = [
        {
            "part_number": n,
            "url": f"{prefix}{n}/?token="
            + signer.sign(TokenClaims(PART_PURPOSE, file_id, upload_id, n, expires)),
            "method": "PUT",
        }
        for n in range(1, int(asked["num_parts"]) + 1)
    ]
    stamp = now.isoformat().replace("+00:00", "Z")
    return {
        "file_obj": {
            "id": file_id, "file_name": asked["file_name"], "file_size": asked["file_size"],
            "file_content_type": asked["file_content_type"], "upload_status": "uploading",
            "url": None, "etag": None, "parent_content_type": None, "parent_object_id": None,
            "owner": "bench", "created": stamp, "modified": stamp,
        },
        "upload_id": upload_id,
        "presigned_urls": urls,
        "expires_in": expires_in,
    }  # fmt: skip


def app_from_environment() -> Starlette:
    return create_app(os.environ[SECRET_VARIABLE])
