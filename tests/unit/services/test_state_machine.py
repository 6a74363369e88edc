"""Random sequences of uploads, parts, completions and aborts keep the service's promises."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from tests.unit.services.support import LINKS, compose

from uploadcore.adapters.memory import (
    FakeClock,
    InMemoryBlobStore,
    InMemoryRepository,
    SequentialIds,
)
from uploadcore.adapters.signer import ItsDangerousSigner
from uploadcore.domain.errors import (
    EtagMismatch,
    InvalidState,
    PartsIncomplete,
    PartSizeMismatch,
    PartTooLarge,
    UploadExpired,
)
from uploadcore.domain.parts import PartLimits, PartPlan, PartRef, multipart_etag, normalize_etag
from uploadcore.domain.upload import Principal, Upload, UploadStatus
from uploadcore.services.initiate import NewUpload
from uploadcore.services.records import UploadPolicy

OWNER = Principal("alice")
POLICY = UploadPolicy(limits=PartLimits(min_part_size=1))
SIZE_ERRORS: dict[str, type[Exception] | None] = {
    "right": None,
    "short": PartSizeMismatch,
    "long": PartTooLarge,
}


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


async def body(data: bytes) -> AsyncIterator[bytes]:
    yield data


@dataclass
class Expected:
    """What the test believes about one upload."""

    plan: PartPlan
    status: UploadStatus
    expires_at: datetime
    parts: dict[int, bytes] = field(default_factory=dict)  # the bytes last accepted per part
    earlier: dict[int, list[bytes]] = field(default_factory=dict)  # replaced uploads
    completed_with: list[PartRef] | None = None


class UploadMachine(RuleBasedStateMachine):
    uploads = Bundle("uploads")

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock()
        self.repo = InMemoryRepository()
        self.blobs = InMemoryBlobStore()
        signer = ItsDangerousSigner("state-machine-secret-0123456789ab")
        self.core = compose(POLICY, self.repo, self.blobs, self.clock, SequentialIds(), signer)
        self.expected: dict[str, Expected] = {}
        self.first_terminal: dict[str, Upload] = {}

    def _stored(self, file_id: str) -> Upload:
        upload = self.repo.get(file_id)
        assert upload is not None
        return upload

    def _accepts_parts(self, model: Expected) -> type[Exception] | None:
        if model.status is not UploadStatus.UPLOADING:
            return InvalidState
        if self.clock.now() >= model.expires_at:
            return UploadExpired
        return None

    # -- rules -------------------------------------------------------------

    @initialize(
        target=uploads,
        num_parts=st.integers(1, 3),
        part_size=st.integers(1, 4),
        data=st.data(),
    )
    def first_upload(self, num_parts: int, part_size: int, data: st.DataObject) -> str:
        return self._initiate(num_parts, part_size, data)

    @precondition(lambda self: len(self.expected) < 3)  # few uploads, each visited often
    @rule(
        target=uploads,
        num_parts=st.integers(1, 3),
        part_size=st.integers(1, 4),
        data=st.data(),
    )
    def initiate(self, num_parts: int, part_size: int, data: st.DataObject) -> str:
        return self._initiate(num_parts, part_size, data)

    def _initiate(self, num_parts: int, part_size: int, data: st.DataObject) -> str:
        last = data.draw(st.integers(0 if num_parts == 1 else 1, part_size), label="last")
        file_size = (num_parts - 1) * part_size + last
        request = NewUpload("f.bin", file_size, "application/octet-stream", num_parts, part_size)
        upload = self.core.initiate(OWNER, request, LINKS).upload
        self.expected[upload.id] = Expected(
            upload.plan, UploadStatus.UPLOADING, self.clock.now() + POLICY.upload_expires_in
        )
        return upload.id

    @rule(delta=st.sampled_from([timedelta(minutes=5), timedelta(hours=3), timedelta(hours=25)]))
    def time_passes(self, delta: timedelta) -> None:
        self.clock.advance(delta)

    @rule(
        file_id=uploads,
        number=st.integers(1, 3),
        size=st.sampled_from(["right", "short", "long"]),
        fill=st.integers(0, 2),
    )
    def upload_part(self, file_id: str, number: int, size: str, fill: int) -> None:
        model = self.expected[file_id]
        number = min(number, model.plan.num_parts)
        planned = model.plan.size_of(number)
        length = {"right": planned, "short": planned - 1, "long": planned + 1}[size]
        data = bytes([fill]) * max(length, 0)
        upload = self._stored(file_id)
        url = self.core.urls.parts(upload, [number], LINKS)[0].url
        token = parse_qs(urlsplit(url).query)["token"][0]
        expected = self._accepts_parts(model) or SIZE_ERRORS[size]
        if planned == 0 and size == "short":  # no body is shorter than an empty one
            return
        assert self.core.receive_part is not None
        receiving = self.core.receive_part(file_id, number, token, body(data))
        if expected is not None:
            with pytest.raises(expected):
                asyncio.run(receiving)
            return
        part = asyncio.run(receiving)
        assert part.etag == md5(data)
        if number in model.parts:
            model.earlier.setdefault(number, []).append(model.parts[number])
        model.parts[number] = data
        model.expires_at = self.clock.now() + POLICY.upload_expires_in

    @rule(file_id=uploads, fill=st.integers(0, 2))
    def upload_every_part(self, file_id: str, fill: int) -> None:
        for number in self.expected[file_id].plan.part_numbers:
            self.upload_part(file_id, number, "right", fill)

    @rule(
        file_id=uploads,
        # Aborting is one way out of seven: were it a rule of its own, most
        # uploads would be aborted before they could complete.
        how=st.sampled_from(
            [
                *("right", "shuffled", "right", "shuffled"),
                *("wrong etag", "stale", "missing part", "abort"),
            ]
        ),
        data=st.data(),
    )
    def finish(self, file_id: str, how: str, data: st.DataObject) -> None:
        if how == "abort":
            self.abort(file_id)
        else:
            self.complete(file_id, how, data)

    def complete(self, file_id: str, variant: str, data: st.DataObject) -> None:
        model = self.expected[file_id]
        refs = self._completion_list(model, variant, data)
        named_right = self._names_every_part_as_uploaded(model, refs)
        if model.status is UploadStatus.COMPLETED:
            self._complete_again(file_id, model, refs)
            return
        refused = self._accepts_parts(model)
        if refused is not None:
            with pytest.raises(refused):
                self.core.complete(OWNER, file_id, refs)
            return
        if not named_right:
            with pytest.raises((PartsIncomplete, EtagMismatch)):
                self.core.complete(OWNER, file_id, refs)
            return
        done = self.core.complete(OWNER, file_id, refs)
        assert done.status is UploadStatus.COMPLETED
        model.status = UploadStatus.COMPLETED
        model.completed_with = refs

    def abort(self, file_id: str) -> None:
        model = self.expected[file_id]
        if model.status in (UploadStatus.COMPLETED, UploadStatus.FAILED):
            with pytest.raises(InvalidState):
                self.core.abort(OWNER, file_id)
            return
        assert self.core.abort(OWNER, file_id).status is UploadStatus.ABORTED
        model.status = UploadStatus.ABORTED

    # -- helpers -----------------------------------------------------------

    def _completion_list(self, model: Expected, variant: str, data: st.DataObject) -> list[PartRef]:
        refs = [
            PartRef(n, md5(model.parts[n]) if n in model.parts else md5(b"never sent"))
            for n in model.plan.part_numbers
        ]
        pick = data.draw(st.integers(0, len(refs) - 1), label="part")
        if variant == "shuffled":
            refs = list(data.draw(st.permutations(refs), label="order"))
        elif variant == "wrong etag":
            refs[pick] = PartRef(refs[pick].part_number, md5(b"wrong"))
        elif variant == "stale" and model.earlier.get(pick + 1):
            refs[pick] = PartRef(pick + 1, md5(model.earlier[pick + 1][0]))
        elif variant == "missing part":
            del refs[pick]
        return refs

    @staticmethod
    def _names_every_part_as_uploaded(model: Expected, refs: list[PartRef]) -> bool:
        numbers = sorted(ref.part_number for ref in refs)
        return numbers == list(model.plan.part_numbers) and all(
            ref.part_number in model.parts
            and normalize_etag(ref.etag) == md5(model.parts[ref.part_number])
            for ref in refs
        )

    def _complete_again(self, file_id: str, model: Expected, refs: list[PartRef]) -> None:
        assert model.completed_with is not None
        same = sorted((r.part_number, normalize_etag(r.etag)) for r in refs) == sorted(
            (r.part_number, normalize_etag(r.etag)) for r in model.completed_with
        )
        if same:
            assert self.core.complete(OWNER, file_id, refs) == self.first_terminal[file_id]
        else:
            with pytest.raises(InvalidState):
                self.core.complete(OWNER, file_id, refs)

    # -- invariants --------------------------------------------------------

    @invariant()
    def every_upload_is_in_the_expected_state(self) -> None:
        for file_id, model in self.expected.items():
            assert self._stored(file_id).status is model.status

    @invariant()
    def a_terminal_state_never_changes(self) -> None:
        for file_id in self.expected:
            upload = self._stored(file_id)
            first = self.first_terminal.setdefault(file_id, upload)
            if first.status.is_terminal:
                assert upload == first
            elif upload.status.is_terminal:
                self.first_terminal[file_id] = upload

    @invariant()
    def a_completed_file_is_the_last_bytes_of_each_part_listed(self) -> None:
        for file_id, model in self.expected.items():
            if model.completed_with is None:
                continue
            upload = self._stored(file_id)
            named = {r.part_number: r for r in model.completed_with}
            expected_bytes = b"".join(model.parts[n] for n in sorted(named))
            assert self.blobs.objects[upload.storage_key] == expected_bytes
            assert upload.etag == multipart_etag([named[n].etag for n in sorted(named)])

    @invariant()
    def no_file_holds_a_part_whose_etag_its_completion_did_not_name(self) -> None:
        for file_id, model in self.expected.items():
            if model.completed_with is None:
                continue
            upload = self._stored(file_id)
            final = self.blobs.objects[upload.storage_key]
            named = {r.part_number: normalize_etag(r.etag) for r in model.completed_with}
            offset = 0
            for n in upload.plan.part_numbers:
                size = upload.plan.size_of(n)
                assert md5(final[offset : offset + size]) == named[n]
                offset += size
            assert offset == len(final) == upload.file_size

    @invariant()
    def an_unfinished_upload_has_no_final_object(self) -> None:
        for file_id, model in self.expected.items():
            if model.status is not UploadStatus.COMPLETED:
                assert self._stored(file_id).storage_key not in self.blobs.objects

    @invariant()
    def an_aborted_upload_keeps_no_parts(self) -> None:
        for file_id, model in self.expected.items():
            if model.status is UploadStatus.ABORTED:
                assert self._stored(file_id).upload_id not in self.blobs.parts


UploadMachine.TestCase.settings = settings(max_examples=50, stateful_step_count=30, deadline=None)
TestRandomUploadSequencesKeepTheServicesPromises = UploadMachine.TestCase
