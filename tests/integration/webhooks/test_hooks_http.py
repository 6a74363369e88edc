"""The embedders' hooks seen over HTTP: a rejected initiate is 403 `rejected` with the reason."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.testclient import TestClient

from uploadcore import bootstrap
from uploadcore.domain.events import Event
from uploadcore.domain.upload import Principal
from uploadcore.entrypoints.http.app import create_app
from uploadcore.services.initiate import NewUpload
from uploadcore.services.users import create_user
from uploadcore.settings import Settings

BODY = {
    "file_name": "a.txt",
    "file_size": 10,
    "file_content_type": "text/plain",
    "num_parts": 1,
    "part_size": 10,
}


def test_a_rejected_initiate_is_403_rejected_and_handlers_see_the_created_ones(
    settings: Settings,
) -> None:
    core = bootstrap.build(bootstrap.prepare(settings))
    key = create_user(core.users, "alice", False, datetime.now(UTC)).api_key
    seen: list[str] = []

    @core.before_initiate
    def only_text(principal: Principal, request: NewUpload) -> str | None:
        return None if request.file_content_type == "text/plain" else "only text files"

    def remember(event: Event) -> None:
        seen.append(str(event.data["file_name"]))

    core.on("upload.created", remember)

    with TestClient(create_app(settings, core)) as client:
        auth = {"authorization": f"Bearer {key}"}
        refused = client.post(
            "/v1/files/uploads/", json={**BODY, "file_content_type": "image/png"}, headers=auth
        )
        accepted = client.post("/v1/files/uploads/", json=BODY, headers=auth)

    assert refused.status_code == 403
    assert refused.json()["code"] == "rejected"
    assert refused.json()["detail"] == "only text files"
    assert accepted.status_code == 201
    assert seen == ["a.txt"]
