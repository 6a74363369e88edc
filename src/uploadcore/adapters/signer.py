"""Part and download tokens signed with itsdangerous."""

from __future__ import annotations

import hashlib
from datetime import datetime

from itsdangerous import BadSignature, URLSafeSerializer

from uploadcore.domain.errors import TokenExpired, TokenInvalid
from uploadcore.ports.signer import TokenClaims


class ItsDangerousSigner:
    """HMAC-SHA256 tokens; the purpose is the salt, so a token for one use fits no other.

    The expiry travels inside the signed payload and is checked against the
    caller's clock, so tests can move time.
    """

    def __init__(self, secret_key: str) -> None:
        if len(secret_key) < 16:
            raise ValueError("the secret key must be at least 16 characters")
        self._secret_key = secret_key
        self._serializers: dict[str, URLSafeSerializer] = {}

    def _serializer(self, purpose: str) -> URLSafeSerializer:
        serializer = self._serializers.get(purpose)
        if serializer is None:
            serializer = URLSafeSerializer(
                self._secret_key,
                salt=f"uploadcore:{purpose}",
                signer_kwargs={"digest_method": hashlib.sha256},
            )
            self._serializers[purpose] = serializer
        return serializer

    def sign(self, claims: TokenClaims) -> str:
        payload = [claims.file_id, claims.upload_id, claims.part_number, claims.expires]
        return str(self._serializer(claims.purpose).dumps(payload))

    def verify(self, token: str, purpose: str, now: datetime) -> TokenClaims:
        try:
            payload = self._serializer(purpose).loads(token)
        except BadSignature as bad:
            raise TokenInvalid("the token is not valid for this URL") from bad
        claims = _claims(purpose, payload)
        if now.timestamp() >= claims.expires:
            raise TokenExpired("the token has expired; ask for fresh URLs")
        return claims


def _claims(purpose: str, payload: object) -> TokenClaims:
    match payload:
        case [str(file_id), str(upload_id), int(part_number), int(expires)]:
            return TokenClaims(purpose, file_id, upload_id, part_number, expires)
    raise TokenInvalid("the token is not valid for this URL")
