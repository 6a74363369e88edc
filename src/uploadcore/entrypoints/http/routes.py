"""The endpoints: thin translations between HTTP and the upload service."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from uploadcore.bootstrap import Uploadcore
from uploadcore.domain.errors import InvalidInput, NotAuthenticated, UploadcoreError
from uploadcore.domain.upload import Principal
from uploadcore.entrypoints.http import schemas
from uploadcore.ports.blobs import ServesFiles
from uploadcore.services.uploads import DOWNLOAD_PATH, PART_PATH


class Api:
    def __init__(self, core: Uploadcore) -> None:
        self.core = core
        self.service = core.service

    def routes(self) -> list[BaseRoute]:
        routes: list[BaseRoute] = [
            *_both("/v1/files/uploads/", self.initiate, ["POST"]),
            *_both(
                "/v1/files/uploads/{file_id}/",
                _by_method(GET=self.upload_state, DELETE=self.abort),
                ["GET", "DELETE"],
            ),
            *_both("/v1/files/uploads/{file_id}/complete/", self.complete, ["POST"]),
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
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise NotAuthenticated("send an API key as `Authorization: Bearer <key>`")
        principal = await run_in_threadpool(self.core.authenticator.authenticate, credential)
        if principal is None:
            raise NotAuthenticated("the API key is not valid")
        return principal

    def base_url(self, request: Request) -> str:
        return self.core.settings.base_url or str(request.base_url).rstrip("/")

    async def file_json(self, request: Request, upload: Any) -> dict[str, Any]:
        return schemas.file_json(upload, self.service.file_url(upload, self.base_url(request)))

    # -- endpoints --------------------------------------------------------

    async def initiate(self, request: Request) -> Response:
        principal = await self.principal(request)
        data = await schemas.read_json(request)
        new = schemas.parse_initiate(data, self.service.policy.limits.max_file_size)
        initiated = await run_in_threadpool(
            self.service.initiate, principal, new, self.base_url(request)
        )
        return JSONResponse(schemas.initiated_json(initiated), status_code=201)

    async def upload_state(self, request: Request) -> Response:
        principal = await self.principal(request)
        state = await run_in_threadpool(
            self.service.state, principal, request.path_params["file_id"]
        )
        return JSONResponse(schemas.state_json(state))

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
        return JSONResponse({"part_number": part.part_number, "etag": part.etag}, headers=headers)

    async def complete(self, request: Request) -> Response:
        principal = await self.principal(request)
        refs = schemas.parse_complete(await schemas.read_json(request))
        upload = await run_in_threadpool(
            self.service.complete, principal, request.path_params["file_id"], refs
        )
        return JSONResponse(await self.file_json(request, upload))

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
        return FileResponse(
            blobs.file_path(upload),
            media_type=upload.file_content_type,
            headers={"Content-Disposition": _content_disposition(upload.file_name)},
        )

    async def healthz(self, request: Request) -> Response:
        await run_in_threadpool(self.core.health)
        return JSONResponse({"status": "ok"})


def _both(path: str, endpoint: Any, methods: list[str]) -> list[Route]:
    """Every path answers with and without its trailing slash, without a redirect."""
    bare = path.rstrip("/")
    return [Route(path, endpoint, methods=methods), Route(bare, endpoint, methods=methods)]


def _by_method(**endpoints: Callable[[Request], Awaitable[Response]]) -> Any:
    """One route for a path with several methods, so a 405's `Allow` lists all of them."""

    async def endpoint(request: Request) -> Response:
        return await endpoints["GET" if request.method == "HEAD" else request.method](request)

    return endpoint


def _content_disposition(name: str) -> str:
    """RFC 6266: a plain-ASCII `filename` every client reads, plus `filename*` for the rest.

    The fallback drops what some clients mangle inside a quoted string (`"`, `\\`, `%`).
    """
    fallback = "".join(c if " " <= c <= "~" and c not in '"\\%' else "_" for c in name)
    header = f'attachment; filename="{fallback}"'
    if fallback != name:
        header += f"; filename*=UTF-8''{quote(name, safe='')}"
    return header


def _part_number(raw: str) -> int:
    if not raw.isdigit() or len(raw) > 9:
        raise InvalidInput(f"part number {raw[:20]!r} is not a positive integer")
    return int(raw)


def _content_length(request: Request) -> int | None:
    raw = request.headers.get("content-length")
    if raw is None:
        return None
    if not raw.isdigit():
        raise InvalidInput("Content-Length must be a non-negative integer")
    return int(raw)
