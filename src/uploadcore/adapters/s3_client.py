"""The boto3 S3 client uploadcore's S3 store talks through."""

from __future__ import annotations

import ipaddress
import logging
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)


Style = Literal["auto", "path", "virtual"]


def make_s3_client(region: str, endpoint_url: str | None, addressing_style: Style) -> S3Client:
    """A boto3 S3 client: build one per process and share it (it is thread-safe).

    SigV4 (`s3v4`), whose presigned URLs sign the part's Content-Length; path-style
    addressing for a custom endpoint (MinIO, Ceph, moto) unless `virtual` is asked
    for; credentials from boto3's usual chain. Checksums only where S3 requires
    them, which every S3-compatible store understands.
    """
    style: Style = addressing_style
    if style == "auto" and endpoint_url:
        style = "path"
    if style == "virtual" and _is_ip_endpoint(endpoint_url):
        log.warning(
            "UPLOADCORE_AWS_S3_ADDRESSING_STYLE=virtual, but the endpoint %s is an IP "
            "address, which has no bucket subdomains: boto3 addresses it path-style",
            endpoint_url,
        )
    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": style},
        retries={"mode": "standard", "total_max_attempts": 3},
        connect_timeout=5,
        read_timeout=60,
        max_pool_connections=50,
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        user_agent_extra="uploadcore",
    )
    return boto3.session.Session().client(
        "s3", region_name=region, endpoint_url=endpoint_url, config=config
    )


def _is_ip_endpoint(url: str | None) -> bool:
    host = urlsplit(url).hostname if url else None
    try:
        ipaddress.ip_address(host or "")
    except ValueError:
        return False
    return True
