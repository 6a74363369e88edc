"""`create_app`: the Starlette application, to run or to mount inside another ASGI app."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from uploadcore.bootstrap import Uploadcore, blob_store, build
from uploadcore.entrypoints.http.docs import Docs
from uploadcore.entrypoints.http.downloads import Downloads
from uploadcore.entrypoints.http.files import Files
from uploadcore.entrypoints.http.health import Health
from uploadcore.entrypoints.http.logs import redact_access_logs
from uploadcore.entrypoints.http.metrics import Metrics
from uploadcore.entrypoints.http.observe import Observe
from uploadcore.entrypoints.http.parts import Parts
from uploadcore.entrypoints.http.problems import EXCEPTION_HANDLERS
from uploadcore.entrypoints.http.timeouts import BodyTimeoutMiddleware
from uploadcore.entrypoints.http.tokens import UploadTokens
from uploadcore.entrypoints.http.tus import Tus
from uploadcore.entrypoints.http.tus_headers import REQUEST_HEADERS, RESPONSE_HEADERS
from uploadcore.entrypoints.http.uploads import Uploads
from uploadcore.entrypoints.http.uppy import UppyRoutes
from uploadcore.settings import Settings, unknown_variables

log = logging.getLogger(__name__)


def create_app(
    settings: Settings, core: Uploadcore | None = None, *, deliver_webhooks: bool = False
) -> Starlette:
    """The uploadcore API. Builds its components from `settings` unless given `core`.

    With `deliver_webhooks` (as `uploadcore serve` runs it), the app also
    delivers webhooks for as long as it runs, in a background task of its
    event loop: a slow receiver takes none of the API's threads. Embedders
    leave it off and deliver where they choose (`core.deliverer().run(stop)`,
    or `uploadcore deliver`). It keeps URL tokens out of the servers' access
    logs (see `logs.py`). Where browsers POST files straight to S3 (Uppy's
    single-request uploads), it looks for them in the background too.
    """
    # A completion answers before its parts are deleted: they go on a worker thread.
    core = core or build(settings, blobs=blob_store(settings, free_in_background=True))
    redact_access_logs()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with (
            _delivering(core, deliver_webhooks and core.webhooks is not None),
            _watching(core),
        ):
            yield
        core.close()

    # Outermost: its request id and timing cover everything below, CORS answers included.
    middleware = [Middleware(Observe, metrics=core.metrics)]
    if settings.cors_allow_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_allow_origins),
                allow_methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
                allow_headers=["Authorization", "Content-Type", "Content-MD5", *REQUEST_HEADERS],
                expose_headers=["ETag", *RESPONSE_HEADERS],
                max_age=600,
            )
        )
    middleware.append(
        Middleware(BodyTimeoutMiddleware, timeout=settings.body_read_timeout.total_seconds())
    )
    # Files first: its details route is the hottest read, and Starlette tries routes in order.
    api = [
        route
        for resource in (
            Files,
            Uploads,
            Parts,
            Downloads,
            UploadTokens,
            Health,
            Metrics,
            Tus,
            UppyRoutes,
        )
        for route in resource(core).routes()
    ]
    app = Starlette(
        routes=[*api, *Docs(core, api).routes()],
        middleware=middleware,
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.uploadcore = core
    return app


@asynccontextmanager
async def _delivering(core: Uploadcore, enabled: bool) -> AsyncIterator[None]:
    """Webhook delivery in the background while the block runs; woken by each event."""
    if not enabled:
        yield
        return
    deliverer = core.deliverer()
    core.on(None, lambda _event: deliverer.wake())
    async with _in_background(deliverer.run):
        yield


@asynccontextmanager
async def _watching(core: Uploadcore) -> AsyncIterator[None]:
    """Where browsers POST files straight to storage (S3), look for them in the background."""
    watch = None if core.uppy is None else core.uppy.watch
    if watch is None:
        yield
        return
    async with _in_background(watch.run):
        yield


@asynccontextmanager
async def _in_background(run: Callable[[asyncio.Event], Awaitable[None]]) -> AsyncIterator[None]:
    """`run(stop)` in a task of the event loop while the block runs; stopped and awaited after."""
    stop = asyncio.Event()
    task = asyncio.ensure_future(run(stop))
    try:
        yield
    finally:
        stop.set()
        await task


def app_from_environment() -> Starlette:
    """The factory `uploadcore serve` hands to uvicorn (one per worker process)."""
    for warning in unknown_variables(os.environ):
        log.warning("%s", warning)
    return create_app(Settings.from_env(os.environ), deliver_webhooks=True)
