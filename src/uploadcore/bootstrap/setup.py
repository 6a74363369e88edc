"""Making the embedded default ready; the storage and the secret `build` takes from settings."""

from __future__ import annotations

import logging
import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.exc import DBAPIError, OperationalError

from uploadcore.adapters.local import LocalDiskBlobStore
from uploadcore.adapters.local_leftovers import BackgroundFreer
from uploadcore.adapters.sql import make_engine, upgrade
from uploadcore.domain.errors import StorageUnavailable
from uploadcore.domain.parts import PartLimits
from uploadcore.ports.blobs import BlobStore
from uploadcore.settings import Settings, SettingsError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from uploadcore.adapters.s3_append import S3StagingBlobStore

log = logging.getLogger(__name__)


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
    except DBAPIError as error:  # refused: no privilege to create tables, a schema not ours...
        raise StorageUnavailable(f"the database refused the migration: {error.orig}") from error
    finally:
        engine.dispose()


def blob_store(settings: Settings, *, free_in_background: bool = False) -> BlobStore:
    """The store `settings` choose. On local disk, freed parts leave at once (renamed
    into the trash); with `free_in_background` (the HTTP app) a worker thread deletes
    them after the caller moved on, otherwise they are deleted before it returns."""
    if settings.upload_storage_handler == "local":
        free = BackgroundFreer() if free_in_background else None
        return LocalDiskBlobStore(settings.media_root, free=free)
    return s3_blob_store(settings)


def s3_blob_store(settings: Settings, client: S3Client | None = None) -> S3StagingBlobStore:
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
    # boto3 loads only when S3 is chosen
    from uploadcore.adapters.s3_append import S3StagingBlobStore

    return S3StagingBlobStore(
        client or s3_client(settings),
        settings.aws_storage_bucket_name,
        staging_dir=settings.tus_staging_dir,
        limits=PartLimits(
            max_file_size=settings.max_file_upload_size,
            min_part_size=settings.min_part_size,
            max_parts=settings.max_parts,
        ),
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
    from uploadcore.adapters.s3_client import make_s3_client  # boto3 loads here

    return make_s3_client(
        settings.aws_s3_region_name,
        settings.aws_s3_endpoint_url,
        settings.aws_s3_addressing_style,
    )


def secret_key(settings: Settings) -> str:
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
