"""The UploadTokenRepository contract and `claim_token_file`, held against every adapter."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from tests.integration.contracts.test_repository import (
    Repository,
    key_hash,
    new_upload,
    race,
    repo,
    stored,
)

from uploadcore.adapters.memory import FakeClock
from uploadcore.domain.grants import UploadLimits, UploadToken

__all__ = ["repo"]  # the parametrised fixture, used here under its own name


def a_token(clock: FakeClock, token_id: str = "tok-1", **limits: object) -> UploadToken:  # noqa: S107
    return UploadToken(
        id=token_id,
        owner="alice",
        token_hash=key_hash(token_id),
        created=clock.now(),
        expires_at=clock.now() + timedelta(hours=1),
        limits=UploadLimits(**limits),  # type: ignore[arg-type]
    )


def test_a_token_comes_back_by_its_hash_and_by_its_id_with_every_limit(
    repo: Repository, clock: FakeClock
) -> None:
    token = a_token(
        clock,
        max_file_size=10,
        max_files=3,
        allowed_content_types=("image/*", "text/plain"),
        parent_content_type="blog.post",
        parent_object_id="42",
    )
    repo.add_token(token)

    assert repo.token_by_hash(token.token_hash) == token
    assert repo.token("tok-1") == token
    assert repo.token_by_hash(key_hash("another")) is None
    assert repo.token("another") is None


def test_revoking_keeps_the_first_time_and_an_unknown_token_is_false(
    repo: Repository, clock: FakeClock
) -> None:
    repo.add_token(a_token(clock))
    first = clock.now()

    assert repo.revoke_token("tok-1", first)
    clock.advance(5)
    assert repo.revoke_token("tok-1", clock.now())

    revoked = repo.token("tok-1")
    assert revoked is not None
    assert revoked.revoked == first
    assert not repo.revoke_token("no-such-token", clock.now())


def test_a_claim_counts_files_up_to_max_files_and_no_further(
    repo: Repository, clock: FakeClock
) -> None:
    repo.add_token(a_token(clock, max_files=2))

    claims = [repo.claim_token_file("tok-1", clock.now()) for _ in range(3)]

    assert claims == [True, True, False]
    token = repo.token("tok-1")
    assert token is not None
    assert token.files_started == 2


def test_a_revoked_or_expired_token_claims_nothing(repo: Repository, clock: FakeClock) -> None:
    repo.add_token(a_token(clock, "revoked"))
    repo.add_token(a_token(clock, "expiring"))
    repo.revoke_token("revoked", clock.now())

    assert not repo.claim_token_file("revoked", clock.now())
    assert repo.claim_token_file("expiring", clock.now())
    clock.advance(timedelta(hours=1))
    assert not repo.claim_token_file("expiring", clock.now())
    assert not repo.claim_token_file("no-such-token", clock.now())


def test_racing_claims_never_exceed_max_files(repo: Repository, clock: FakeClock) -> None:
    repo.add_token(a_token(clock, max_files=5))

    won = race(8, lambda _: sum(repo.claim_token_file("tok-1", clock.now()) for _ in range(3)))

    assert sum(won) == 5


def test_an_upload_keeps_the_token_that_started_it(repo: Repository, clock: FakeClock) -> None:
    repo.add(replace(new_upload(clock), token_id="tok-1"))
    repo.add(new_upload(clock, "file-2"))

    assert stored(repo, "file-1").token_id == "tok-1"
    assert stored(repo, "file-2").token_id is None
