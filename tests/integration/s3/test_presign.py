"""The fast presigned URLs are botocore's own: equal to `generate_presigned_url`
for the same time and inputs, whatever the endpoint, region, addressing or session."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from unittest import mock
from urllib.parse import urlsplit

import boto3
import botocore.auth
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from hypothesis import given, settings
from hypothesis import strategies as st
from mypy_boto3_s3 import S3Client

from uploadcore.adapters.s3 import S3BlobStore
from uploadcore.domain.metadata import content_disposition
from uploadcore.domain.parts import PartPlan
from uploadcore.domain.upload import Upload, UploadStatus

MiB = 1024 * 1024
NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)  # not the clock's time: signing must use it
LIFETIME = timedelta(minutes=15)
PLAN = PartPlan(file_size=9_999 * 5 * MiB + 123, num_parts=10_000, part_size=5 * MiB)
# The first and last parts (the last is short), and a spread between them.
SAMPLE = sorted({1, 2, 3, 9_998, 9_999, 10_000, *range(7, 10_000, 97)})


@contextmanager
def clock_reads(when: datetime) -> Iterator[None]:
    """botocore's signers read the time through this one function."""
    with mock.patch.object(
        botocore.auth, "get_current_datetime", return_value=when.replace(tzinfo=None)
    ):
        yield


def make_client(
    *,
    endpoint: str | None = None,
    region: str = "us-east-1",
    style: str = "auto",
    token: str | None = None,
    signature: object = "s3v4",
) -> S3Client:
    return boto3.client(
        "s3",
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        aws_session_token=token,
        config=Config(signature_version=signature, s3={"addressing_style": style}),  # type: ignore[arg-type]
    )


def upload_on(key: str, name: str = "report.pdf") -> Upload:
    return Upload(
        id="f00d",
        upload_id="VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA+/=",
        storage_key=key,
        owner="alice",
        file_name=name,
        file_content_type="application/pdf",
        plan=PLAN,
        status=UploadStatus.COMPLETED,
        created=NOW,
        modified=NOW,
        expires_at=NOW,
    )


def botocore_part_url(client: S3Client, upload: Upload, bucket: str, number: int) -> str:
    return client.generate_presigned_url(
        "upload_part",
        Params={
            "Bucket": bucket,
            "Key": upload.storage_key,
            "UploadId": upload.upload_id,
            "PartNumber": number,
            "ContentLength": PLAN.size_of(number),
        },
        ExpiresIn=int(LIFETIME.total_seconds()),
    )


def botocore_file_url(client: S3Client, bucket: str, upload: Upload) -> str:
    """What botocore presigns for the file's download, at the clock's time."""
    return client.generate_presigned_url(
        "get_object",
        Params={
            "Bucket": bucket,
            "Key": upload.storage_key,
            "ResponseContentDisposition": content_disposition(upload.file_name),
        },
        ExpiresIn=900,
    )


CLIENTS: dict[str, Callable[[], S3Client]] = {
    "minio-path-style": lambda: make_client(endpoint="http://127.0.0.1:9000", style="path"),
    "aws-virtual-eu": lambda: make_client(region="eu-west-1", style="virtual"),
    "aws-auto-session": lambda: make_client(region="ap-southeast-2", token="FwoGZ+/==token"),
    "r2-like-https": lambda: make_client(
        endpoint="https://acc0unt.r2.cloudflarestorage.com", region="auto", style="path"
    ),
}


@pytest.mark.parametrize("name", CLIENTS)
@pytest.mark.parametrize("prefix", ["uploadcore/", "media uploads/é+&=/"])
def test_part_urls_equal_generate_presigned_url_at_the_same_time(name: str, prefix: str) -> None:
    client = CLIENTS[name]()
    store = S3BlobStore(client, "my-bucket", key_prefix=prefix)
    upload = upload_on(store.key_of("f00d"))

    ours = store.part_urls(upload, PLAN.part_numbers, NOW, LIFETIME)  # the clock is now, not NOW
    with clock_reads(NOW):
        theirs = {n: botocore_part_url(client, upload, "my-bucket", n) for n in SAMPLE}

    assert len(ours) == PLAN.num_parts
    assert {n: ours[n - 1] for n in SAMPLE} == theirs
    assert not store.presigner._warned


def test_part_urls_come_in_the_order_asked_for() -> None:
    client = make_client()
    store = S3BlobStore(client, "b")
    upload = upload_on(store.key_of("f00d"))

    ours = store.part_urls(upload, [10_000, 5, 1], NOW, LIFETIME)
    with clock_reads(NOW):
        theirs = [botocore_part_url(client, upload, "b", n) for n in (10_000, 5, 1)]

    assert ours == theirs


@pytest.mark.parametrize(
    "file_name", ['Q3 "final" résumé.pdf', "photos/2024/a.jpg", "back\\slash.txt"]
)
@pytest.mark.parametrize("name", CLIENTS)
def test_file_url_equals_a_presigned_get_object_naming_the_file(name: str, file_name: str) -> None:
    client = CLIENTS[name]()
    store = S3BlobStore(client, "my-bucket")
    upload = upload_on(store.key_of("f00d"), name=file_name)

    ours = store.file_url(upload, NOW, LIFETIME)
    with clock_reads(NOW):
        theirs = botocore_file_url(client, "my-bucket", upload)

    assert ours == theirs
    assert urlsplit(ours).path.endswith("/uploadcore/f00d")  # the key is the id's alone


