"""`/readyz` on S3: HeadBucket says whether the storage is usable, and it recovers by itself."""

from __future__ import annotations

from dataclasses import replace

from starlette.testclient import TestClient
from tests.integration.http.support import assert_problem
from tests.integration.s3.conftest import S3Endpoint, running, s3_settings

from uploadcore import bootstrap
from uploadcore.adapters.memory import FakeClock
from uploadcore.entrypoints.http.app import create_app
from uploadcore.settings import Settings


def test_readyz_names_the_storage_while_its_bucket_is_gone_and_recovers(
    settings: Settings, clock: FakeClock, s3_endpoint: S3Endpoint
) -> None:
    with s3_settings(settings, s3_endpoint.url) as prepared:
        core = bootstrap.build(prepared, clock=clock)
        with running(core, clock, s3_endpoint.store) as api:
            ready = api.client.http.get("/readyz")
            api.s3.delete_bucket(Bucket=api.bucket)
            down = api.client.http.get("/readyz")
            alive = api.client.http.get("/healthz")
            api.s3.create_bucket(Bucket=api.bucket)
            again = api.client.http.get("/readyz")

    assert ready.json() == {"status": "ok", "checks": {"database": "ok", "storage": "ok"}}
    body = assert_problem(down, 503, "not_ready")
    assert body["checks"] == {"database": "ok", "storage": "down"}
    assert body["detail"] == "the storage is not available"
    assert alive.status_code == 200
    assert again.status_code == 200


def test_readyz_names_the_storage_when_it_cannot_be_reached(settings: Settings) -> None:
    nowhere = replace(
        settings,
        upload_storage_handler="s3",
        aws_storage_bucket_name="uploads",
        aws_s3_endpoint_url="http://127.0.0.1:9",  # discard: nothing listens
    )
    core = bootstrap.build(bootstrap.prepare(nowhere))

    with TestClient(create_app(nowhere, core)) as client:
        down = client.get("/readyz")

    body = assert_problem(down, 503, "not_ready")
    assert body["checks"] == {"database": "ok", "storage": "down"}
    assert "127.0.0.1" not in down.text
