"""`/v1/upload-tokens/`: mint a browser upload token with an API key, and revoke it."""

from __future__ import annotations

from datetime import timedelta

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from uploadcore.domain.grants import UploadLimits
from uploadcore.entrypoints.http import schemas
from uploadcore.entrypoints.http.common import Resource, SlashRoute
from uploadcore.entrypoints.http.responses import JsonResponse
from uploadcore.entrypoints.http.token_models import UploadTokenMinted, UploadTokenRequest
from uploadcore.entrypoints.http.validation import decode
from uploadcore.services.upload_tokens import MintUploadToken, RevokeUploadToken


class UploadTokens(Resource):
    def routes(self) -> list[BaseRoute]:
        mint, revoke = self.core.mint_upload_token, self.core.revoke_upload_token
        if mint is None or revoke is None:
            return []  # the repository keeps no upload tokens

        async def create(request: Request) -> Response:
            return await self.mint(mint, request)

        async def delete(request: Request) -> Response:
            return await self.revoke(revoke, request)

        return [
            SlashRoute("/v1/upload-tokens/", create, methods=["POST"]),
            SlashRoute("/v1/upload-tokens/{token_id}/", delete, methods=["DELETE"]),
        ]

    async def mint(self, mint: MintUploadToken, request: Request) -> Response:
        principal = await self.principal(request)
        data = await schemas.read_json(request, optional=True, absent={})  # every field defaults
        asked = decode(UploadTokenRequest, data)
        limits = UploadLimits.checked(
            self.core.policy.limits.max_file_size,
            max_file_size=asked.max_file_size,
            max_files=asked.max_files,
            allowed_content_types=tuple(asked.allowed_content_types),
            parent_content_type=asked.parent_content_type,
            parent_object_id=_text_or_none(asked.parent_object_id),
        )
        minted = await run_in_threadpool(
            mint, principal, limits, timedelta(seconds=asked.expires_in)
        )
        base = self.base_url(request.scope)
        body: UploadTokenMinted = {
            "id": minted.record.id,
            "token": minted.token,
            "expires_at": schemas.timestamp(minted.record.expires_at),
            "uppy_endpoint": f"{base}/v1/uppy/{minted.token}",
            "tus_endpoint": f"{base}/v1/tus/",
        }
        return JsonResponse(body, status_code=201)

    async def revoke(self, revoke: RevokeUploadToken, request: Request) -> Response:
        principal = await self.principal(request)
        await run_in_threadpool(revoke, principal, request.path_params["token_id"])
        return Response(status_code=204)


def _text_or_none(value: str | int | None) -> str | None:
    """A parent id sent as a string or an integer, stored and returned as a string."""
    return None if value is None else str(value)