def test_file_url_behind_a_cdn_is_the_public_base_url_and_the_key() -> None:
    store = S3BlobStore(
        make_client(), "b", key_prefix="media/", public_base_url="https://cdn.example.com/"
    )

    url = store.file_url(upload_on(store.key_of("f00d")), NOW, LIFETIME)

    assert url == "https://cdn.example.com/media/f00d"


def test_a_client_whose_urls_are_not_sigv4_presigns_one_url_at_a_time(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = make_client(signature=UNSIGNED)
    store = S3BlobStore(client, "b")
    upload = upload_on(store.key_of("f00d"))

    with caplog.at_level(logging.WARNING):
        ours = store.part_urls(upload, [1, 2, 10_000], NOW, LIFETIME)

    assert ours == [botocore_part_url(client, upload, "b", n) for n in (1, 2, 10_000)]
    assert "one generate_presigned_url call per URL" in caplog.text


def test_urls_signed_at_the_clocks_own_time_are_botocores_too() -> None:
    client = make_client(endpoint="http://127.0.0.1:9000", style="path")
    store = S3BlobStore(client, "b")
    upload = upload_on(store.key_of("f00d"))

    with clock_reads(NOW):
        ours = store.part_urls(upload, [1, 10_000], NOW, LIFETIME)
        file_url = store.file_url(upload, NOW, LIFETIME)
        theirs = [botocore_part_url(client, upload, "b", n) for n in (1, 10_000)]
        their_file_url = botocore_file_url(client, "b", upload)

    assert ours == theirs
    assert file_url == their_file_url


# Keys as operators prefix them and file names as users type them: any text but lone
# surrogates (which no UTF-8 request can carry).
TEXT = st.text(st.characters(blacklist_categories=["Cs"]), max_size=40)
SHARED = {name: make() for name, make in CLIENTS.items()}  # a boto3 client is slow to make


@settings(max_examples=150, deadline=None)
@given(
    name=st.sampled_from(sorted(CLIENTS)),
    prefix=TEXT,
    file_ids=st.lists(st.from_regex(r"[0-9a-f]{1,32}", fullmatch=True), min_size=2, max_size=4),
    file_names=st.lists(TEXT, min_size=4, max_size=4),
)
def test_file_urls_signed_in_one_second_equal_botocores_for_any_key_and_name(
    name: str, prefix: str, file_ids: list[str], file_names: list[str]
) -> None:
    client = SHARED[name]
    store = S3BlobStore(client, "my-bucket", key_prefix=prefix)
    uploads = [upload_on(store.key_of(i), n) for i, n in zip(file_ids, file_names, strict=False)]

    ours = [store.file_url(u, NOW, LIFETIME) for u in uploads]  # the first builds the shape
    with clock_reads(NOW):
        theirs = [botocore_file_url(client, "my-bucket", u) for u in uploads]

    assert ours == theirs
    assert not store.presigner._warned


def test_a_page_of_file_urls_costs_botocore_two_urls_a_second() -> None:
    client = make_client(endpoint="http://127.0.0.1:9000", style="path")
    store = S3BlobStore(client, "b", key_prefix="media/")
    uploads = [upload_on(store.key_of(f"{n:032x}"), f"file {n}.bin") for n in range(1000)]
    later = NOW + timedelta(seconds=1)

    with mock.patch.object(
        client, "generate_presigned_url", wraps=client.generate_presigned_url
    ) as botocore_calls:
        urls = [store.file_url(u, NOW, LIFETIME) for u in uploads]
        urls.append(store.file_url(uploads[0], later, LIFETIME))

    # Per second: the first file's URL and the template.
    assert botocore_calls.call_count == 4
    assert len(set(urls)) == 1001
    with clock_reads(later):
        assert urls[-1] == botocore_file_url(client, "b", uploads[0])


def test_a_post_policy_binds_the_key_the_type_and_a_length_range_and_expires() -> None:
    store = S3BlobStore(make_client(endpoint="http://127.0.0.1:9000", style="path"), "b")
    upload = upload_on("uploadcore/f00d")

    form = store.form(upload, 5 * MiB, LIFETIME)

    assert form.url == "http://127.0.0.1:9000/b"
    fields = dict(form.fields)
    assert (fields["key"], fields["Content-Type"]) == ("uploadcore/f00d", "application/pdf")
    policy = json.loads(base64.b64decode(fields["policy"]))
    expiration = datetime.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs(expiration - (datetime.now(UTC) + LIFETIME)) < timedelta(seconds=60)
    conditions = policy["conditions"]
    assert ["content-length-range", 0, 5 * MiB] in conditions
    assert {"Content-Type": "application/pdf"} in conditions
    assert {"key": "uploadcore/f00d"} in conditions
    assert {"bucket": "b"} in conditions
    # Every field the browser sends is one the policy names (S3 refuses any other).
    named = {k.lower() for c in conditions if isinstance(c, dict) for k in c}
    assert {k.lower() for k in fields} - {"policy", "x-amz-signature"} <= named
