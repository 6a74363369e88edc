"""Part and download tokens: tampered, replayed elsewhere or expired, they open nothing."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from tests.conftest import SECRET
from tests.integration.http.support import assert_problem, md5_hex, token_of, with_token
from tests.integration.security.conftest import Hostile

from uploadcore.adapters.signer import ItsDangerousSigner
from uploadcore.ports.signer import TokenClaims
from uploadcore.services.listing import CURSOR_PURPOSE
from uploadcore.services.urls import DOWNLOAD_PURPOSE, PART_PURPOSE

DATA = os.urandom(3 * 1024)


def tampered(token: str) -> list[str]:
    """The ways one could try to alter a token: its payload, its signature, its shape."""
    payload, _, signature = token.rpartition(".")
    flip = {"A": "B"}.get(payload[-3], "A")
    return [
        payload[:-3] + flip + payload[-2:] + "." + signature,  # a claim changed
        # The signature's first character: its last one carries 2 padding bits, and a
        # change there alone can decode to the same MAC (a flaky "tampered" token).
        payload + "." + ("B" if signature[0] != "B" else "C") + signature[1:],
        payload + ".",  # no signature
        token[:-1],
        token + "A",
        token.replace(".", "", 1),
        "",
        ".",
        "a" * 5000,
        token + "%00",
        ItsDangerousSigner("another-secret-key-0123456789abcdef-0123").sign(
            TokenClaims(PART_PURPOSE, "f", "u", 1, 2**40)
        ),
    ]


def test_a_tampered_part_token_is_403_and_stores_nothing(hostile: Hostile) -> None:
    started = hostile.alice_upload(DATA)
    url = started.urls[1]

    for bad in tampered(token_of(url)):
        response = hostile.api.client.put_part(with_token(url, bad), started.chunks[0])
        assert response.status_code == 403, (bad, response.text)
        assert response.json()["code"] in ("token_invalid", "token_missing"), response.text

    assert hostile.api.client.state(hostile.alice, started.file_id).json()["parts"] == []
    assert not any(hostile.api.temp_dir(started.upload_id).iterdir())


def test_a_tampered_download_token_is_403(hostile: Hostile) -> None:
    file = hostile.alice_file(DATA)

    for bad in tampered(token_of(file["url"])):
        response = hostile.http.get(with_token(file["url"], bad))
        assert response.status_code == 403, (bad, response.text)
        assert DATA not in response.content


def test_a_part_token_replayed_on_another_upload_is_403(hostile: Hostile) -> None:
    mine = hostile.alice_upload(DATA)
    other = hostile.api.client.start(hostile.bob, DATA)

    # Bob's valid token, sent to the URL of Alice's upload: it names his file, not hers.
    replayed = with_token(mine.urls[1], token_of(other.urls[1]))
    response = hostile.api.client.put_part(replayed, b"x" * 1024)

    assert_problem(response, 403, "token_invalid")
    assert hostile.api.client.state(hostile.alice, mine.file_id).json()["parts"] == []


def test_a_part_token_for_another_upload_of_the_same_file_is_403(hostile: Hostile) -> None:
    started = hostile.alice_upload(DATA)
    forged = ItsDangerousSigner(SECRET).sign(
        TokenClaims(PART_PURPOSE, started.file_id, "0" * 32, 1, 2**40)
    )

    response = hostile.api.client.put_part(with_token(started.urls[1], forged), DATA[:1024])

    assert_problem(response, 403, "token_invalid")
    assert hostile.api.client.state(hostile.alice, started.file_id).json()["parts"] == []


@pytest.mark.parametrize("target", [2, 3])
def test_a_part_token_replayed_on_another_part_is_403(hostile: Hostile, target: int) -> None:
    started = hostile.alice_upload(DATA)

    replayed = with_token(started.urls[target], token_of(started.urls[1]))
    response = hostile.api.client.put_part(replayed, started.chunks[target - 1])

    assert_problem(response, 403, "token_invalid")
    assert hostile.api.client.state(hostile.alice, started.file_id).json()["parts"] == []


def test_an_expired_part_token_is_403_and_stores_nothing(hostile: Hostile) -> None:
    started = hostile.alice_upload(DATA)
    hostile.api.clock.advance(timedelta(hours=1, seconds=1))

    response = hostile.api.client.put_part(started.urls[1], started.chunks[0])

    assert_problem(response, 403, "token_expired")
    assert hostile.api.client.state(hostile.alice, started.file_id).json()["parts"] == []


def test_an_expired_download_token_is_403(hostile: Hostile) -> None:
    file = hostile.alice_file(DATA)
    hostile.api.clock.advance(timedelta(hours=1, seconds=1))

    response = hostile.http.get(file["url"])

    assert_problem(response, 403, "token_expired")
    assert DATA not in response.content


def test_a_download_token_replayed_on_another_file_is_403(hostile: Hostile) -> None:
    file = hostile.alice_file(DATA)
    bobs = hostile.api.client.upload(hostile.bob, b"bob's own")

    # Bob's valid download token, on the URL of Alice's file.
    response = hostile.http.get(with_token(file["url"], token_of(bobs["url"])))

    assert_problem(response, 403, "token_invalid")
    assert DATA not in response.content


@pytest.mark.parametrize("purpose", [PART_PURPOSE, CURSOR_PURPOSE, "anything"])
def test_a_token_minted_for_another_purpose_is_no_download_token(
    hostile: Hostile, purpose: str
) -> None:
    file = hostile.alice_file(DATA)
    other = ItsDangerousSigner(SECRET).sign(TokenClaims(purpose, file["id"], "u", 0, 2**40))

    response = hostile.http.get(with_token(file["url"], other))

    assert_problem(response, 403, "token_invalid")
    assert DATA not in response.content


def test_a_download_token_is_no_part_token(hostile: Hostile) -> None:
    started = hostile.alice_upload(DATA)
    forged = ItsDangerousSigner(SECRET).sign(
        TokenClaims(DOWNLOAD_PURPOSE, started.file_id, started.upload_id, 1, 2**40)
    )

    response = hostile.api.client.put_part(with_token(started.urls[1], forged), DATA[:1024])

    assert_problem(response, 403, "token_invalid")


def test_a_part_token_replayed_after_completion_changes_nothing(hostile: Hostile) -> None:
    started = hostile.alice_upload(DATA)
    refs = hostile.api.client.put_parts(started)
    done = hostile.api.client.complete(hostile.alice, started.file_id, refs).json()

    response = hostile.api.client.put_part(started.urls[1], bytes(1024))

    assert_problem(response, 409, "invalid_state")
    assert hostile.http.get(done["url"]).content == DATA
    assert md5_hex(hostile.api.final_files(started.file_id)[0].read_bytes()) == md5_hex(DATA)
