"""`plan_gc`: which uploads and leftovers gc acts on, decided without storage."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from uploadcore.domain.gc import (
    AbortExpired,
    FinishDeletion,
    GcAction,
    GcPolicy,
    Leftover,
    PurgeRecord,
    RemoveLeftover,
    plan_gc,
)
from uploadcore.domain.parts import PartPlan
from uploadcore.domain.upload import Upload, UploadStatus

PENDING, UPLOADING, COMPLETED, FAILED, ABORTED = UploadStatus
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
POLICY = GcPolicy(purge_after=timedelta(days=7), leftover_age=timedelta(hours=24))
SECOND = timedelta(seconds=1)


def upload(
    status: UploadStatus,
    *,
    expires_in: timedelta = timedelta(hours=1),
    ended_ago: timedelta = timedelta(0),
    file_id: str = "f1",
) -> Upload:
    """An upload in `status` that expires `expires_in` from NOW, last modified `ended_ago`."""
    return Upload(
        id=file_id,
        upload_id=f"up-{file_id}",
        storage_key=f"files/{file_id}",
        owner="alice",
        file_name="a.bin",
        file_content_type="application/octet-stream",
        plan=PartPlan(10, 1, 10),
        status=status,
        created=NOW - timedelta(days=30),
        modified=NOW - ended_ago,
        expires_at=NOW + expires_in,
    )


def leftover(
    upload_id: str | None = "orphan", age: timedelta = timedelta(days=2), kind: str = "temp_dir"
) -> Leftover:
    return Leftover(kind, f"temp_uploads/{upload_id}", upload_id, NOW - age, 100)


# -- expired uploads -------------------------------------------------------------


@pytest.mark.parametrize("status", [PENDING, UPLOADING])
def test_an_upload_in_progress_past_its_expiry_is_aborted(status: UploadStatus) -> None:
    expired = upload(status, expires_in=-SECOND)

    assert plan_gc([expired], NOW, POLICY) == [AbortExpired(expired)]


@pytest.mark.parametrize("status", [PENDING, UPLOADING])
def test_an_upload_expires_at_the_very_moment_of_its_expiry(status: UploadStatus) -> None:
    due = upload(status, expires_in=timedelta(0))

    assert plan_gc([due], NOW, POLICY) == [AbortExpired(due)]


@pytest.mark.parametrize("status", [PENDING, UPLOADING])
def test_an_upload_not_yet_expired_is_left_alone(status: UploadStatus) -> None:
    assert plan_gc([upload(status, expires_in=SECOND)], NOW, POLICY) == []


@pytest.mark.parametrize("status", [COMPLETED, FAILED, ABORTED])
def test_an_ended_upload_is_never_aborted_whatever_its_expiry(status: UploadStatus) -> None:
    ended = upload(status, expires_in=-timedelta(days=1))

    assert not any(isinstance(a, AbortExpired) for a in plan_gc([ended], NOW, POLICY))


def held(age: timedelta, *, receiving: bool = False) -> Leftover:
    """What storage holds for f1: last changed `age` before NOW."""
    return Leftover("temp_dir", "temp_uploads/up-f1", "up-f1", NOW - age, 100, receiving)


def test_an_upload_expired_by_a_short_upload_expires_in_is_aborted_once_storage_is_as_old() -> None:
    policy = replace(POLICY, upload_expires_in=SECOND)
    # Its last part came 2 s ago: recorded then (expiry 1 s later), stored then.
    expired = upload(UPLOADING, expires_in=-SECOND)

    assert plan_gc([expired], NOW, policy, storage={"f1": held(2 * SECOND)}) == [
        AbortExpired(expired)
    ]


@pytest.mark.parametrize("expires_in", [SECOND, timedelta(hours=24)])
def test_an_expired_upload_whose_storage_is_receiving_is_left_alone_however_old_its_storage(
    expires_in: timedelta,
) -> None:
    policy = replace(POLICY, upload_expires_in=expires_in)
    expired = upload(UPLOADING, expires_in=-timedelta(days=1))

    stalled = held(timedelta(days=3), receiving=True)  # a slow client, sending nothing for days

    assert plan_gc([expired], NOW, policy, storage={"f1": stalled}) == []


def test_storage_that_changed_after_the_recorded_activity_keeps_an_upload_alive_as_long() -> None:
    policy = replace(POLICY, upload_expires_in=timedelta(hours=1))
    # Recorded activity 61 min ago; parts PUT straight to S3 since, which the database never saw.
    expired = upload(UPLOADING, expires_in=-timedelta(minutes=1))

    def plan(storage_age: timedelta) -> list[GcAction]:
        return plan_gc([expired], NOW, policy, storage={"f1": held(storage_age)})

    assert plan(timedelta(minutes=59)) == []
    assert plan(timedelta(hours=1)) == [AbortExpired(expired)]  # it expires then, to the moment
    assert plan(timedelta(minutes=61)) == [AbortExpired(expired)]


def test_without_a_view_of_its_storage_an_upload_goes_by_its_expiry_alone() -> None:
    expired = upload(UPLOADING, expires_in=-SECOND)

    assert plan_gc([expired], NOW, POLICY, storage={"other": held(timedelta(0))}) == [
        AbortExpired(expired)
    ]


def test_recent_storage_never_saves_an_upload_that_is_not_expired_from_nothing() -> None:
    fresh = upload(UPLOADING, expires_in=SECOND)

    assert plan_gc([fresh], NOW, POLICY, storage={"f1": held(timedelta(days=9))}) == []


# -- purging records -----------------------------------------------------------------


@pytest.mark.parametrize("status", [FAILED, ABORTED])
def test_an_aborted_or_failed_record_older_than_purge_after_is_purged(status: UploadStatus) -> None:
    old = upload(status, ended_ago=timedelta(days=7))

    assert plan_gc([old], NOW, POLICY) == [PurgeRecord(old)]


@pytest.mark.parametrize("status", [FAILED, ABORTED])
def test_a_recently_ended_record_is_kept(status: UploadStatus) -> None:
    recent = upload(status, ended_ago=timedelta(days=7) - SECOND)

    assert plan_gc([recent], NOW, POLICY) == []


def test_a_completed_file_is_never_purged_however_old() -> None:
    assert plan_gc([upload(COMPLETED, ended_ago=timedelta(days=3650))], NOW, POLICY) == []


@pytest.mark.parametrize("status", [PENDING, UPLOADING])
def test_an_upload_in_progress_is_never_purged_however_long_untouched(
    status: UploadStatus,
) -> None:
    idle = upload(status, ended_ago=timedelta(days=365), expires_in=timedelta(hours=1))

    assert plan_gc([idle], NOW, POLICY) == []


def test_purge_after_comes_from_the_policy() -> None:
    record = upload(ABORTED, ended_ago=timedelta(hours=2))

    assert plan_gc([record], NOW, GcPolicy(purge_after=timedelta(hours=1))) == [PurgeRecord(record)]
    assert plan_gc([record], NOW, GcPolicy(purge_after=timedelta(hours=3))) == []


# -- leftover storage ------------------------------------------------------------------


def test_an_old_leftover_no_live_upload_owns_is_removed() -> None:
    orphan = leftover("orphan")

    assert plan_gc([], NOW, POLICY, [orphan], live_upload_ids={"someone-else"}) == [
        RemoveLeftover(orphan)
    ]


def test_a_leftover_a_live_upload_owns_is_kept_however_old() -> None:
    owned = leftover("up-live", age=timedelta(days=365))

    assert plan_gc([], NOW, POLICY, [owned], live_upload_ids={"up-live"}) == []


def test_a_leftover_touched_within_the_expiry_is_kept() -> None:
    fresh = leftover("orphan", age=timedelta(hours=24) - SECOND)

    assert plan_gc([], NOW, POLICY, [fresh]) == []


def test_a_leftover_exactly_as_old_as_the_expiry_is_removed() -> None:
    due = leftover("orphan", age=timedelta(hours=24))

    assert plan_gc([], NOW, POLICY, [due]) == [RemoveLeftover(due)]


def test_a_stray_file_that_belongs_to_no_upload_goes_by_age_alone() -> None:
    stray = leftover(None, kind="temp_file")

    assert plan_gc([], NOW, POLICY, [stray], live_upload_ids={"anything"}) == [
        RemoveLeftover(stray)
    ]


def test_discarded_storage_is_removed_however_recent() -> None:
    trash = replace(leftover(None, age=SECOND), discarded=True)

    assert plan_gc([], NOW, POLICY, [trash]) == [RemoveLeftover(trash)]


# -- a mix, and properties -----------------------------------------------------------------


def test_a_mix_gets_exactly_the_right_actions_in_the_order_given() -> None:
    expired = upload(UPLOADING, expires_in=-SECOND, file_id="expired")
    fresh = upload(UPLOADING, file_id="fresh")
    completed = upload(COMPLETED, ended_ago=timedelta(days=30), file_id="completed")
    old_abort = upload(ABORTED, ended_ago=timedelta(days=8), file_id="old-abort")
    new_abort = upload(ABORTED, ended_ago=timedelta(days=1), file_id="new-abort")
    orphan, owned = leftover("orphan"), leftover("up-fresh")

    actions = plan_gc(
        [expired, fresh, completed, old_abort, new_abort],
        NOW,
        POLICY,
        [orphan, owned],
        live_upload_ids={"up-fresh"},
    )

    assert actions == [AbortExpired(expired), PurgeRecord(old_abort), RemoveLeftover(orphan)]


statuses = st.sampled_from(list(UploadStatus))
offsets = st.integers(-(10**6), 10**6).map(lambda s: timedelta(seconds=s))


@given(status=statuses, expires_in=offsets, ended_ago=offsets.map(abs))
def test_every_upload_gets_at_most_one_action_and_only_a_right_one(
    status: UploadStatus, expires_in: timedelta, ended_ago: timedelta
) -> None:
    subject = upload(status, expires_in=expires_in, ended_ago=ended_ago)

    actions = plan_gc([subject], NOW, POLICY)

    assert len(actions) <= 1
    for action in actions:
        if isinstance(action, AbortExpired):
            assert status in (PENDING, UPLOADING)
            assert subject.expires_at <= NOW
        else:
            assert isinstance(action, PurgeRecord)
            assert status in (ABORTED, FAILED)
            assert subject.modified <= NOW - POLICY.purge_after


@given(
    expires_in=offsets,
    storage_age=offsets,
    receiving=st.booleans(),
    lifetime=st.integers(1, 10**6).map(lambda s: timedelta(seconds=s)),
)
def test_an_upload_is_aborted_exactly_when_neither_the_database_nor_storage_saw_it_lately(
    expires_in: timedelta, storage_age: timedelta, receiving: bool, lifetime: timedelta
) -> None:
    policy = replace(POLICY, upload_expires_in=lifetime)
    subject = upload(UPLOADING, expires_in=expires_in)
    storage = held(storage_age, receiving=receiving)

    actions = plan_gc([subject], NOW, policy, storage={"f1": storage})

    alive = receiving or subject.expires_at > NOW or storage.last_modified + lifetime > NOW
    assert actions == ([] if alive else [AbortExpired(subject)])


@given(age=offsets, owned=st.booleans())
def test_a_leftover_is_removed_exactly_when_old_and_not_owned(age: timedelta, owned: bool) -> None:
    subject = leftover("x", age=age)

    actions = plan_gc([], NOW, POLICY, [subject], live_upload_ids={"x"} if owned else set())

    expected = not owned and age >= POLICY.leftover_age
    assert actions == ([RemoveLeftover(subject)] if expected else [])


# -- deletions cut short ------------------------------------------------------------


def marked(status: UploadStatus, deleted_ago: timedelta, file_id: str = "f1") -> Upload:
    """An upload in `status` whose deletion began `deleted_ago` before NOW."""
    return replace(
        upload(status, expires_in=-timedelta(days=30), ended_ago=timedelta(days=30)),
        id=file_id,
        deleted=NOW - deleted_ago,
    )


@pytest.mark.parametrize("status", [COMPLETED, FAILED, ABORTED])
def test_a_deletion_cut_short_longer_ago_than_the_leftover_age_is_finished(
    status: UploadStatus,
) -> None:
    old = marked(status, POLICY.leftover_age)

    assert plan_gc([old], NOW, POLICY) == [FinishDeletion(old)]


@pytest.mark.parametrize("status", [COMPLETED, FAILED, ABORTED])
def test_a_deletion_that_began_recently_is_left_to_run_and_never_purged(
    status: UploadStatus,
) -> None:
    # Ended long before the purge age: still neither purged nor finished while its deletion runs.
    running = marked(status, POLICY.leftover_age - SECOND)

    assert plan_gc([running], NOW, POLICY) == []
    assert plan_gc([marked(status, timedelta(0))], NOW, POLICY) == []


def test_deletions_are_planned_in_the_order_given_next_to_the_other_actions() -> None:
    first, second = (
        marked(COMPLETED, 2 * POLICY.leftover_age, "a"),
        marked(ABORTED, POLICY.leftover_age, "b"),
    )
    purge = upload(FAILED, ended_ago=POLICY.purge_after, file_id="c")

    assert plan_gc([first, purge, second], NOW, POLICY) == [
        FinishDeletion(first),
        PurgeRecord(purge),
        FinishDeletion(second),
    ]


@given(status=st.sampled_from([COMPLETED, FAILED, ABORTED]), age=offsets.map(abs))
def test_a_marked_record_is_finished_exactly_when_marked_long_enough_ago(
    status: UploadStatus, age: timedelta
) -> None:
    subject = marked(status, age)

    expected = [FinishDeletion(subject)] if age >= POLICY.leftover_age else []
    assert plan_gc([subject], NOW, POLICY) == expected
