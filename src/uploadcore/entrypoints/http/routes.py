"""The endpoints: thin translations between HTTP and the upload service."""

from __future__ import annotations

import os
import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Receive, Scope, Send

from uploadcore.bootstrap import Uploadcore
from uploadcore.domain.errors import (
    InvalidInput,
    NotAuthenticated,
    UploadcoreError,
    UploadNotFound,
)
from uploadcore.domain.metadata import content_disposition, header_content_type
from uploadcore.domain.upload import Principal, Upload
from uploadcore.entrypoints.http import download, file_schemas, openapi, schemas
from uploadcore.entrypoints.http.responses import JsonResponse
from uploadcore.ports.blobs import PresignsUrls, ServesFiles
from uploadcore.services.files import FileService
from uploadcore.services.uploads import DOWNLOAD_PATH, PART_PATH


class Api:
    def __init__(self, core: Uploadcore) -> None:
        self.core = core
        self.service = core.service
        self.files = FileService(core.service)
        self._paths: frozenset[str] = frozenset()
        # Reads that never wait (SQLite, WAL) run on the event loop: two of them take
        # some 20 µs, a trip to a worker thread and back several times that under load.
        # Never a store's presigned URL there: its signer may fetch credentials.
        self._reads_inline = not core.reads_block
        self._details_inline = self._reads_inline and not isinstance(
            core.service.blobs, PresignsUrls
        )

    def routes(self) -> list[BaseRoute]:
        routes = self._api_routes()
        self._paths = frozenset(r.path for r in routes if isinstance(r, Route))
        return [*routes, Route("/openapi.json", self.openapi, methods=["GET"])]

    def _api_routes(self) -> list[BaseRoute]:
        routes: list[BaseRoute] = [
            # The hottest read first: Starlette tries routes in order.
            *_both("/v1/files/{file_id}/", _Asgi(self.file), _FILE_METHODS, _FileRoute),
            *_both("/v1/files/uploads/", self.initiate, ["POST"]),
            *_both(
                "/v1/files/uploads/{file_id}/",
                _by_method(GET=self.upload_state, DELETE=self.abort),
                ["GET", "DELETE"],
            ),
            *_both("/v1/files/uploads/{file_id}/complete/", self.complete, ["POST"]),
            *_both("/v1/files/uploads/{file_id}/presigned-urls/", self.refresh_urls, ["POST"]),
            *_both("/v1/files/", self.list_files, ["GET"]),
            *_both("/healthz/", self.healthz, ["GET"]),
        ]
        if self.service.receives_parts:
            path = PART_PATH.format(file_id="{file_id}", part_number="{part_number}")
            routes += _both(path, self.upload_part, ["PUT"])
        if isinstance(self.service.blobs, ServesFiles):
            routes += _both(
                DOWNLOAD_PATH.format(file_id="{file_id}"), self.download, ["GET", "HEAD"]
            )
        return routes

    # -- helpers ----------------------------------------------------------

    async def principal(self, request: Request) -> Principal:
        if self._reads_inline:
            return self.authenticate(_credential(request.headers))
        return await run_in_threadpool(self.authenticate, _credential(request.headers))

    def authenticate(self, credential: str) -> Principal:
        """The caller (blocking: a database lookup); NotAuthenticated for an unknown key."""
        principal = self.core.authenticator.authenticate(credential)
        if principal is None:
            raise NotAuthenticated("the API key is not valid")
        return principal

    def base_url(self, scope: Scope) -> str:
        return self.core.settings.base_url or str(Request(scope).base_url).rstrip("/")

    def file_json(self, upload: Upload, base_url: str) -> dict[str, Any]:
        """The file's representation, with a `url` signed now."""
        return schemas.file_json(upload, self.service.file_url(upload, base_url))

    # -- endpoints --------------------------------------------------------

    async def initiate(self, request: Request) -> Response:
        principal = await self.principal(request)
        data = await schemas.read_json(request)
        new = schemas.parse_initiate(data, self.service.policy.limits.max_file_size)
        initiated = await run_in_threadpool(
            self.service.initiate, principal, new, self.base_url(request.scope)
        )
        return JsonResponse(schemas.initiated_json(initiated), status_code=201)

    async def upload_state(self, request: Request) -> Response:
        principal = await self.principal(request)
        state = await run_in_threadpool(
            self.service.state, principal, request.path_params["file_id"]
        )
        return JsonResponse(schemas.state_json(state))

    async def refresh_urls(self, request: Request) -> Response:
        principal = await self.principal(request)
        numbers = schemas.parse_refresh(await schemas.read_json(request, optional=True))
        refreshed = await run_in_threadpool(
            self.service.refresh_urls,
            principal,
            request.path_params["file_id"],
            numbers,
            self.base_url(request.scope),
        )
        return JsonResponse(schemas.refreshed_json(refreshed))

    async def upload_part(self, request: Request) -> Response:
        part = await self.service.receive_part(
            request.path_params["file_id"],
            _part_number(request.path_params["part_number"]),
            request.query_params.get("token"),
            request.stream(),
            content_length=_content_length(request),
            content_md5=request.headers.get("content-md5"),
        )
        headers = {"ETag": f'"{part.etag}"', "Access-Control-Expose-Headers": "ETag"}
        return JsonResponse({"part_number": part.part_number, "etag": part.etag}, headers=headers)

    async def complete(self, request: Request) -> Response:
        principal = await self.principal(request)
        refs = schemas.parse_complete(await schemas.read_json(request))
        upload = await run_in_threadpool(
            self.service.complete, principal, request.path_params["file_id"], refs
        )
        return JsonResponse(self.file_json(upload, self.base_url(request.scope)))

    async def abort(self, request: Request) -> Response:
        principal = await self.principal(request)
        await run_in_threadpool(self.service.abort, principal, request.path_params["file_id"])
        return Response(status_code=204)

    async def download(self, request: Request) -> Response:
        upload = await run_in_threadpool(
            self.service.check_download,
            request.path_params["file_id"],
            request.query_params.get("token"),
        )
        blobs = self.service.blobs
        if not isinstance(blobs, ServesFiles):  # pragma: no cover - the route needs it
            raise UploadcoreError("this store does not serve files")
        fd, stored = await run_in_threadpool(_open_stored, blobs.file_path(upload), upload)
        extra = {
            "Content-Type": header_content_type(upload.file_content_type),
            "Content-Disposition": content_disposition(upload.file_name),
            "X-Content-Type-Options": "nosniff",
        }
        return download.respond(fd, stored, request.method, request.headers, extra)

    async def healthz(self, request: Request) -> Response:
        await run_in_threadpool(self.core.health)
        return JsonResponse({"status": "ok"})

    async def openapi(self, request: Request) -> Response:
        return JsonResponse(openapi.document(self._paths, self.base_url(request.scope)))

    # -- files ------------------------------------------------------------

    async def list_files(self, request: Request) -> Response:
        principal = await self.principal(request)
        query = file_schemas.parse_list_query(request.query_params)
        base = self.base_url(request.scope)

        def page_json() -> dict[str, Any]:  # signing a url per file: off the event loop
            page = self.files.list_files(principal, query)
            results = [self.file_json(u, base) for u in page.files]
            return {
                "results": results,
                "next": file_schemas.next_url(base, query, page.next_cursor),
            }

        return JsonResponse(await run_in_threadpool(page_json))

    async def file(self, scope: Scope, receive: Receive, send: Send) -> None:
        """`/v1/files/{id}/`, a plain ASGI endpoint: its GET is the API's hottest read.

        GET (and HEAD) answer from the scope alone, without the Request object
        and exception wrapper Starlette gives each function endpoint (about 3 µs
        of some 30); errors reach the app's exception handlers all the same.
        """
        if scope["method"] in ("GET", "HEAD"):
            response = await self.file_details(scope)
        else:
            request = Request(scope, receive)
            edit = self.update_file if scope["method"] == "PATCH" else self.delete_file
            response = await edit(request)
        await response(scope, receive, send)

    async def file_details(self, scope: Scope) -> Response:
        credential = _credential(Headers(scope=scope))
        file_id = scope["path_params"]["file_id"]
        base = self.base_url(scope)

        def details() -> dict[str, Any]:  # two point reads, an HMAC and a dict
            upload = self.files.get_file(self.authenticate(credential), file_id)
            return self.file_json(upload, base)

        if self._details_inline:
            return JsonResponse(details())
        return JsonResponse(await run_in_threadpool(details))  # one trip to a thread for all

    async def update_file(self, request: Request) -> Response:
        principal = await self.principal(request)
        update = file_schemas.parse_metadata_update(await schemas.read_json(request))
        upload = await run_in_threadpool(
            self.files.update_metadata, principal, request.path_params["file_id"], update
        )
        return JsonResponse(self.file_json(upload, self.base_url(request.scope)))

    async def delete_file(self, request: Request) -> Response:
        principal = await self.principal(request)
        await run_in_threadpool(self.files.delete_file, principal, request.path_params["file_id"])
        return Response(status_code=204)


