"""`/v1/uppy[/<token>]/s3/...`: Companion's S3 routes, for Uppy's AwsS3 plugin, unmodified.

Uppy 6 sends no `Authorization` header to Companion, so the browser's
credential is an upload token in the endpoint's path (`/v1/uppy/<token>`);
the same routes answer at `/v1/uppy` with `Authorization: Bearer` (a token
or an API key). They run the ordinary use cases: an upload made here is an
ordinary uploadcore upload, whose length is settled at completion
(multipart) or by the one form that carries it (`/s3/params`).

Uppy reads no error body and retries nothing but part PUTs, so status codes
carry the meaning (401 a bad, expired or revoked token; 403 a limit; 413 too
large), and the app's CORS middleware puts its headers on every answer,
errors included. A `key` names its upload: the last segment of every key is
the file id (both stores derive keys from ids), and a key or upload id that
is not the upload's stored one is 404.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from uploadcore.bootstrap import Uppy
from uploadcore.domain.append import Fill
from uploadcore.domain.errors import InvalidInput, NotAuthenticated, UploadNotFound
from uploadcore.domain.parts import PartRef
from uploadcore.domain.upload import Principal, Upload
from uploadcore.entrypoints.http import schemas
from uploadcore.entrypoints.http.common import Resource, SlashRoute, credential_of
from uploadcore.entrypoints.http.form_stream import form_file
from uploadcore.entrypoints.http.responses import JsonResponse
from uploadcore.entrypoints.http.uppy_models import UppyComplete, UppyCreate
from uploadcore.entrypoints.http.validation import decode
from uploadcore.entrypoints.links import FORM_UPLOAD_PATH
from uploadcore.services.upload_tokens import TOKEN_PREFIX

#: Where the routes are: the token in the path, or in `Authorization: Bearer`.
PREFIXES = ("/v1/uppy/{uppy_token}/s3", "/v1/uppy/s3")
MAX_BATCH = 1000


class UppyRoutes(Resource):
    def routes(self) -> list[BaseRoute]:
        uppy = self.core.uppy
        if uppy is None:
            return []  # the repository keeps no state for uploads of open length
        self.uppy: Uppy = uppy
        routes: list[BaseRoute] = []
        for prefix in reversed(PREFIXES):  # the Bearer paths first: "s3" is no token
            routes += [
                Route(f"{prefix}/params", self.params, methods=["GET"]),
                Route(f"{prefix}/multipart", self.create, methods=["POST"]),
                Route(f"{prefix}/multipart/{{upload_id}}/batch", self.batch, methods=["GET"]),
                Route(
                    f"{prefix}/multipart/{{upload_id}}/complete",
                    self.complete,
                    methods=["POST"],
                    name="uppy_complete",
                ),
                Route(
                    f"{prefix}/multipart/{{upload_id}}/{{part_number}}", self.sign, methods=["GET"]
                ),
                Route(
                    f"{prefix}/multipart/{{upload_id}}",
                    self.parts_or_abort,
                    methods=["GET", "DELETE"],
                ),
            ]
        if uppy.receive_form is not None:
            routes.append(
                SlashRoute(FORM_UPLOAD_PATH, self.receive_form, methods=["POST"], name="uppy_form")
            )
        return routes

    # -- who is asking ----------------------------------------------------------

    def credential(self, request: Request) -> str:
        """The token in the path, else the `Authorization: Bearer` credential."""
        token = request.path_params.get("uppy_token")
        if token is None:
            return credential_of(request.headers)
        if not token.startswith(TOKEN_PREFIX):
            raise NotAuthenticated("the endpoint's path carries an upload token, never an API key")
        return str(token)

    async def caller(self, request: Request) -> Principal:
        """Who `credential` names (401 otherwise)."""
        return await self.read_as_caller(self.credential(request), _itself, uploading=True)

    async def upload_of(self, request: Request, principal: Principal) -> Upload:
        """The caller's upload named by `uploadId` and `?key=`; 404 unless both are its own."""
        return await run_in_threadpool(self.owned, request, principal)

    def owned(self, request: Request, principal: Principal) -> Upload:
        """`upload_of`, blocking: one point read."""
        key = request.query_params.get("key", "")
        upload_id = request.path_params["upload_id"]
        file_id = key.rsplit("/", 1)[-1]
        if not file_id:
            raise UploadNotFound("no upload with this key")
        upload = self.core.get_file(principal, file_id)
        if upload.storage_key != key or upload.upload_id != upload_id:
            raise UploadNotFound("no upload with this key and upload id")
        return upload

    # -- single-request uploads ---------------------------------------------------

    async def params(self, request: Request) -> Response:
        principal = await self.caller(request)
        query = request.query_params
        name = query.get("filename") or query.get("metadata[name]") or ""
        content_type = query.get("type") or query.get("metadata[type]") or _OCTETS
        upload, form = await run_in_threadpool(
            self.uppy.start_form, principal, name, content_type, self.links(request.scope)
        )
        if self.uppy.watch is not None:
            self.uppy.watch.watch(upload)
        body = {
            "method": "POST",
            "url": form.url,
            "fields": dict(form.fields),
            "expires": self.core.policy.url_expires_in_seconds,
        }
        return JsonResponse(body)

    async def receive_form(self, request: Request) -> Response:
        receive = self.uppy.receive_form
        assert receive is not None  # the route is mounted only with it
        file = form_file(request.headers.get("content-type"), request.stream())
        upload = await receive(
            request.path_params["file_id"], request.query_params.get("token"), file
        )
        links = self.links(request.scope)
        body = {
            "location": self.core.file_url(upload, links),
            "key": upload.storage_key,
            "file": self.file_json(upload, links),
        }
        return JsonResponse(body, status_code=201, headers={"ETag": f'"{upload.etag}"'})

    # -- multipart, its length settled at completion ------------------------------

    async def create(self, request: Request) -> Response:
        principal = await self.caller(request)
        asked = decode(UppyCreate, await schemas.read_json(request))
        content_type = asked.type or str(asked.metadata.get("type") or "") or _OCTETS
        upload = await run_in_threadpool(
            self.uppy.start.open, principal, asked.filename, content_type, Fill.PARTS
        )
        return JsonResponse({"key": upload.storage_key, "uploadId": upload.upload_id})

    async def sign(self, request: Request) -> Response:
        principal = await self.caller(request)
        number = _part_number(request.path_params["part_number"])
        upload = await self.upload_of(request, principal)
        refreshed = await run_in_threadpool(
            self.core.refresh_urls, principal, upload.id, [number], self.links(request.scope)
        )
        return JsonResponse(
            {"url": refreshed.presigned_urls[0].url, "expires": refreshed.expires_in}
        )

    async def batch(self, request: Request) -> Response:
        principal = await self.caller(request)
        raw = request.query_params.get("partNumbers", "")
        numbers = [_part_number(n) for n in raw.split(",") if n.strip()]
        if not 1 <= len(numbers) <= MAX_BATCH:
            raise InvalidInput(f"name 1 to {MAX_BATCH} part numbers in `partNumbers`")
        upload = await self.upload_of(request, principal)
        refreshed = await run_in_threadpool(
            self.core.refresh_urls, principal, upload.id, numbers, self.links(request.scope)
        )
        urls = {str(u.part_number): u.url for u in refreshed.presigned_urls}
        return JsonResponse({"presignedUrls": urls})

    async def parts_or_abort(self, request: Request) -> Response:
        if request.method == "GET":
            return JsonResponse(await self.list_parts(request))
        principal = await self.caller(request)
        upload = await self.upload_of(request, principal)
        await run_in_threadpool(self.core.abort, principal, upload.id)
        return JsonResponse({})

    async def list_parts(self, request: Request) -> list[dict[str, Any]]:
        """Uppy's `listParts` (every resume asks it): the upload state's read, in one go."""

        def listed(principal: Principal) -> list[dict[str, Any]]:  # point reads and a list
            state = self.core.upload_state(principal, self.owned(request, principal).id)
            return [
                {"PartNumber": p.part_number, "ETag": p.etag, "Size": p.size} for p in state.parts
            ]

        return await self.read_as_caller(
            self.credential(request), listed, uploading=True, never_waits=self.state_inline
        )

    async def complete(self, request: Request) -> Response:
        principal = await self.caller(request)
        asked = decode(UppyComplete, await schemas.read_json(request))
        upload = await self.upload_of(request, principal)
        refs = [PartRef(p.PartNumber, p.ETag) for p in asked.parts]
        upload = await run_in_threadpool(self.core.complete, principal, upload.id, refs)
        links = self.links(request.scope)
        file: dict[str, Any] = self.file_json(upload, links)
        return JsonResponse({"location": file["url"], "key": upload.storage_key, "file": file})


_OCTETS = "application/octet-stream"


def _part_number(raw: str) -> int:
    raw = raw.strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9 or int(raw) < 1:
        raise InvalidInput(f"part number {raw[:20]!r} is not a positive integer")
    return int(raw)


def _itself(principal: Principal) -> Principal:
    return principal


__all__ = ["PREFIXES", "UppyRoutes"]
