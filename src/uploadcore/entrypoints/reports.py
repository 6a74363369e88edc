"""What the admin commands print: plain lines for people, one JSON document for scripts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from uploadcore.ports.repository import UserAccount
from uploadcore.services.abort import AbortedUpload
from uploadcore.services.gc import GcReport

if TYPE_CHECKING:  # httpx2 loads for `uploadcore upload` only
    from uploadcore.entrypoints.client.uploader import UploadResult

_UNITS = ("bytes", "KiB", "MiB", "GiB", "TiB")

#: How the kinds of leftover read in a sentence (singular, plural).
_LEFTOVER_NAMES = {
    "temp_dir": ("temporary part directory", "temporary part directories"),
    "temp_file": ("stray temporary file", "stray temporary files"),
    "multipart_upload": ("S3 multipart upload", "S3 multipart uploads"),
}


def human_size(size: int) -> str:
    """`1536` -> `1.5 KiB`; exact bytes below 1 KiB."""
    value = float(size)
    for unit in _UNITS:
        if value < 1024 or unit == _UNITS[-1]:
            return f"{size} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def _count(n: int, singular: str, plural: str) -> str:
    return f"{n} {singular if n == 1 else plural}"


def gc_lines(report: GcReport, purge_after: str) -> list[str]:
    """The summary of a gc run, one line per step."""

    def verb(past: str, base: str) -> str:
        return f"would {base}" if report.dry_run else past

    kinds = {k: n for k, n in report.leftovers.items() if n} or {"temp_dir": 0}
    leftovers = ", ".join(
        _count(n, *_LEFTOVER_NAMES.get(kind, (kind, kind))) for kind, n in sorted(kinds.items())
    )
    lines = [
        f"{verb('aborted', 'abort')} {_count(report.expired, 'expired upload', 'expired uploads')}"
        f" ({human_size(report.expired_bytes)})",
        f"{verb('removed', 'remove')} {leftovers} ({human_size(report.leftover_bytes)})",
        f"{verb('finished', 'finish')} "
        f"{_count(report.deletions, 'deletion cut short', 'deletions cut short')}"
        f" ({human_size(report.deletion_bytes)})",
        f"{verb('purged', 'purge')} "
        f"{_count(report.purged, 'aborted or failed record', 'aborted or failed records')}"
        f" older than {purge_after}",
        f"{verb('freed', 'free')} {human_size(report.bytes_freed)} in all",
    ]
    if report.skipped:
        lines.append(f"left {report.skipped} alone that changed while gc ran")
    return lines


def gc_json(report: GcReport, purge_after_seconds: int) -> dict[str, Any]:
    return {
        "dry_run": report.dry_run,
        "expired_uploads": {"count": report.expired, "bytes": report.expired_bytes},
        "leftovers": {
            "count": sum(report.leftovers.values()),
            "bytes": report.leftover_bytes,
            "by_kind": dict(sorted(report.leftovers.items())),
        },
        "deletions": {"count": report.deletions, "bytes": report.deletion_bytes},
        "purged_records": {"count": report.purged, "older_than_seconds": purge_after_seconds},
        "bytes_freed": report.bytes_freed,
        "skipped": report.skipped,
        "errors": report.errors,
    }


def aborted_line(aborted: AbortedUpload) -> str:
    upload = aborted.upload
    return (
        f"aborted upload {upload.id} ({upload.file_name}, owner {upload.owner}); "
        f"freed {human_size(aborted.bytes_freed)}"
    )


def aborted_json(aborted: AbortedUpload) -> dict[str, Any]:
    upload = aborted.upload
    return {
        "id": upload.id,
        "upload_status": upload.status.value,
        "owner": upload.owner,
        "file_name": upload.file_name,
        "bytes_freed": aborted.bytes_freed,
    }


def users_table(accounts: list[UserAccount]) -> list[str]:
    rows = [("NAME", "ROLE", "KEY", "CREATED")] + [
        (
            a.name,
            "admin" if a.is_admin else "user",
            "active" if a.has_key else "revoked",
            a.created.strftime("%Y-%m-%d %H:%M:%SZ"),
        )
        for a in accounts
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]


def users_json(accounts: list[UserAccount]) -> list[dict[str, Any]]:
    return [
        {
            "name": a.name,
            "is_admin": a.is_admin,
            "has_key": a.has_key,
            "created": a.created.isoformat().replace("+00:00", "Z"),
        }
        for a in accounts
    ]


def upload_lines(result: UploadResult) -> list[str]:
    file = result.file
    resumed = f" ({result.parts_resumed} already on the server)" if result.parts_resumed else ""
    return [
        f"uploaded {file.get('file_name')}: {human_size(int(file.get('file_size') or 0))} "
        f"in {_count(result.num_parts, 'part', 'parts')}{resumed}",
        f"id: {file.get('id')}",
        f"url: {file.get('url')}",
    ]


def upload_json(result: UploadResult) -> dict[str, Any]:
    file = result.file
    return {
        **{k: file.get(k) for k in ("id", "file_name", "file_size", "upload_status", "etag")},
        "url": file.get("url"),
        "num_parts": result.num_parts,
        "parts_sent": result.parts_sent,
        "parts_resumed": result.parts_resumed,
    }
