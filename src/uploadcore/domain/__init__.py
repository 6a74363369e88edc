"""The pure core of uploadcore: the upload state machine, part plans, errors."""

from __future__ import annotations

from uploadcore.domain.errors import *  # noqa: F403
from uploadcore.domain.errors import __all__ as _errors
from uploadcore.domain.events import (
    DeliveryStatus,
    Endpoint,
    Event,
    EventType,
    RetryPolicy,
    file_representation,
)
from uploadcore.domain.gc import (
    AbortExpired,
    GcAction,
    GcPolicy,
    Leftover,
    PurgeRecord,
    RemoveLeftover,
    plan_gc,
)
from uploadcore.domain.listing import FileFilter, ListPosition
from uploadcore.domain.metadata import MetadataUpdate
from uploadcore.domain.parts import (
    PartLimits,
    PartPlan,
    PartRef,
    ReceivedPart,
    check_completion,
    multipart_etag,
    normalize_etag,
)
from uploadcore.domain.upload import Principal, Upload, UploadStatus, check_transition

__all__ = [
    *_errors,
    "AbortExpired",
    "DeliveryStatus",
    "Endpoint",
    "Event",
    "EventType",
    "RetryPolicy",
    "file_representation",
    "FileFilter",
    "GcAction",
    "GcPolicy",
    "Leftover",
    "ListPosition",
    "MetadataUpdate",
    "PartLimits",
    "PartPlan",
    "PartRef",
    "Principal",
    "PurgeRecord",
    "ReceivedPart",
    "RemoveLeftover",
    "Upload",
    "UploadStatus",
    "check_completion",
    "check_transition",
    "multipart_etag",
    "normalize_etag",
    "plan_gc",
]
