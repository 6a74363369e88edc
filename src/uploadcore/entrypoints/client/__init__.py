"""The upload client behind `uploadcore upload`: a client of the HTTP API (httpx2)."""

from __future__ import annotations

from uploadcore.entrypoints.client.api import (
    Api,
    ApiError,
    ClientError,
    Interrupted,
    Stopped,
    http_client,
)
from uploadcore.entrypoints.client.parts import Plan
from uploadcore.entrypoints.client.progress import BarProgress, NoProgress, Progress
from uploadcore.entrypoints.client.retry import RetryPolicy
from uploadcore.entrypoints.client.uploader import Uploader, UploadRequest, UploadResult

__all__ = [
    "Api",
    "ApiError",
    "BarProgress",
    "ClientError",
    "Interrupted",
    "NoProgress",
    "Plan",
    "Progress",
    "RetryPolicy",
    "Stopped",
    "UploadRequest",
    "UploadResult",
    "Uploader",
    "http_client",
]
