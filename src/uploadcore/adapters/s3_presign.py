"""Presigned S3 `UploadPart` URLs by the thousand, equal to botocore's own.

`generate_presigned_url` spends about 200 µs per URL, nearly all of it building
a request through the client's machinery (parameter validation, endpoint
rules, serialisation, events); the HMACs are a few microseconds. For the
10,000 parts of one upload, only the part number and the signed
`Content-Length` change from URL to URL, so:

1. botocore builds one real presigned URL (the template): endpoint,
   addressing style, key encoding, parameter order, signing region;
2. botocore's own signer (`S3SigV4QueryAuth`) signs the same request, with a
   placeholder part number and length, at the time we are asked for: this
   yields the canonical request and the string to sign around the
   placeholders;
3. each part is then two hashes and a few string joins.

Before it is trusted, step 2 must reproduce the template URL exactly (same
time, same part): if botocore ever builds URLs another way (another signature
version, headers we do not know of, a session we cannot read), the presigner
says so and the store falls back to one `generate_presigned_url` per part.

`GetObject` URLs (a listing page signs one per file) take the same road with
two placeholders, the key and the `response-content-disposition`: botocore
builds a template for them and a real URL for the first file asked for; the
shape taken from the template must rebuild that real URL exactly (the key's
and the disposition's percent-encoding included) before it is trusted. The
shape then serves every URL signed at the same second with the same
credentials, bucket and lifetime; a new second builds a new one.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, quote

from botocore.auth import SIGV4_TIMESTAMP, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)

ALGORITHM = "AWS4-HMAC-SHA256"
# Placeholders for the two values that change from part to part: digits, so no
# encoding step alters them, and long enough never to occur in a real URL by chance.
_PART = "7293015846"
_LENGTH = "8364102957"
_KEY = "5820193746"
_DISPOSITION = "4618207395"


@dataclass(frozen=True)
class UploadPartTarget:
    """What one batch of part URLs is for."""

    bucket: str
    key: str
    upload_id: str
    expires_in: int


def signing_time(when: datetime) -> str:
    """`when` as SigV4's timestamp (`20260101T000000Z`), in UTC."""
    return when.astimezone(UTC).strftime(SIGV4_TIMESTAMP)


class _QueryAuthAt(S3SigV4QueryAuth):
    """botocore's presigned-URL signer, at a time we give rather than the clock's."""

    def __init__(
        self, credentials: ReadOnlyCredentials, service: str, region: str, expires: int, at: str
    ) -> None:
        super().__init__(credentials, service, region, expires)
        self.at = at

    def presign(self, request: AWSRequest) -> tuple[str, str]:
        """`add_auth` at `self.at`: the canonical request and the string to sign.

        Leaves `request.url` carrying every auth parameter but the signature.
        """
        request.context["timestamp"] = self.at
        self._modify_request_before_signing(request)  # type: ignore[attr-defined]
        canonical = self.canonical_request(request)
        return canonical, self.string_to_sign(request, canonical)

    def signed_url(self, request: AWSRequest, signature: str) -> str:
        self._inject_signature_to_request(request, signature)  # type: ignore[attr-defined]
        return str(request.url)


@dataclass(frozen=True)
class _Shape:
    """One batch's URLs and canonical requests, split around the placeholders."""

    url_head: str
    url_tail: str
    canonical_head: str
    canonical_middle: str
    canonical_tail: str
    to_sign_head: str
    key: bytes

    def url(self, part_number: int, size: int) -> str:
        canonical = f"{self.canonical_head}{part_number}{self.canonical_middle}{size}"
        digest = hashlib.sha256((canonical + self.canonical_tail).encode()).hexdigest()
        to_sign = (self.to_sign_head + digest).encode()
        signature = hmac.new(self.key, to_sign, hashlib.sha256).hexdigest()
        return f"{self.url_head}{part_number}{self.url_tail}{signature}"


@dataclass(frozen=True)
class _GetShape:
    """`GetObject` URLs at one time, split around the key and the disposition."""

    url_parts: tuple[str, str, str]
    canonical_parts: tuple[str, str, str]
    to_sign_head: str
    key: bytes

    def url(self, key: str, disposition: str) -> str:
        # botocore's encodings: a key's path keeps `/` and `~`, a query value `-_.~`.
        path, value = quote(key, safe="/~"), quote(disposition, safe="-_.~")
        c0, c1, c2 = self.canonical_parts
        digest = hashlib.sha256(f"{c0}{path}{c1}{value}{c2}".encode()).hexdigest()
        signature = hmac.new(self.key, (self.to_sign_head + digest).encode(), hashlib.sha256)
        u0, u1, u2 = self.url_parts
        return f"{u0}{path}{u1}{value}{u2}{signature.hexdigest()}"


