"""S3 POST policies: a browser sends a whole file to the bucket in one form.

Uppy sends every file up to 100 MiB this way. The policy binds the exact
key, the content type and a `content-length-range` of 0 to the upload's
limit, so S3 itself refuses anything else, and it expires with the service's
URLs. The file never passes through the service: it learns of the object by
HeadObject (`S3BlobStore.stored`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from uploadcore.domain.upload import Upload
from uploadcore.ports.blobs import PostForm

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def post_policy(
    client: S3Client, bucket: str, upload: Upload, max_size: int, expires_in: int
) -> PostForm:
    """A presigned POST for `upload`'s key (botocore adds the key and bucket conditions)."""
    content_type = upload.file_content_type
    conditions: list[Any] = [
        ["content-length-range", 0, max_size],
        {"Content-Type": content_type},
    ]
    answer = client.generate_presigned_post(
        Bucket=bucket,
        Key=upload.storage_key,
        Fields={"Content-Type": content_type},
        Conditions=conditions,
        ExpiresIn=expires_in,
    )
    return PostForm(answer["url"], dict(answer["fields"]))


__all__ = ["post_policy"]
