"""The Signer contract on ItsDangerousSigner: genuine tokens pass, nothing else does."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from itsdangerous import URLSafeSerializer
from itsdangerous.encoding import base64_decode

from uploadcore.adapters.signer import ItsDangerousSigner
from uploadcore.domain.errors import TokenExpired, TokenInvalid
from uploadcore.ports.signer import Signer, TokenClaims

KEY = "signer-test-key-0123456789abcdef"
OTHER_KEY = "another-test-key-0123456789abcdef"
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
EXPIRES = int((NOW + timedelta(hours=1)).timestamp())
CLAIMS = TokenClaims("part", "f1le0123", "upload-abc", 7, EXPIRES)


@pytest.fixture
def signer() -> Signer:
    return ItsDangerousSigner(KEY)


def flip(token: str, index: int) -> str:
    """The token with one character changed to another URL-safe one."""
    replacement = "A" if token[index] != "A" else "B"
    return token[:index] + replacement + token[index + 1 :]


def test_a_signed_token_verifies_to_its_claims(signer: Signer) -> None:
    token = signer.sign(CLAIMS)

    assert signer.verify(token, "part", NOW) == CLAIMS


def test_a_token_is_url_safe(signer: Signer) -> None:
    token = signer.sign(TokenClaims("part", "f1le/../?&=#", "up load", 1, EXPIRES))

    assert all(c.isalnum() or c in "-_." for c in token), token


def test_a_compressed_token_from_itsdangerous_dumps_still_verifies(signer: Signer) -> None:
    # Tokens were once minted by `dumps`, which zlib-compresses a payload like this one.
    claims = TokenClaims("download", "487be010f18bbff156e7cb079b9c4084", "0d9a389f" * 4, 0, EXPIRES)
    minted = URLSafeSerializer(
        KEY, salt="uploadcore:download", signer_kwargs={"digest_method": hashlib.sha256}
    ).dumps([claims.file_id, claims.upload_id, 0, EXPIRES])

    assert str(minted).startswith(".")  # compressed
    assert signer.verify(str(minted), "download", NOW) == claims


def test_a_token_is_one_itsdangerous_loads_reads(signer: Signer) -> None:
    serializer = URLSafeSerializer(
        KEY, salt="uploadcore:part", signer_kwargs={"digest_method": hashlib.sha256}
    )

    assert serializer.loads(signer.sign(CLAIMS)) == ["f1le0123", "upload-abc", 7, EXPIRES]


@given(
    file_id=st.text(),
    upload_id=st.text(),
    number=st.integers(min_value=0, max_value=2**63),
    expires=st.integers(min_value=0, max_value=2**53),
)
def test_any_claims_make_the_token_itsdangerous_would_sign(
    file_id: str, upload_id: str, number: int, expires: int
) -> None:
    serializer = URLSafeSerializer(
        KEY, salt="uploadcore:part", signer_kwargs={"digest_method": hashlib.sha256}
    )
    payload = [file_id, upload_id, number, expires]

    token = ItsDangerousSigner(KEY).sign(TokenClaims("part", file_id, upload_id, number, expires))

    value = token.rpartition(".")[0]
    assert base64_decode(value) == json.dumps(payload, separators=(",", ":")).encode()
    assert serializer.loads(token) == payload


def test_a_token_verifies_until_the_second_before_it_expires(signer: Signer) -> None:
    token = signer.sign(CLAIMS)
    last_moment = datetime.fromtimestamp(EXPIRES, UTC) - timedelta(microseconds=1)

    assert signer.verify(token, "part", last_moment) == CLAIMS


@pytest.mark.parametrize("after", [timedelta(0), timedelta(seconds=1), timedelta(days=365)])
def test_a_token_at_or_past_its_expiry_raises_token_expired(
    signer: Signer, after: timedelta
) -> None:
    token = signer.sign(CLAIMS)

    with pytest.raises(TokenExpired):
        signer.verify(token, "part", datetime.fromtimestamp(EXPIRES, UTC) + after)


def test_a_token_with_a_changed_payload_raises_token_invalid(signer: Signer) -> None:
    token = signer.sign(CLAIMS)
    payload, _, _ = token.partition(".")

    for index in (0, len(payload) // 2, len(payload) - 1):
        with pytest.raises(TokenInvalid):
            signer.verify(flip(token, index), "part", NOW)


def test_a_token_with_a_changed_signature_raises_token_invalid(signer: Signer) -> None:
    token = signer.sign(CLAIMS)
    signature_start = token.rindex(".") + 1

    for index in (signature_start, (signature_start + len(token)) // 2):
        with pytest.raises(TokenInvalid):
            signer.verify(flip(token, index), "part", NOW)


def test_a_token_with_claims_swapped_between_two_tokens_raises_token_invalid(
    signer: Signer,
) -> None:
    mine = signer.sign(CLAIMS)
    other = signer.sign(TokenClaims("part", "f1le9999", "upload-xyz", 1, EXPIRES))
    forged = other.partition(".")[0] + "." + mine.rpartition(".")[2]

    with pytest.raises(TokenInvalid):
        signer.verify(forged, "part", NOW)


def test_a_token_minted_for_another_purpose_raises_token_invalid(signer: Signer) -> None:
    token = signer.sign(TokenClaims("download", "f1le0123", "upload-abc", 0, EXPIRES))

    with pytest.raises(TokenInvalid):
        signer.verify(token, "part", NOW)


def test_a_token_signed_with_another_key_raises_token_invalid(signer: Signer) -> None:
    token = ItsDangerousSigner(OTHER_KEY).sign(CLAIMS)

    with pytest.raises(TokenInvalid):
        signer.verify(token, "part", NOW)


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        ".",
        "..",
        "not-a-token",
        "a.b",
        "a.b.c",
        "eyJ.sig",
        "ünïcödé.tøkén",
        "\x00\n\r",
        "x" * 10_000,
        "W10.signature",
    ],
)
def test_a_garbage_string_raises_token_invalid(signer: Signer, garbage: str) -> None:
    with pytest.raises(TokenInvalid):
        signer.verify(garbage, "part", NOW)


@pytest.mark.parametrize(
    "payload",
    [
        {"file_id": "f1le0123"},
        ["f1le0123", "upload-abc", 7],
        ["f1le0123", "upload-abc", "7", EXPIRES],
        [1, "upload-abc", 7, EXPIRES],
        None,
    ],
)
def test_a_genuinely_signed_payload_of_the_wrong_shape_raises_token_invalid(
    signer: Signer, payload: object
) -> None:
    # Signed with the real key and salt, as a future token format might be.
    forged = URLSafeSerializer(
        KEY, salt="uploadcore:part", signer_kwargs={"digest_method": hashlib.sha256}
    ).dumps(payload)

    with pytest.raises(TokenInvalid):
        signer.verify(str(forged), "part", NOW)


def test_the_signer_refuses_a_short_secret_key() -> None:
    with pytest.raises(ValueError, match="at least 16"):
        ItsDangerousSigner("too-short")