@dataclass(frozen=True)
class _Template:
    """A real presigned URL from botocore, taken apart."""

    unsigned: str  # the URL before botocore's auth parameters
    credentials: ReadOnlyCredentials
    service: str
    region: str
    at: str
    expires: int
    url: str

    @classmethod
    def parse(cls, url: str, credentials: ReadOnlyCredentials | None) -> _Template | None:
        cut = url.find(f"X-Amz-Algorithm={ALGORITHM}&")
        if credentials is None or not credentials.secret_key or cut < 1 or url[cut - 1] not in "?&":
            return None  # no credentials, or not SigV4 query auth (SigV2, unsigned)
        auth = dict(parse_qsl(url[cut:], keep_blank_values=True))
        scope = auth.get("X-Amz-Credential", "").split("/")
        expires = auth.get("X-Amz-Expires", "")
        if len(scope) != 5 or scope[0] != credentials.access_key or not expires.isdigit():
            return None
        at = auth.get("X-Amz-Date", "")
        return cls(url[: cut - 1], credentials, scope[3], scope[2], at, int(expires), url)

    def signer(self, at: str) -> _QueryAuthAt:
        return _QueryAuthAt(self.credentials, self.service, self.region, self.expires, at)

    def resign(self, headers: Mapping[str, str], at: str) -> str:
        """The same request signed at `at`, botocore's way."""
        auth = self.signer(at)
        request = AWSRequest(method="GET", url=self.unsigned, headers=dict(headers))
        _, to_sign = auth.presign(request)
        return auth.signed_url(request, auth.signature(to_sign, request))

    def part_shape(self, first: tuple[int, int], at: str) -> _Shape | None:
        """The shape of part URLs at `at`, or None if botocore's request cannot be rebuilt."""
        unsigned = _with_part_number(self.unsigned, first[0], _PART)
        if unsigned is None:
            return None
        auth = self.signer(at)
        request = AWSRequest(method="PUT", url=unsigned, headers={"Content-Length": _LENGTH})
        canonical, to_sign = auth.presign(request)
        key = _signing_key(self.credentials.secret_key or "", at[:8], self.region, self.service)
        signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        url = auth.signed_url(request, auth.signature(to_sign, request))
        url_parts = url.removesuffix(signature).split(_PART)
        canonical_head, _, rest = canonical.partition(_PART)
        canonical_middle, _, canonical_tail = rest.partition(_LENGTH)
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        if (
            not url.endswith(signature)  # our derived key signs as botocore does
            or len(url_parts) != 2
            or canonical.count(_PART) != 1
            or canonical.count(_LENGTH) != 1
            or not to_sign.endswith("\n" + digest)
        ):
            return None
        head = to_sign.removesuffix(digest)
        return _Shape(url_parts[0], url_parts[1], canonical_head, canonical_middle,
                      canonical_tail, head, key)  # fmt: skip

    def get_shape(self, at: str) -> _GetShape | None:
        """The shape of `GetObject` URLs at `at` (a template made with `_KEY`, `_DISPOSITION`)."""
        auth = self.signer(at)
        request = AWSRequest(method="GET", url=self.unsigned, headers={})
        canonical, to_sign = auth.presign(request)
        key = _signing_key(self.credentials.secret_key or "", at[:8], self.region, self.service)
        signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        url = auth.signed_url(request, auth.signature(to_sign, request))
        url_parts = _around(url.removesuffix(signature), _KEY, _DISPOSITION)
        canonical_parts = _around(canonical, _KEY, _DISPOSITION)
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        if (
            url_parts is None
            or canonical_parts is None
            or not url.endswith(signature)
            or not to_sign.endswith("\n" + digest)
        ):
            return None
        return _GetShape(url_parts, canonical_parts, to_sign.removesuffix(digest), key)


_GetKey = tuple[str, int, str, ReadOnlyCredentials]  # bucket, lifetime, time, credentials


