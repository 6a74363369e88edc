"""`/metrics` in one process: what it counts, by route template and protocol, and its token.

The counters belong to the process (one set, however many apps a test builds),
so these tests compare a scrape after the requests with one before them.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from tests.integration.http.support import (
    PART,
    Harness,
    Headers,
    MakeApi,
    assert_problem,
    metric,
)
from tests.integration.http.tus_support import create, patch

DATA = b"m" * (PART + 10)
COMPLETE = "/v1/files/uploads/{file_id}/complete/"
PART_ROUTE = "/v1/files/presigned-uploads/{file_id}/upload-part/{part_number}/"


def scrape(api: Harness, headers: Headers | None = None) -> str:
    response = api.client.http.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return response.text


def test_requests_are_counted_by_route_template_never_by_their_path(
    api: Harness, alice: Headers
) -> None:
    before = scrape(api)

    file = api.client.upload(alice, DATA)
    after = scrape(api)

    def grew(name: str, **labels: str) -> float:
        return metric(after, name, **labels) - metric(before, name, **labels)

    assert grew("uploadcore_http_requests_total", route=COMPLETE, method="POST") == 1
    assert grew("uploadcore_http_requests_total", route=PART_ROUTE, status="200") == 2
    assert grew("uploadcore_http_request_duration_seconds_count", route=PART_ROUTE) == 2
    assert file["id"] not in after  # a label per upload would grow without end


def test_uploads_are_counted_by_storage_and_protocol(api: Harness, alice: Headers) -> None:
    rest = {"storage": "local", "protocol": "rest"}
    tus = {"storage": "local", "protocol": "tus"}
    before = scrape(api)

    api.client.upload(alice, DATA)
    aborted = api.client.start(alice, DATA)
    assert api.client.abort(alice, aborted.file_id).status_code == 204
    path = create(api.client.http, alice, 5)
    assert patch(api.client.http, alice, path, 0, b"hello").status_code == 204
    after = scrape(api)

    def grew(name: str, **labels: str) -> float:
        return metric(after, name, **labels) - metric(before, name, **labels)

    assert grew("uploadcore_uploads_initiated_total", **rest) == 2
    assert grew("uploadcore_uploads_completed_total", **rest) == 1
    assert grew("uploadcore_uploads_aborted_total", **rest) == 1
    assert grew("uploadcore_uploads_initiated_total", **tus) == 1
    assert grew("uploadcore_uploads_completed_total", **tus) == 1
    assert grew("uploadcore_received_bytes_total", protocol="rest") >= len(DATA)
    assert grew("uploadcore_received_bytes_total", protocol="tus") == 5
    assert grew("uploadcore_part_upload_duration_seconds_count", protocol="rest") == 2
    assert grew("uploadcore_part_upload_duration_seconds_count", protocol="tus") == 1
    assert grew("uploadcore_completion_duration_seconds_count", protocol="rest") == 1


def test_uploads_in_progress_are_read_from_the_database(api: Harness, alice: Headers) -> None:
    api.client.start(alice, DATA)
    api.client.start(alice, DATA + DATA)
    api.client.upload(alice, DATA)  # finished: not in progress

    text = scrape(api)

    assert metric(text, "uploadcore_uploads_in_progress") == 2
    assert metric(text, "uploadcore_uploads_in_progress_bytes") == 3 * len(DATA)
    assert metric(text, "uploadcore_webhook_oldest_undelivered_seconds") == 0


def test_gc_runs_are_counted_in_the_database_whichever_process_ran_them(
    api: Harness, alice: Headers
) -> None:
    aborted = api.client.start(alice, DATA)
    assert api.client.abort(alice, aborted.file_id).status_code == 204
    api.clock.advance(timedelta(days=8))
    report = api.core.gc(timedelta(days=7)).collect()  # as `uploadcore gc`, in its own process
    assert report.purged == 1, report

    text = scrape(api)

    assert metric(text, "uploadcore_gc_actions_total", kind="record_purged") == 1


def test_webhook_delivery_outcomes_are_counted(api: Harness) -> None:
    deliverer = api.core.deliverer()

    assert api.core.metrics is not None
    assert deliverer.on_outcome == api.core.metrics.delivery


def test_the_metrics_token_guards_the_metrics(make_api: MakeApi) -> None:
    api = make_api(metrics_token="m" * 32)

    missing = api.client.http.get("/metrics")
    wrong = api.client.http.get("/metrics", headers={"Authorization": "Bearer " + "n" * 32})
    text = scrape(api, {"Authorization": "Bearer " + "m" * 32})

    assert_problem(missing, 401, "not_authenticated")
    assert_problem(wrong, 401, "not_authenticated")
    assert "uploadcore_http_requests_total" in text


@pytest.mark.parametrize("given", ["abc-123_DEF.4:5", "a" * 128, "A+b/c="])
def test_a_sane_request_id_is_echoed(api: Harness, given: str) -> None:
    response = api.client.http.get("/healthz", headers={"X-Request-ID": given})

    assert response.headers["x-request-id"] == given


@pytest.mark.parametrize("given", ["", "a" * 129, "two words", "semi;colon", "ü"])
def test_any_other_request_id_is_replaced_by_a_fresh_one(api: Harness, given: str) -> None:
    headers = {b"X-Request-ID": given.encode("utf-8")}
    first = api.client.http.get("/healthz", headers=headers).headers["x-request-id"]
    second = api.client.http.get("/healthz", headers=headers).headers["x-request-id"]

    assert first != given
    assert first != second
    assert len(first) == 16
