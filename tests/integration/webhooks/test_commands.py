"""`uploadcore webhooks`, `events` and `deliver`, against a real receiver."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.integration.cli.support import (
    assert_one_line_error,
    build,
    clean_environment,
    in_process,
    start_upload,
)
from tests.integration.webhooks.receiver import receiving

from uploadcore.settings import Settings

PART = 1024
DATA = bytes(range(256)) * 8


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.chdir(tmp_path)
    return clean_environment(monkeypatch, tmp_path / "data")


def test_an_admin_abort_reaches_the_endpoint_added_on_the_command_line(
    settings: Settings,
) -> None:
    with receiving() as receiver:
        added = in_process("webhooks", "add", receiver.url)
        assert added.exit_code == 0, added.output
        receiver.secret = added.stdout.strip().splitlines()[-1]
        assert receiver.secret.startswith("whsec_")
        core = build(settings)
        try:
            upload = start_upload(core, DATA, PART, parts=1)
        finally:
            core.close()

        assert in_process("abort", upload.id).exit_code == 0
        delivered = in_process("deliver", "--once")

        assert delivered.exit_code == 0, delivered.output
        # Delivery order is not guaranteed (deliveries go out concurrently): each once.
        assert sorted(receiver.received.types_of(upload.id)) == ["upload.aborted", "upload.created"]
        listed = json.loads(in_process("events", "list", "--json").stdout)
        assert [e["type"] for e in listed] == ["upload.aborted", "upload.created"]
        assert {d["status"] for e in listed for d in e["deliveries"]} == {"delivered"}

        again = in_process("events", "redeliver", listed[0]["id"])
        assert again.exit_code == 0, again.output
        in_process("deliver", "--once")
        assert receiver.received.webhook_ids.count(listed[0]["id"]) == 2


def test_endpoints_are_listed_without_their_secret_and_removed(settings: Settings) -> None:
    added = in_process("webhooks", "add", "http://127.0.0.1:9/a", "--event", "upload.completed")
    endpoint_id = added.stdout.split()[3]

    listed = json.loads(in_process("webhooks", "list", "--json").stdout)
    assert listed == [
        {
            "id": endpoint_id,
            "url": "http://127.0.0.1:9/a",
            "events": ["upload.completed"],
            "created": listed[0]["created"],
        }
    ]
    assert in_process("webhooks", "remove", endpoint_id).exit_code == 0
    assert in_process("webhooks", "list").stdout.strip() == "no webhook endpoints"
    gone = in_process("webhooks", "remove", endpoint_id)
    assert gone.exit_code == 1
    assert_one_line_error(gone, f"no webhook endpoint with id {endpoint_id}")


def test_a_bad_url_or_an_unknown_event_is_one_line(settings: Settings) -> None:
    bad = in_process("webhooks", "add", "ftp://example.com/x")
    assert bad.exit_code == 1
    assert_one_line_error(bad, "'ftp://example.com/x' is not an http:// or https:// URL")
    assert in_process("webhooks", "add", "http://x/", "--event", "nope").exit_code == 2
    assert in_process("events", "redeliver", "evt_nope").exit_code == 1
