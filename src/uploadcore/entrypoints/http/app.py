"""`create_app`: the Starlette application, to run or to mount inside another ASGI app."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from uploadcore.bootstrap import Uploadcore, build
from uploadcore.entrypoints.http.problems import EXCEPTION_HANDLERS
from uploadcore.entrypoints.http.routes import Api
from uploadcore.entrypoints.http.timeouts import BodyTimeoutMiddleware
from uploadcore.settings import Settings


def create_app(settings: Settings, core: Uploadcore | None = None) -> Starlette:
    """The uploadcore API. Builds its components from `settings` unless given `core`."""
    core = core or build(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        core.close()

    middleware = []
    if settings.cors_allow_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_allow_origins),
                allow_methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
                allow_headers=["Authorization", "Content-Type", "Content-MD5"],
                expose_headers=["ETag"],
                max_age=600,
            )
        )
    middleware.append(
        Middleware(BodyTimeoutMiddleware, timeout=settings.body_read_timeout.total_seconds())
    )
    app = Starlette(
        routes=Api(core).routes(),
        middleware=middleware,
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.uploadcore = core
    return app


def app_from_environment() -> Starlette:
    """The factory `uploadcore serve` hands to uvicorn (one per worker process)."""
    return create_app(Settings.from_env(os.environ))
