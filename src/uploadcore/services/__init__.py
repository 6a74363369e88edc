"""The use cases, driving the domain through the ports."""

from __future__ import annotations

from uploadcore.services.uploads import (
    Initiated,
    NewUpload,
    PartUrl,
    UploadPolicy,
    UploadService,
    UploadState,
)
from uploadcore.services.users import ApiKeyAuthenticator, NewUser, create_user, hash_key

__all__ = [
    "ApiKeyAuthenticator",
    "Initiated",
    "NewUpload",
    "NewUser",
    "PartUrl",
    "UploadPolicy",
    "UploadService",
    "UploadState",
    "create_user",
    "hash_key",
]
