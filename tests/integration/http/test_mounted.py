"""The app mounted inside another ASGI app: every URL it mints carries the mount point."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient
from tests.integration.http.support import md5_hex

from uploadcore import bootstrap
from uploadcore.entrypoints.http.app import create_app
from uploadcore.services.users import create_user
from uploadcore.settings import Settings


def test_a_file_uploads_and_downloads_through_urls_under_the_mount_point(
    settings: Settings, tmp_path: Path
) -> None:
    # No BASE_URL: the URLs come from the request's host and the ASGI root_path.
    prepared = bootstrap.prepare(replace(settings, base_url=None))
    core = bootstrap.build(prepared)
    key = create_user(core.users, "alice", False, core.complete.clock.now()).api_key
    outer = Starlette(routes=[Mount("/uploads", app=create_app(prepared, core))])
    auth = {"Authorization": f"Bearer {key}"}
    data = b"hello, mounted world"

    with TestClient(outer, base_url="http://files.example") as client:
        started = client.post(
            "/uploads/v1/files/uploads/",
            headers=auth,
            json={"file_name": "a.txt", "file_size": len(data), "num_parts": 1,
                  "part_size": len(data), "file_content_type": "text/plain"},
        )  # fmt: skip
        assert started.status_code == 201, started.text
        part_url = started.json()["presigned_urls"][0]["url"]
        assert part_url.startswith("http://files.example/uploads/v1/files/presigned-uploads/")
        put = client.put(part_url, content=data)
        assert put.status_code == 200, put.text
        file_id = started.json()["file_obj"]["id"]
        done = client.post(
            f"/uploads/v1/files/uploads/{file_id}/complete/",
            headers=auth,
            json={"parts": [{"part_number": 1, "etag": md5_hex(data)}]},
        )
        assert done.status_code == 200, done.text
        url = done.json()["url"]
        assert url.startswith(f"http://files.example/uploads/v1/files/{file_id}/download/")
        assert client.get(url).content == data
