"""The composition root: the one place that chooses and builds concrete adapters."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, TypedDict, Unpack

from uploadcore.adapters.clock import RandomIds, SystemClock
from uploadcore.adapters.signer import ItsDangerousSigner
from uploadcore.adapters.sql import SqlAlchemyRepository, make_engine
from uploadcore.bootstrap.protocols import Appends, Uppy, appends_of, uppy_of
from uploadcore.bootstrap.setup import (
    blob_store,
    migrate,
    prepare,
    s3_blob_store,
    s3_client,
    secret_key,
)
from uploadcore.domain.errors import UploadcoreError
from uploadcore.domain.events import EventType, RetryPolicy
from uploadcore.domain.gc import GcPolicy
from uploadcore.domain.parts import PartLimits
from uploadcore.domain.upload import Upload
from uploadcore.ports.appends import AppendRepository
from uploadcore.ports.auth import Authenticator
from uploadcore.ports.blobs import (
    BlobStore,
    ChecksReadiness,
    ReceivesParts,
    ServesFiles,
)
from uploadcore.ports.clock import Clock, IdGenerator
from uploadcore.ports.events import Outbox, WebhookSender
from uploadcore.ports.gc import GcRepository
from uploadcore.ports.links import Links
from uploadcore.ports.repository import UploadRepository, UploadTokenRepository, UserRepository
from uploadcore.ports.signer import Signer
from uploadcore.ports.stats import CountsGcActions, OperationalStats, ReportsStats
from uploadcore.services.abort import AbortUpload, ForceAbort
from uploadcore.services.aborting import Aborter
from uploadcore.services.complete import CompleteUpload
from uploadcore.services.deliver import DeliverWebhooks, DeliveryPolicy
from uploadcore.services.download import OpenDownload
from uploadcore.services.events import EventHandler, EventHooks, Events
from uploadcore.services.files import DeleteFile, GetFile, UpdateFile
from uploadcore.services.gc import GcService
from uploadcore.services.initiate import BeforeInitiate, InitiateUpload
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
from uploadcore.services.webhooks import ManageWebhooks
from uploadcore.settings import Settings

if TYPE_CHECKING:
    from uploadcore.adapters.prometheus import PrometheusMetrics

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
    #: Webhook endpoints and events; None when the repository keeps no outbox.
    webhooks: ManageWebhooks | None
    hooks: EventHooks
    _gc: Callable[[GcPolicy], GcService]
    _deliverer: Callable[[WebhookSender], DeliverWebhooks] | None
    health: Callable[[], None] = field(default=lambda: None)
    close: Callable[[], None] = field(default=lambda: None)
    # False when `authenticator.authenticate` and the repository's `get` and `parts` never wait
    # (SQLite in WAL mode): an event loop may then call them inline, without a thread hop.
    reads_block: bool = True
    # None when storage cannot take appends or the repository keeps no appending state.
    appends: Appends | None = None
    # None when the repository keeps no appending state.
    uppy: Uppy | None = None
    #: What `/readyz` checks, by name ("database", "storage"): each raises StorageUnavailable.
    checks: Mapping[str, Callable[[], None]] = field(default_factory=dict)
    #: The figures `/metrics` reads from the records; None when the repository has none.
    stats: Callable[[], OperationalStats] | None = None
    metrics: PrometheusMetrics | None = None

    def file_url(self, upload: Upload, links: Links) -> str | None:
        """A URL that fetches the completed file as it is; None before completion."""
        return self.urls.file(upload, links)

    def on(self, type: EventType | str | None, handler: EventHandler) -> EventHandler:
        """Run `handler(event)` after each committed event of `type` (every type when None).

        It runs in the thread that made the change, once the change is kept; its
        exceptions are logged and go no further. Returns the handler.
        """
        return self.hooks.on(type, handler)

    def before_initiate(self, check: BeforeInitiate) -> BeforeInitiate:
        """Run `check(principal, new_upload)` before each upload is created, blocking it.

        It returns None to let the upload through, or a reason to reject it: the
        client gets 403 `rejected` with the reason as the detail. Returns the check.
        """
        self.initiate.checks.append(check)
        return check

    def deliverer(self, sender: WebhookSender | None = None) -> DeliverWebhooks:
        """The webhook delivery worker, sending through `sender` (httpx2 by default)."""
        if self._deliverer is None:
            raise UploadcoreError("this repository keeps no outbox: nothing to deliver")
        if sender is None:
            from uploadcore.adapters.webhooks import HttpxWebhookSender  # httpx2 loads here

            sender = HttpxWebhookSender()
        deliverer = self._deliverer(sender)
        if self.metrics is not None:
            deliverer.on_outcome = self.metrics.delivery
        return deliverer

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
        health = repo.ping  # /readyz checks the database an embedder hands us too
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
        given.get("blobs") or blob_store(settings),
        given.get("signer") or ItsDangerousSigner(secret_key(settings)),
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
    from uploadcore.adapters.prometheus import process_metrics  # prometheus_client loads here

    policy = policy_from(settings)
    urls = Urls(blobs, signer, clock, policy)
    received = ReceivedParts(repo, blobs)
    events = Events(ids)
    metrics = process_metrics()
    events.hooks.on(None, metrics.upload_events(settings.upload_storage_handler))
    checks = {"database": health}
    if isinstance(blobs, ChecksReadiness):
        checks["storage"] = blobs.check_ready
    aborter = Aborter(repo, blobs, clock, events)
    # Uploads filled by appending (tus) take no parts through the REST endpoints.
    appended = repo if isinstance(repo, AppendRepository) else None
    outbox = repo if isinstance(repo, Outbox) else None
    delivery = DeliveryPolicy(
        retry=RetryPolicy(settings.webhook_backoff, max_attempts=settings.webhook_max_attempts),
        timeout=settings.webhook_timeout,
    )

    def deliverer(sender: WebhookSender, outbox: Outbox) -> DeliverWebhooks:
        return DeliverWebhooks(outbox, sender, clock, delivery)

    if tokens is not None:  # upload tokens work whatever authenticates everyone else
        authenticator = UploadTokenAuthenticator(tokens, authenticator, clock)

    def gc(gc_policy: GcPolicy) -> GcService:
        if not isinstance(repo, GcRepository):
            raise UploadcoreError("this repository cannot be garbage-collected (no GcQueries)")
        tally = repo.add_gc_actions if isinstance(repo, CountsGcActions) else None
        return GcService(repo, aborter, clock, gc_policy, tally=tally)

    uppy = uppy_of(repo, blobs, signer, clock, ids, policy, events, aborter)
    arrivals = None if uppy is None else uppy.arrivals
    return Uploadcore(
        settings=settings,
        policy=policy,
        initiate=InitiateUpload(repo, blobs, urls, clock, ids, policy, events),
        upload_state=GetUploadState(repo, received, arrivals),
        refresh_urls=RefreshUrls(repo, received, urls, clock, policy, appends=appended),
        receive_part=(
            ReceivePart(repo, blobs, urls, clock, policy, appends=appended)
            if isinstance(blobs, ReceivesParts)
            else None
        ),
        complete=CompleteUpload(
            repo, blobs, received, clock, policy, events, appends=appended, aborter=aborter
        ),
        abort=AbortUpload(repo, aborter),
        force_abort=ForceAbort(repo, aborter),
        list_files=ListFiles(repo, signer, clock),
        get_file=GetFile(repo, arrivals),
        update_file=UpdateFile(repo, clock, events),
        delete_file=DeleteFile(repo, aborter, clock, events),
        open_download=OpenDownload(repo, blobs, urls) if isinstance(blobs, ServesFiles) else None,
        mint_upload_token=None if tokens is None else MintUploadToken(tokens, clock, ids),
        revoke_upload_token=None if tokens is None else RevokeUploadToken(tokens, clock),
        urls=urls,
        users=users,
        authenticator=authenticator,
        webhooks=None if outbox is None else ManageWebhooks(outbox, clock, ids),
        hooks=events.hooks,
        _gc=gc,
        _deliverer=None if outbox is None else functools.partial(deliverer, outbox=outbox),
        health=health,
        close=close,
        reads_block=reads_block,
        appends=appends_of(repo, blobs, clock, ids, policy, events),
        uppy=uppy,
        checks=checks,
        stats=repo.operational_stats if isinstance(repo, ReportsStats) else None,
        metrics=metrics,
    )


def _tokens_of(repo: UploadRepository) -> UploadTokenRepository | None:
    return repo if isinstance(repo, UploadTokenRepository) else None


def _users_of(repo: UploadRepository) -> UserRepository:
    if not hasattr(repo, "principal_for_key"):
        raise TypeError("the repository keeps no users: pass `users=` or `authenticator=`")
    return repo  # type: ignore[return-value]


__all__ = [
    "Adapters",
    "Appends",
    "Uploadcore",
    "Uppy",
    "blob_store",
    "build",
    "migrate",
    "policy_from",
    "prepare",
    "s3_blob_store",
    "s3_client",
]
