"""The use cases, one module each, driving the domain through the ports they are given.

`uploadcore.bootstrap` composes them into one application object.
"""

from __future__ import annotations

from uploadcore.services.abort import AbortedUpload, AbortUpload, ForceAbort
from uploadcore.services.aborting import Aborter
from uploadcore.services.complete import CompleteUpload
from uploadcore.services.deliver import DeliverWebhooks, DeliveryPolicy
from uploadcore.services.download import Download, OpenDownload
from uploadcore.services.events import EventHooks, Events
from uploadcore.services.files import DeleteFile, GetFile, UpdateFile
from uploadcore.services.gc import GcReport, GcService
from uploadcore.services.initiate import BeforeInitiate, Initiated, InitiateUpload, NewUpload
from uploadcore.services.listing import FilePage, FileQuery, ListFiles
from uploadcore.services.receive_part import ReceivePart
from uploadcore.services.records import ReceivedParts, UploadPolicy
from uploadcore.services.resume import GetUploadState, RefreshedUrls, RefreshUrls, UploadState
from uploadcore.services.urls import PartUrl, Urls
from uploadcore.services.users import (
    ApiKeyAuthenticator,
    NewUser,
    create_user,
    hash_key,
    revoke_key,
    rotate_key,
)
from uploadcore.services.webhooks import ManageWebhooks

__all__ = [
    "AbortUpload",
    "AbortedUpload",
    "Aborter",
    "ApiKeyAuthenticator",
    "BeforeInitiate",
    "CompleteUpload",
    "DeleteFile",
    "DeliverWebhooks",
    "DeliveryPolicy",
    "Download",
    "EventHooks",
    "Events",
    "FilePage",
    "FileQuery",
    "ForceAbort",
    "GcReport",
    "GcService",
    "GetFile",
    "GetUploadState",
    "InitiateUpload",
    "Initiated",
    "ListFiles",
    "ManageWebhooks",
    "NewUpload",
    "NewUser",
    "OpenDownload",
    "PartUrl",
    "ReceivePart",
    "ReceivedParts",
    "RefreshUrls",
    "RefreshedUrls",
    "UpdateFile",
    "UploadPolicy",
    "UploadState",
    "Urls",
    "create_user",
    "hash_key",
    "revoke_key",
    "rotate_key",
]
