"""The interfaces the core needs from the world, with the contract each adapter keeps."""

from __future__ import annotations

from uploadcore.ports.auth import Authenticator
from uploadcore.ports.blobs import (
    BlobStore,
    ChecksReadiness,
    PartWriter,
    PreparedUpload,
    PresignsUrls,
    ReceivesParts,
    ServesFiles,
)
from uploadcore.ports.clock import Clock, IdGenerator
from uploadcore.ports.events import EventRecord, Outbox, SendOutcome, WebhookSender
from uploadcore.ports.gc import GcQueries, GcRepository, Keyset, SweepsLeftovers
from uploadcore.ports.links import Links
from uploadcore.ports.repository import (
    UploadRepository,
    UploadTokenRepository,
    UserAccount,
    UserRepository,
)
from uploadcore.ports.signer import Signer, TokenClaims
from uploadcore.ports.stats import CountsGcActions, OperationalStats, ReportsStats

__all__ = [
    "Authenticator",
    "BlobStore",
    "ChecksReadiness",
    "Clock",
    "CountsGcActions",
    "EventRecord",
    "GcQueries",
    "GcRepository",
    "IdGenerator",
    "Keyset",
    "Links",
    "OperationalStats",
    "Outbox",
    "PartWriter",
    "PreparedUpload",
    "PresignsUrls",
    "ReceivesParts",
    "ReportsStats",
    "SendOutcome",
    "ServesFiles",
    "Signer",
    "SweepsLeftovers",
    "TokenClaims",
    "UploadRepository",
    "UploadTokenRepository",
    "UserAccount",
    "UserRepository",
    "WebhookSender",
]
