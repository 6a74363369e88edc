"""UploadService over the in-memory adapters: initiate, parts, complete, abort."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from tests.unit.services.support import BASE_URL, LINKS, SECRET, compose

from uploadcore.adapters.memory import (
    FakeClock,
    InMemoryBlobStore,
    InMemoryPartWriter,
    InMemoryRepository,
    SequentialIds,
)
from uploadcore.adapters.signer import ItsDangerousSigner
from uploadcore.bootstrap import Uploadcore
from uploadcore.domain.errors import (
    BadDigest,
    EtagMismatch,
    FileTooLarge,
    InvalidInput,
    InvalidState,
    NotOwner,
    PartMissing,
    PartsIncomplete,
    PartSizeMismatch,
    PartTooLarge,
    StorageUnavailable,
    TokenExpired,
    TokenInvalid,
    TokenMissing,
    UploadcoreError,
    UploadExpired,
    UploadNotFound,
)
from uploadcore.domain.parts import PartLimits, PartRef, ReceivedPart, multipart_etag
from uploadcore.domain.upload import Principal, Upload, UploadStatus
from uploadcore.entrypoints.http.parts import content_md5 as content_md5_digest
from uploadcore.ports.blobs import BlobStore, PreparedUpload, ReceivesParts
from uploadcore.ports.signer import TokenClaims
from uploadcore.services.initiate import Initiated, NewUpload
from uploadcore.services.receive_part import ReceivePart
from uploadcore.services.records import UploadPolicy
from uploadcore.services.streaming import BUFFER_SIZE
from uploadcore.services.urls import PART_PURPOSE

ALICE = Principal("alice")
BOB = Principal("bob")
ADMIN = Principal("root", is_admin=True)
POLICY = UploadPolicy(limits=PartLimits(min_part_size=4))
DATA = b"abcdefghij"  # three parts: abcd, efgh, ij
PARTS = [DATA[0:4], DATA[4:8], DATA[8:10]]
REQUEST = NewUpload("notes.txt", len(DATA), "text/plain", num_parts=3, part_size=4)


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


async def body(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


class Wrapped:
    """A blob store that passes every call to an in-memory one, after `_before(method)`."""

    def __init__(self, store: InMemoryBlobStore) -> None:
        self.store = store

    def _before(self, method: str) -> None:
        pass

    def prepare(self, file_id: str, content_type: str) -> PreparedUpload:
        self._before("prepare")
        return self.store.prepare(file_id, content_type)

    def open_part(self, upload: Upload, part_number: int) -> InMemoryPartWriter:
        self._before("open_part")
        return self.store.open_part(upload, part_number)

    def list_parts(self, upload: Upload) -> Sequence[ReceivedPart]:
        self._before("list_parts")
        return self.store.list_parts(upload)

    def assemble(self, upload: Upload, parts: Sequence[ReceivedPart]) -> None:
        self._before("assemble")
        self.store.assemble(upload, parts)

    def release_parts(self, upload: Upload) -> None:
        self._before("release_parts")
        self.store.release_parts(upload)

    def abort(self, upload: Upload) -> None:
        self._before("abort")
        self.store.abort(upload)

    def delete(self, upload: Upload) -> None:
        self._before("delete")
        self.store.delete(upload)


class Flaky(Wrapped):
    """A blob store whose `fail_on` method raises `error()` `times` times, then works."""

    def __init__(
        self,
        store: InMemoryBlobStore,
        fail_on: str,
        error: Callable[[], UploadcoreError],
        times: int = 1,
    ) -> None:
        super().__init__(store)
        self.fail_on = fail_on
        self.error = error
        self.failures_left = times

    def _before(self, method: str) -> None:
        if method == self.fail_on and self.failures_left > 0:
            self.failures_left -= 1
            raise self.error()


@dataclass
class World:
    """A service and the in-memory adapters behind it, to look at after each step."""

    clock: FakeClock
    repo: InMemoryRepository = field(default_factory=InMemoryRepository)
    store: InMemoryBlobStore = field(default_factory=InMemoryBlobStore)
    blobs: BlobStore | None = None
    core: Uploadcore = field(init=False)
    ids: SequentialIds = field(default_factory=lambda: SequentialIds("file"))

    def __post_init__(self) -> None:
        self.use(self.blobs or self.store)

    def use(self, blobs: BlobStore) -> None:
        """Compose the core again over `blobs`, keeping the rest."""
        self.core = compose(POLICY, self.repo, blobs, self.clock, self.ids)

    def initiate(self, request: NewUpload = REQUEST, owner: Principal = ALICE) -> Initiated:
        return self.core.initiate(owner, request, LINKS)

    @property
    def receive(self) -> ReceivePart:
        assert self.core.receive_part is not None, "these tests send parts through the service"
        return self.core.receive_part

    def token(self, upload: Upload, part_number: int) -> str:
        """A freshly minted part token, as a client gets from refreshing its URLs."""
        return token_of(self.core.urls.parts(upload, [part_number], LINKS)[0].url)

    def send(
        self,
        upload: Upload,
        part_number: int,
        *chunks: bytes,
        token: str | None = None,
        content_length: int | None = None,
        content_md5: str | None = None,
    ) -> ReceivedPart:
        expected = None if content_md5 is None else content_md5_digest(content_md5)
        return asyncio.run(
            self.receive(
                upload.id,
                part_number,
                self.token(upload, part_number) if token is None else token,
                body(*chunks),
                content_length=content_length,
                expected=expected,
            )
        )

    def send_all(self, upload: Upload, parts: Sequence[bytes] = PARTS) -> list[PartRef]:
        return [
            PartRef(n, self.send(upload, n, data).etag) for n, data in enumerate(parts, start=1)
        ]

    def status(self, upload: Upload) -> UploadStatus:
        stored = self.repo.get(upload.id)
        assert stored is not None
        return stored.status

    def stored_parts(self, upload: Upload) -> dict[int, bytes]:
        """Part bytes the blob store holds, by part number."""
        held = self.store.parts.get(upload.upload_id, {})
        return {n: data for (n, _), data in held.items()}


@pytest.fixture
def world(clock: FakeClock) -> World:
    return World(clock)


@pytest.fixture
def upload(world: World) -> Upload:
    return world.initiate().upload


# -- initiate ----------------------------------------------------------------


def test_initiate_answers_uploading_with_one_signed_url_per_part(world: World) -> None:
    initiated = world.initiate()
    upload = initiated.upload

    assert upload.status is UploadStatus.UPLOADING
    assert upload.upload_id in world.store.parts
    assert [u.part_number for u in initiated.presigned_urls] == [1, 2, 3]
    assert initiated.presigned_urls[1].url.startswith(
        f"{BASE_URL}/v1/files/presigned-uploads/{upload.id}/upload-part/2/?token="
    )
    assert {u.method for u in initiated.presigned_urls} == {"PUT"}
    assert initiated.expires_in == 3600
    assert upload.expires_at == world.clock.now() + timedelta(hours=24)


def test_initiate_gives_each_upload_its_own_ids(world: World) -> None:
    first, second = world.initiate().upload, world.initiate().upload

    assert first.id != second.id
    assert first.upload_id != second.upload_id
    assert first.storage_key != second.storage_key


def test_initiate_refuses_a_file_over_the_maximum_and_records_nothing(world: World) -> None:
    too_large = NewUpload("big.bin", 5 * 2**30 + 1, "application/octet-stream", 1, 1)

    with pytest.raises(FileTooLarge):
        world.initiate(too_large)
    assert world.store.parts == {}
    assert world.initiate().upload.id == "file000001"


@pytest.mark.parametrize(
    "request_",
    [
        NewUpload("notes\r\n.txt", 10, "text/plain", 1, 10),
        NewUpload("notes.txt", 10, "text", 1, 10),
        NewUpload("notes.txt", 10, "text/plain", 1, 10, parent_content_type=""),
        NewUpload("notes.txt", 10, "text/plain", 2, 4),
    ],
)
def test_initiate_refuses_bad_input_and_records_nothing(world: World, request_: NewUpload) -> None:
    with pytest.raises(InvalidInput):
        world.initiate(request_)

    assert world.store.parts == {}


def test_initiate_aborts_the_record_when_storage_cannot_prepare(clock: FakeClock) -> None:
    store = InMemoryBlobStore()
    world = World(
        clock, store=store, blobs=Flaky(store, "prepare", lambda: StorageUnavailable("down"))
    )

    with pytest.raises(StorageUnavailable):
        world.initiate()
    aborted = world.repo.get("file000001")
    assert aborted is not None
    assert aborted.status is UploadStatus.ABORTED


# -- the whole journey ---------------------------------------------------------


def test_initiate_then_parts_then_complete_stores_the_file(world: World, upload: Upload) -> None:
    refs = world.send_all(upload)

    done = world.core.complete(ALICE, upload.id, refs)

    assert done.status is UploadStatus.COMPLETED
    assert world.store.objects[done.storage_key] == DATA
    assert done.etag == multipart_etag([md5(p) for p in PARTS])
    assert world.store.parts.get(upload.upload_id) is None  # the parts were freed


def test_the_etag_of_each_part_is_the_hex_md5_of_its_bytes(world: World, upload: Upload) -> None:
    part = world.send(upload, 2, PARTS[1])

    assert part == ReceivedPart(2, md5(PARTS[1]), len(PARTS[1]))
    assert world.core.upload_state(ALICE, upload.id).parts == (part,)


@pytest.mark.parametrize("order", list(itertools.permutations([0, 1, 2])), ids=str)
def test_complete_accepts_the_parts_in_any_order(
    world: World, upload: Upload, order: tuple[int, ...]
) -> None:
    refs = world.send_all(upload)

    done = world.core.complete(ALICE, upload.id, [refs[i] for i in order])

    assert world.store.objects[done.storage_key] == DATA


def test_parts_may_arrive_in_any_order(world: World, upload: Upload) -> None:
    refs = {n: PartRef(n, world.send(upload, n, PARTS[n - 1]).etag) for n in (3, 1, 2)}

    done = world.core.complete(ALICE, upload.id, list(refs.values()))

    assert world.store.objects[done.storage_key] == DATA


def test_a_part_may_arrive_in_many_small_chunks(world: World, upload: Upload) -> None:
    part = world.send(upload, 1, b"a", b"", b"bc", b"d")

    assert part.etag == md5(b"abcd")
    assert world.stored_parts(upload) == {1: b"abcd"}


def test_a_part_larger_than_the_streaming_buffer_keeps_every_byte(clock: FakeClock) -> None:
    world = World(clock)
    data = bytes(range(256)) * (3 * BUFFER_SIZE // 256) + b"tail"
    request = NewUpload("big.bin", len(data), "application/octet-stream", 1, len(data))
    upload = world.initiate(request).upload
    chunks = [data[i : i + 65_537] for i in range(0, len(data), 65_537)]

    part = world.send(upload, 1, *chunks)
    done = world.core.complete(ALICE, upload.id, [PartRef(1, part.etag)])

    assert part.etag == md5(data)
    assert world.store.objects[done.storage_key] == data


def test_a_zero_byte_file_is_one_empty_part(world: World) -> None:
    upload = world.initiate(NewUpload("empty.txt", 0, "text/plain", 1, 1)).upload

    part = world.send(upload, 1)
    done = world.core.complete(ALICE, upload.id, [PartRef(1, part.etag)])

    assert world.store.objects[done.storage_key] == b""
    assert done.etag == multipart_etag([md5(b"")])


def test_complete_accepts_quoted_upper_case_etags(world: World, upload: Upload) -> None:
    refs = [PartRef(r.part_number, f'"{r.etag.upper()}"') for r in world.send_all(upload)]

    done = world.core.complete(ALICE, upload.id, refs)

    assert world.store.objects[done.storage_key] == DATA


# -- completing ----------------------------------------------------------------


def test_completing_twice_returns_the_same_file(world: World, upload: Upload) -> None:
    refs = world.send_all(upload)
    first = world.core.complete(ALICE, upload.id, refs)

    again = world.core.complete(ALICE, upload.id, list(reversed(refs)))

    assert again == first
    assert world.store.objects[first.storage_key] == DATA


@pytest.mark.parametrize(
    "change",
    [
        lambda refs: [refs[0], refs[1], PartRef(3, md5(b"other"))],
        lambda refs: refs[:2],
        lambda refs: [*refs, refs[0]],
    ],
    ids=["wrong etag", "missing part", "duplicate part"],
)
def test_completing_a_completed_upload_with_other_parts_is_an_invalid_state(
    world: World, upload: Upload, change: Callable[[list[PartRef]], list[PartRef]]
) -> None:
    refs = world.send_all(upload)
    done = world.core.complete(ALICE, upload.id, refs)

    with pytest.raises(InvalidState):
        world.core.complete(ALICE, upload.id, change(refs))
    assert world.repo.get(upload.id) == done
    assert world.store.objects[done.storage_key] == DATA


def test_complete_rejects_a_part_listed_twice_and_the_upload_stays_open(
    world: World, upload: Upload
) -> None:
    refs = world.send_all(upload)

    with pytest.raises(PartsIncomplete) as raised:
        world.core.complete(ALICE, upload.id, [*refs, refs[1]])
    assert "2" in str(raised.value)
    assert world.status(upload) is UploadStatus.UPLOADING
    assert world.core.complete(ALICE, upload.id, refs).status is UploadStatus.COMPLETED


def test_complete_rejects_a_part_never_uploaded(world: World, upload: Upload) -> None:
    refs = world.send_all(upload, PARTS[:2])

    with pytest.raises(PartsIncomplete) as raised:
        world.core.complete(ALICE, upload.id, [*refs, PartRef(3, md5(PARTS[2]))])
    assert "3" in str(raised.value)
    assert world.status(upload) is UploadStatus.UPLOADING
    assert world.store.objects == {}


def test_complete_rejects_a_wrong_etag_naming_the_part(world: World, upload: Upload) -> None:
    refs = world.send_all(upload)

    with pytest.raises(EtagMismatch) as raised:
        world.core.complete(ALICE, upload.id, [refs[0], PartRef(2, md5(b"x")), refs[2]])
    assert "2" in str(raised.value)
    assert world.status(upload) is UploadStatus.UPLOADING


def test_a_part_uploaded_again_replaces_the_earlier_one(world: World, upload: Upload) -> None:
    refs = world.send_all(upload)
    replacement = world.send(upload, 2, b"WXYZ")

    with pytest.raises(EtagMismatch):
        world.core.complete(ALICE, upload.id, refs)
    done = world.core.complete(ALICE, upload.id, [refs[0], PartRef(2, replacement.etag), refs[2]])
    assert world.store.objects[done.storage_key] == b"abcdWXYZij"


# -- aborting ------------------------------------------------------------------


def test_abort_marks_the_upload_aborted_and_frees_its_parts(world: World, upload: Upload) -> None:
    world.send_all(upload, PARTS[:2])

    aborted = world.core.abort(ALICE, upload.id)

    assert aborted.status is UploadStatus.ABORTED
    assert upload.upload_id not in world.store.parts
    assert world.core.upload_state(ALICE, upload.id).parts == ()


def test_a_part_after_abort_is_an_invalid_state_and_is_not_kept(
    world: World, upload: Upload
) -> None:
    token = world.token(upload, 1)
    world.core.abort(ALICE, upload.id)

    with pytest.raises(InvalidState):
        world.send(upload, 1, PARTS[0], token=token)
    assert world.repo.parts(upload.id) == []
    assert upload.upload_id not in world.store.parts


def test_complete_after_abort_is_an_invalid_state(world: World, upload: Upload) -> None:
    refs = world.send_all(upload)
    world.core.abort(ALICE, upload.id)

    with pytest.raises(InvalidState):
        world.core.complete(ALICE, upload.id, refs)
    assert world.status(upload) is UploadStatus.ABORTED
    assert world.store.objects == {}


def test_aborting_twice_is_fine(world: World, upload: Upload) -> None:
    first = world.core.abort(ALICE, upload.id)

    second = world.core.abort(ALICE, upload.id)

    assert first.status is second.status is UploadStatus.ABORTED


def test_abort_after_complete_is_an_invalid_state_and_keeps_the_file(
    world: World, upload: Upload
) -> None:
    done = world.core.complete(ALICE, upload.id, world.send_all(upload))

    with pytest.raises(InvalidState):
        world.core.abort(ALICE, upload.id)
    assert world.status(upload) is UploadStatus.COMPLETED
    assert world.store.objects[done.storage_key] == DATA


def test_abort_succeeds_even_when_storage_cannot_free_the_parts(clock: FakeClock) -> None:
    store = InMemoryBlobStore()
    world = World(
        clock, store=store, blobs=Flaky(store, "abort", lambda: StorageUnavailable("down"))
    )
    upload = world.initiate().upload

    assert world.core.abort(ALICE, upload.id).status is UploadStatus.ABORTED


# -- expiry --------------------------------------------------------------------


def test_an_expired_upload_refuses_parts(world: World, upload: Upload) -> None:
    world.clock.advance(POLICY.upload_expires_in)

    with pytest.raises(UploadExpired):
        world.send(upload, 1, PARTS[0])
    assert world.repo.parts(upload.id) == []


def test_an_expired_upload_refuses_to_complete(world: World, upload: Upload) -> None:
    refs = world.send_all(upload)
    world.clock.advance(POLICY.upload_expires_in + timedelta(seconds=1))

    with pytest.raises(UploadExpired):
        world.core.complete(ALICE, upload.id, refs)
    assert world.store.objects == {}


def test_an_expired_upload_can_still_be_aborted(world: World, upload: Upload) -> None:
    world.clock.advance(timedelta(days=2))

    assert world.core.abort(ALICE, upload.id).status is UploadStatus.ABORTED


def test_an_upload_that_keeps_receiving_parts_does_not_expire(world: World, upload: Upload) -> None:
    refs = []
    for n, data in enumerate(PARTS, start=1):
        world.clock.advance(timedelta(hours=23))
        refs.append(PartRef(n, world.send(upload, n, data).etag))
    world.clock.advance(timedelta(hours=23))

    done = world.core.complete(ALICE, upload.id, refs)

    assert world.store.objects[done.storage_key] == DATA


def test_a_completed_upload_does_not_expire(world: World, upload: Upload) -> None:
    refs = world.send_all(upload)
    world.core.complete(ALICE, upload.id, refs)
    world.clock.advance(timedelta(days=30))

    again = world.core.complete(ALICE, upload.id, refs)

    assert again.status is UploadStatus.COMPLETED


# -- part tokens ---------------------------------------------------------------


def test_a_token_for_another_part_is_invalid(world: World, upload: Upload) -> None:
    with pytest.raises(TokenInvalid):
        world.send(upload, 2, PARTS[1], token=world.token(upload, 1))
    assert world.repo.parts(upload.id) == []


def test_a_token_for_another_file_is_invalid(world: World, upload: Upload) -> None:
    other = world.initiate().upload

    with pytest.raises(TokenInvalid):
        world.send(upload, 1, PARTS[0], token=world.token(other, 1))
    assert world.repo.parts(upload.id) == world.repo.parts(other.id) == []


def test_a_token_for_another_upload_of_the_same_file_is_invalid(
    world: World, upload: Upload
) -> None:
    expires = int((world.clock.now() + timedelta(hours=1)).timestamp())
    claims = TokenClaims(PART_PURPOSE, upload.id, "another-upload", 1, expires)
    token = ItsDangerousSigner(SECRET).sign(claims)

    with pytest.raises(TokenInvalid):
        world.send(upload, 1, PARTS[0], token=token)
    assert world.repo.parts(upload.id) == []


def test_an_expired_token_is_refused(world: World, upload: Upload) -> None:
    token = world.token(upload, 1)
    world.clock.advance(POLICY.url_expires_in)

    with pytest.raises(TokenExpired):
        world.send(upload, 1, PARTS[0], token=token)
    assert world.send(upload, 1, PARTS[0]).etag == md5(PARTS[0])  # a fresh URL works


def test_a_token_is_good_until_just_before_it_expires(world: World, upload: Upload) -> None:
    token = world.token(upload, 1)
    world.clock.advance(POLICY.url_expires_in - timedelta(seconds=1))

    assert world.send(upload, 1, PARTS[0], token=token).etag == md5(PARTS[0])


@pytest.mark.parametrize(
    "tamper",
    [lambda t: t[:-2] + ("AA" if t[-2:] != "AA" else "BB"), lambda t: "x" + t, lambda t: "junk"],
    ids=["signature", "payload", "garbage"],
)
def test_a_tampered_token_is_invalid(
    world: World, upload: Upload, tamper: Callable[[str], str]
) -> None:
    with pytest.raises(TokenInvalid):
        world.send(upload, 1, PARTS[0], token=tamper(world.token(upload, 1)))


def test_a_token_signed_with_another_key_is_invalid(world: World, upload: Upload) -> None:
    expires = int((world.clock.now() + timedelta(hours=1)).timestamp())
    claims = TokenClaims(PART_PURPOSE, upload.id, upload.upload_id, 1, expires)
    token = ItsDangerousSigner("another-secret-0123456789abcdef").sign(claims)

    with pytest.raises(TokenInvalid):
        world.send(upload, 1, PARTS[0], token=token)


def test_a_download_token_does_not_upload_a_part(world: World, upload: Upload) -> None:
    expires = int((world.clock.now() + timedelta(hours=1)).timestamp())
    token = ItsDangerousSigner(SECRET).sign(
        TokenClaims("download", upload.id, upload.upload_id, 1, expires)
    )

    with pytest.raises(TokenInvalid):
        world.send(upload, 1, PARTS[0], token=token)


@pytest.mark.parametrize("token", ["", None])
def test_a_missing_token_is_refused(world: World, upload: Upload, token: str | None) -> None:
    with pytest.raises(TokenMissing):
        asyncio.run(world.receive(upload.id, 1, token, body(PARTS[0])))


def test_a_part_number_outside_the_plan_is_refused(world: World, upload: Upload) -> None:
    with pytest.raises(InvalidInput) as raised:
        world.send(upload, 4, b"more")
    assert "4" in str(raised.value)


def test_a_part_for_an_unknown_file_is_not_found(world: World) -> None:
    expires = int((world.clock.now() + timedelta(hours=1)).timestamp())
    token = ItsDangerousSigner(SECRET).sign(TokenClaims(PART_PURPOSE, "nope", "x", 1, expires))

    with pytest.raises(UploadNotFound):
        asyncio.run(world.receive("nope", 1, token, body(PARTS[0])))


# -- part bodies ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("part_number", "data", "error"),
    [
        (1, b"abc", PartSizeMismatch),
        (1, b"abcde", PartTooLarge),
        (3, b"i", PartSizeMismatch),
        (3, b"ijk", PartTooLarge),
        (1, b"", PartSizeMismatch),
    ],
)
def test_a_body_of_the_wrong_size_is_refused_and_nothing_is_kept(
    world: World, upload: Upload, part_number: int, data: bytes, error: type[Exception]
) -> None:
    with pytest.raises(error):
        world.send(upload, part_number, data)

    assert world.repo.parts(upload.id) == []
    assert world.stored_parts(upload) == {}
    assert world.repo.get(upload.id) == upload


def test_a_bad_body_leaves_the_earlier_upload_of_the_part_in_place(
    world: World, upload: Upload
) -> None:
    first = world.send(upload, 1, PARTS[0])

    with pytest.raises(PartTooLarge):
        world.send(upload, 1, b"wxyz!")
    with pytest.raises(PartSizeMismatch):
        world.send(upload, 1, b"wxy")
    assert world.repo.parts(upload.id) == [first]
    assert world.stored_parts(upload) == {1: PARTS[0]}


def test_reading_stops_at_the_first_byte_past_the_plan(world: World, upload: Upload) -> None:
    pulled: list[bytes] = []

    async def endless() -> AsyncIterator[bytes]:
        for _ in range(1_000):
            pulled.append(b"z")
            yield b"z"

    token = world.token(upload, 1)
    with pytest.raises(PartTooLarge):
        asyncio.run(world.receive(upload.id, 1, token, endless()))
    assert len(pulled) == 5  # part 1 is 4 bytes
    assert world.stored_parts(upload) == {}


@pytest.mark.parametrize(
    ("declared", "error"), [(3, PartSizeMismatch), (5, PartTooLarge), (0, PartSizeMismatch)]
)
def test_a_declared_length_other_than_the_plan_is_refused_before_reading(
    world: World, upload: Upload, declared: int, error: type[Exception]
) -> None:
    pulled: list[bytes] = []

    async def watched() -> AsyncIterator[bytes]:
        pulled.append(PARTS[0])
        yield PARTS[0]

    token = world.token(upload, 1)
    with pytest.raises(error):
        asyncio.run(world.receive(upload.id, 1, token, watched(), content_length=declared))
    assert pulled == []
    assert world.repo.parts(upload.id) == []


def test_a_declared_length_matching_the_plan_is_accepted(world: World, upload: Upload) -> None:
    part = world.send(upload, 3, PARTS[2], content_length=2)

    assert part.size == 2


def test_a_matching_content_md5_is_accepted(world: World, upload: Upload) -> None:
    digest = base64.b64encode(hashlib.md5(PARTS[0], usedforsecurity=False).digest()).decode()

    part = world.send(upload, 1, PARTS[0], content_md5=digest)

    assert world.repo.parts(upload.id) == [part]


@pytest.mark.parametrize(
    "content_md5",
    [
        base64.b64encode(hashlib.md5(b"other", usedforsecurity=False).digest()).decode(),
        "not base64!",
        base64.b64encode(b"short").decode(),
        md5(PARTS[0]),  # hex, not base64
        "",
    ],
    ids=["other bytes", "garbage", "short digest", "hex", "empty"],
)
def test_a_bad_content_md5_is_refused_and_nothing_is_kept(
    world: World, upload: Upload, content_md5: str
) -> None:
    with pytest.raises(BadDigest):
        world.send(upload, 1, PARTS[0], content_md5=content_md5)

    assert world.repo.parts(upload.id) == []
    assert world.stored_parts(upload) == {}


# -- storage failures at assembly ---------------------------------------------


def test_a_part_missing_from_storage_at_assembly_fails_the_upload(clock: FakeClock) -> None:
    store = InMemoryBlobStore()
    gone = Flaky(store, "assemble", lambda: PartMissing("part 2 is gone", part_number=2), times=99)
    world = World(clock, store=store, blobs=gone)
    upload = world.initiate().upload
    refs = world.send_all(upload)

    with pytest.raises(PartMissing):
        world.core.complete(ALICE, upload.id, refs)
    assert world.status(upload) is UploadStatus.FAILED
    with pytest.raises(InvalidState):
        world.core.complete(ALICE, upload.id, refs)
    assert world.status(upload) is UploadStatus.FAILED
    assert store.objects == {}


def test_part_bytes_lost_by_the_store_fail_the_upload(world: World, upload: Upload) -> None:
    refs = world.send_all(upload)
    del world.store.parts[upload.upload_id][(2, refs[1].etag)]

    with pytest.raises(PartMissing) as raised:
        world.core.complete(ALICE, upload.id, refs)
    assert raised.value.part_number == 2
    assert world.status(upload) is UploadStatus.FAILED
    assert world.store.objects == {}


def test_a_failed_upload_accepts_no_parts_and_cannot_be_aborted(
    world: World, upload: Upload
) -> None:
    refs = world.send_all(upload)
    del world.store.parts[upload.upload_id][(1, refs[0].etag)]
    with pytest.raises(PartMissing):
        world.core.complete(ALICE, upload.id, refs)

    with pytest.raises(InvalidState):
        world.send(upload, 1, PARTS[0])
    with pytest.raises(InvalidState):
        world.core.abort(ALICE, upload.id)
    assert world.status(upload) is UploadStatus.FAILED


def test_storage_unavailable_at_assembly_leaves_the_upload_open_for_a_retry(
    clock: FakeClock,
) -> None:
    store = InMemoryBlobStore()
    down = Flaky(store, "assemble", lambda: StorageUnavailable("try again"), times=2)
    world = World(clock, store=store, blobs=down)
    upload = world.initiate().upload
    refs = world.send_all(upload)

    for _ in range(2):
        with pytest.raises(StorageUnavailable):
            world.core.complete(ALICE, upload.id, refs)
        assert world.status(upload) is UploadStatus.UPLOADING
    done = world.core.complete(ALICE, upload.id, refs)

    assert done.status is UploadStatus.COMPLETED
    assert store.objects[done.storage_key] == DATA


def test_a_completion_whose_parts_cannot_be_freed_is_still_complete(clock: FakeClock) -> None:
    store = InMemoryBlobStore()
    stuck = Flaky(store, "release_parts", lambda: StorageUnavailable("down"))
    world = World(clock, store=store, blobs=stuck)
    upload = world.initiate().upload

    done = world.core.complete(ALICE, upload.id, world.send_all(upload))

    assert done.status is UploadStatus.COMPLETED
    assert store.objects[done.storage_key] == DATA


def test_a_service_over_the_in_memory_store_receives_parts_itself(clock: FakeClock) -> None:
    store = InMemoryBlobStore()

    assert isinstance(store, ReceivesParts)
    assert World(clock, store=store).core.receive_part is not None


class DuringAssembly(Wrapped):
    """Storage that assembles the file, then lets the client do `meanwhile` before it returns."""

    def __init__(self, store: InMemoryBlobStore, meanwhile: Callable[[Upload], object]) -> None:
        super().__init__(store)
        self.meanwhile = meanwhile

    def assemble(self, upload: Upload, parts: Sequence[ReceivedPart]) -> None:
        self.store.assemble(upload, parts)
        self.meanwhile(upload)


def test_an_abort_that_wins_the_race_with_assembly_keeps_the_upload_aborted(
    clock: FakeClock,
) -> None:
    store = InMemoryBlobStore()
    world = World(clock, store=store)
    world.use(DuringAssembly(store, lambda up: world.core.abort(ALICE, up.id)))
    upload = world.initiate().upload
    refs = world.send_all(upload)

    with pytest.raises(InvalidState):
        world.core.complete(ALICE, upload.id, refs)
    assert world.status(upload) is UploadStatus.ABORTED
    assert store.objects == {}  # the final object does not outlive the abort


class RefusedDuringAssembly(DuringAssembly):
    """Storage that lets `meanwhile` happen during an assembly, then refuses it (503).

    Ceph RGW does so: a completion that meets an abort, or another completion
    of the same upload (from another instance), gets 500 "already in progress".
    """

    def assemble(self, upload: Upload, parts: Sequence[ReceivedPart]) -> None:
        self.meanwhile(upload)
        raise StorageUnavailable("CompleteMultipartUpload answered InternalError, HTTP 500")


def test_a_completion_refused_by_storage_while_an_abort_wins_is_an_invalid_state(
    clock: FakeClock,
) -> None:
    store = InMemoryBlobStore()
    world = World(clock, store=store)
    world.use(RefusedDuringAssembly(store, lambda up: world.core.abort(ALICE, up.id)))
    upload = world.initiate().upload
    refs = world.send_all(upload)

    with pytest.raises(InvalidState):  # 409, not 503: the upload is aborted, for good
        world.core.complete(ALICE, upload.id, refs)
    assert world.status(upload) is UploadStatus.ABORTED
    assert store.objects == {}


def test_a_completion_refused_by_storage_while_another_completes_it_answers_the_file(
    clock: FakeClock,
) -> None:
    store = InMemoryBlobStore()
    world = World(clock, store=store)
    other = compose(POLICY, world.repo, store, clock, world.ids)  # another instance
    upload = world.initiate().upload
    refs = world.send_all(upload)
    world.use(RefusedDuringAssembly(store, lambda up: other.complete(ALICE, up.id, refs)))

    done = world.core.complete(ALICE, upload.id, refs)

    assert done.status is UploadStatus.COMPLETED
    assert done == world.repo.get(upload.id)
    assert store.objects[done.storage_key] == DATA


def test_a_completion_refused_by_storage_with_the_upload_still_open_is_unavailable(
    clock: FakeClock,
) -> None:
    store = InMemoryBlobStore()
    world = World(clock, store=store)
    world.use(RefusedDuringAssembly(store, lambda up: None))
    upload = world.initiate().upload

    with pytest.raises(StorageUnavailable):
        world.core.complete(ALICE, upload.id, world.send_all(upload))
    assert world.status(upload) is UploadStatus.UPLOADING


def test_a_part_sent_again_during_assembly_does_not_change_what_was_completed(
    clock: FakeClock,
) -> None:
    store = InMemoryBlobStore()
    world = World(clock, store=store)
    world.use(DuringAssembly(store, lambda up: world.send(up, 3, b"XY")))  # other bytes
    upload = world.initiate().upload
    refs = world.send_all(upload)
    done = world.core.complete(ALICE, upload.id, refs)
    world.use(store)

    again = world.core.complete(ALICE, upload.id, refs)  # a retry: the answer was lost

    assert again == done
    assert store.objects[done.storage_key] == DATA
    newer = [refs[0], refs[1], PartRef(3, md5(b"XY"))]
    with pytest.raises(InvalidState):  # the file does not hold that version of part 3
        world.core.complete(ALICE, upload.id, newer)


def test_a_part_after_complete_is_an_invalid_state(world: World, upload: Upload) -> None:
    done = world.core.complete(ALICE, upload.id, world.send_all(upload))

    with pytest.raises(InvalidState):
        world.send(upload, 1, b"WXYZ")
    assert world.store.objects[done.storage_key] == DATA
    assert world.repo.get(upload.id) == done


def test_the_in_memory_store_lists_the_newest_upload_of_each_part(
    world: World, upload: Upload
) -> None:
    for data in (b"AAAA", b"BBBB", b"AAAA"):
        world.send(upload, 1, data)

    assert world.store.list_parts(upload) == [ReceivedPart(1, md5(b"AAAA"), 4)]
    assert world.repo.parts(upload.id) == [ReceivedPart(1, md5(b"AAAA"), 4)]


# -- ownership -----------------------------------------------------------------


def test_another_user_may_not_see_complete_or_abort_the_upload(
    world: World, upload: Upload
) -> None:
    refs = world.send_all(upload)

    with pytest.raises(NotOwner):
        world.core.upload_state(BOB, upload.id)
    with pytest.raises(NotOwner):
        world.core.complete(BOB, upload.id, refs)
    with pytest.raises(NotOwner):
        world.core.abort(BOB, upload.id)
    assert world.status(upload) is UploadStatus.UPLOADING


def test_an_admin_may_complete_another_users_upload(world: World, upload: Upload) -> None:
    done = world.core.complete(ADMIN, upload.id, world.send_all(upload))

    assert done.owner == "alice"
    assert world.store.objects[done.storage_key] == DATA


def test_an_admin_may_abort_another_users_upload(world: World, upload: Upload) -> None:
    assert world.core.abort(ADMIN, upload.id).status is UploadStatus.ABORTED


@pytest.mark.parametrize("principal", [ALICE, ADMIN], ids=["owner", "admin"])
def test_an_unknown_id_is_not_found(world: World, principal: Principal) -> None:
    with pytest.raises(UploadNotFound):
        world.core.upload_state(principal, "nope")
    with pytest.raises(UploadNotFound):
        world.core.complete(principal, "nope", [])
    with pytest.raises(UploadNotFound):
        world.core.abort(principal, "nope")


# -- state and downloads -------------------------------------------------------


def test_state_lists_the_parts_received_so_far(world: World, upload: Upload) -> None:
    third = world.send(upload, 3, PARTS[2])
    first = world.send(upload, 1, PARTS[0])

    state = world.core.upload_state(ALICE, upload.id)

    assert state.parts == (first, third)
    assert state.upload.status is UploadStatus.UPLOADING


def test_a_completed_file_has_a_download_url_that_grants_it(world: World, upload: Upload) -> None:
    assert world.core.file_url(upload, LINKS) is None
    done = world.core.complete(ALICE, upload.id, world.send_all(upload))

    url = world.core.file_url(done, LINKS)

    assert url is not None
    assert url.startswith(f"{BASE_URL}/v1/files/{done.id}/download/?token=")
    assert world.core.urls.check_download_token(token_of(url), done.id).file_id == done.id


def test_a_download_token_for_another_file_or_a_part_token_grants_nothing(
    world: World, upload: Upload
) -> None:
    done = world.core.complete(ALICE, upload.id, world.send_all(upload))
    other = world.initiate().upload
    url = world.core.file_url(done, LINKS)
    assert url is not None

    with pytest.raises(TokenInvalid):
        world.core.urls.check_download_token(token_of(url), other.id)
    with pytest.raises(TokenInvalid):
        world.core.urls.check_download_token(world.token(done, 1), done.id)
    with pytest.raises(TokenMissing):
        world.core.urls.check_download_token(None, done.id)
    world.clock.advance(POLICY.url_expires_in)
    with pytest.raises(TokenExpired):
        world.core.urls.check_download_token(token_of(url), done.id)
