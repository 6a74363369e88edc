"""The README's Python examples run as written, so they cannot drift from the code."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

import uploadcore
from uploadcore.entrypoints.links import HttpLinks

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
