"""Property: whatever order parts arrive in, and however often each is re-sent,
assembling in part-number order gives back exactly the file (the last bytes
sent for each part), in memory and on a real disk.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from uploadcore.adapters.local import LocalDiskBlobStore
from uploadcore.adapters.memory import InMemoryBlobStore
from uploadcore.domain.parts import PartPlan, ReceivedPart
from uploadcore.domain.upload import Upload, UploadStatus
from uploadcore.ports.blobs import BlobStore, ReceivesParts

NOW = datetime(2026, 1, 1, tzinfo=UTC)

part_bytes = st.binary(max_size=3 * 1024)


@st.composite
def upload_histories(draw: st.DrawFn) -> tuple[int, list[tuple[int, bytes]]]:
    """A number of parts and the (part number, bytes) uploads in the order they happen.

    Every part is uploaded at least once; some are sent again with new bytes.
    """
    num_parts = draw(st.integers(min_value=1, max_value=8))
    first = [(n, draw(part_bytes)) for n in range(1, num_parts + 1)]
    again = draw(
        st.lists(st.tuples(st.integers(min_value=1, max_value=num_parts), part_bytes), max_size=6)
    )
    return num_parts, draw(st.permutations([*first, *again]))


class ReceivingStore(BlobStore, ReceivesParts, Protocol):
    """What the property needs: a store that receives parts and assembles them."""


#: A store under test and a reader of an upload's final bytes.
StoreAndReader = tuple[ReceivingStore, Callable[[Upload], bytes]]


@contextmanager
def memory_store() -> Iterator[StoreAndReader]:
    store = InMemoryBlobStore()
    yield store, lambda upload: store.objects[upload.storage_key]


@contextmanager
def disk_store() -> Iterator[StoreAndReader]:
    # A fresh directory per example: hypothesis reruns the body, pytest fixtures would not.
    with tempfile.TemporaryDirectory() as root:
        store = LocalDiskBlobStore(Path(root) / "media")
        yield store, lambda upload: Path(store.path_of(upload.storage_key)).read_bytes()


STORES: dict[str, Callable[[], AbstractContextManager[StoreAndReader]]] = {
    "memory": memory_store,
    "local": disk_store,
}


def prepared_upload(store: BlobStore) -> Upload:
    prepared = store.prepare("f1le0123", "application/octet-stream")
    return Upload(
        id="f1le0123",
        upload_id=prepared.upload_id,
        storage_key=prepared.storage_key,
        owner="alice",
        file_name="property.bin",
        file_content_type="application/octet-stream",
        plan=PartPlan(0, 1, 1),  # stores do not read the plan
        status=UploadStatus.UPLOADING,
        created=NOW,
        modified=NOW,
        expires_at=NOW + timedelta(days=1),
    )


@pytest.mark.parametrize("kind", sorted(STORES))
@settings(
    max_examples=100,
    deadline=None,  # fsync time is the disk's business, not the property's
    suppress_health_check=[HealthCheck.too_slow],
)
@given(history=upload_histories())
def test_assembling_in_part_number_order_gives_back_the_last_bytes_sent_per_part(
    kind: str, history: tuple[int, list[tuple[int, bytes]]]
) -> None:
    num_parts, uploads = history
    with STORES[kind]() as (store, read_final):
        upload = prepared_upload(store)
        last_sent: dict[int, bytes] = {}
        last_received: dict[int, ReceivedPart] = {}
        for number, data in uploads:
            writer = store.open_part(upload, number)
            writer.write(data)
            last_received[number] = writer.commit()
            last_sent[number] = data

        store.assemble(upload, [last_received[n] for n in range(1, num_parts + 1)])

        expected = b"".join(last_sent[n] for n in range(1, num_parts + 1))
        assert read_final(upload) == expected
