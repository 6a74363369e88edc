"""Events reach a real receiver on 127.0.0.1, signed, once per transition: SQLite and PostgreSQL.

uploadcore runs in process (local disk, a real database); racing requests are
threads released together; the receiver verifies every signature with the
`standardwebhooks` library. Retries advance a fake clock that starts at the
real time (receivers reject timestamps more than five minutes off).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.conftest import SECRET
from tests.integration.cli.support import ALICE, refs_of, start_upload
from tests.integration.contracts.test_repository import race
from tests.integration.webhooks.receiver import Receiver, receiving

from uploadcore import bootstrap
from uploadcore.adapters.memory import FakeClock
from uploadcore.bootstrap import Uploadcore
from uploadcore.domain.errors import InvalidState
from uploadcore.domain.events import DeliveryStatus
from uploadcore.domain.parts import PartRef
from uploadcore.domain.upload import Upload, UploadStatus
from uploadcore.services.deliver import DeliverWebhooks
from uploadcore.settings import Settings

PART = 1024
DATA = bytes(range(256)) * 8  # two parts
ROUNDS = 5


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    url = ""
    if request.param == "postgres":
        request.getfixturevalue("postgres_engine")  # empties the session's database
        url = request.getfixturevalue("postgres_database")
    return bootstrap.prepare(
        Settings(
            data_dir=tmp_path / "data",
            database_url=url,
            secret_key=SECRET,
            min_part_size=PART,
            webhook_timeout=timedelta(seconds=5),
        )
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime.now(UTC))


@pytest.fixture
def core(settings: Settings, clock: FakeClock) -> Iterator[Uploadcore]:
    core = bootstrap.build(settings, clock=clock)
    yield core
    core.close()


def deliver_all(deliverer: DeliverWebhooks) -> int:
    """Make every attempt due now, in as many batches as it takes."""

    async def drain() -> int:
        total = 0
        while sent := await deliverer.deliver_due():
            total += sent
        await deliverer.sender.aclose()
        return total

    return asyncio.run(drain())


def subscribe(core: Uploadcore, receiver: Receiver) -> None:
    assert core.webhooks is not None
    receiver.secret = core.webhooks.add(receiver.url).secret


def test_eight_racing_completions_deliver_one_upload_completed(core: Uploadcore) -> None:
    with receiving() as receiver:
        subscribe(core, receiver)
        uploads = []
        for _ in range(ROUNDS):
            upload = start_upload(core, DATA, PART)
            refs = refs_of(core, upload)

            def complete(_: int, upload: Upload = upload, refs: list[PartRef] = refs) -> Upload:
                return core.complete(ALICE, upload.id, refs)

            race(8, complete)
            uploads.append(upload)

        deliver_all(core.deliverer())

        assert receiver.received.unverified == []
        for upload in uploads:
            assert sorted(receiver.received.types_of(upload.id)) == [
                "upload.completed",
                "upload.created",
            ]
        assert not receiver.received.duplicates()


def test_completions_racing_aborts_deliver_the_winners_event_only(core: Uploadcore) -> None:
    with receiving() as receiver:
        subscribe(core, receiver)
        outcomes = []
        for _ in range(ROUNDS):
            upload = start_upload(core, DATA, PART)
            refs = refs_of(core, upload)

            def complete_or_abort(
                i: int, upload: Upload = upload, refs: list[PartRef] = refs
            ) -> None:
                try:
                    if i % 2:
                        core.complete(ALICE, upload.id, refs)
                    else:
                        core.abort(ALICE, upload.id)
                except InvalidState:
                    pass  # the other side won

            race(8, complete_or_abort)
            final = core.get_file(ALICE, upload.id).status
            outcomes.append((upload.id, final))

        deliver_all(core.deliverer())

        assert receiver.received.unverified == []
        for file_id, final in outcomes:
            last = "upload.completed" if final is UploadStatus.COMPLETED else "upload.aborted"
            assert sorted(receiver.received.types_of(file_id)) == sorted(["upload.created", last])


def test_a_receiver_that_fails_twice_gets_the_event_on_the_third_attempt(
    core: Uploadcore, clock: FakeClock
) -> None:
    with receiving() as receiver:
        subscribe(core, receiver)
        receiver.fail_next = 2
        upload = start_upload(core, DATA, PART, parts=0)
        deliverer = core.deliverer()

        for wait in (0, 5, 10):  # the backoff: 5 s, then 10 s
            clock.advance(wait)
            assert deliver_all(deliverer) == 1
            assert deliver_all(deliverer) == 0  # nothing due before the backoff has passed

        assert receiver.received.answered_500 == 2
        assert receiver.received.types_of(upload.id) == ["upload.created"]
        assert core.webhooks is not None
        [record] = core.webhooks.events()
        assert [(d.status, d.attempts) for d in record.deliveries] == [
            (DeliveryStatus.DELIVERED, 3)
        ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_a_receiver_that_is_down_gets_the_event_once_it_is_up(
    core: Uploadcore, clock: FakeClock
) -> None:
    port = free_port()
    assert core.webhooks is not None
    endpoint = core.webhooks.add(f"http://127.0.0.1:{port}/hooks")
    upload = start_upload(core, DATA, PART, parts=0)
    deliverer = core.deliverer()

    assert deliver_all(deliverer) == 1  # connection refused
    [record] = core.webhooks.events()
    assert record.deliveries[0].status is DeliveryStatus.PENDING
    assert "Connect" in (record.deliveries[0].last_error or "")

    with receiving(endpoint.secret, port) as receiver:
        clock.advance(5)
        assert deliver_all(deliverer) == 1
        assert receiver.received.types_of(upload.id) == ["upload.created"]
