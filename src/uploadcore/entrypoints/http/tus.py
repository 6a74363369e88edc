"""`/v1/tus/`: the tus 1.0.0 resumable upload protocol over the same upload records.

Creation, creation-with-upload, creation-defer-length, expiration, checksum,
termination and concatenation. Every answer carries `Tus-Resumable`, errors
included; `X-HTTP-Method-Override` turns a POST into the method it names.
The use cases are the appending ones (`services/append*.py`): an upload made
here is an ordinary upload, listed, downloaded, deleted and collected like any.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, request_response
from starlette.types import Receive, Scope, Send

from uploadcore.domain import errors as e
from uploadcore.domain.append import Appending, Concat
from uploadcore.domain.upload import Principal, Upload, UploadStatus
from uploadcore.entrypoints.http import tus_headers as th
from uploadcore.entrypoints.http.common import Resource, SlashRoute, credential_of
from uploadcore.entrypoints.http.problems import problem, status_of
from uploadcore.services.append_start import NewAppend

Endpoint = Callable[[Request], Awaitable[Response]]


class Tus(Resource):
    def routes(self) -> list[BaseRoute]:
        appends = self.core.appends
        if appends is None:
            return []  # the store takes no appends (an embedder's own, or a bare S3BlobStore)
        self.appends = appends
        creation = {"OPTIONS": self.options, "POST": self.create}
        upload = {
            "OPTIONS": self.options,
            "HEAD": self.head,
            "PATCH": self.patch,
            "DELETE": self.terminate,
        }
        # Every method reaches the tus frame, so a wrong one is a tus answer too (405).
        return [
            SlashRoute(th.TUS_PATH, _AnyMethod(creation, self.dispatch(creation)), name="tus"),
            SlashRoute(
                th.TUS_PATH + "{file_id}",
                _AnyMethod([*upload, "POST"], self.dispatch(upload)),
                name="tus_upload",
            ),
        ]

    def dispatch(self, endpoints: Mapping[str, Endpoint]) -> Endpoint:
        """The tus frame around each endpoint: method override, version, errors, headers."""

        async def endpoint(request: Request) -> Response:
            method = request.method
            if method == "POST" and "x-http-method-override" in request.headers:
                method = request.headers["x-http-method-override"].strip().upper()
            handler = endpoints.get(method)
            response: Response
            if handler is None:
                detail = f"{method[:20]} is not a tus method here"
                response = problem(405, "method_not_allowed", "Method not allowed", detail)
                response.headers["Allow"] = ", ".join(endpoints)
            elif method != "OPTIONS" and request.headers.get("tus-resumable") != th.TUS_VERSION:
                response = _problem(e.InvalidInput("send Tus-Resumable: 1.0.0"), 412)
                response.headers["Tus-Version"] = th.TUS_VERSION
            else:
                try:
                    response = await handler(request)
                except e.UploadcoreError as error:
                    response = _problem(error)
            response.headers["Tus-Resumable"] = th.TUS_VERSION
            return response

        return endpoint

    async def options(self, request: Request) -> Response:
        return Response(
            status_code=204,
            headers={
                "Tus-Version": th.TUS_VERSION,
                "Tus-Extension": th.EXTENSIONS,
                "Tus-Max-Size": str(self.core.policy.limits.max_file_size),
                "Tus-Checksum-Algorithm": th.CHECKSUM_ALGORITHMS,
            },
        )

    async def create(self, request: Request) -> Response:
        principal = await self.principal(request, uploading=True)
        headers = request.headers
        raw_meta = headers.get("upload-metadata", "")
        name, content_type = th.file_name_and_type(th.metadata(raw_meta))
        concat = headers.get("upload-concat", "").strip()
        if concat.startswith("final;"):
            upload, appending = await run_in_threadpool(
                self.appends.concatenate,
                principal,
                th.final_parts(concat),
                name,
                content_type,
                raw_meta,
            )
            return self._created(request, upload, appending)
        length = th.number(headers, "upload-length")
        deferred = headers.get("upload-defer-length")
        if (length is None) == (deferred is None) or deferred not in (None, "1"):
            raise e.InvalidInput("send Upload-Length, or Upload-Defer-Length: 1 (not both)")
        if concat not in ("", "partial"):
            raise e.InvalidInput("Upload-Concat is `partial` or `final;<urls>`")
        new = NewAppend(name, content_type, length, raw_meta, Concat(concat))
        upload, appending = await run_in_threadpool(self.appends.start, principal, new)
        if headers.get("content-type", "").startswith(th.OFFSET_CONTENT_TYPE):
            upload, appending = await self._append(request, principal, upload.id, 0)
        return self._created(request, upload, appending)

    def _created(self, request: Request, upload: Upload, appending: Appending) -> Response:
        response = Response(status_code=201, headers=self._where(upload, appending))
        response.headers["Location"] = self.location(request, upload.id)
        return response

    async def head(self, request: Request) -> Response:
        credential = credential_of(request.headers)
        file_id = request.path_params["file_id"]

        def state(principal: Principal) -> tuple[Upload, Appending]:  # two point reads
            return self.appends.state(principal, file_id)

        upload, appending = await self.read_as_caller(credential, state, uploading=True)
        headers = self._where(upload, appending)
        headers["Cache-Control"] = "no-store"
        if appending.length is None:
            headers["Upload-Defer-Length"] = "1"
        else:
            headers["Upload-Length"] = str(appending.length)
        if appending.metadata:
            headers["Upload-Metadata"] = appending.metadata
        if appending.concat is Concat.PARTIAL:
            headers["Upload-Concat"] = "partial"
        elif appending.concat is Concat.FINAL:
            urls = " ".join(self.location(request, i) for i in appending.partials)
            headers["Upload-Concat"] = f"final;{urls}"
        return Response(status_code=200, headers=headers)

    async def patch(self, request: Request) -> Response:
        principal = await self.principal(request, uploading=True)
        if not request.headers.get("content-type", "").startswith(th.OFFSET_CONTENT_TYPE):
            return _problem(e.InvalidInput(f"a PATCH body is {th.OFFSET_CONTENT_TYPE}"), 415)
        offset = th.number(request.headers, "upload-offset")
        if offset is None:
            raise e.InvalidInput("send Upload-Offset")
        file_id = request.path_params["file_id"]
        upload, appending = await self._append(request, principal, file_id, offset)
        return Response(status_code=204, headers=self._where(upload, appending))

    async def _append(
        self, request: Request, principal: Principal, file_id: str, offset: int
    ) -> tuple[Upload, Appending]:
        return await self.appends.append(
            principal,
            file_id,
            offset,
            request.stream(),
            content_length=th.number(request.headers, "content-length"),
            length=th.number(request.headers, "upload-length"),
            expected=th.checksum(request.headers.get("upload-checksum")),
        )

    async def terminate(self, request: Request) -> Response:
        principal = await self.principal(request, uploading=True)
        file_id = request.path_params["file_id"]
        upload, _ = await run_in_threadpool(self.appends.state, principal, file_id)
        if upload.status is UploadStatus.COMPLETED:
            await run_in_threadpool(self.core.delete_file, principal, file_id)
        else:
            await run_in_threadpool(self.core.abort, principal, file_id)
        return Response(status_code=204)

    def _where(self, upload: Upload, appending: Appending) -> dict[str, str]:
        headers = {"Upload-Offset": str(appending.offset)}
        if upload.status is UploadStatus.UPLOADING:
            headers["Upload-Expires"] = th.http_date(upload.expires_at)
        return headers

    def location(self, request: Request, file_id: str) -> str:
        return f"{self.base_url(request.scope)}{th.TUS_PATH}{file_id}"


class _AnyMethod:
    """An endpoint as an ASGI app, so its route takes every method (Starlette's 405 has no
    Tus-Resumable); the endpoint answers a method it does not serve itself."""

    def __init__(self, methods: Iterable[str], endpoint: Endpoint) -> None:
        self.methods = frozenset(methods)  # the ones it serves (for the OpenAPI document)
        self.app = request_response(endpoint)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def _problem(error: e.UploadcoreError, status: int | None = None) -> Response:
    if status is None:
        status = 460 if isinstance(error, e.ChecksumMismatch) else status_of(error)
    return problem(status, error.code, error.title, error.detail[:1000])


__all__ = ["Tus"]
