"""The composition root: the one place that chooses and builds concrete adapters."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict, Unpack

from sqlalchemy.exc import OperationalError

from uploadcore.adapters.clock import RandomIds, SystemClock
from uploadcore.adapters.local import LocalDiskBlobStore
from uploadcore.adapters.signer import ItsDangerousSigner
from uploadcore.adapters.sql import SqlAlchemyRepository, make_engine, upgrade
from uploadcore.domain.errors import StorageUnavailable, UploadcoreError
from uploadcore.domain.gc import GcPolicy
from uploadcore.domain.parts import PartLimits
from uploadcore.domain.upload import Upload
from uploadcore.ports.appends import AppendRepository, AppendsBytes
from uploadcore.ports.auth import Authenticator
from uploadcore.ports.blobs import BlobStore, ReceivesParts, ServesFiles
from uploadcore.ports.clock import Clock, IdGenerator
from uploadcore.ports.gc import GcRepository
from uploadcore.ports.links import Links
from uploadcore.ports.repository import UploadRepository, UploadTokenRepository, UserRepository
from uploadcore.ports.signer import Signer
from uploadcore.services.abort import AbortUpload, ForceAbort
from uploadcore.services.aborting import Aborter
from uploadcore.services.append import AppendBytes, AppendedState
from uploadcore.services.append_start import Concatenate, StartAppend
from uploadcore.services.appended import Finisher
from uploadcore.services.complete import CompleteUpload
from uploadcore.services.download import OpenDownload
from uploadcore.services.files import DeleteFile, GetFile, UpdateFile
from uploadcore.services.gc import GcService
from uploadcore.services.initiate import InitiateUpload
from uploadcore.services.listing import ListFiles
from uploadcore.services.receive_part import ReceivePart
from uploadcore.services.records import ReceivedParts, UploadPolicy
from uploadcore.services.resume import GetUploadState, RefreshUrls
from uploadcore.services.upload_tokens import (
    MintUploadToken,
    RevokeUploadToken,
    UploadTokenAuthenticator,
)
from uploadcore.services.urls import Urls
from uploadcore.services.users import ApiKeyAuthenticator
from uploadcore.settings import Settings, SettingsError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from uploadcore.adapters.s3 import S3BlobStore

log = logging.getLogger(__name__)


class Adapters(TypedDict, total=False):
    """The adapters `build` chooses from settings; any of them may be given instead."""

    repo: UploadRepository
    users: UserRepository
    blobs: BlobStore
    signer: Signer
    clock: Clock
    ids: IdGenerator
    authenticator: Authenticator
    tokens: UploadTokenRepository


@dataclass(frozen=True)
class Appends:
    """The use cases of uploads filled by appending (tus), where storage takes appends."""

    start: StartAppend
    append: AppendBytes
    state: AppendedState
    concatenate: Concatenate


@dataclass(frozen=True)
class Uploadcore:
    """uploadcore composed: every use case, wired once, for the HTTP app, the CLI and embedders.

    The use cases are callables (see each class). `receive_part` and
    `open_download` are None when storage takes parts and serves files itself
    (S3): clients then talk to it through its own presigned URLs.
    """

    settings: Settings
    policy: UploadPolicy
    initiate: InitiateUpload
    upload_state: GetUploadState
    refresh_urls: RefreshUrls
    receive_part: ReceivePart | None
    complete: CompleteUpload
    abort: AbortUpload
    force_abort: ForceAbort
    list_files: ListFiles
    get_file: GetFile
    update_file: UpdateFile
    delete_file: DeleteFile
    open_download: OpenDownload | None
    mint_upload_token: MintUploadToken | None  # None when the repository keeps no tokens
    revoke_upload_token: RevokeUploadToken | None
    urls: Urls
    users: UserRepository
    authenticator: Authenticator
    _gc: Callable[[GcPolicy], GcService]
    health: Callable[[], None] = field(default=lambda: None)
    close: Callable[[], None] = field(default=lambda: None)
    # False when `authenticator.authenticate` and the repository's `get` never wait
    # (SQLite in WAL mode): an event loop may then call them inline, without a thread hop.
    reads_block: bool = True
    # None when storage cannot take appends or the repository keeps no appending state.
    appends: Appends | None = None

    def file_url(self, upload: Upload, links: Links) -> str | None:
        """A URL that fetches the completed file as it is; None before completion."""
        return self.urls.file(upload, links)

    def gc(self, purge_after: timedelta) -> GcService:
        """The gc use case, purging aborted and failed records older than `purge_after`."""
        expires_in = self.settings.upload_expires_in
        return self._gc(
            GcPolicy(purge_after, leftover_age=expires_in, upload_expires_in=expires_in)
        )


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


def build(settings: Settings, **given: Unpack[Adapters]) -> Uploadcore:
    """Build uploadcore from settings; any adapter given explicitly is used instead.

    Without a repository, it connects to `settings.database_url` (run
    `prepare` first to create and migrate it).
    """
    health: Callable[[], None] = lambda: None  # noqa: E731
    close: Callable[[], None] = lambda: None  # noqa: E731
    repo = given.get("repo")
    if repo is None:
        sql = SqlAlchemyRepository(make_engine(settings.database_url))
        repo, health, close = sql, sql.ping, sql.engine.dispose
    elif isinstance(repo, SqlAlchemyRepository):
        health = repo.ping  # /healthz checks the database an embedder hands us too
    users = given.get("users") or _users_of(repo)
    tokens = given.get("tokens") or _tokens_of(repo)
    authenticator = given.get("authenticator")
    # The default authenticator reads through `users`; one given to us may do anything.
    reads_block = not (
        authenticator is None
        and "users" not in given
        and isinstance(repo, SqlAlchemyRepository)
        and repo.point_reads_never_wait
    )
    return _compose(
        settings,
        repo,
        users,
        given.get("blobs") or _blob_store(settings),
        given.get("signer") or ItsDangerousSigner(_secret_key(settings)),
        given.get("clock") or SystemClock(),
        given.get("ids") or RandomIds(),
        authenticator or ApiKeyAuthenticator(users),
        tokens,
        health=health,
        close=close,
        reads_block=reads_block,
    )


def _compose(
    settings: Settings,
    repo: UploadRepository,
    users: UserRepository,
    blobs: BlobStore,
    signer: Signer,
    clock: Clock,
    ids: IdGenerator,
    authenticator: Authenticator,
    tokens: UploadTokenRepository | None,
    *,
    health: Callable[[], None],
    close: Callable[[], None],
    reads_block: bool,
) -> Uploadcore:
    """Wire every use case to the ports it takes, and nothing else."""
    policy = policy_from(settings)
    urls = Urls(blobs, signer, clock, policy)
    received = ReceivedParts(repo, blobs)
    aborter = Aborter(repo, blobs, clock)
    if tokens is not None:  # upload tokens work whatever authenticates everyone else
        authenticator = UploadTokenAuthenticator(tokens, authenticator, clock)

    def gc(gc_policy: GcPolicy) -> GcService:
        if not isinstance(repo, GcRepository):
            raise UploadcoreError("this repository cannot be garbage-collected (no GcQueries)")
        return GcService(repo, aborter, clock, gc_policy)

    return Uploadcore(
        settings=settings,
        policy=policy,
        initiate=InitiateUpload(repo, blobs, urls, clock, ids, policy),
        upload_state=GetUploadState(repo, received),
        refresh_urls=RefreshUrls(repo, received, urls, clock, policy),
        receive_part=(
            ReceivePart(repo, blobs, urls, clock, policy)
            if isinstance(blobs, ReceivesParts)
            else None
        ),
        complete=CompleteUpload(repo, blobs, received, clock, policy),
        abort=AbortUpload(repo, aborter),
        force_abort=ForceAbort(repo, aborter),
        list_files=ListFiles(repo, signer, clock),
        get_file=GetFile(repo),
        update_file=UpdateFile(repo, clock),
        delete_file=DeleteFile(repo, aborter, clock),
        open_download=OpenDownload(repo, blobs, urls) if isinstance(blobs, ServesFiles) else None,
        mint_upload_token=None if tokens is None else MintUploadToken(tokens, clock, ids),
        revoke_upload_token=None if tokens is None else RevokeUploadToken(tokens, clock),
        urls=urls,
        users=users,
        authenticator=authenticator,
        _gc=gc,
        health=health,
        close=close,
        reads_block=reads_block,
        appends=_appends(repo, blobs, clock, ids, policy),
    )


def _appends(
    repo: UploadRepository, blobs: BlobStore, clock: Clock, ids: IdGenerator, policy: UploadPolicy
) -> Appends | None:
    if not (isinstance(repo, AppendRepository) and isinstance(blobs, AppendsBytes)):
        return None
    start = StartAppend(repo, repo, blobs, clock, ids, policy)
    finish = Finisher(repo, repo, blobs, clock, policy)
    return Appends(
        start=start,
        append=AppendBytes(repo, repo, blobs, clock, policy, finish),
        state=AppendedState(repo, repo),
        concatenate=Concatenate(start, blobs),
    )


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


def _tokens_of(repo: UploadRepository) -> UploadTokenRepository | None:
    return repo if isinstance(repo, UploadTokenRepository) else None


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
