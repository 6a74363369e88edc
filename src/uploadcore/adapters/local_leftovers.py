"""What crashes leave on the local disk, found and removed for `gc`.

Two kinds of leftovers live under the media root:

    temp_uploads/{upload_id}/       part directories (an upload's, or an orphan's)
    files/{xx}/.tmp-*               an assembly that never reached its rename

A directory counts as modified when it or any entry in it last changed, so a
part still being written (its `.tmp-*` file grows) keeps its directory young.
For an upload's own directory `held` also says whether a part is being
written right now, which no age can tell (a slow client may send nothing for a
while): the part writer holds an `flock` on its `.tmp-*` file while it
writes, and a lock `held` cannot take is a live writer's, in whatever process.
Removal renames a directory to `temp_uploads/.gc-*` first: one atomic step
that exactly one of several racing `gc` runs wins, after which no part can be
committed into it; the renamed tree is then deleted at leisure (and a crash
mid-way leaves a `.gc-*` directory that the next run removes). Freeing a
completed or aborted upload's parts takes the same step (`move_to_trash`),
so the tree can go later, off the request's path (`BackgroundFreer`). A
`.gc-*` directory is garbage whatever its age: gc removes every one it finds.
"""

from __future__ import annotations

import errno
import fcntl
import os
import random
import shutil
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from uploadcore.adapters.names import is_plain_name
from uploadcore.domain.gc import Leftover

TEMP_DIR = "temp_uploads"
FILES_DIR = "files"
TEMP_PREFIX = ".tmp-"
TRASH_PREFIX = ".gc-"
TEMP_DIR_KIND = "temp_dir"
TEMP_FILE_KIND = "temp_file"


@dataclass(frozen=True)
class _Measure:
    newest: float  # st_mtime of the most recently changed of the directory and its entries
    size: int


def _measure(path: str | Path) -> _Measure | None:
    """The age and size of a directory and its entries; None if it is gone."""
    try:
        newest = os.stat(path, follow_symlinks=False).st_mtime
        size = 0
        with os.scandir(path) as entries:
            for entry in entries:
                try:
                    stat = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                newest = max(newest, stat.st_mtime)
                size += stat.st_size
    except (FileNotFoundError, NotADirectoryError):
        return None
    return _Measure(newest, size)


def _mtime(entry: os.DirEntry[str]) -> float:
    """An entry's mtime; infinitely new if it vanished (so it is skipped)."""
    try:
        return entry.stat(follow_symlinks=False).st_mtime
    except FileNotFoundError:
        return float("inf")


