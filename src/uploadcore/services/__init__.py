"""The use cases, driving the domain through the ports."""

from __future__ import annotations

from uploadcore.services.files import FilePage, FileQuery, FileService
from uploadcore.services.gc import AbortedUpload, GcReport, GcService
from uploadcore.services.uploads import (
    Initiated,
    NewUpload,
    PartUrl,
    RefreshedUrls,
    UploadPolicy,
    UploadService,
    UploadState,
)
from uploadcore.services.users import (
    ApiKeyAuthenticator,
    NewUser,
    create_user,
    hash_key,
    revoke_key,
    rotate_key,
)

__all__ = [
    "AbortedUpload",
    "ApiKeyAuthenticator",
    "FilePage",
    "FileQuery",
    "FileService",
    "GcReport",
    "GcService",
    "Initiated",
    "NewUpload",
    "NewUser",
    "PartUrl",
    "RefreshedUrls",
    "UploadPolicy",
    "UploadService",
    "UploadState",
    "create_user",
    "hash_key",
    "revoke_key",
    "rotate_key",
]
