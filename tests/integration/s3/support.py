"""What the S3 tests share: fake credentials, a moto server that checks presigned
URLs the way S3 does, a real S3 (Ceph RADOS Gateway) when one is configured,
and a client wrapper that fails on demand."""

from __future__ import annotations

import hashlib
import hmac
import os
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from urllib.parse import quote, unquote

import pytest
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from uploadcore import bootstrap
from uploadcore.adapters.s3 import S3BlobStore
from uploadcore.settings import Settings

ACCESS_KEY = "testing"
SECRET_KEY = "testing"
FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": ACCESS_KEY,
    "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
    "AWS_SESSION_TOKEN": "testing",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
}
MiB = 1024 * 1024

S3_ENDPOINT_ENV = "UPLOADCORE_TEST_S3_ENDPOINT_URL"
# The S3 implementations the S3 tests run against, as one fixture's parameters.
STORES = ["moto", "rgw"]


def rgw_endpoint() -> str:
    """The Ceph RADOS Gateway to test against (credentials testing/testing), or skip."""
    url = os.environ.get(S3_ENDPOINT_ENV)
    if not url:
        pytest.skip(
            f"Ceph RADOS Gateway tests need {S3_ENDPOINT_ENV}: .ci/run sets it in CI; "
            "locally, `.ci/rgw-start` (as root, with the radosgw, ceph-mon and ceph-osd "
            "packages) starts one and prints its URL"
        )
    return url


def new_bucket(client: Any) -> str:
    """A new, empty bucket of its own: RGW keeps every test's objects until dropped."""
    bucket = f"uploads-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    return bucket


@contextmanager
def rgw_blob_store(key_prefix: str = "uploadcore/") -> Iterator[S3BlobStore]:
    """An S3BlobStore as the bootstrap builds it, on a new bucket of the RGW (skips without).

    Needs FAKE_AWS_ENV in the environment.
    """
    endpoint = rgw_endpoint()
    settings = Settings(
        upload_storage_handler="s3",
        aws_storage_bucket_name="unused",
        aws_s3_endpoint_url=endpoint,
        aws_s3_key_prefix=key_prefix,
    )
    client = bootstrap.s3_client(settings)
    bucket = new_bucket(client)
    try:
        yield bootstrap.s3_blob_store(replace(settings, aws_storage_bucket_name=bucket), client)
    finally:
        drop_bucket(client, bucket)


def drop_bucket(client: Any, bucket: str) -> None:
    """Abort every multipart upload, delete every object, then the bucket."""
    for upload in client.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
        client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    for found in client.list_objects_v2(Bucket=bucket).get("Contents", []):
        client.delete_object(Bucket=bucket, Key=found["Key"])
    client.delete_bucket(Bucket=bucket)


