"""`GET /v1/files/{id}/download/?token=…`: a completed file's bytes (local storage)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from uploadcore.domain.metadata import content_disposition, header_content_type
from uploadcore.entrypoints.http import download
from uploadcore.entrypoints.http.common import Resource, SlashRoute
from uploadcore.entrypoints.links import DOWNLOAD_PATH
from uploadcore.services.download import OpenDownload


class Downloads(Resource):
    def routes(self) -> list[BaseRoute]:
        opener = self.core.open_download
        if opener is None:
            return []  # storage serves files itself, through its own URLs

        async def endpoint(request: Request) -> Response:
            return await self.download(opener, request)

        return [SlashRoute(DOWNLOAD_PATH, endpoint, methods=["GET", "HEAD"], name="download")]

    async def download(self, opener: OpenDownload, request: Request) -> Response:
        found = await run_in_threadpool(
            opener, request.path_params["file_id"], request.query_params.get("token")
        )
        upload, opened = found.upload, found.file
        etag = f'"{upload.etag}"' if upload.etag else f'"{opened.size:x}-{opened.modified_ns:x}"'
        stored = download.Stored(opened.size, opened.modified_ns / 1e9, etag)
        extra = {
            "Content-Type": header_content_type(upload.file_content_type),
            "Content-Disposition": content_disposition(upload.file_name),
            "X-Content-Type-Options": "nosniff",
        }
        return download.respond(opened.fd, stored, request.method, request.headers, extra)
