"""Events: what happened to an upload, as other systems learn it, and how its delivery is paced."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from uploadcore.domain.upload import Upload


class EventType(StrEnum):
    UPLOAD_CREATED = "upload.created"
    UPLOAD_COMPLETED = "upload.completed"
    UPLOAD_FAILED = "upload.failed"
    UPLOAD_ABORTED = "upload.aborted"
    FILE_UPDATED = "file.updated"
    FILE_DELETED = "file.deleted"


#: Which event a move to each terminal status makes.
EVENT_OF_STATUS = {
    "completed": EventType.UPLOAD_COMPLETED,
    "failed": EventType.UPLOAD_FAILED,
    "aborted": EventType.UPLOAD_ABORTED,
}


def rfc3339(value: datetime) -> str:
    """A UTC time as RFC 3339 with a `Z`."""
    return value.isoformat().replace("+00:00", "Z")


def file_representation(upload: Upload) -> dict[str, object]:
    """The file as clients see it, without `url` (URLs expire; events are kept)."""
    return {
        "id": upload.id,
        "file_name": upload.file_name,
        "file_size": upload.file_size,
        "file_content_type": upload.file_content_type,
        "upload_status": upload.status.value,
        "etag": upload.etag,
        "parent_content_type": upload.parent_content_type,
        "parent_object_id": upload.parent_object_id,
        "owner": upload.owner,
        "created": rfc3339(upload.created),
        "modified": rfc3339(upload.modified),
    }


@dataclass(frozen=True)
class Event:
    """Something that happened to a file, written with the change that caused it.

    `id` is unique and stable (`evt_…`); `data` is the file's representation
    at that moment.
    """

    id: str
    type: EventType
    timestamp: datetime
    file_id: str
    data: Mapping[str, object]

    @classmethod
    def of(cls, event_id: str, type: EventType, upload: Upload, now: datetime) -> Event:
        return cls(event_id, type, now, upload.id, file_representation(upload))

    def as_json(self) -> dict[str, object]:
        """The event as a webhook carries it."""
        return {
            "id": self.id,
            "type": self.type.value,
            "timestamp": rfc3339(self.timestamp),
            "data": dict(self.data),
        }


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True)
class Endpoint:
    """A webhook endpoint: where events go, which types (all when empty), the signing secret."""

    id: str
    url: str
    secret: str
    event_types: frozenset[EventType]
    created: datetime

    def wants(self, type: EventType) -> bool:
        return not self.event_types or type in self.event_types


@dataclass(frozen=True)
class Delivery:
    """One event on its way to one endpoint."""

    event_id: str
    endpoint_id: str
    status: DeliveryStatus
    attempts: int
    next_attempt: datetime
    last_error: str | None = None


@dataclass(frozen=True)
class Claimed:
    """A delivery a worker holds: the attempt it makes, the event, where to send it."""

    event: Event
    endpoint: Endpoint
    attempt: int  # 1 for the first try


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: `backoff`, doubling, at most `ceiling` apart, `max_attempts` tries."""

    backoff: timedelta = timedelta(seconds=5)
    ceiling: timedelta = timedelta(hours=1)
    max_attempts: int = 12

    def delay_after(self, attempt: int) -> timedelta | None:
        """How long to wait after failed attempt number `attempt`; None when it was the last."""
        if attempt >= self.max_attempts:
            return None
        delay: timedelta = self.backoff * 2 ** min(attempt - 1, 20)
        return min(delay, self.ceiling)


def new_secret(random_bytes: bytes) -> str:
    """A Standard Webhooks signing secret from random bytes: `whsec_` and their base64."""
    return "whsec_" + base64.b64encode(random_bytes).decode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value: `v1,` and the base64 HMAC-SHA256 of `id.timestamp.body`."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


__all__ = [
    "EVENT_OF_STATUS",
    "Claimed",
    "Delivery",
    "DeliveryStatus",
    "Endpoint",
    "Event",
    "EventType",
    "RetryPolicy",
    "file_representation",
    "new_secret",
    "rfc3339",
    "sign",
]
