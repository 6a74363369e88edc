"""`/docs`: Swagger UI over the served document, from this app's own files, in a real browser.

The browser test runs Debian's `chromium` headless against real uvicorn and
skips when it is not installed (CI installs it: `.ci/run`).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient
from tests.integration.http.server import serving, uvicorn_running
from tests.integration.http.support import Harness

from uploadcore import bootstrap
from uploadcore.entrypoints.http.app import create_app
from uploadcore.settings import Settings

CHROMIUM = shutil.which("chromium")
BROWSER_TIMEOUT = 60.0
URL = re.compile(r"https?://[^\s\"'<>()]+")
ASSET = re.compile(r'(?:src|href)="([^"]+)"')
# Chromium's traffic annotations of what a page loads (its subresources, the page itself and
# its favicon); the browser's own background requests carry others.
PAGE_LOADS = {101845102, 63171670, 112189210}


@pytest.fixture
def mounted(settings: Settings) -> Iterator[str]:
    """The app mounted at /api of another app, behind BASE_URL, under real uvicorn: its URL."""
    with serving() as (sock, url):
        prepared = bootstrap.prepare(replace(settings, base_url=url))
        outer = Starlette(routes=[Mount("/api", app=create_app(prepared))])
        with uvicorn_running(outer, sock):
            yield url + "/api"


@pytest.mark.parametrize("page", ["/api/docs", "/api/docs/"])
def test_the_page_and_its_assets_load_from_relative_urls_under_a_mount_point(
    settings: Settings, page: str
) -> None:
    outer = Starlette(routes=[Mount("/api", app=create_app(bootstrap.prepare(settings)))])
    with TestClient(outer, base_url="http://files.example") as client:
        answer = client.get(page)
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/html")
        assert URL.findall(answer.text) == []
        assets = ASSET.findall(answer.text)
        assert all(not a.startswith("/") for a in assets), assets
        for asset in assets:
            loaded = client.get(urljoin(f"http://files.example{page}", asset))
            assert loaded.status_code == 200, asset
        spec = re.search(r'url: "([^"]+)"', answer.text)
        assert spec is not None
        document = client.get(urljoin(f"http://files.example{page}", spec[1]))
        assert document.json()["servers"] == [{"url": "http://testserver/api"}]


def test_the_stylesheet_loads_nothing_from_elsewhere(api: Harness) -> None:
    css = api.client.http.get("/docs/static/swagger-ui.css").text

    # Its only URLs are the SVG namespace inside inline data: images.
    assert {u for u in URL.findall(css) if not u.startswith("http://www.w3.org/")} == set()
    assert all(
        u.startswith(("data:", '"data:', "'data:")) for u in re.findall(r"url\(([^)]*)", css)
    )


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's `chromium` (apt-get install chromium)")
@pytest.mark.parametrize("page", ["/docs", "/docs/"])
def test_a_browser_renders_every_operation_with_nothing_loaded_from_elsewhere(
    mounted: str, tmp_path: Path, page: str
) -> None:
    net_log = tmp_path / "net.json"
    dom = render(f"{mounted}{page}", tmp_path, net_log)

    document = json.loads(load(f"{mounted}/openapi.json"))
    operations = [
        op for item in document["paths"].values() for op in item.values() if "summary" in op
    ]
    assert len(operations) >= 15
    missing = [op["summary"] for op in operations if op["summary"] not in dom]
    assert missing == [], "not rendered: " + ", ".join(missing)
    loaded = page_loads(net_log)
    origin = urlsplit(mounted).netloc
    assert {urlsplit(u).netloc for u in loaded} == {origin}, loaded
    assert f"{mounted}/docs/static/swagger-ui-bundle.js" in loaded
    assert f"{mounted}/openapi.json" in loaded


def render(url: str, tmp_path: Path, net_log: Path) -> str:
    """The DOM of `url` once its scripts ran, with every host but 127.0.0.1 unresolvable."""
    assert CHROMIUM is not None
    done = subprocess.run(
        [
            CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            f"--log-net-log={net_log}", "--virtual-time-budget=10000", "--dump-dom", url,
        ],
        capture_output=True, text=True, timeout=BROWSER_TIMEOUT, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def page_loads(net_log: Path) -> set[str]:
    """Every URL the page asked for (not the browser's own background requests)."""
    events = json.loads(net_log.read_text())["events"]
    return {
        e["params"]["url"]
        for e in events
        if e.get("params", {}).get("traffic_annotation") in PAGE_LOADS and "url" in e["params"]
    }


def load(url: str) -> str:
    return httpx2.get(url, timeout=30, trust_env=False).text
