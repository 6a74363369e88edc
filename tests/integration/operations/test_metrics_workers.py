"""`/metrics` under `uploadcore serve --workers 2`: any worker's scrape sums every worker."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2
from tests.integration.cli.support import wait_until
from tests.integration.http.support import metric, request_for
from tests.integration.reliability.server import Server, api_key, running, server_env

LISTING = "/v1/files/"


def test_a_scrape_of_any_worker_sums_the_counts_of_every_worker(tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**server_env(tmp_path / "data"), "TMPDIR": str(temp)}
    auth = {"Authorization": f"Bearer {api_key(env, 'alice')}", "Connection": "close"}
    server = Server(env, tmp_path / "serve.log", workers=2)

    with running(server), httpx2.Client(base_url=server.url, trust_env=False) as http:
        [directory] = temp.glob("uploadcore-metrics-*")  # made fresh by this start

        def listing(_: int) -> None:  # a connection each: the kernel hands them to either worker
            assert http.get(LISTING, headers=auth).status_code == 200

        sent = 0
        with ThreadPoolExecutor(8) as pool:

            def both_workers_served() -> bool:
                nonlocal sent
                list(pool.map(listing, range(16)))
                sent += 16
                return len(list(directory.glob("counter_*.db"))) >= 2

            wait_until(both_workers_served, "both workers to serve requests")
        started = http.post("/v1/files/uploads/", headers=auth, json=request_for(b"x"))
        assert started.status_code == 201, started.text

        for _ in range(6):  # fresh connections: whichever worker answers, the sum is the same
            text = http.get("/metrics", headers={"Connection": "close"}).text
            assert metric(text, "uploadcore_http_requests_total", route=LISTING) == sent
            assert metric(text, "uploadcore_uploads_initiated_total", protocol="rest") == 1
            assert metric(text, "uploadcore_uploads_in_progress") == 1

    assert not directory.exists()  # removed at exit