def _moment(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def temp_dirs(root: Path, older_than: datetime) -> Iterator[Leftover]:
    """Part directories (and `.gc-*` remains) not modified since `older_than`."""
    cutoff = older_than.timestamp()
    try:
        listing = os.scandir(root / TEMP_DIR)
    except FileNotFoundError:
        return
    with listing:
        for entry in listing:
            trash = entry.name.startswith(TRASH_PREFIX)
            if not (trash or is_plain_name(entry.name)) or not entry.is_dir(follow_symlinks=False):
                continue
            # The directory's own mtime moves with every part added: a busy one is skipped cheaply.
            # Trash is garbage at any age (nothing is ever added to it).
            young = not trash and _mtime(entry) > cutoff
            measured = None if young else _measure(entry.path)
            if measured is None or (not trash and measured.newest > cutoff):
                continue
            yield Leftover(
                TEMP_DIR_KIND,
                f"{TEMP_DIR}/{entry.name}",
                None if trash else entry.name,
                _moment(measured.newest),
                measured.size,
                discarded=trash,
            )


def stray_files(root: Path, older_than: datetime) -> Iterator[Leftover]:
    """`files/*/.tmp-*` files (assemblies cut short) not modified since `older_than`."""
    cutoff = older_than.timestamp()
    try:
        shards = sorted(e.name for e in os.scandir(root / FILES_DIR) if is_plain_name(e.name))
    except FileNotFoundError:
        return
    for shard in shards:
        try:
            listing = os.scandir(root / FILES_DIR / shard)
        except (FileNotFoundError, NotADirectoryError):
            continue
        with listing:
            for entry in listing:
                if not entry.name.startswith(TEMP_PREFIX):
                    continue
                try:
                    stat = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if stat.st_mtime <= cutoff:
                    key = f"{FILES_DIR}/{shard}/{entry.name}"
                    yield Leftover(TEMP_FILE_KIND, key, None, _moment(stat.st_mtime), stat.st_size)


def remove(root: Path, leftover: Leftover, older_than: datetime) -> int | None:
    """Remove a leftover still not modified since `older_than`; its bytes, or None if kept."""
    path = _path_of(root, leftover)
    if leftover.kind == TEMP_FILE_KIND:
        return _remove_file(path, older_than.timestamp())
    if leftover.kind == TEMP_DIR_KIND:
        return _remove_dir(root, path, older_than.timestamp())
    raise ValueError(f"not a local leftover: {leftover.kind}")


def _path_of(root: Path, leftover: Leftover) -> Path:
    """The leftover's path, refusing any key that `temp_dirs`/`stray_files` would not make."""
    parts = leftover.key.split("/")
    valid = (
        len(parts) == 2
        and parts[0] == TEMP_DIR
        and (is_plain_name(parts[1]) or parts[1].startswith(TRASH_PREFIX))
    ) or (
        len(parts) == 3
        and parts[0] == FILES_DIR
        and is_plain_name(parts[1])
        and parts[2].startswith(TEMP_PREFIX)
    )
    if not valid or any(p in ("", ".", "..") or "\\" in p for p in parts):
        raise ValueError(f"not a local leftover key: {leftover.key!r}")
    return root.joinpath(*parts)


def _remove_file(path: Path, cutoff: float) -> int | None:
    try:
        stat = path.stat(follow_symlinks=False)
        if stat.st_mtime > cutoff:
            return None
        path.unlink()
    except FileNotFoundError:
        return None
    return stat.st_size


def _remove_dir(root: Path, path: Path, cutoff: float) -> int | None:
    measured = _measure(path)
    is_trash = path.name.startswith(TRASH_PREFIX)
    if measured is None or (not is_trash and measured.newest > cutoff):
        return None
    trash = path if is_trash else move_to_trash(root, path)
    if trash is None:  # another gc (or an abort) got there first
        return None
    measured = _measure(trash) or measured
    shutil.rmtree(trash, ignore_errors=True)
    return measured.size


def move_to_trash(root: Path, directory: str | Path) -> Path | None:
    """Rename `directory` to a new `temp_uploads/.gc-*` name; None if it is already gone.

    One atomic step: afterwards no part can be committed into it (its path is
    gone), and the trash may be deleted whenever convenient.
    """
    # Unique, not secret (the Mersenne Twister, reseeded in a forked child): gc frees
    # thousands of directories a run, and os.urandom costs a system call each.
    trash = os.path.join(root, TEMP_DIR, f"{TRASH_PREFIX}{random.getrandbits(64):016x}")
    try:
        os.rename(directory, trash)
    except FileNotFoundError:
        return None
    return Path(trash)


def remove_trash(trash: Path) -> None:
    """Delete a trash tree now (what `BackgroundFreer` does later)."""
    shutil.rmtree(trash, ignore_errors=True)


class BackgroundFreer:
    """Deletes trash trees on a worker thread, in turn, off the caller's path.

    The thread runs only while there is work and is not a daemon: a process
    exiting normally waits for the trees it was handed. One killed first
    leaves `.gc-*` trees, which `gc` removes.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: deque[Path] = deque()
        self._idle = threading.Event()
        self._idle.set()

    def __call__(self, trash: Path) -> None:
        with self._lock:
            self._pending.append(trash)
            if not self._idle.is_set():
                return  # the running thread takes it
            self._idle.clear()
        threading.Thread(target=self._drain, name="uploadcore-free-parts").start()

    def wait(self, timeout: float) -> bool:
        """Whether every tree handed over so far was deleted within `timeout` seconds."""
        return self._idle.wait(timeout)

    def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._pending:
                    self._idle.set()
                    return
                trash = self._pending.popleft()
            remove_trash(trash)


def held(root: Path, upload_id: str) -> Leftover | None:
    """One upload's part directory as it is now (a part being written counts); None if none.

    `receiving` says whether a live writer holds one of its temporary files.
    """
    directory = os.path.join(root, TEMP_DIR, upload_id)  # a string: usually there is none
    measured = _measure(directory)
    if measured is None:
        return None
    key = f"{TEMP_DIR}/{upload_id}"
    moment = _moment(measured.newest)
    return Leftover(TEMP_DIR_KIND, key, upload_id, moment, measured.size, _receiving(directory))


def _receiving(directory: str) -> bool:
    """Whether a live part writer holds the lock of any temporary file in `directory`."""
    try:
        with os.scandir(directory) as entries:
            temporary = [e.path for e in entries if e.name.startswith(TEMP_PREFIX)]
    except (FileNotFoundError, NotADirectoryError):
        return False
    return any(_locked(path) for path in temporary)


def _locked(path: str) -> bool:
    """Whether another open file holds an `flock` on `path`.

    The probe asks for a shared lock, so two gc runs probing at once never see each other.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:
        # Gone: committed or dropped since the listing. A symlink: no writer of ours made it.
        if error.errno in (errno.ENOENT, errno.ELOOP):
            return False
        raise
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
