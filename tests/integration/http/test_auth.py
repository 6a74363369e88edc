"""Authentication by bearer API key, and who may act on which upload."""

from __future__ import annotations

import os
from collections.abc import Callable

import httpx2
import pytest
from tests.integration.http.support import (
    PART,
    Harness,
    Headers,
    Started,
    UploadClient,
    assert_problem,
)

DATA = os.urandom(PART + 10)

# Every endpoint behind an API key, as (name, call) with the file id to act on.
Call = Callable[[UploadClient, Headers, Started], httpx2.Response]
CALLS: dict[str, Call] = {
    "state": lambda c, h, s: c.state(h, s.file_id),
    "complete": lambda c, h, s: c.complete(h, s.file_id, s.refs()),
    "abort": lambda c, h, s: c.abort(h, s.file_id),
}


@pytest.fixture
def started(api: Harness, alice: Headers) -> Started:
    """Alice's upload, every part received."""
    started = api.client.start(alice, DATA)
    api.client.put_parts(started)
    return started


def test_an_upload_without_an_api_key_is_401_with_a_bearer_challenge(api: Harness) -> None:
    response = api.client.initiate({}, {"file_name": "a"})

    assert_problem(response, 401, "not_authenticated")
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer uc_not-a-key-anyone-was-given",
        "Bearer not-even-the-prefix",
        "Bearer ",
        "Bearer",
        "Basic YWxpY2U6c2VjcmV0",
        "uc_the-key-without-a-scheme",
        "Bearer " + "x" * 10_000,
    ],
    ids=["unknown", "no-prefix", "empty", "scheme-only", "basic", "no-scheme", "huge"],
)
def test_an_unknown_or_malformed_credential_is_401(
    api: Harness, started: Started, authorization: str
) -> None:
    for name, call in CALLS.items():
        response = call(api.client, {"Authorization": authorization}, started)
        assert_problem(response, 401, "not_authenticated")
        assert response.headers["www-authenticate"] == "Bearer", name
    assert api.client.initiate({"Authorization": authorization}, {}).status_code == 401


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "BeArEr"])
def test_the_bearer_scheme_name_is_case_insensitive(
    api: Harness, alice: Headers, scheme: str
) -> None:
    key = alice["Authorization"].removeprefix("Bearer ")

    started = api.client.start({"Authorization": f"{scheme} {key}"}, DATA)

    assert started.body["file_obj"]["owner"] == "alice"


def test_authentication_comes_before_validating_the_body(api: Harness) -> None:
    response = api.client.http.post(
        "/v1/files/uploads/", content=b"{", headers={"Content-Type": "text/plain"}
    )

    assert_problem(response, 401, "not_authenticated")


@pytest.mark.parametrize("name", list(CALLS))
def test_another_users_upload_is_403_on_every_verb(
    api: Harness, bob: Headers, started: Started, name: str
) -> None:
    response = CALLS[name](api.client, bob, started)

    assert_problem(response, 403, "forbidden")


def test_a_refused_user_changes_nothing(
    api: Harness, alice: Headers, bob: Headers, started: Started
) -> None:
    for call in CALLS.values():
        call(api.client, bob, started)

    state = api.client.state(alice, started.file_id).json()
    assert state["upload_status"] == "uploading"
    assert len(state["parts"]) == 2


@pytest.mark.parametrize("name", list(CALLS))
def test_an_unknown_upload_is_404_on_every_verb(
    api: Harness, alice: Headers, started: Started, name: str
) -> None:
    unknown = Started("0" * 32, "", {}, started.chunks, {})

    response = CALLS[name](api.client, alice, unknown)

    assert_problem(response, 404, "not_found")


def test_an_admin_may_read_and_complete_another_users_upload(
    api: Harness, admin: Headers, started: Started
) -> None:
    state = api.client.state(admin, started.file_id)
    assert state.status_code == 200

    completed = api.client.complete(admin, started.file_id, started.refs())

    assert completed.status_code == 200
    assert completed.json()["owner"] == "alice"
    assert api.client.download(completed.json()["url"]).content == DATA


def test_an_admin_may_abort_another_users_upload(
    api: Harness, alice: Headers, admin: Headers, started: Started
) -> None:
    assert api.client.abort(admin, started.file_id).status_code == 204
    assert api.client.state(alice, started.file_id).json()["upload_status"] == "aborted"


def test_an_upload_belongs_to_the_user_who_initiated_it(api: Harness, bob: Headers) -> None:
    started = api.client.start(bob, DATA)

    assert started.body["file_obj"]["owner"] == "bob"
    assert api.client.state(bob, started.file_id).json()["id"] == started.file_id
