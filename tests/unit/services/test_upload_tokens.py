"""Upload tokens over the in-memory adapters: minting, authenticating, limits, revocation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tests.unit.services.support import LINKS, compose

from uploadcore.adapters.memory import FakeClock, InMemoryBlobStore, InMemoryRepository
from uploadcore.bootstrap import Uploadcore
from uploadcore.domain.errors import (
    ContentTypeNotAllowed,
    FileTooLarge,
    Forbidden,
    InvalidInput,
    NotFound,
    NotOwner,
    TokenLimitReached,
    UploadTokenExpired,
)
from uploadcore.domain.grants import UploadLimits
from uploadcore.domain.parts import PartLimits
from uploadcore.domain.upload import Principal
from uploadcore.services.initiate import NewUpload
from uploadcore.services.listing import FileQuery
from uploadcore.services.records import UploadPolicy
from uploadcore.services.upload_tokens import MintUploadToken, RevokeUploadToken
from uploadcore.services.users import create_user

ALICE = Principal("alice")
BOB = Principal("bob")
ADMIN = Principal("root", is_admin=True)
HOUR = timedelta(hours=1)
SMALL = NewUpload("a.png", 10, "image/png", num_parts=1, part_size=10)


@pytest.fixture
def core(clock: FakeClock) -> Uploadcore:
    policy = UploadPolicy(limits=PartLimits(min_part_size=4))
    return compose(policy, InMemoryRepository(), InMemoryBlobStore(), clock)


def mint(core: Uploadcore) -> MintUploadToken:
    assert core.mint_upload_token is not None
    return core.mint_upload_token


def revoke(core: Uploadcore) -> RevokeUploadToken:
    assert core.revoke_upload_token is not None
    return core.revoke_upload_token


NO_LIMITS = UploadLimits()


def holder(core: Uploadcore, limits: UploadLimits = NO_LIMITS) -> Principal:
    """The principal a freshly minted token with `limits` authenticates as."""
    token = mint(core)(ALICE, limits, HOUR).token
    principal = core.authenticator.authenticate(token)
    assert principal is not None
    return principal


def test_a_token_acts_for_the_user_who_minted_it_with_a_grant(core: Uploadcore) -> None:
    minted = mint(core)(ALICE, UploadLimits(max_files=2), HOUR)

    principal = core.authenticator.authenticate(minted.token)

    assert principal is not None
    assert principal.name == "alice"
    assert not principal.is_admin
    assert principal.grant is not None
    assert principal.grant.token_id == minted.record.id
    assert minted.token not in repr(minted.record)  # only its hash is kept
    assert minted.record.token_hash != minted.token


def test_an_upload_started_with_a_token_is_the_user_s_and_the_token_s(core: Uploadcore) -> None:
    principal = holder(core)

    upload = core.initiate(principal, SMALL, LINKS).upload

    assert upload.owner == "alice"
    assert principal.grant is not None
    assert core.get_file(ALICE, upload.id).token_id == principal.grant.token_id
    assert core.upload_state(principal, upload.id).upload.id == upload.id


def test_a_token_acts_only_on_the_uploads_it_started(core: Uploadcore) -> None:
    own = core.initiate(ALICE, SMALL, LINKS).upload
    principal = holder(core)
    other = holder(core)
    started = core.initiate(other, SMALL, LINKS).upload

    with pytest.raises(NotOwner):
        core.upload_state(principal, own.id)
    with pytest.raises(NotOwner):
        core.abort(principal, started.id)


def test_a_file_over_the_token_s_size_is_413_and_another_type_400(core: Uploadcore) -> None:
    principal = holder(core, UploadLimits(max_file_size=9, allowed_content_types=("image/*",)))

    with pytest.raises(FileTooLarge, match="upload token"):
        core.initiate(principal, SMALL, LINKS)
    with pytest.raises(ContentTypeNotAllowed):
        core.initiate(principal, NewUpload("a.txt", 5, "text/plain", 1, 5), LINKS)
    assert core.initiate(principal, NewUpload("a.gif", 9, "image/gif", 1, 9), LINKS)


def test_the_file_after_max_files_is_refused_and_nothing_is_recorded(core: Uploadcore) -> None:
    principal = holder(core, UploadLimits(max_files=2))
    core.initiate(principal, SMALL, LINKS)
    core.initiate(principal, SMALL, LINKS)

    with pytest.raises(TokenLimitReached):
        core.initiate(principal, SMALL, LINKS)
    files = core.list_files(ALICE, FileQuery(upload_status="all")).files
    assert len(files) == 2


def test_files_uploaded_with_a_token_carry_its_parent(core: Uploadcore) -> None:
    principal = holder(core, UploadLimits(parent_content_type="blog.post", parent_object_id="42"))

    upload = core.initiate(principal, SMALL, LINKS).upload

    assert (upload.parent_content_type, upload.parent_object_id) == ("blog.post", "42")


def test_a_revoked_token_stops_authenticating_at_once(core: Uploadcore) -> None:
    minted = mint(core)(ALICE, UploadLimits(), HOUR)

    revoke(core)(ALICE, minted.record.id)

    assert core.authenticator.authenticate(minted.token) is None


def test_an_expired_token_says_so(core: Uploadcore, clock: FakeClock) -> None:
    minted = mint(core)(ALICE, UploadLimits(), HOUR)
    clock.advance(HOUR)

    with pytest.raises(UploadTokenExpired):
        core.authenticator.authenticate(minted.token)


def test_only_the_owner_or_an_admin_revokes_and_a_token_neither_mints_nor_revokes(
    core: Uploadcore,
) -> None:
    minted = mint(core)(ALICE, UploadLimits(), HOUR)
    principal = holder(core)

    with pytest.raises(NotFound):
        revoke(core)(BOB, minted.record.id)
    with pytest.raises(Forbidden):
        mint(core)(principal, UploadLimits(), HOUR)
    with pytest.raises(Forbidden):
        revoke(core)(principal, minted.record.id)
    revoke(core)(ADMIN, minted.record.id)
    assert core.authenticator.authenticate(minted.token) is None


@pytest.mark.parametrize("expires_in", [timedelta(0), timedelta(days=1, seconds=1)])
def test_a_lifetime_outside_one_second_to_a_day_is_refused(
    core: Uploadcore, expires_in: timedelta
) -> None:
    with pytest.raises(InvalidInput, match="expires_in"):
        mint(core)(ALICE, UploadLimits(), expires_in)


def test_every_bad_limit_is_named_at_once() -> None:
    with pytest.raises(InvalidInput) as raised:
        UploadLimits.checked(
            100,
            max_file_size=101,
            max_files=0,
            allowed_content_types=("image/*", "not a type"),
            parent_content_type="blog.post",
        )

    fields = {e.field for e in raised.value.errors}
    assert fields == {"max_file_size", "max_files", "allowed_content_types", "parent_object_id"}


def test_an_api_key_still_authenticates_through_the_token_authenticator(
    core: Uploadcore, clock: FakeClock
) -> None:
    new = create_user(core.users, "carol", False, clock.now())

    assert core.authenticator.authenticate(new.api_key) == Principal("carol")
    assert core.authenticator.authenticate("ut_not-a-token") is None
