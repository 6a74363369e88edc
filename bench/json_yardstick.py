"""The JSON-endpoint yardstick: a bare Starlette route answering a file-shaped JSON body.

No authentication, no database, no signing: the floor of any JSON endpoint on
this stack. Run it with uvicorn:

    uvicorn --factory bench.json_yardstick:create_app
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route


def create_app() -> Starlette:
    async def details(request: Request) -> Response:
        file_id = request.path_params["file_id"]
        return JSONResponse(
            {
                "id": file_id,
                "file_name": "bench.bin",
                "file_size": 1024,
                "file_content_type": "application/octet-stream",
                "upload_status": "completed",
                "url": f"http://127.0.0.1/v1/files/{file_id}/download/?token=x",
                "etag": "0123456789abcdef0123456789abcdef-1",
                "parent_content_type": None,
                "parent_object_id": None,
                "owner": "bench",
                "created": "2026-01-01T00:00:00Z",
                "modified": "2026-01-01T00:00:00Z",
            }
        )

    async def ping(request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/v1/files/{file_id}/", details), Route("/ping", ping)])
