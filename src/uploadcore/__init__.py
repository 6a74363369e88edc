"""uploadcore: resumable multipart file uploads, as a library, a service and a CLI.

The domain, the ports and the services import nothing beyond the standard
library. Adapters and the HTTP app load lazily on first use, so
`import uploadcore` does not import SQLAlchemy, boto3 or Starlette.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from uploadcore.domain import *
from uploadcore.domain import __all__ as _domain
from uploadcore.ports import *
from uploadcore.ports import __all__ as _ports
from uploadcore.services import *
from uploadcore.services import __all__ as _services

_LAZY = {
    "InMemoryRepository": "uploadcore.adapters.memory",
    "InMemoryBlobStore": "uploadcore.adapters.memory",
    "FakeClock": "uploadcore.adapters.memory",
    "SequentialIds": "uploadcore.adapters.memory",
    "SystemClock": "uploadcore.adapters.clock",
    "RandomIds": "uploadcore.adapters.clock",
    "LocalDiskBlobStore": "uploadcore.adapters.local",
    "HttpxWebhookSender": "uploadcore.adapters.webhooks",
    "S3BlobStore": "uploadcore.adapters.s3",
    "S3StagingBlobStore": "uploadcore.adapters.s3_append",
    "ItsDangerousSigner": "uploadcore.adapters.signer",
    "SqlAlchemyRepository": "uploadcore.adapters.sql",
    "Settings": "uploadcore.settings",
    "SettingsError": "uploadcore.settings",
    "Uploadcore": "uploadcore.bootstrap",
    "build": "uploadcore.bootstrap",
    "HttpLinks": "uploadcore.entrypoints.links",
    "prepare": "uploadcore.bootstrap",
    "create_app": "uploadcore.entrypoints.http.app",
}

__all__ = sorted({*_domain, *_ports, *_services, *_LAZY})

if TYPE_CHECKING:
    from uploadcore.adapters.clock import RandomIds, SystemClock
    from uploadcore.adapters.local import LocalDiskBlobStore
    from uploadcore.adapters.memory import (
        FakeClock,
        InMemoryBlobStore,
        InMemoryRepository,
        SequentialIds,
    )
    from uploadcore.adapters.s3 import S3BlobStore
    from uploadcore.adapters.s3_append import S3StagingBlobStore
    from uploadcore.adapters.signer import ItsDangerousSigner
    from uploadcore.adapters.sql import SqlAlchemyRepository
    from uploadcore.adapters.webhooks import HttpxWebhookSender
    from uploadcore.bootstrap import Uploadcore, build, prepare
    from uploadcore.entrypoints.http.app import create_app
    from uploadcore.entrypoints.links import HttpLinks
    from uploadcore.settings import Settings, SettingsError


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'uploadcore' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
