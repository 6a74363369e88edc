"""Listing files with 100,000 in SQLite: a page 90,000 rows deep against the first page.

Measured in-process on the real adapters (SQLite with WAL and
`synchronous=FULL`, migrated by `prepare`), doing what `GET /v1/files/` does:
`ListFiles` (`core.list_files`) (cursor check, keyset query, rows to uploads), then a
signed `url` per file and the JSON body, as the route renders it. The only
difference between the contenders is the cursor: none (the first page), or
one 90,000 rows deep, reached by following `next` cursors of 1,000. With keyset
pagination on an index the two cost the same; OFFSET would read 90,000 rows
first (its figure is shown on stderr for scale).

The table holds 100,000 files: 95,000 completed ones of the listing user,
3,000 of theirs still uploading (filtered out by the default status), and
2,000 of another user. Timestamps repeat in pairs, so the order leans on ids too.
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from bench.harness import BenchError, Context, Row, interleave, median, median_ratio, progress
from uploadcore.adapters.sql import SqlAlchemyRepository
from uploadcore.adapters.sql.tables import files
from uploadcore.bootstrap import Uploadcore, build, prepare
from uploadcore.domain.upload import Principal
from uploadcore.entrypoints.http import file_schemas, schemas
from uploadcore.entrypoints.http.responses import JsonResponse
from uploadcore.entrypoints.links import HttpLinks
from uploadcore.services.listing import FileQuery
from uploadcore.settings import Settings

TOTAL = 100_000
MINE_COMPLETED, MINE_UPLOADING = 95_000, 3_000
DEPTH = 90_000
PAGE = 50
CALLS = 60  # pages built per contender per round; the round's figure is their median
BASE_URL = "http://127.0.0.1:8000"
OWNER = "bench"


def _rows() -> list[dict[str, Any]]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = []
    for n in range(TOTAL):
        owner = OWNER if n < MINE_COMPLETED + MINE_UPLOADING else "someone-else"
        status = "completed" if n < MINE_COMPLETED or owner != OWNER else "uploading"
        # Spread the statuses and owners through time, as real traffic would be.
        created = start + timedelta(milliseconds=(n * 7919 % TOTAL) // 2)
        rows.append({
            "id": f"{n * 2654435761 % 2**32:08x}{n:06d}", "upload_id": f"u{n}",
            "storage_key": f"files/{n}", "owner": owner, "file_name": f"file-{n}.bin",
            "file_size": 1024, "file_content_type": "application/octet-stream",
            "num_parts": 1, "part_size": 1024, "upload_status": status,
            "etag": "0123456789abcdef0123456789abcdef-1" if status == "completed" else None,
            "parent_content_type": None, "parent_object_id": None,
            "created": created, "modified": created, "expires_at": created + timedelta(days=1),
            "deleted": None,
        })  # fmt: skip
    return rows


def _seed(repo: SqlAlchemyRepository) -> None:
    rows = _rows()
    with repo.engine.begin() as connection:
        for start in range(0, len(rows), 5_000):
            connection.execute(files.insert(), rows[start : start + 5_000])


def listing(ctx: Context) -> list[Row]:
    root = ctx.scratch / "listing"
    root.mkdir()
    settings = prepare(Settings(data_dir=root, base_url=BASE_URL))
    core = build(settings)
    try:
        repo = core.complete.repo
        if not isinstance(repo, SqlAlchemyRepository):
            raise BenchError("expected the SQLite repository")
        progress(f"listing: storing {TOTAL:,} files")
        _seed(repo)
        return _measure(ctx, core, repo)
    finally:
        core.close()


def _measure(ctx: Context, service: Uploadcore, repo: SqlAlchemyRepository) -> list[Row]:
    principal = Principal(OWNER)
    cursor = None
    for _ in range(DEPTH // 1000):
        cursor = service.list_files(principal, FileQuery(limit=1000, cursor=cursor)).next_cursor
    first, deep = FileQuery(limit=PAGE), FileQuery(limit=PAGE, cursor=cursor)
    _check(service, principal, first, deep)

    def timed(query: FileQuery) -> float:
        seconds = []
        for _ in range(CALLS):
            started = time.perf_counter()
            _page_body(service, principal, query)
            seconds.append(time.perf_counter() - started)
        return statistics.median(seconds)

    progress("listing: warm-up")
    timed(first)
    timed(deep)
    figures = interleave(
        ctx.rounds, [("deep", lambda: timed(deep)), ("first", lambda: timed(first))]
    )
    progress(f"listing: for scale, OFFSET {DEPTH:,} takes {_offset_ms(repo):.1f} ms per page")
    ratio = median_ratio(figures["deep"], figures["first"])
    return [
        Row(
            f"in-process: list page after {DEPTH:,} of {TOTAL // 1000}k files vs first page",
            f"{median(figures['deep']) * 1000:.2f} ms",
            f"{median(figures['first']) * 1000:.2f} ms",
            f"{ratio:.2f}x",
            "<= 1.50x",
            ratio <= 1.5,
        )
    ]


def _page_body(service: Uploadcore, principal: Principal, query: FileQuery) -> bytes:
    """What the route does for one page: list, sign a url per file, render the JSON."""
    page = service.list_files(principal, query)
    links = HttpLinks(BASE_URL)
    body = {
        "results": [schemas.file_json(u, service.file_url(u, links)) for u in page.files],
        "next": file_schemas.next_url(BASE_URL, query, page.next_cursor),
    }
    return bytes(JsonResponse(body).body)


def _check(service: Uploadcore, principal: Principal, first: FileQuery, deep: FileQuery) -> None:
    """The deep page is the 90,001st to 90,050th of the user's completed files."""
    mine = sorted(
        ((r["created"], r["id"]) for r in _rows() if r["owner"] == OWNER),
        reverse=True,
    )
    completed = [fid for _, fid in mine if int(fid[-6:]) < MINE_COMPLETED]
    got_first = [u.id for u in service.list_files(principal, first).files]
    got_deep = [u.id for u in service.list_files(principal, deep).files]
    if got_first != completed[:PAGE] or got_deep != completed[DEPTH : DEPTH + PAGE]:
        raise BenchError("the listing did not return the expected pages")


def _offset_ms(repo: SqlAlchemyRepository) -> float:
    query = text(
        "SELECT * FROM files WHERE owner = :owner AND upload_status = 'completed' "
        "AND deleted IS NULL ORDER BY created DESC, id DESC LIMIT 50 OFFSET :offset"
    )
    with repo.engine.connect() as connection:
        started = time.perf_counter()
        for _ in range(5):
            connection.execute(query, {"owner": OWNER, "offset": DEPTH}).all()
        return (time.perf_counter() - started) / 5 * 1000
