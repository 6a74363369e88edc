"""`uploadcore gc` over 100,000 expired uploads: time, and peak memory that does not grow.

A template SQLite database (the real schema, WAL, `synchronous=FULL`) holds
100,000 uploads in progress that expired a day ago, inserted in bulk; another
holds 10,000. Each round copies a template (untimed) and runs, as processes:

- uploadcore: `uploadcore gc --json` (abort each expired upload by
  compare-and-set in batches of 1,000, free its parts, sweep leftovers, purge):
  checked to report every upload aborted;
- yardstick: `sqlite3` doing the least the database must do for the same
  effect: one `UPDATE ... SET upload_status = 'aborted'` over every expired
  row, in one transaction, with the same journal and sync settings.

Figures: wall time (start to exit) and peak RSS (GNU time's %M). The
memory row compares gc over 100,000 with gc over 10,000: batching means the
peak does not grow with the number of expired uploads.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from bench.harness import BenchError, Context, MiB, Row, interleave, median, median_ratio, progress
from bench.processes import run_measured
from bench.servers import clean_environment
from uploadcore.adapters.sql import make_engine
from uploadcore.adapters.sql.tables import files
from uploadcore.bootstrap import prepare
from uploadcore.settings import Settings

COUNTS = (100_000, 10_000)
INSERT_BATCH = 10_000
SECRET = "bench-secret-0123456789abcdef-0123456789"
UPLOADCORE = Path(sys.executable).with_name("uploadcore")


def _template(root: Path, count: int) -> Path:
    """A data dir whose database holds `count` uploads in progress that expired a day ago."""
    data_dir = root / f"template-{count}"
    settings = prepare(Settings(data_dir=data_dir, secret_key=SECRET))
    now = datetime.now(UTC)
    engine = make_engine(settings.database_url)
    try:
        for start in range(0, count, INSERT_BATCH):
            rows = [_row(now) for _ in range(min(INSERT_BATCH, count - start))]
            with engine.begin() as connection:
                connection.execute(insert(files), rows)
    finally:
        engine.dispose()
    return data_dir


def _row(now: datetime) -> dict[str, object]:
    file_id = secrets.token_hex(16)
    created = now - timedelta(days=2)
    return {
        "id": file_id, "upload_id": secrets.token_hex(16),
        "storage_key": f"files/{file_id[:2]}/{file_id}", "owner": "bench",
        "file_name": "bench.bin", "file_size": 10 * MiB,
        "file_content_type": "application/octet-stream", "num_parts": 2,
        "part_size": 5 * MiB, "upload_status": "uploading", "etag": None,
        "parent_content_type": None, "parent_object_id": None, "created": created,
        "modified": created, "expires_at": created + timedelta(days=1), "deleted": None,
    }  # fmt: skip


class Rig:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.templates = {count: _template(root, count) for count in COUNTS}
        self._runs = 0

    def _fresh(self, count: int) -> Path:
        self._runs += 1
        data_dir = self.root / f"run-{self._runs}"
        shutil.copytree(self.templates[count], data_dir)
        os.sync()
        return data_dir

    def gc(self, count: int) -> tuple[float, int]:
        data_dir = self._fresh(count)
        env = clean_environment(
            {"UPLOADCORE_DATA_DIR": str(data_dir), "UPLOADCORE_SECRET_KEY": SECRET}
        )
        try:
            run = run_measured([str(UPLOADCORE), "gc", "--json"], env)
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)
        if f'"count": {count},' not in run.stdout:
            raise BenchError(f"gc did not abort the {count} expired uploads: {run.stdout}")
        return run.seconds, run.peak_rss

    def one_update(self, count: int) -> tuple[float, int]:
        data_dir = self._fresh(count)
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        script = (  # a timestamp we format ourselves: nothing to inject
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=30000;"  # noqa: S608
            f"UPDATE files SET upload_status = 'aborted', modified = '{now}' "
            f"WHERE upload_status IN ('pending', 'uploading') AND expires_at <= '{now}';"
            "SELECT changes();"
        )
        try:
            run = run_measured(["sqlite3", str(data_dir / "uploadcore.db"), script])
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)
        if run.stdout.split()[-1] != str(count):
            raise BenchError(f"the UPDATE changed {run.stdout.split()[-1]} rows, not {count}")
        return run.seconds, run.peak_rss


def gc(ctx: Context) -> list[Row]:
    if not UPLOADCORE.exists():
        raise BenchError(f"{UPLOADCORE} is missing: install the project (make install)")
    if shutil.which("sqlite3") is None:
        raise BenchError("the sqlite3 command is missing (apt-get install sqlite3)")
    root = ctx.scratch / "gc"
    root.mkdir()
    rss: dict[str, list[float]] = {"100k": [], "10k": [], "update": []}

    def timed(name: str, run: tuple[float, int]) -> float:
        rss[name].append(run[1] / MiB)
        return run[0]

    try:
        progress(f"gc: inserting {' and '.join(f'{c:,}' for c in COUNTS)} expired uploads")
        rig = Rig(root)
        progress("gc: warm-up")
        rig.gc(COUNTS[1])
        figures = interleave(
            ctx.rounds,
            [
                ("gc", lambda: timed("100k", rig.gc(COUNTS[0]))),
                ("update", lambda: timed("update", rig.one_update(COUNTS[0]))),
                ("gc10k", lambda: timed("10k", rig.gc(COUNTS[1]))),
            ],
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    ratio = median_ratio(figures["gc"], figures["update"])
    growth = median([a - b for a, b in zip(rss["100k"], rss["10k"], strict=True)])
    per_second = COUNTS[0] / median(figures["gc"])
    return [
        Row(
            f"gc, 100,000 expired uploads ({per_second:,.0f}/s)",
            f"{median(figures['gc']):.2f} s",
            f"{median(figures['update']):.2f} s",
            f"{ratio:.1f}x",
            "<= 4.0x one UPDATE",
            ratio <= 4.0,
        ),
        Row(
            "gc peak RSS, 100,000 vs 10,000 expired",
            f"{median(rss['100k']):.0f} MiB",
            f"{median(rss['10k']):.0f} MiB",
            f"{growth:+.1f} MiB",
            "|difference| <= 8 MiB",
            abs(growth) <= 8,
        ),
    ]
