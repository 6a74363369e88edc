"""What every resource's endpoints share: the core, who is calling, where links point.

Authentication happens here and nowhere else, and so does the trailing slash:
every route answers with and without it, without a redirect.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import URL, Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Scope

from uploadcore.bootstrap import Uploadcore
from uploadcore.domain.errors import Forbidden, InvalidInput, NotAuthenticated
from uploadcore.domain.upload import Principal, Upload
from uploadcore.entrypoints.http import schemas
from uploadcore.entrypoints.http.observe import USER
from uploadcore.entrypoints.links import HttpLinks
from uploadcore.services.upload_tokens import TOKEN_PREFIX

T = TypeVar("T")


class Resource:
    """The endpoints of one resource, over the composed core."""

    def __init__(self, core: Uploadcore) -> None:
        self.core = core
        # Reads that never wait (SQLite, WAL) run on the event loop: two of them take
        # some 20 µs, a trip to a worker thread and back several times that under load.
        self.reads_inline = not core.reads_block
        # An upload's state is point reads too when the database records its parts (local
        # storage) and no arrival check asks storage (S3 forms): no network on the loop.
        state = core.upload_state
        self.state_inline = self.reads_inline and state.received.recorded and state.arrivals is None

    def routes(self) -> list[BaseRoute]:
        raise NotImplementedError

    async def principal(self, request: Request, *, uploading: bool = False) -> Principal:
        """The caller, from `Authorization: Bearer <credential>`; NotAuthenticated otherwise.

        An upload token is accepted only where `uploading` (Forbidden elsewhere).
        """
        credential = credential_of(request.headers)
        if self.inline(credential):
            principal = self.authenticate(credential, uploading=uploading)
        else:
            principal = await run_in_threadpool(self.authenticate, credential, uploading=uploading)
        request.scope[USER] = principal.name  # for the request's log line
        return principal

    async def read_as_caller(
        self,
        credential: str,
        read: Callable[[Principal], T],
        *,
        uploading: bool = False,
        never_waits: bool = True,
    ) -> T:
        """Authenticate `credential`, then `read(principal)`: a read clients repeat.

        On the event loop when neither waits (an API key on SQLite in WAL mode,
        and `never_waits`: the read is point reads of that database); otherwise
        both in one trip to a worker thread. Authentication is never cached.
        """

        def run() -> T:
            return read(self.authenticate(credential, uploading=uploading))

        if never_waits and self.inline(credential):
            return run()
        return await run_in_threadpool(run)

    def inline(self, credential: str) -> bool:
        """Whether looking this credential up never waits (an API key on SQLite in WAL mode)."""
        return self.reads_inline and not credential.startswith(TOKEN_PREFIX)

    def authenticate(self, credential: str, *, uploading: bool = False) -> Principal:
        """The caller (blocking: a database lookup); NotAuthenticated for an unknown credential."""
        principal = self.core.authenticator.authenticate(credential)
        if principal is None:
            raise NotAuthenticated("the API key or upload token is not valid")
        if principal.grant is not None and not uploading:
            raise Forbidden(
                "an upload token may only upload: initiate, resume, complete or abort its uploads"
            )
        return principal

    def links(self, scope: Scope) -> HttpLinks:
        """Links under the URL this app is reached at, mount point (ASGI `root_path`) included."""
        return HttpLinks(self.base_url(scope))

    def base_url(self, scope: Scope) -> str:
        root: str = scope.get("root_path", "")
        configured = self.core.settings.base_url
        if configured:
            return configured.rstrip("/") + root
        url = URL(scope=scope)
        return f"{url.scheme}://{url.netloc}{root}"

    def file_json(self, upload: Upload, links: HttpLinks) -> dict[str, Any]:
        """The file's representation, with a `url` signed now."""
        return schemas.file_json(upload, self.core.file_url(upload, links))


def credential_of(headers: Headers) -> str:
    scheme, _, credential = headers.get("authorization", "").partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential:
        raise NotAuthenticated("send an API key as `Authorization: Bearer <key>`")
    return credential


class SlashRoute(Route):
    """A route that answers its path with and without the trailing slash, without a redirect."""

    def __init__(self, path: str, endpoint: Any, **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        if path.endswith("/") and path != "/":
            pattern = self.path_regex.pattern.removesuffix("/$")
            self.path_regex = re.compile(pattern + "/?$")


def by_method(**endpoints: Callable[[Request], Awaitable[Response]]) -> Any:
    """One endpoint for a path with several methods, so a 405's `Allow` lists all of them."""

    async def endpoint(request: Request) -> Response:
        return await endpoints["GET" if request.method == "HEAD" else request.method](request)

    return endpoint


# ASCII digits only: str.isdigit() also accepts "²" (int() refuses it) and Arabic-Indic
# digits (int() reads them).
DIGITS = re.compile(r"[0-9]+")


def content_length(headers: Headers) -> int | None:
    raw = headers.get("content-length")
    if raw is None:
        return None
    if not DIGITS.fullmatch(raw):
        raise InvalidInput("Content-Length must be a non-negative integer")
    return int(raw)
