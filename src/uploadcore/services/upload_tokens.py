"""Upload tokens: mint one for a browser session, revoke it, and authenticate it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from uploadcore.domain.errors import Forbidden, InvalidInput, NotFound, UploadTokenExpired
from uploadcore.domain.grants import MAX_LIFETIME, UploadGrant, UploadLimits, UploadToken
from uploadcore.domain.upload import Principal
from uploadcore.ports.auth import Authenticator
from uploadcore.ports.clock import Clock, IdGenerator
from uploadcore.ports.repository import UploadTokenRepository
from uploadcore.services.credentials import credential_hash, new_credential

TOKEN_PREFIX = "ut_"


#: The hash an upload token is kept as.
hash_token = credential_hash


@dataclass(frozen=True)
class MintedToken:
    """A new token as it is kept, and the token itself: shown once, never stored."""

    record: UploadToken
    token: str


@dataclass(frozen=True)
class MintUploadToken:
    """Mint an upload token acting for the caller, with these limits, for `expires_in`. Blocking.

    Only a user's own credential mints tokens: an upload token cannot (Forbidden).
    """

    tokens: UploadTokenRepository
    clock: Clock
    ids: IdGenerator

    def __call__(
        self, principal: Principal, limits: UploadLimits, expires_in: timedelta
    ) -> MintedToken:
        if principal.grant is not None:
            raise Forbidden("an upload token cannot mint upload tokens")
        if not timedelta(seconds=1) <= expires_in <= MAX_LIFETIME:
            seconds = int(MAX_LIFETIME.total_seconds())
            raise InvalidInput(f"expires_in must be between 1 and {seconds} seconds")
        token = new_credential(TOKEN_PREFIX)
        now = self.clock.now()
        record = UploadToken(
            id="tok_" + self.ids.new_id(),
            owner=principal.name,
            token_hash=hash_token(token),
            created=now,
            expires_at=now + expires_in,
            limits=limits,
        )
        self.tokens.add_token(record)
        return MintedToken(record, token)


@dataclass(frozen=True)
class RevokeUploadToken:
    """Revoke a token at once: its owner or an admin may. Blocking."""

    tokens: UploadTokenRepository
    clock: Clock

    def __call__(self, principal: Principal, token_id: str) -> None:
        if principal.grant is not None:
            raise Forbidden("an upload token cannot revoke upload tokens")
        token = self.tokens.token(token_id)
        if token is None or not (principal.is_admin or principal.name == token.owner):
            raise NotFound(f"no upload token with id {token_id}")  # another's is not yours to see
        self.tokens.revoke_token(token_id, self.clock.now())


@dataclass(frozen=True)
class UploadTokenAuthenticator:
    """Authenticates upload tokens, and hands every other credential to `others`.

    A token stands for the user who minted it, with a grant: only to upload,
    within its limits. A revoked or unknown token is None (not authenticated);
    an expired one raises UploadTokenExpired, so its holder knows to get a
    new one.
    """

    tokens: UploadTokenRepository
    others: Authenticator
    clock: Clock

    def authenticate(self, credential: str) -> Principal | None:
        if not credential.startswith(TOKEN_PREFIX):
            return self.others.authenticate(credential)
        if len(credential) > 256:
            return None
        token = self.tokens.token_by_hash(hash_token(credential))
        if token is None or token.revoked is not None:
            return None
        if token.is_expired(self.clock.now()):
            raise UploadTokenExpired("the upload token has expired; ask for a new one")
        return Principal(token.owner, False, UploadGrant(token.id, token.limits))


__all__ = [
    "TOKEN_PREFIX",
    "MintUploadToken",
    "MintedToken",
    "RevokeUploadToken",
    "UploadTokenAuthenticator",
    "hash_token",
]
