"""The composition root: the one place that chooses and builds concrete adapters."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.exc import OperationalError

from uploadcore.adapters.clock import RandomIds, SystemClock
from uploadcore.adapters.local import LocalDiskBlobStore
from uploadcore.adapters.signer import ItsDangerousSigner
from uploadcore.adapters.sql import SqlAlchemyRepository, make_engine, upgrade
from uploadcore.domain.errors import StorageUnavailable
from uploadcore.domain.parts import PartLimits
from uploadcore.ports.auth import Authenticator
from uploadcore.ports.blobs import BlobStore
from uploadcore.ports.clock import Clock, IdGenerator
from uploadcore.ports.repository import UploadRepository, UserRepository
from uploadcore.ports.signer import Signer
from uploadcore.services.uploads import UploadPolicy, UploadService
from uploadcore.services.users import ApiKeyAuthenticator
from uploadcore.settings import Settings, SettingsError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from uploadcore.adapters.s3 import S3BlobStore

log = logging.getLogger(__name__)


@dataclass
class Uploadcore:
    """A composed uploadcore: the upload service and what the entrypoints need beside it."""

    settings: Settings
    service: UploadService
    users: UserRepository
    authenticator: Authenticator
    health: Callable[[], None] = field(default=lambda: None)
    close: Callable[[], None] = field(default=lambda: None)
    # False when `authenticator.authenticate` and `service.repo.get` never wait (SQLite
    # in WAL mode): an event loop may then call them inline, without a thread hop.
    reads_block: bool = True


def policy_from(settings: Settings) -> UploadPolicy:
    return UploadPolicy(
        limits=PartLimits(
            max_file_size=settings.max_file_upload_size,
            min_part_size=settings.min_part_size,
            max_parts=settings.max_parts,
        ),
        url_expires_in=settings.presigned_url_expires_in,
        upload_expires_in=settings.upload_expires_in,
    )


def build(
    settings: Settings,
    *,
    repo: UploadRepository | None = None,
    users: UserRepository | None = None,
    blobs: BlobStore | None = None,
    signer: Signer | None = None,
    clock: Clock | None = None,
    ids: IdGenerator | None = None,
    authenticator: Authenticator | None = None,
) -> Uploadcore:
    """Build uploadcore from settings; any adapter given explicitly is used instead.

    Without a repository, it connects to `settings.database_url` (run
    `prepare` first to create and migrate it).
    """
    health: Callable[[], None] = lambda: None  # noqa: E731
    close: Callable[[], None] = lambda: None  # noqa: E731
    if repo is None:
        sql = SqlAlchemyRepository(make_engine(settings.database_url))
        repo, health, close = sql, sql.ping, sql.engine.dispose
    elif isinstance(repo, SqlAlchemyRepository):
        health = repo.ping  # /healthz checks the database an embedder hands us too
    users_in_repo = users is None
    if users is None:
        users = _users_of(repo)
    service = UploadService(
        repo,
        blobs or _blob_store(settings),
        signer or ItsDangerousSigner(_secret_key(settings)),
        clock or SystemClock(),
        ids or RandomIds(),
        policy_from(settings),
    )
    # The default authenticator reads through `users`; one given to us may do anything.
    reads_block = not (
        authenticator is None
        and users_in_repo
        and isinstance(repo, SqlAlchemyRepository)
        and repo.point_reads_never_wait
    )
    return Uploadcore(
        settings,
        service,
        users,
        authenticator or ApiKeyAuthenticator(users),
        health,
        close,
        reads_block,
    )


def build_service(settings: Settings, **adapters: object) -> UploadService:
    """Just the upload service, for embedders driving the use cases themselves."""
    return build(settings, **adapters).service  # type: ignore[arg-type]


def prepare(settings: Settings) -> Settings:
    """Make the embedded default ready: directories, a kept secret key, a migrated database."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.media_root.mkdir(parents=True, exist_ok=True)
    if settings.secret_key is None:
        settings = settings.with_secret_key(_load_or_create_secret(settings.secret_key_file))
    migrate(settings)
    return settings


def migrate(settings: Settings) -> None:
    """Apply the schema migrations; StorageUnavailable if the database cannot be reached."""
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
    except OperationalError as error:
        raise StorageUnavailable(f"cannot reach the database: {error.orig}") from error
    finally:
        engine.dispose()


def _blob_store(settings: Settings) -> BlobStore:
    if settings.upload_storage_handler == "local":
        return LocalDiskBlobStore(settings.media_root)
    return s3_blob_store(settings)


def s3_blob_store(settings: Settings, client: S3Client | None = None) -> S3BlobStore:
    """The S3 store `settings` describe, on `client` or on a new one from `s3_client`."""
    if not settings.aws_storage_bucket_name:
        raise SettingsError(
            "UPLOADCORE_AWS_STORAGE_BUCKET_NAME must be set"
            " when UPLOADCORE_UPLOAD_STORAGE_HANDLER=s3"
        )
    if settings.presigned_url_expires_in > timedelta(days=7):
        raise SettingsError(
            "UPLOADCORE_PRESIGNED_URL_EXPIRES_IN: S3 presigned URLs last at most 7 days"
        )
    from uploadcore.adapters.s3 import S3BlobStore  # boto3 loads only when S3 is chosen

    return S3BlobStore(
        client or s3_client(settings),
        settings.aws_storage_bucket_name,
        key_prefix=settings.aws_s3_key_prefix,
        public_base_url=settings.public_base_url,
    )


def s3_client(settings: Settings) -> S3Client:
    """A boto3 S3 client for `settings`: build one per process and share it (it is thread-safe).

    SigV4 (`s3v4`), whose presigned URLs sign the part's Content-Length; path-style
    addressing for a custom endpoint (MinIO, Ceph, moto) unless `virtual` is asked
    for; credentials from boto3's usual chain. Checksums only where S3 requires
    them, which every S3-compatible store understands.
    """
    import boto3
    from botocore.config import Config

    style = settings.aws_s3_addressing_style
    if style == "auto" and settings.aws_s3_endpoint_url:
        style = "path"
    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": style},
        retries={"mode": "standard", "total_max_attempts": 3},
        connect_timeout=5,
        read_timeout=60,
        max_pool_connections=50,
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        user_agent_extra="uploadcore",
    )
    return boto3.session.Session().client(
        "s3",
        region_name=settings.aws_s3_region_name,
        endpoint_url=settings.aws_s3_endpoint_url,
        config=config,
    )


def _users_of(repo: UploadRepository) -> UserRepository:
    if not hasattr(repo, "principal_for_key"):
        raise TypeError("the repository keeps no users: pass `users=` or `authenticator=`")
    return repo  # type: ignore[return-value]


def _secret_key(settings: Settings) -> str:
    if settings.secret_key is not None:
        return settings.secret_key
    try:
        return settings.secret_key_file.read_text().strip()
    except FileNotFoundError:
        raise SettingsError(
            f"UPLOADCORE_SECRET_KEY is not set and {settings.secret_key_file} does not exist "
            "(`uploadcore serve` creates it)"
        ) from None


def _load_or_create_secret(path: Path) -> str:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32) + "\n")
    log.info("generated a new secret key in %s", path)
    return path.read_text().strip()
