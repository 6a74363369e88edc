"""A completion frees its parts after answering: moved to the trash at once, deleted later.

The trash is deleted by a worker thread (`BackgroundFreer`); a process that
dies first leaves it behind, and `gc` removes it, whatever its age.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from tests.unit.services.test_upload_service import ALICE, PARTS, World

from uploadcore import bootstrap
from uploadcore.adapters.local import LocalDiskBlobStore
from uploadcore.adapters.local_leftovers import BackgroundFreer
from uploadcore.adapters.memory import FakeClock
from uploadcore.domain.upload import UploadStatus
from uploadcore.entrypoints.http.app import create_app
from uploadcore.settings import Settings


def test_a_completion_moves_its_parts_out_at_once_and_gc_frees_what_a_crash_left(
    tmp_path: Path, clock: FakeClock
) -> None:
    handed: list[Path] = []  # a freer that never gets to run: the process died first
    store = LocalDiskBlobStore(tmp_path / "media", free=handed.append)
    world = World(clock, blobs=store)
    upload = world.initiate().upload
    refs = world.send_all(upload)

    done = world.core.complete(ALICE, upload.id, refs)

    assert done.status is UploadStatus.COMPLETED
    assert store.path_of(done.storage_key).read_bytes() == b"".join(PARTS)
    assert not store.temp_dir(upload.upload_id).exists()
    [trash] = handed
    assert trash.parent == tmp_path / "media" / "temp_uploads"
    assert trash.name.startswith(".gc-")
    assert sorted(p.name[:5] for p in trash.iterdir()) == ["00001", "00002", "00003"]

    report = world.core.gc(timedelta(days=30)).collect()  # the trash is seconds old

    assert not trash.exists()
    assert report.leftovers["temp_dir"] == 1
    assert report.leftover_bytes == sum(len(p) for p in PARTS)
    assert store.path_of(done.storage_key).read_bytes() == b"".join(PARTS)


def test_the_background_freer_deletes_every_tree_it_is_handed(tmp_path: Path) -> None:
    freer = BackgroundFreer()
    trees = [tmp_path / f".gc-{n}" for n in range(20)]
    for tree in trees:
        (tree / "sub").mkdir(parents=True)
        (tree / "sub" / "00001.abc").write_bytes(b"x" * 1000)

    for tree in trees:
        freer(tree)

    assert freer.wait(30)
    assert list(tmp_path.iterdir()) == []


def test_the_server_store_frees_in_the_background(tmp_path: Path, clock: FakeClock) -> None:
    freer = BackgroundFreer()
    store = LocalDiskBlobStore(tmp_path / "media", free=freer)
    world = World(clock, blobs=store)
    upload = world.initiate().upload

    world.core.complete(ALICE, upload.id, world.send_all(upload))

    assert freer.wait(30)
    assert list((tmp_path / "media" / "temp_uploads").iterdir()) == []


def test_the_http_app_frees_in_the_background_and_a_built_core_at_once(
    settings: Settings,
) -> None:
    prepared = bootstrap.prepare(settings)
    served = create_app(prepared).state.uploadcore
    built = bootstrap.build(prepared)
    try:
        for core, background in ((served, True), (built, False)):
            store = core.complete.blobs
            assert isinstance(store, LocalDiskBlobStore)
            assert isinstance(store._free, BackgroundFreer) is background
    finally:
        served.close()
        built.close()
