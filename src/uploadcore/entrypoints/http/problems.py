"""Errors as RFC 9457 problem+json: the single table from exception to status."""

from __future__ import annotations

import logging
import re
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from uploadcore.domain import errors as e
from uploadcore.entrypoints.http.observe import where
from uploadcore.entrypoints.http.responses import JsonResponse

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class UnsupportedMediaType(e.UploadcoreError):
    code = "unsupported_media_type"
    title = "Unsupported media type"


class PayloadTooLarge(e.UploadcoreError):
    code = "payload_too_large"
    title = "Request body too large"


class RequestTimeout(e.BodyInterrupted):
    """The client stopped sending its request body (see `timeouts.py`)."""

    code = "request_timeout"
    title = "Request body timed out"


STATUS: dict[type[e.UploadcoreError], int] = {
    e.InvalidInput: 400,
    e.NotAuthenticated: 401,
    RequestTimeout: 408,
    e.Forbidden: 403,
    e.NotFound: 404,
    e.Conflict: 409,
    e.FileTooLarge: 413,
    e.PartTooLarge: 413,
    PayloadTooLarge: 413,
    UnsupportedMediaType: 415,
    e.StorageUnavailable: 503,
    e.InsufficientStorage: 507,
}

_HTTP_CODES = {
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
}


def status_of(error: e.UploadcoreError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def problem(status: int, code: str, title: str, detail: str, **extra: Any) -> JsonResponse:
    body = {"type": f"https://uploadcore.dev/problems/{code}", "title": title, "status": status}
    body |= {"detail": detail, "code": code, **extra}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JsonResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


async def on_uploadcore_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, e.UploadcoreError):  # pragma: no cover - registered for it
        raise exc
    status = status_of(exc)
    extra: dict[str, Any] = {}
    if exc.errors:
        shown = exc.errors[:MAX_ERRORS]
        extra["errors"] = [{"field": f.field, "message": f.message[:MAX_DETAIL]} for f in shown]
    if status == 500:
        log.error("unmapped error %s: %s", type(exc).__name__, exc.detail)
    elif status >= 500:
        log.warning("%s %s: %s", request.method, where(request.scope), exc.detail)
    return problem(status, exc.code, exc.title, _bounded(exc.detail), **extra)


# An answer stays small whatever the request held: a body of 10**5 bad fields gets the
# first few named, not a 20 MB list (each error's own message says how many more).
MAX_ERRORS = 20
MAX_DETAIL = 1000


def _bounded(detail: str) -> str:
    return detail if len(detail) <= MAX_DETAIL else detail[: MAX_DETAIL - 1] + "…"


async def on_http_exception(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, HTTPException):  # pragma: no cover - registered for it
        raise exc
    code, title = _HTTP_CODES.get(exc.status_code, ("http_error", "HTTP error"))
    detail = str(exc.detail)
    if exc.status_code == 404:
        detail = _not_found_detail(request.url.path)
    response = problem(exc.status_code, code, title, detail)
    response.headers.update(exc.headers or {})
    return response


# A part URL with something after its last slash: what `curl -T part.00 URL` sends, since
# curl appends the file's name to a URL that ends in `/`.
_PART_URL_WITH_A_NAME = re.compile(r"/upload-part/\d+/[^/]+/?$")


def _not_found_detail(path: str) -> str:
    if _PART_URL_WITH_A_NAME.search(path):
        return (
            "no such URL: this looks like a part URL with a file name appended, which "
            "`curl -T FILE URL` does when URL ends in /; send the part with "
            "`curl -T - URL < FILE` (or `--data-binary @FILE -X PUT`)"
        )
    return "no such URL: see GET /openapi.json for the API's paths"


async def on_client_disconnect(request: Request, exc: Exception) -> Response:
    """A client that goes away mid-body is news, not a failure: one INFO line, no traceback.

    Whatever the request had sent is gone already (a part upload discards its
    partial bytes on the way out). The answer is for form's sake: nobody reads it.
    """
    log.info(
        "client went away before the end of its request body: %s %s (nothing of it was kept)",
        request.method,
        where(request.scope),
    )
    return problem(
        400, "client_disconnected", "Client disconnected", "the request body ended early"
    )


async def on_unexpected(request: Request, exc: Exception) -> Response:
    log.error("unexpected error on %s %s", request.method, where(request.scope), exc_info=exc)
    return problem(500, "internal_error", "Internal server error", "an unexpected error occurred")


EXCEPTION_HANDLERS = {
    e.UploadcoreError: on_uploadcore_error,
    HTTPException: on_http_exception,
    ClientDisconnect: on_client_disconnect,
    Exception: on_unexpected,
}
