"""The README's Python examples run as written, so they cannot drift from the code."""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
import uvicorn
from starlette.testclient import TestClient
from starlette.types import ASGIApp

import uploadcore
from uploadcore.bootstrap import prepare
from uploadcore.entrypoints.http.app import create_app
from uploadcore.entrypoints.links import HttpLinks
from uploadcore.settings import Settings

README = Path(__file__).parents[3] / "README.md"


def run_example(number: int, directory: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    monkeypatch.chdir(directory)
    namespace: dict[str, Any] = {"__name__": "readme_example"}
    exec(compile(blocks[number], f"README.md python block {number}", "exec"), namespace)  # noqa: S102
    return namespace


def test_the_mounting_example_serves_the_api_under_its_prefix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = run_example(0, tmp_path, monkeypatch)
    with TestClient(example["app"]) as client:
        assert client.get("/uploads/healthz").json() == {"status": "ok"}
        answer = client.post(
            "/uploads/v1/files/uploads/",
            headers={"Authorization": "Bearer carol"},
            json={
                "file_name": "a.txt",
                "file_size": 3,
                "file_content_type": "text/plain",
                "num_parts": 1,
                "part_size": 3,
            },
        )
    assert answer.status_code == 201
    assert answer.json()["file_obj"]["owner"] == "carol"
    assert (tmp_path / "myapp-uploads" / "secret_key").exists()


def test_the_in_memory_example_completes_an_upload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = run_example(1, tmp_path, monkeypatch)
    assert example["done"].status is uploadcore.UploadStatus.COMPLETED
    assert example["done"].etag == uploadcore.multipart_etag([example["part"].etag])


class Lines(logging.Handler):
    """Keeps every line a logger writes, as its handlers would format it."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@contextmanager
def plain_uvicorn(app: ASGIApp) -> Iterator[tuple[str, Lines]]:
    """The app under uvicorn as `uvicorn example:app` runs it (its own logging config),
    on a free port; the lines of its access log."""
    names = ("uvicorn", "uvicorn.error", "uvicorn.access")
    saved = {n: (lg.handlers[:], lg.filters[:], lg.level, lg.propagate)
             for n, lg in ((n, logging.getLogger(n)) for n in names)}  # fmt: skip
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, lifespan="on", loop="asyncio", ws="none"))
    access, lines = logging.getLogger("uvicorn.access"), Lines()
    access.addHandler(lines)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert thread.is_alive(), "uvicorn stopped before it started"
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.005)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", lines
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()
        for name, (handlers, filters, level, propagate) in saved.items():
            logger = logging.getLogger(name)
            logger.handlers[:], logger.filters[:] = handlers, filters
            logger.setLevel(level)
            logger.propagate = propagate


def test_the_mounting_example_under_plain_uvicorn_uploads_and_logs_no_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = run_example(0, tmp_path, monkeypatch)
    data = b"mounted under /uploads"
    auth = {"Authorization": "Bearer carol"}

    with (
        plain_uvicorn(example["app"]) as (url, log),
        httpx2.Client(base_url=url, timeout=10, trust_env=False) as http,
    ):
        started = http.post(
            "/uploads/v1/files/uploads/",
            headers=auth,
            json={"file_name": "a.txt", "file_size": len(data), "num_parts": 1,
                  "part_size": len(data), "file_content_type": "text/plain"},
        )  # fmt: skip
        assert started.status_code == 201, started.text
        part_url = started.json()["presigned_urls"][0]["url"]
        assert part_url.startswith(f"{url}/uploads/v1/files/presigned-uploads/")
        part = http.put(part_url, content=data)
        assert part.status_code == 200, part.text
        file_id = started.json()["file_obj"]["id"]
        done = http.post(
            f"/uploads/v1/files/uploads/{file_id}/complete/", headers=auth,
            json={"parts": [part.json()]},
        )  # fmt: skip
        assert done.status_code == 200, done.text
        file_url = done.json()["url"]
        assert file_url.startswith(f"{url}/uploads/v1/files/{file_id}/download/")
        assert http.get(file_url).content == data

    tokens = [u.split("token=")[1] for u in (part_url, file_url)]
    assert sum("token=[redacted]" in line for line in log.lines) == 2, log.lines
    assert not [line for line in log.lines if any(t in line for t in tokens)]


def test_nothing_users_read_cites_a_spec_they_do_not_have(tmp_path: Path) -> None:
    """The README, SECURITY.md, the code and the served OpenAPI state rules themselves."""
    root = README.parent
    texts = {p: p.read_text() for p in [README, root / "SECURITY.md"]}
    texts |= {p: p.read_text() for p in (root / "src").rglob("*.py")}
    settings = Settings(data_dir=tmp_path, secret_key="s" * 32)
    with TestClient(create_app(prepare(settings))) as client:
        served = client.get("/openapi.json").text

    assert [str(p) for p, text in texts.items() if "SPEC" in text] == []
    assert "SPEC" not in served


def test_the_hooks_example_rejects_executables_and_hears_completions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = run_example(2, tmp_path, monkeypatch)
    core, links = example["core"], HttpLinks("http://localhost")
    alice = uploadcore.Principal("alice")
    exe = uploadcore.NewUpload("setup.exe", 5, "application/octet-stream", 1, 5)
    with pytest.raises(uploadcore.Rejected, match="executables are not accepted"):
        core.initiate(alice, exe, links)
    started = core.initiate(alice, uploadcore.NewUpload("a.txt", 5, "text/plain", 1, 5), links)
    core.abort(alice, started.upload.id)
    assert example["scans"] == []
