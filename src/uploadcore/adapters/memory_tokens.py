"""Upload tokens in memory: the part of InMemoryRepository that keeps them."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime

from uploadcore.domain.errors import AlreadyExists
from uploadcore.domain.grants import UploadToken


class InMemoryTokens:
    """UploadTokenRepository and `claim_token_file`, behind the repository's lock."""

    _lock: threading.RLock
    _tokens: dict[str, UploadToken]  # id -> token

    def add_token(self, token: UploadToken) -> None:
        with self._lock:
            if token.id in self._tokens:
                raise AlreadyExists(f"upload token {token.id} exists")
            self._tokens[token.id] = token

    def token_by_hash(self, token_hash: str) -> UploadToken | None:
        with self._lock:
            return next((t for t in self._tokens.values() if t.token_hash == token_hash), None)

    def token(self, token_id: str) -> UploadToken | None:
        with self._lock:
            return self._tokens.get(token_id)

    def revoke_token(self, token_id: str, now: datetime) -> bool:
        with self._lock:
            token = self._tokens.get(token_id)
            if token is None:
                return False
            if token.revoked is None:
                self._tokens[token_id] = replace(token, revoked=now)
            return True

    def claim_token_file(self, token_id: str, now: datetime) -> bool:
        with self._lock:
            token = self._tokens.get(token_id)
            if token is None or token.revoked is not None or token.is_expired(now):
                return False
            limit = token.limits.max_files
            if limit is not None and token.files_started >= limit:
                return False
            self._tokens[token_id] = replace(token, files_started=token.files_started + 1)
            return True
