"""Multipart uploads left in S3, listed page by page for `gc` (errors: see `s3_errors`).

`ListMultipartUploads` answers at most 1,000 uploads a page; the next page
starts after the (key, upload id) markers S3 hands back. Only uploads under
uploadcore's key prefix are listed, so a bucket shared with other software
is never touched outside it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MULTIPART_UPLOAD = "multipart_upload"


@dataclass(frozen=True)
class MultipartUpload:
    key: str
    upload_id: str
    initiated: datetime


def multipart_uploads(
    client: S3Client, bucket: str, prefix: str, older_than: datetime
) -> Iterator[MultipartUpload]:
    """The multipart uploads under `prefix` initiated at or before `older_than`, lazily."""
    markers: dict[str, str] = {}
    while True:
        page = client.list_multipart_uploads(Bucket=bucket, Prefix=prefix, **markers)  # type: ignore[arg-type]
        for upload in page.get("Uploads", []):
            key, upload_id = upload.get("Key", ""), upload.get("UploadId", "")
            initiated = upload.get("Initiated")
            if key.startswith(prefix) and upload_id and initiated and initiated <= older_than:
                yield MultipartUpload(key, upload_id, initiated.astimezone(UTC))
        following = {
            "KeyMarker": page.get("NextKeyMarker", ""),
            "UploadIdMarker": page.get("NextUploadIdMarker", ""),
        }
        # A page that does not move the markers would repeat forever: stop instead.
        if not page.get("IsTruncated") or not following["KeyMarker"] or following == markers:
            return
        markers = following


@dataclass(frozen=True)
class PartsSummary:
    size: int
    last_modified: datetime  # of the newest part; EPOCH when there are none


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parts_summary(client: S3Client, bucket: str, key: str, upload_id: str) -> PartsSummary:
    """The bytes of every part S3 holds for one multipart upload, and when the last came.

    ListParts, 1,000 parts a page.
    """
    total, newest, marker = 0, EPOCH, 0
    while True:
        page = client.list_parts(
            Bucket=bucket, Key=key, UploadId=upload_id, PartNumberMarker=marker
        )
        for part in page.get("Parts", []):
            total += part.get("Size", 0)
            if "LastModified" in part:
                newest = max(newest, part["LastModified"].astimezone(UTC))
        following = page.get("NextPartNumberMarker", 0)
        if not page.get("IsTruncated") or following <= marker:
            return PartsSummary(total, newest)
        marker = following