class Presigner:
    """Presigned S3 URLs signed at a given time, as botocore would sign them then."""

    def __init__(self, client: S3Client) -> None:
        self.client = client
        self._warned = False
        # The `GetObject` shape last built: one per second, shared by every thread.
        self._get: tuple[_GetKey, _GetShape] | None = None

    def part_urls(
        self, target: UploadPartTarget, parts: Sequence[tuple[int, int]], when: datetime
    ) -> list[str]:
        """One `UploadPart` URL per `(part_number, size)`, signed at `when`, in the order given.

        Each equals what `generate_presigned_url('upload_part', ...)` with that
        part number and `ContentLength` returns when the clock reads `when`.
        """
        if not parts:
            return []
        template_url = self._upload_part_url(target, *parts[0])
        template = _Template.parse(template_url, self._credentials())
        shape = None
        if template is not None:
            # Trust the fast path only if it rebuilds botocore's URL exactly.
            check = template.part_shape(parts[0], template.at)
            if check is not None and check.url(*parts[0]) == template_url:
                at = signing_time(when)
                shape = check if at == template.at else template.part_shape(parts[0], at)
        if shape is None:
            self._warn()  # then botocore's own way, at the clock's time rather than `when`
            return [template_url, *(self._upload_part_url(target, n, s) for n, s in parts[1:])]
        return [shape.url(n, size) for n, size in parts]

    def open_part_urls(self, target: UploadPartTarget, part_numbers: Sequence[int]) -> list[str]:
        """`UploadPart` URLs that bind no length (an upload of open length), signed now.

        One botocore URL each: a browser asks for one part at a time.
        """
        return [
            self.client.generate_presigned_url(
                "upload_part",
                Params={
                    "Bucket": target.bucket,
                    "Key": target.key,
                    "UploadId": target.upload_id,
                    "PartNumber": n,
                },
                ExpiresIn=target.expires_in,
            )
            for n in part_numbers
        ]

    def get_url(
        self, bucket: str, key: str, disposition: str, expires_in: int, when: datetime
    ) -> str:
        """A `GetObject` URL answering with `Content-Disposition: disposition`, signed at `when`.

        Equal to `generate_presigned_url('get_object', ...)` with those
        parameters when the clock reads `when`.
        """
        credentials = self._credentials()
        at = signing_time(when)
        cached = self._get
        if credentials is not None:
            wanted: _GetKey = (bucket, expires_in, at, credentials)
            if cached is not None and cached[0] == wanted:
                return cached[1].url(key, disposition)
        params = {"Bucket": bucket, "Key": key, "ResponseContentDisposition": disposition}
        url = self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in)
        real = _Template.parse(url, credentials)
        template = self._get_template(bucket, expires_in)
        shape = None if real is None or template is None else template.get_shape(real.at)
        # Trust the fast path only if it rebuilds botocore's URL exactly.
        if (
            credentials is None
            or real is None
            or shape is None
            or shape.url(key, disposition) != url
        ):
            self._warn()  # then botocore's own way, at the clock's time rather than `when`
            return url
        if at != real.at and template is not None:
            shape = template.get_shape(at)
            if shape is None:  # pragma: no cover - the same template built one a moment ago
                self._warn()
                return url
        self._get = ((bucket, expires_in, at, credentials), shape)
        return shape.url(key, disposition)

    def _get_template(self, bucket: str, expires_in: int) -> _Template | None:
        params = {"Bucket": bucket, "Key": _KEY, "ResponseContentDisposition": _DISPOSITION}
        url = self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in)
        return _Template.parse(url, self._credentials())

    def _upload_part_url(self, target: UploadPartTarget, part_number: int, size: int) -> str:
        return self.client.generate_presigned_url(
            "upload_part",
            Params={
                "Bucket": target.bucket,
                "Key": target.key,
                "UploadId": target.upload_id,
                "PartNumber": part_number,
                "ContentLength": size,
            },
            ExpiresIn=target.expires_in,
        )

    def _credentials(self) -> ReadOnlyCredentials | None:
        # botocore keeps a client's credentials private; refreshable ones refresh here.
        get = getattr(self.client, "_get_credentials", None)
        credentials = get() if callable(get) else None
        if credentials is None:
            return None
        frozen: ReadOnlyCredentials = credentials.get_frozen_credentials()
        return frozen

    def _warn(self) -> None:
        if not self._warned:
            self._warned = True
            log.warning(
                "presigning with one generate_presigned_url call per URL, at the clock's time: "
                "this client's URLs are not the SigV4 query URLs the fast path rebuilds"
            )


def _with_part_number(url: str, part_number: int, value: str) -> str | None:
    """`url` with its `partNumber` query parameter set to `value`; None if it has none."""
    base, question, query = url.partition("?")
    pairs = query.split("&")
    wanted = f"partNumber={part_number}"
    if not question or pairs.count(wanted) != 1:
        return None
    return base + "?" + "&".join(f"partNumber={value}" if p == wanted else p for p in pairs)


def _around(text: str, first: str, second: str) -> tuple[str, str, str] | None:
    """`text` split around its one `first` and, after it, its one `second`; None otherwise."""
    if text.count(first) != 1 or text.count(second) != 1:
        return None
    head, _, rest = text.partition(first)
    middle, found, tail = rest.partition(second)
    return (head, middle, tail) if found else None


def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """SigV4's derived key for one day, region and service (checked against botocore's)."""
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key
