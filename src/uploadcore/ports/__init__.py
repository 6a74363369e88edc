"""The interfaces the core needs from the world, with the contract each adapter keeps."""

from __future__ import annotations

from uploadcore.ports.auth import Authenticator
from uploadcore.ports.blobs import (
    BlobStore,
    PartWriter,
    PreparedUpload,
    ReceivesParts,
    ServesFiles,
)
from uploadcore.ports.clock import Clock, IdGenerator
from uploadcore.ports.repository import UploadRepository, UserRepository
from uploadcore.ports.signer import Signer, TokenClaims

__all__ = [
    "Authenticator",
    "BlobStore",
    "Clock",
    "IdGenerator",
    "PartWriter",
    "PreparedUpload",
    "ReceivesParts",
    "ServesFiles",
    "Signer",
    "TokenClaims",
    "UploadRepository",
    "UserRepository",
]
