"""What `gc` should do, decided without storage: `plan_gc` turns what it is shown into actions.

Garbage collection has four kinds of work:

- an upload in progress whose `expires_at` has passed is aborted (its parts are
  freed). An upload expires `upload_expires_in` after its last activity, and
  activity the database has not seen counts too: a part that is arriving right
  now (it is recorded, and the expiry moved, only once it is whole), which the
  store knows for certain (`Leftover.receiving`), and parts PUT straight to S3,
  which the store dates (`Leftover.last_modified`);
- an aborted or failed record that ended more than `purge_after` ago is purged;
- storage that no live upload owns (a temporary part directory, a stray temporary
  file, an S3 multipart upload) and that nobody has touched for `leftover_age`
  is removed. Those are what a crash or a lost race leaves behind;
- a record marked deleted more than `leftover_age` ago (a deletion that failed
  or was cut short after marking it, and that no client finished) has its
  stored bytes removed and then the record itself. A deletion that began
  within `leftover_age` may still be running, and is left to it.

The service shows `plan_gc` one batch at a time and carries out the actions
with compare-and-set writes, so an upload that changed since it was read (a
part arrived, it completed) is left alone.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType

from uploadcore.domain.upload import Upload, UploadStatus

#: Statuses whose records `gc` purges once they are old enough. Completed files stay.
PURGEABLE = frozenset({UploadStatus.ABORTED, UploadStatus.FAILED})


@dataclass(frozen=True)
class GcPolicy:
    """How old things must be before `gc` acts on them.

    `upload_expires_in` is how long an upload lives after its last activity (the
    service's `UPLOAD_EXPIRES_IN`): storage that changed later than the database
    knows moves the expiry by as much.
    """

    purge_after: timedelta = timedelta(days=7)
    leftover_age: timedelta = timedelta(hours=24)
    upload_expires_in: timedelta = timedelta(hours=24)


@dataclass(frozen=True)
class Leftover:
    """Storage held outside any final file, as a store reports it.

    `kind` says what it is (`temp_dir`, `temp_file`, `multipart_upload`), `key`
    where it is in the store's own terms, `upload_id` the storage upload it
    belongs to (None for a stray temporary file that belongs to none),
    `last_modified` when anything in it last changed, `size` its bytes.
    `receiving` is True when the store knows that a part is being written into
    it at this moment (a live writer holds it); a store that cannot know says
    False. `discarded` is True for storage already let go of (the parts a
    completion or an abort moved to the trash, left behind when the process
    died before deleting them): garbage at any age.
    """

    kind: str
    key: str
    upload_id: str | None
    last_modified: datetime
    size: int = 0
    receiving: bool = False
    discarded: bool = False


@dataclass(frozen=True)
class AbortExpired:
    """Abort an upload in progress whose expiry has passed, and free its storage."""

    upload: Upload


@dataclass(frozen=True)
class PurgeRecord:
    """Delete the record of an upload that was aborted or failed long enough ago."""

    upload: Upload


@dataclass(frozen=True)
class RemoveLeftover:
    """Remove storage that no live upload owns and that nobody touched for long."""

    leftover: Leftover


@dataclass(frozen=True)
class FinishDeletion:
    """Remove the stored bytes, then the record, of a file whose deletion was cut short."""

    upload: Upload


GcAction = AbortExpired | PurgeRecord | RemoveLeftover | FinishDeletion


def plan_gc(
    uploads: Iterable[Upload],
    now: datetime,
    policy: GcPolicy,
    leftovers: Iterable[Leftover] = (),
    live_upload_ids: Collection[str] = frozenset(),
    storage: Mapping[str, Leftover] = MappingProxyType({}),
) -> list[GcAction]:
    """The actions `gc` should take for these uploads and leftovers, in the order given.

    `storage` maps a file id to what its upload holds in storage, where the
    store can tell. An expired upload is left alone while its storage is
    receiving a part, or when its storage changed less than
    `policy.upload_expires_in` ago: that later activity keeps it alive as a
    recorded one would.
    `live_upload_ids` are the storage upload ids of uploads still pending or
    uploading: their storage is never a leftover, however old. Completed
    uploads, uploads not yet expired and records ended recently get no action.
    A record marked deleted is only ever finished, once its deletion began at
    least `policy.leftover_age` ago; it is never aborted or purged.
    """
    actions: list[GcAction] = []
    purge_before = now - policy.purge_after
    active_since = now - policy.upload_expires_in
    leftover_before = now - policy.leftover_age
    for upload in uploads:
        if upload.deleted is not None:
            if upload.deleted <= leftover_before:
                actions.append(FinishDeletion(upload))
        elif upload.is_expired(now):
            held = storage.get(upload.id)
            if held is None or not (held.receiving or held.last_modified > active_since):
                actions.append(AbortExpired(upload))
        elif upload.status in PURGEABLE and upload.modified <= purge_before:
            actions.append(PurgeRecord(upload))
    for leftover in leftovers:
        if leftover.upload_id is not None and leftover.upload_id in live_upload_ids:
            continue
        if leftover.discarded or leftover.last_modified <= leftover_before:
            actions.append(RemoveLeftover(leftover))
    return actions


__all__ = [
    "PURGEABLE",
    "AbortExpired",
    "FinishDeletion",
    "GcAction",
    "GcPolicy",
    "Leftover",
    "PurgeRecord",
    "RemoveLeftover",
    "plan_gc",
]
