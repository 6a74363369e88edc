"""`/v1/files/`: the listing, and one file's details, metadata changes and deletion."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import Receive, Scope, Send

from uploadcore.bootstrap import Uploadcore
from uploadcore.domain.upload import Principal
from uploadcore.entrypoints.http import file_schemas, schemas
from uploadcore.entrypoints.http.common import Resource, SlashRoute, credential_of
from uploadcore.entrypoints.http.observe import USER
from uploadcore.entrypoints.http.responses import JsonResponse


class Files(Resource):
    def __init__(self, core: Uploadcore) -> None:
        super().__init__(core)
        # Never a store's presigned URL on the event loop: its signer may fetch credentials.
        self.details_inline = self.reads_inline and core.urls.presigner is None

    def routes(self) -> list[BaseRoute]:
        return [
            # The hottest read first: Starlette tries routes in order.
            _FileRoute(
                "/v1/files/{file_id}/", _Asgi(self.file), methods=["GET", "PATCH", "DELETE"]
            ),
            SlashRoute("/v1/files/", self.list_files, methods=["GET"]),
        ]

    async def list_files(self, request: Request) -> Response:
        principal = await self.principal(request)
        query = file_schemas.parse_list_query(request.query_params)
        links = self.links(request.scope)

        def page_json() -> dict[str, Any]:  # signing a url per file: off the event loop
            page = self.core.list_files(principal, query)
            results = [self.file_json(u, links) for u in page.files]
            return {
                "results": results,
                "next": file_schemas.next_url(links.base, query, page.next_cursor),
            }

        return JsonResponse(await run_in_threadpool(page_json))

    async def file(self, scope: Scope, receive: Receive, send: Send) -> None:
        """`/v1/files/{id}/`, a plain ASGI endpoint: its GET is the API's hottest read.

        GET (and HEAD) answer from the scope alone, without the Request object
        and exception wrapper Starlette gives each function endpoint (about 3 µs
        of some 30); errors reach the app's exception handlers all the same.
        """
        if scope["method"] in ("GET", "HEAD"):
            response = await self.details(scope)
        else:
            request = Request(scope, receive)
            edit = self.update if scope["method"] == "PATCH" else self.delete
            response = await edit(request)
        await response(scope, receive, send)

    async def details(self, scope: Scope) -> Response:
        credential = credential_of(Headers(scope=scope))
        file_id = scope["path_params"]["file_id"]
        links = self.links(scope)

        def details(principal: Principal) -> dict[str, Any]:  # a point read, an HMAC, a dict
            scope[USER] = principal.name  # for the request's log line
            return self.file_json(self.core.get_file(principal, file_id), links)

        body = await self.read_as_caller(credential, details, never_waits=self.details_inline)
        return JsonResponse(body)

    async def update(self, request: Request) -> Response:
        principal = await self.principal(request)
        update = file_schemas.parse_metadata_update(await schemas.read_json(request))
        upload = await run_in_threadpool(
            self.core.update_file, principal, request.path_params["file_id"], update
        )
        return JsonResponse(self.file_json(upload, self.links(request.scope)))

    async def delete(self, request: Request) -> Response:
        principal = await self.principal(request)
        await run_in_threadpool(self.core.delete_file, principal, request.path_params["file_id"])
        return Response(status_code=204)


class _Asgi:
    """An ASGI endpoint for a Route, which calls it as it is (functions and methods it
    would wrap in a Request and a per-route exception handler)."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


class _FileRoute(SlashRoute):
    """`/v1/files/{file_id}/`, leaving `/v1/files/uploads/` to its own route.

    Without this, a GET of `/v1/files/uploads/` would be a file named `uploads`
    (401 or 404) rather than the 405 that lists the methods it has.
    """

    RESERVED = frozenset({"uploads", "presigned-uploads"})

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if child.get("path_params", {}).get("file_id") in self.RESERVED:
            return Match.NONE, {}
        return match, child
