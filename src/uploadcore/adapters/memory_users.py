"""Users and their API keys in memory: the part of InMemoryRepository that keeps them."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from uploadcore.domain.errors import AlreadyExists
from uploadcore.domain.upload import Principal
from uploadcore.ports.repository import UserAccount


class InMemoryUsers:
    """UserRepository in dictionaries, behind the repository's lock."""

    _lock: threading.RLock
    _users: dict[str, UserAccount]  # name -> account
    _keys: dict[str, str]  # key hash -> name

    def add_user(self, name: str, key_hash: str, is_admin: bool, now: datetime) -> None:
        with self._lock:
            if name in self._users:
                raise AlreadyExists(f"a user named {name} exists")
            self._users[name] = UserAccount(name, is_admin, now, has_key=True)
            self._keys[key_hash] = name

    def principal_for_key(self, key_hash: str) -> Principal | None:
        with self._lock:
            name = self._keys.get(key_hash)
            account = None if name is None else self._users[name]
        return None if account is None else Principal(account.name, account.is_admin)

    def list_users(self) -> Sequence[UserAccount]:
        with self._lock:
            return [self._users[name] for name in sorted(self._users)]

    def remove_user(self, name: str) -> bool:
        with self._lock:
            if self._users.pop(name, None) is None:
                return False
            self._keys = {k: n for k, n in self._keys.items() if n != name}
            return True

    def set_key_hash(self, name: str, key_hash: str | None) -> bool:
        with self._lock:
            account = self._users.get(name)
            if account is None:
                return False
            self._keys = {k: n for k, n in self._keys.items() if n != name}
            if key_hash is not None:
                self._keys[key_hash] = name
            self._users[name] = replace(account, has_key=key_hash is not None)
            return True
