"""Users and API keys: create a user, revoke or rotate a key, and authenticate a bearer key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from uploadcore.domain.errors import NotFound
from uploadcore.domain.metadata import invalid
from uploadcore.domain.upload import Principal
from uploadcore.ports.repository import UserRepository
from uploadcore.services.credentials import credential_hash, new_credential

KEY_PREFIX = "uc_"


#: The hash an API key is kept as.
hash_key = credential_hash


@dataclass(frozen=True)
class NewUser:
    principal: Principal
    api_key: str


def create_user(users: UserRepository, name: str, is_admin: bool, now: datetime) -> NewUser:
    """Create a user with a fresh API key; only the key's hash is stored."""
    if not name or len(name) > 64 or not all(c.isalnum() or c in "._-@" for c in name):
        raise invalid("name", "must be 1 to 64 letters, digits or . _ - @")
    api_key = _new_key()
    users.add_user(name, hash_key(api_key), is_admin, now)
    return NewUser(Principal(name, is_admin), api_key)


def revoke_key(users: UserRepository, name: str) -> None:
    """Take a user's API key away: it stops authenticating at once. NotFound if no such user."""
    if not users.set_key_hash(name, None):
        raise NotFound(f"no user named {name}")


def delete_user(users: UserRepository, name: str) -> None:
    """Delete a user: their key stops working at once; their files stay. NotFound if none."""
    if not users.remove_user(name):
        raise NotFound(f"no user named {name}")


def rotate_key(users: UserRepository, name: str) -> str:
    """Give a user a fresh API key (the old one stops working at once) and return it."""
    api_key = _new_key()
    if not users.set_key_hash(name, hash_key(api_key)):
        raise NotFound(f"no user named {name}")
    return api_key


def _new_key() -> str:
    return new_credential(KEY_PREFIX)


class ApiKeyAuthenticator:
    """The default Authenticator: bearer API keys looked up by their hash."""

    def __init__(self, users: UserRepository) -> None:
        self.users = users

    def authenticate(self, credential: str) -> Principal | None:
        if not credential.startswith(KEY_PREFIX) or len(credential) > 256:
            return None
        return self.users.principal_for_key(hash_key(credential))
