"""`/v1/files/uploads/`: initiate, upload state, fresh part URLs, complete, abort."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from uploadcore.domain.upload import Principal
from uploadcore.entrypoints.http import schemas
from uploadcore.entrypoints.http.common import Resource, SlashRoute, by_method, credential_of
from uploadcore.entrypoints.http.responses import JsonResponse


class Uploads(Resource):
    def routes(self) -> list[BaseRoute]:
        return [
            SlashRoute("/v1/files/uploads/", self.initiate, methods=["POST"]),
            SlashRoute(
                "/v1/files/uploads/{file_id}/",
                by_method(GET=self.state, DELETE=self.abort),
                methods=["GET", "DELETE"],
            ),
            SlashRoute(
                "/v1/files/uploads/{file_id}/complete/",
                self.complete,
                methods=["POST"],
                name="complete_upload",
            ),
            SlashRoute(
                "/v1/files/uploads/{file_id}/presigned-urls/", self.refresh_urls, methods=["POST"]
            ),
        ]

    async def initiate(self, request: Request) -> Response:
        principal = await self.principal(request, uploading=True)
        data = await schemas.read_json(request)
        new = schemas.parse_initiate(data, self.core.policy.limits.max_file_size)
        links = self.links(request.scope)
        initiated = await run_in_threadpool(self.core.initiate, principal, new, links)
        return JsonResponse(schemas.initiated_json(initiated), status_code=201)

    async def state(self, request: Request) -> Response:
        """What a client resumes from; every resume, and every Uppy listParts, reads it."""
        credential = credential_of(request.headers)
        file_id = request.path_params["file_id"]

        def state(principal: Principal) -> Mapping[str, Any]:  # two point reads and a dict
            return schemas.state_json(self.core.upload_state(principal, file_id))

        body = await self.read_as_caller(
            credential, state, uploading=True, never_waits=self.state_inline
        )
        return JsonResponse(body)

    async def refresh_urls(self, request: Request) -> Response:
        principal = await self.principal(request, uploading=True)
        numbers = schemas.parse_refresh(await schemas.read_json(request, optional=True))
        refreshed = await run_in_threadpool(
            self.core.refresh_urls,
            principal,
            request.path_params["file_id"],
            numbers,
            self.links(request.scope),
        )
        return JsonResponse(schemas.refreshed_json(refreshed))

    async def complete(self, request: Request) -> Response:
        principal = await self.principal(request, uploading=True)
        refs = schemas.parse_complete(await schemas.read_json(request))
        upload = await run_in_threadpool(
            self.core.complete, principal, request.path_params["file_id"], refs
        )
        return JsonResponse(self.file_json(upload, self.links(request.scope)))

    async def abort(self, request: Request) -> Response:
        principal = await self.principal(request, uploading=True)
        await run_in_threadpool(self.core.abort, principal, request.path_params["file_id"])
        return Response(status_code=204)