StartResponse = Callable[[str, list[tuple[str, str]]], Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class SigV4Gate:
    """What S3 checks of a presigned URL, in front of moto (which checks none of it).

    A request with `X-Amz-Signature` in its query must be signed with a known
    key for the method, path, query and signed headers it arrives with (so a
    body of another length, with another Content-Length, is refused:
    SignatureDoesNotMatch), and come before `X-Amz-Date` + `X-Amz-Expires`
    (AccessDenied, "Request has expired"). Written from the SigV4 spec, not
    from botocore, so it checks our URLs independently. Other requests pass.
    """

    def __init__(
        self,
        app: WsgiApp,
        secrets: Mapping[str, str],
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.app = app
        self.secrets = secrets
        self.now = now
        self.refused: list[str] = []

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path, _, query = str(environ.get("RAW_URI", "")).partition("?")
        pairs = [pair.partition("=")[::2] for pair in query.split("&") if pair]
        params = {unquote(k): unquote(v) for k, v in pairs}
        if "X-Amz-Signature" in params:
            problem = self._check(environ, path, pairs, params)
            if problem is not None:
                self.refused.append(problem[0])
                return _s3_error(start_response, *problem)
        return self.app(environ, start_response)

    def _check(
        self,
        environ: Mapping[str, Any],
        path: str,
        pairs: list[tuple[str, str]],
        params: Mapping[str, str],
    ) -> tuple[str, str] | None:
        access_key, date, region, service, _ = params.get("X-Amz-Credential", "////").split("/")
        secret = self.secrets.get(access_key)
        if params.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256" or secret is None:
            return "InvalidAccessKeyId", "The AWS Access Key Id does not exist in our records."
        stamp = params.get("X-Amz-Date", "")
        signed_at = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        if self.now() > signed_at + timedelta(seconds=int(params.get("X-Amz-Expires", "0"))):
            return "AccessDenied", "Request has expired"
        canonical = _canonical_request(environ, path, pairs, params["X-Amz-SignedHeaders"])
        scope = f"{date}/{region}/{service}/aws4_request"
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        to_sign = f"AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{digest}"
        key = ("AWS4" + secret).encode()
        for part in (date, region, service, "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, params["X-Amz-Signature"]):
            return (
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        return None


def _canonical_request(
    environ: Mapping[str, Any], path: str, pairs: list[tuple[str, str]], signed: str
) -> str:
    query = "&".join(
        sorted(
            f"{quote(unquote(k), safe='-_.~')}={quote(unquote(v), safe='-_.~')}"
            for k, v in pairs
            if unquote(k) != "X-Amz-Signature"
        )
    )
    headers = "".join(f"{name}:{_header(environ, name)}\n" for name in signed.split(";"))
    method = str(environ["REQUEST_METHOD"])
    return "\n".join([method, path, query, headers, signed, "UNSIGNED-PAYLOAD"])


def _header(environ: Mapping[str, Any], name: str) -> str:
    if name == "content-length":
        value = environ.get("CONTENT_LENGTH", "")
    elif name == "content-type":
        value = environ.get("CONTENT_TYPE", "")
    else:
        value = environ.get("HTTP_" + name.upper().replace("-", "_"), "")
    return " ".join(str(value).split())


def _s3_error(start_response: StartResponse, code: str, message: str) -> list[bytes]:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    ).encode()
    start_response(
        "403 Forbidden",
        [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))],
    )
    return [body]


@contextmanager
def gated_moto_server() -> Iterator[tuple[str, SigV4Gate]]:
    """moto in server mode on 127.0.0.1 (a free port), behind a SigV4Gate; its URL."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        wsgi = server._server  # the werkzeug server ThreadedMotoServer runs
        assert wsgi is not None
        gate = SigV4Gate(cast(WsgiApp, wsgi.app), {ACCESS_KEY: SECRET_KEY})
        wsgi.app = gate
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}", gate
    finally:
        server.stop()


def s3_error(code: str, status: int, operation: str) -> ClientError:
    """The ClientError botocore raises for an S3 error answer."""
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}},  # type: ignore[typeddict-item]
        operation,
    )


class FlakyS3:
    """A boto3 S3 client that fails the calls it is told to fail, then behaves.

    `fail("list_parts", error)` raises `error` instead of the next call;
    `lose_answer("complete_multipart_upload", error)` lets the next call reach S3,
    then raises `error` as if the answer had been lost on the way back.
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self._before: dict[str, list[BaseException | Callable[[], None]]] = {}
        self._after: dict[str, list[BaseException]] = {}

    def fail(self, method: str, error: BaseException, times: int = 1) -> None:
        self._before.setdefault(method, []).extend([error] * times)

    def lose_answer(self, method: str, error: BaseException) -> None:
        self._after.setdefault(method, []).append(error)

    def meanwhile(self, method: str, action: Callable[[], None]) -> None:
        """Run `action` just before the next call of `method` goes out (a race, staged)."""
        self._before.setdefault(method, []).append(action)

    def __getattr__(self, name: str) -> Any:
        real = getattr(self.client, name)
        if not callable(real) or name.startswith("_"):
            return real

        def call(*args: Any, **kwargs: Any) -> Any:
            if self._before.get(name):
                first = self._before[name].pop(0)
                if isinstance(first, BaseException):
                    raise first
                first()
            answer = real(*args, **kwargs)
            if self._after.get(name):
                raise self._after[name].pop(0)
            return answer

        return call
