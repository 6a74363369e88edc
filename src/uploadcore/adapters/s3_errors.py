"""S3's error answers, read by what they mean rather than by one provider's code.

"The multipart upload is gone" (completed or aborted) arrives as
`NoSuchUpload` from AWS, MinIO and moto, and as `NoSuchKey` from Ceph RADOS
Gateway, which answers `ListParts` that way once an upload is completed or
aborted. A code means "gone" only for the operations it can mean that for:
the key is the upload's own and a missing bucket is `NoSuchBucket`, so
`NoSuchKey` on `ListParts` can mean nothing else, while on `HeadObject` it
means "no object" (the caller asks for that with `refusals`).

Whether a completion happened is not the error's to say: the store asks
`HeadObject` (see `S3BlobStore._completed_before`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from uploadcore.domain.errors import StorageUnavailable

log = logging.getLogger(__name__)

_NO_UPLOAD = frozenset({"NoSuchUpload", "NoSuchKey"})
GONE_BY_OPERATION: dict[str, frozenset[str]] = {
    "ListParts": _NO_UPLOAD,  # RGW: NoSuchKey
    "AbortMultipartUpload": _NO_UPLOAD,
    "CompleteMultipartUpload": _NO_UPLOAD,
}

THROTTLED = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TooManyRequests",
        "TooManyRequestsException",
        "RequestThrottled",
        "RequestTimeout",
        "ServiceUnavailable",
        "InternalError",
    }
)

# What an operator should look at, for refusals that say the store is not set up for us.
_HINTS = {
    "NoSuchBucket": "the bucket does not exist: check AWS_STORAGE_BUCKET_NAME",
    "AccessDenied": "check the credentials and the bucket's policy",
    "InvalidAccessKeyId": "the access key is unknown to this store: check the credentials",
    "SignatureDoesNotMatch": "the secret key is wrong for this access key",
    "PermanentRedirect": "the bucket is in another region: check AWS_S3_REGION_NAME",
    "AuthorizationHeaderMalformed": "the region is wrong: check AWS_S3_REGION_NAME",
}


class UploadGone(Exception):
    """S3 no longer knows the multipart upload: completed or aborted (or expired)."""


class Refused(Exception):
    """An S3 error answer the caller asked to decide itself (`refusals`)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def code_of(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def upload_gone(error: ClientError) -> bool:
    """Whether `error` says the multipart upload it was about is gone, for its operation."""
    return code_of(error) in GONE_BY_OPERATION.get(error.operation_name, frozenset())


@contextmanager
def s3_errors(
    action: str, refusals: frozenset[str] = frozenset(), *, bucket: str = ""
) -> Iterator[None]:
    """botocore's exceptions as ours.

    "The upload is gone" becomes UploadGone and the codes in `refusals` Refused,
    for the caller to decide; every other failure is StorageUnavailable:
    transient ones (throttling, 5xx, connection, timeout) and refusals that say
    the store is not set up for us (AccessDenied, NoSuchBucket, ...) alike.
    """
    try:
        yield
    except ClientError as error:
        code = code_of(error)
        if upload_gone(error):
            log.info(
                "S3 no longer knows the multipart upload (%s answered %s): could not %s",
                error.operation_name,
                code,
                action,
            )
            raise UploadGone(action) from None
        if code in refusals:
            raise Refused(code) from error
        raise _unavailable(action, error) from error
    except ParamValidationError:
        raise
    except BotoCoreError as error:  # connection, timeout, credentials
        raise _unreachable(action, error, bucket) from error


def _unavailable(action: str, error: ClientError) -> StorageUnavailable:
    code = code_of(error)
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
    said = str(error.response.get("Error", {}).get("Message") or "")
    answer = f"{error.operation_name} answered {code or 'nothing'}, HTTP {status}"
    if code in THROTTLED or status >= 500 or status in (0, 429):
        log.warning("S3 is unavailable: could not %s (%s) %s", action, answer, said)
    else:
        hint = _HINTS.get(code, "check its settings")
        log.error("S3 refused to %s (%s) %s: %s", action, answer, said, hint)
    return StorageUnavailable(f"S3 is unavailable: could not {action} ({code})")


def _unreachable(action: str, error: BotoCoreError, bucket: str) -> StorageUnavailable:
    url = str(getattr(error, "kwargs", {}).get("endpoint_url") or "")
    host = urlsplit(url).netloc if url else ""
    if not host:
        log.warning("S3 cannot be reached: could not %s: %s", action, error)
        return StorageUnavailable(f"S3 cannot be reached: could not {action}")
    hint = ""
    if bucket and host.startswith(f"{bucket}."):
        hint = (
            " (the bucket as a subdomain: AWS_S3_ADDRESSING_STYLE=virtual needs an endpoint "
            "that serves bucket subdomains; path is the other choice)"
        )
    log.warning("S3 cannot be reached at %s: could not %s: %s%s", host, action, error, hint)
    return StorageUnavailable(f"S3 cannot be reached at {host}: could not {action}{hint}")
