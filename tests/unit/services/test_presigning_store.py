"""The upload use cases over a store that clients upload to directly and that signs its own
URLs (what S3 is): its URLs are handed out, and it forgets the parts once joined."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest
from tests.unit.services.support import compose

from uploadcore.adapters.memory import FakeClock, InMemoryRepository, SequentialIds
from uploadcore.bootstrap import Uploadcore
from uploadcore.domain.errors import PartMissing
from uploadcore.domain.parts import PartLimits, PartRef, ReceivedPart, multipart_etag
from uploadcore.domain.upload import Principal, Upload, UploadStatus
from uploadcore.entrypoints.links import HttpLinks
from uploadcore.ports.blobs import PreparedUpload, PresignsUrls
from uploadcore.services.initiate import NewUpload
from uploadcore.services.records import UploadPolicy

API = HttpLinks("http://api")

ALICE = Principal("alice")
REQUEST = NewUpload("a.txt", 10, "text/plain", num_parts=3, part_size=4)
CHUNKS = [b"abcd", b"efgh", b"ij"]


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


class DirectStore:
    """Clients `put` parts into it; `assemble` turns them into the object and forgets them."""

    def __init__(self) -> None:
        self.uploads: dict[str, dict[int, bytes]] = {}
        self.objects: dict[str, bytes] = {}
        self.signed: list[tuple[tuple[int, ...], datetime, timedelta]] = []

    def put(self, upload: Upload, number: int, data: bytes) -> PartRef:
        self.uploads[upload.upload_id][number] = data
        return PartRef(number, md5(data))

    def prepare(self, file_id: str, content_type: str) -> PreparedUpload:
        self.uploads[f"mpu-{file_id}"] = {}
        return PreparedUpload(f"mpu-{file_id}", f"files/{file_id}")

    def list_parts(self, upload: Upload) -> Sequence[ReceivedPart]:
        if upload.upload_id not in self.uploads:
            raise PartMissing(f"no multipart upload {upload.upload_id}")
        held = self.uploads[upload.upload_id]
        return [ReceivedPart(n, md5(held[n]), len(held[n])) for n in sorted(held)]

    def assemble(self, upload: Upload, parts: Sequence[ReceivedPart]) -> str | None:
        expected = multipart_etag([p.etag for p in parts])
        if upload.upload_id not in self.uploads:
            if upload.storage_key in self.objects:  # an earlier completion
                return expected
            raise PartMissing("the parts are gone")
        held = self.uploads.pop(upload.upload_id)
        self.objects[upload.storage_key] = b"".join(held[p.part_number] for p in parts)
        return expected

    def release_parts(self, upload: Upload) -> None:
        pass

    def abort(self, upload: Upload) -> None:
        self.uploads.pop(upload.upload_id, None)

    def delete(self, upload: Upload) -> None:
        self.objects.pop(upload.storage_key, None)

    def part_urls(
        self, upload: Upload, part_numbers: Sequence[int], now: datetime, expires_in: timedelta
    ) -> Sequence[str]:
        self.signed.append((tuple(part_numbers), now, expires_in))
        return [f"https://store/{upload.storage_key}?part={n}" for n in part_numbers]

    def file_url(self, upload: Upload, now: datetime, expires_in: timedelta) -> str:
        return f"https://store/{upload.storage_key}?get"


@pytest.fixture
def store() -> DirectStore:
    return DirectStore()


@pytest.fixture
def service(store: DirectStore, clock: FakeClock) -> Uploadcore:
    policy = UploadPolicy(limits=PartLimits(min_part_size=4), url_expires_in=timedelta(minutes=7))
    return compose(policy, InMemoryRepository(), store, clock, SequentialIds())


def test_the_store_s_own_presigned_urls_are_handed_out(
    service: Uploadcore, store: DirectStore, clock: FakeClock
) -> None:
    started = service.initiate(ALICE, REQUEST, API)

    assert isinstance(store, PresignsUrls)
    assert service.receive_part is None
    assert [u.url for u in started.presigned_urls] == [
        f"https://store/files/{started.upload.id}?part={n}" for n in (1, 2, 3)
    ]
    assert store.signed == [((1, 2, 3), clock.now(), timedelta(minutes=7))]


def test_the_upload_state_is_what_the_store_lists(service: Uploadcore, store: DirectStore) -> None:
    upload = service.initiate(ALICE, REQUEST, API).upload
    store.put(upload, 2, CHUNKS[1])

    state = service.upload_state(ALICE, upload.id)

    assert state.parts == (ReceivedPart(2, md5(CHUNKS[1]), 4),)


def test_a_completed_upload_lists_no_parts_and_completes_again_the_same(
    service: Uploadcore, store: DirectStore
) -> None:
    upload = service.initiate(ALICE, REQUEST, API).upload
    refs = [store.put(upload, n, chunk) for n, chunk in enumerate(CHUNKS, 1)]

    done = service.complete(ALICE, upload.id, refs)
    again = service.complete(ALICE, upload.id, list(reversed(refs)))

    assert done.status is UploadStatus.COMPLETED
    assert again == done
    assert store.objects[done.storage_key] == b"abcdefghij"
    assert service.upload_state(ALICE, upload.id).parts == ()
    assert service.file_url(done, API) == f"https://store/{done.storage_key}?get"


def test_a_completion_the_store_made_but_the_database_missed_completes_on_retry(
    service: Uploadcore, store: DirectStore
) -> None:
    upload = service.initiate(ALICE, REQUEST, API).upload
    refs = [store.put(upload, n, chunk) for n, chunk in enumerate(CHUNKS, 1)]
    store.assemble(upload, service.upload_state(ALICE, upload.id).parts)  # the answer was lost

    done = service.complete(ALICE, upload.id, refs)

    assert done.status is UploadStatus.COMPLETED
    assert done.etag == multipart_etag([r.etag for r in refs])


def test_parts_the_store_lost_fail_the_upload(service: Uploadcore, store: DirectStore) -> None:
    upload = service.initiate(ALICE, REQUEST, API).upload
    refs = [store.put(upload, n, chunk) for n, chunk in enumerate(CHUNKS, 1)]
    store.abort(upload)  # a lifecycle rule, behind the service's back

    with pytest.raises(PartMissing):
        service.complete(ALICE, upload.id, refs)

    assert service.get_file(ALICE, upload.id).status is UploadStatus.FAILED
