"""The uploadcore HTTP API as the upload client uses it, with retries.

The API key goes only to the API (`Authorization: Bearer`), never to a
part URL: those may point at S3, and carry their own signature.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx2

from uploadcore.domain.errors import UploadcoreError
from uploadcore.entrypoints.client.retry import RetryPolicy, is_transient, retry_after

log = logging.getLogger(__name__)

Json = dict[str, Any]


class ClientError(UploadcoreError):
    """The upload could not be done; the message says why in one line."""

    code = "client_error"
    title = "Upload failed"


class ApiError(ClientError):
    """The server (or storage) answered with an error that another try will not fix."""

    def __init__(self, detail: str, status: int, problem_code: str | None) -> None:
        super().__init__(detail)
        self.status = status
        self.problem_code = problem_code


class Stopped(ClientError):
    """The upload was told to stop (interrupted, or another part failed for good)."""


class Interrupted(Stopped):
    """The person running the upload stopped it (Ctrl-C)."""


class Api:
    """Calls to one uploadcore server, each retried while its failures are transient."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        http: httpx2.Client,
        retry: RetryPolicy | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.auth = {"Authorization": f"Bearer {api_key}"}
        self.http = http
        self.retry = retry or RetryPolicy()
        self.stop = stop or threading.Event()

    # -- the endpoints ------------------------------------------------------

    def initiate(self, body: Mapping[str, object]) -> Json:
        return self._json("POST", "/v1/files/uploads/", "start the upload", body)

    def state(self, file_id: str) -> Json:
        return self._json("GET", f"/v1/files/uploads/{file_id}/", f"read upload {file_id}")

    def refresh_urls(self, file_id: str, part_numbers: Sequence[int]) -> Json:
        body = {"part_numbers": list(part_numbers)}
        path = f"/v1/files/uploads/{file_id}/presigned-urls/"
        return self._json("POST", path, "refresh the part URLs", body)

    def complete(self, file_id: str, parts: Sequence[Mapping[str, object]]) -> Json:
        path = f"/v1/files/uploads/{file_id}/complete/"
        return self._json("POST", path, "complete the upload", {"parts": list(parts)})

    def file(self, file_id: str) -> Json:
        return self._json("GET", f"/v1/files/{file_id}/", f"read file {file_id}")

    def put_part(
        self, url: str, length: int, body: Callable[[], Iterable[bytes]], what: str
    ) -> httpx2.Response:
        """PUT one part body (a fresh iterator per try) of exactly `length` bytes.

        Returns the final answer, successful or not, once it is not transient.
        """
        headers = {"Content-Length": str(length), "Content-Type": "application/octet-stream"}
        return self.send(lambda: self.http.put(url, content=body(), headers=headers), what)

    # -- machinery ------------------------------------------------------------

    def _json(
        self, method: str, path: str, what: str, body: Mapping[str, object] | None = None
    ) -> Json:
        url = self.base_url + path
        response = self.send(
            lambda: self.http.request(method, url, json=body, headers=self.auth), what
        )
        checked(response, what)
        try:
            answer = response.json()
        except ValueError:
            raise ClientError(f"could not {what}: the server answered no JSON") from None
        if not isinstance(answer, dict):
            raise ClientError(f"could not {what}: unexpected answer {str(answer)[:100]}")
        return answer

    def send(self, request: Callable[[], httpx2.Response], what: str) -> httpx2.Response:
        """`request()`, tried again after transient failures; the first other answer."""
        failure: httpx2.Response | httpx2.TransportError | None = None
        for attempt in range(self.retry.attempts):
            if self.stop.is_set():
                raise Stopped(f"stopped before it could {what}")
            try:
                response = request()
            except httpx2.TransportError as error:
                if self.stop.is_set():
                    raise Stopped(f"stopped while it tried to {what}") from error
                if not is_transient(error):
                    raise ClientError(f"could not {what}: {describe(error)}") from error
                failure = error
            else:
                if not is_transient(response):
                    return response
                failure = response
            if attempt + 1 < self.retry.attempts:
                wait = self.retry.delay(
                    attempt, retry_after(failure) if isinstance(failure, httpx2.Response) else None
                )
                log.info("could not %s (%s); trying again in %.1f s", what, describe(failure), wait)
                if self.stop.wait(wait):
                    raise Stopped(f"stopped before it could {what}")
        reason = describe(failure) if failure is not None else "no try was made"
        tries = "1 try" if self.retry.attempts == 1 else f"{self.retry.attempts} tries"
        raise ClientError(f"could not {what} after {tries}: {reason}")


def http_client(base_url: str, parallel: int) -> httpx2.Client:
    """An HTTP client for `parallel` part uploads at once, after checking the URL."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ClientError(f"--url must be an http:// or https:// URL, not {base_url!r}")
    return httpx2.Client(
        # Reads wait for a server that fsyncs a big part, or assembles a big file.
        timeout=httpx2.Timeout(60.0, connect=10.0, read=600.0),
        limits=httpx2.Limits(max_connections=parallel + 2, max_keepalive_connections=parallel + 2),
    )


def checked(response: httpx2.Response, what: str) -> httpx2.Response:
    """The response if it is a success; ApiError naming the server's reason otherwise."""
    if response.is_success:
        return response
    status, code, detail = problem_of(response)
    raise ApiError(f"could not {what}: {detail} (HTTP {status}{', ' + code if code else ''})",
                   status, code)  # fmt: skip


_S3_CODE = re.compile(r"<Code>([^<]{1,100})</Code>")
_S3_MESSAGE = re.compile(r"<Message>([^<]{1,300})</Message>")


def problem_of(response: httpx2.Response) -> tuple[int, str | None, str]:
    """(status, machine code, one-line detail) of an error answer: JSON problem or S3 XML."""
    status = response.status_code
    text = response.text
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        code = body.get("code")
        return status, code if isinstance(code, str) else None, _one_line(body["detail"])
    code_match, message_match = _S3_CODE.search(text), _S3_MESSAGE.search(text)
    if code_match:
        message = message_match[1] if message_match else code_match[1]
        return status, code_match[1], _one_line(message)
    return status, None, _one_line(text[:200]) or response.reason_phrase or "no details"


def describe(failure: httpx2.Response | httpx2.TransportError) -> str:
    if isinstance(failure, httpx2.TransportError):
        return _one_line(f"{type(failure).__name__}: {failure}".rstrip(": "))
    status, code, detail = problem_of(failure)
    return f"HTTP {status}{' ' + code if code else ''}: {detail}"


def _one_line(text: str) -> str:
    return " ".join(text.split())
