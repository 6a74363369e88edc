"""The S3 store and its composition: keys, paging past 1,000 parts, the one client's settings."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import cast
from urllib.parse import parse_qsl, urlsplit

import moto
import pytest
from botocore.exceptions import EndpointConnectionError
from mypy_boto3_s3 import S3Client
from tests.integration.s3.support import FlakyS3, s3_error

from uploadcore import bootstrap
from uploadcore.adapters.s3 import S3BlobStore
from uploadcore.adapters.s3_errors import upload_gone
from uploadcore.domain.errors import StorageUnavailable
from uploadcore.domain.parts import PartPlan, ReceivedPart
from uploadcore.domain.upload import Upload, UploadStatus
from uploadcore.entrypoints.http.app import create_app
from uploadcore.settings import Settings, SettingsError

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def s3(settings: Settings, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "upload_storage_handler": "s3",
        "aws_storage_bucket_name": "bucket",
        **overrides,
    }
    return replace(settings, **values)  # type: ignore[arg-type]


def test_list_parts_reads_every_page_past_1000_parts(settings: Settings) -> None:
    with moto.mock_aws():  # in-process: 1,100 UploadPart calls stay quick
        store = bootstrap.s3_blob_store(s3(settings, aws_storage_bucket_name="paging"))
        store.client.create_bucket(Bucket="paging")
        prepared = store.prepare("f1le", "application/octet-stream")
        upload = Upload(
            id="f1le",
            upload_id=prepared.upload_id,
            storage_key=prepared.storage_key,
            owner="alice",
            file_name="a",
            file_content_type="application/octet-stream",
            plan=PartPlan(1_100, 1_100, 1),
            status=UploadStatus.UPLOADING,
            created=NOW,
            modified=NOW,
            expires_at=NOW,
        )
        for number in range(1, 1_101):
            store.client.upload_part(
                Bucket="paging",
                Key=upload.storage_key,
                UploadId=upload.upload_id,
                PartNumber=number,
                Body=bytes([number % 256]),
            )

        parts = store.list_parts(upload)

    assert [p.part_number for p in parts] == list(range(1, 1_101))
    assert parts[1_049] == ReceivedPart(
        1_050, hashlib.md5(bytes([1_050 % 256]), usedforsecurity=False).hexdigest(), 1
    )


def test_the_object_key_is_the_prefix_and_the_file_id(settings: Settings) -> None:
    store = bootstrap.s3_blob_store(s3(settings, aws_s3_key_prefix="tenant-7/files/"))

    assert store.key_of("a1b2c3") == "tenant-7/files/a1b2c3"
    for unsafe in ("", "../x", "a/b", "a b"):
        with pytest.raises(ValueError, match="safe object key"):
            store.key_of(unsafe)


def test_the_client_addresses_a_custom_endpoint_path_style_and_signs_with_sigv4(
    settings: Settings,
) -> None:
    client = bootstrap.s3_client(
        s3(settings, aws_s3_endpoint_url="http://minio:9000", aws_s3_region_name="eu-west-3")
    )

    config = vars(client.meta.config)  # botocore's Config keeps its options as attributes
    assert config["signature_version"] == "s3v4"
    assert config["s3"] == {"addressing_style": "path"}
    assert client.meta.region_name == "eu-west-3"
    assert client.meta.endpoint_url == "http://minio:9000"
    assert config["retries"] == {"mode": "standard", "total_max_attempts": 3}


@pytest.mark.parametrize(
    ("endpoint", "style", "expected"),
    [
        ("http://minio:9000", "virtual", "virtual"),
        ("http://minio:9000", "path", "path"),
        (None, "auto", "auto"),
        (None, "path", "path"),
    ],
)
def test_the_addressing_style_is_as_configured(
    settings: Settings, endpoint: str | None, style: str, expected: str
) -> None:
    client = bootstrap.s3_client(
        s3(settings, aws_s3_endpoint_url=endpoint, aws_s3_addressing_style=style)
    )

    assert vars(client.meta.config)["s3"] == {"addressing_style": expected}


def test_s3_storage_needs_a_bucket(settings: Settings) -> None:
    with pytest.raises(SettingsError, match="AWS_STORAGE_BUCKET_NAME"):
        bootstrap.s3_blob_store(s3(settings, aws_storage_bucket_name=None))


def test_s3_presigned_urls_cannot_outlive_seven_days(settings: Settings) -> None:
    with pytest.raises(SettingsError, match="PRESIGNED_URL_EXPIRES_IN"):
        bootstrap.s3_blob_store(s3(settings, presigned_url_expires_in=timedelta(days=8)))


def test_the_s3_handler_composes_an_s3_store_and_mounts_no_local_part_route(
    settings: Settings,
) -> None:
    prepared = bootstrap.prepare(s3(settings, public_base_url="https://cdn.example.com"))
    core = bootstrap.build(prepared)
    paths = {getattr(route, "path", "") for route in create_app(prepared, core).routes}

    assert isinstance(core.complete.blobs, S3BlobStore)
    assert core.complete.blobs.public_base_url == "https://cdn.example.com"
    assert core.receive_part is None
    assert not any("presigned-uploads" in p or p.endswith("/download/") for p in paths)
    assert "/v1/files/uploads/{file_id}/presigned-urls/" in paths
    core.close()


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:9000", "http://[::1]:9000"])
def test_virtual_addressing_of_an_ip_endpoint_is_path_style_and_says_so(
    settings: Settings, endpoint: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, "uploadcore.adapters.s3_client"):
        bootstrap.s3_client(
            s3(settings, aws_s3_endpoint_url=endpoint, aws_s3_addressing_style="virtual")
        )

    assert f"the endpoint {endpoint} is an IP address" in caplog.text
    assert "path-style" in caplog.text


def test_virtual_addressing_of_a_host_name_logs_nothing(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, "uploadcore.adapters.s3_client"):
        bootstrap.s3_client(
            s3(settings, aws_s3_endpoint_url="http://minio:9000", aws_s3_addressing_style="virtual")
        )

    assert caplog.text == ""


def test_unreachable_s3_names_the_host_it_tried(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    configured = s3(
        settings, aws_s3_endpoint_url="http://minio:9000", aws_s3_addressing_style="virtual"
    )
    client = FlakyS3(bootstrap.s3_client(configured))
    # What botocore raises when `bucket.minio` (virtual-hosted addressing) does not resolve.
    tried = "http://bucket.minio:9000/uploadcore/f1le?uploads"
    client.fail("create_multipart_upload", EndpointConnectionError(endpoint_url=tried))
    store = bootstrap.s3_blob_store(configured, cast("S3Client", client))

    with pytest.raises(
        StorageUnavailable, match=r"cannot be reached at bucket\.minio:9000"
    ) as error:
        store.prepare("f1le", "text/plain")

    assert "AWS_S3_ADDRESSING_STYLE" in error.value.detail
    assert "bucket.minio:9000" in caplog.text


def test_the_client_computes_and_checks_checksums_only_where_s3_requires_them(
    settings: Settings,
) -> None:
    client = bootstrap.s3_client(s3(settings, aws_s3_endpoint_url="http://minio:9000"))

    config = vars(client.meta.config)
    assert config["request_checksum_calculation"] == "when_required"
    assert config["response_checksum_validation"] == "when_required"


def test_presigned_urls_carry_no_checksum_the_client_did_not_ask_for(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    store = bootstrap.s3_blob_store(s3(settings, aws_s3_endpoint_url="http://minio:9000"))
    upload = Upload(
        id="f1le", upload_id="u1", storage_key="uploadcore/f1le", owner="alice",
        file_name="a.bin", file_content_type="application/octet-stream",
        plan=PartPlan(10, 4, 3), status=UploadStatus.UPLOADING, created=NOW, modified=NOW,
        expires_at=NOW + timedelta(days=1),
    )  # fmt: skip

    urls = [
        *store.part_urls(upload, [1, 2, 3], NOW, timedelta(hours=1)),
        store.file_url(upload, NOW, timedelta(hours=1)),
    ]

    for url in urls:
        query = dict(parse_qsl(urlsplit(url).query))
        assert not [k for k in query if "checksum" in k.lower()], url
        assert query["X-Amz-SignedHeaders"] in ("content-length;host", "host")


@pytest.mark.parametrize(
    ("code", "operation", "gone"),
    [
        ("NoSuchUpload", "ListParts", True),  # AWS, MinIO, moto
        ("NoSuchKey", "ListParts", True),  # Ceph RGW, once completed or aborted
        ("NoSuchKey", "CompleteMultipartUpload", True),
        ("NoSuchUpload", "AbortMultipartUpload", True),
        ("NoSuchKey", "HeadObject", False),  # no object: not about a multipart upload
        ("NoSuchKey", "GetObject", False),
        ("NoSuchBucket", "ListParts", False),  # the store is not set up for us
        ("AccessDenied", "ListParts", False),
    ],
)
def test_the_upload_is_gone_by_the_operation_and_the_code_together(
    code: str, operation: str, gone: bool
) -> None:
    assert upload_gone(s3_error(code, 404, operation)) is gone