def _both(path: str, endpoint: Any, methods: list[str], route: type[Route] = Route) -> list[Route]:
    """Every path answers with and without its trailing slash, without a redirect."""
    bare = path.rstrip("/")
    return [route(path, endpoint, methods=methods), route(bare, endpoint, methods=methods)]


_FILE_METHODS = ["GET", "PATCH", "DELETE"]


class _Asgi:
    """An ASGI endpoint for a Route, which calls it as it is (functions and methods it
    would wrap in a Request and a per-route exception handler)."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


class _FileRoute(Route):
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


def _by_method(**endpoints: Callable[[Request], Awaitable[Response]]) -> Any:
    """One route for a path with several methods, so a 405's `Allow` lists all of them."""

    async def endpoint(request: Request) -> Response:
        return await endpoints["GET" if request.method == "HEAD" else request.method](request)

    return endpoint


def _credential(headers: Headers) -> str:
    scheme, _, credential = headers.get("authorization", "").partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential:
        raise NotAuthenticated("send an API key as `Authorization: Bearer <key>`")
    return credential


def _open_stored(path: str, upload: Upload) -> tuple[int, download.Stored]:
    """Open the file before answering, so a file deleted meanwhile is a 404, not a 500."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise UploadNotFound(f"file {upload.id} is no longer stored") from None
    stat = os.fstat(fd)
    etag = f'"{upload.etag}"' if upload.etag else f'"{stat.st_size:x}-{stat.st_mtime_ns:x}"'
    return fd, download.Stored(stat.st_size, stat.st_mtime, etag)


# ASCII digits only: str.isdigit() also accepts "²" (int() refuses it) and Arabic-Indic
# digits (int() reads them).
_DIGITS = re.compile(r"[0-9]+")


def _part_number(raw: str) -> int:
    if not _DIGITS.fullmatch(raw) or len(raw) > 9:
        raise InvalidInput(f"part number {raw[:20]!r} is not a positive integer")
    return int(raw)


def _content_length(request: Request) -> int | None:
    raw = request.headers.get("content-length")
    if raw is None:
        return None
    if not _DIGITS.fullmatch(raw):
        raise InvalidInput("Content-Length must be a non-negative integer")
    return int(raw)
