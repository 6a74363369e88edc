"""Bearer credentials the service makes: API keys and upload tokens.

Each is 256 random bits behind a prefix that says what it is, and only its
hash is kept: with that much randomness one SHA-256 is as strong as a slow
hash, and it is fast enough to look up on every request.
"""

from __future__ import annotations

import hashlib
import secrets


def new_credential(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def credential_hash(credential: str) -> str:
    return hashlib.sha256(credential.encode()).hexdigest()


__all__ = ["credential_hash", "new_credential"]
