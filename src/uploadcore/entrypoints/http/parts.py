"""`PUT /v1/files/presigned-uploads/{id}/upload-part/{n}/?token=…`: one part (local storage)."""

from __future__ import annotations

import base64
import binascii

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from uploadcore.domain.digest import Digest
from uploadcore.domain.errors import BadDigest, InvalidInput
from uploadcore.entrypoints.http.common import DIGITS, Resource, SlashRoute, content_length
from uploadcore.entrypoints.http.responses import JsonResponse
from uploadcore.entrypoints.links import PART_UPLOAD_PATH
from uploadcore.services.receive_part import ReceivePart


class Parts(Resource):
    def routes(self) -> list[BaseRoute]:
        receive = self.core.receive_part
        if receive is None:
            return []  # parts go straight to storage, through its own URLs

        async def endpoint(request: Request) -> Response:
            return await self.upload_part(receive, request)

        return [SlashRoute(PART_UPLOAD_PATH, endpoint, methods=["PUT"], name="upload_part")]

    async def upload_part(self, receive: ReceivePart, request: Request) -> Response:
        part = await receive(
            request.path_params["file_id"],
            part_number(request.path_params["part_number"]),
            request.query_params.get("token"),
            request.stream(),
            content_length=content_length(request.headers),
            expected=content_md5(request.headers.get("content-md5")),
        )
        headers = {"ETag": f'"{part.etag}"', "Access-Control-Expose-Headers": "ETag"}
        return JsonResponse({"part_number": part.part_number, "etag": part.etag}, headers=headers)


def part_number(raw: str) -> int:
    if not DIGITS.fullmatch(raw) or len(raw) > 9:
        raise InvalidInput(f"part number {raw[:20]!r} is not a positive integer")
    return int(raw)


def content_md5(header: str | None) -> Digest | None:
    """The digest a `Content-MD5` header carries (the base64 of 16 bytes), if there is one."""
    if header is None:
        return None
    try:
        value = base64.b64decode(header, validate=True)
    except (binascii.Error, ValueError):
        value = b""
    if len(value) != 16:
        raise BadDigest("Content-MD5 must be the base64 of a 16-byte MD5 digest")
    return Digest("md5", value)
