"""Request bodies in, representations out: strict JSON parsing with field errors."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from starlette.requests import Request

from uploadcore.domain.errors import FieldError, FileTooLarge, InvalidInput, MalformedJson
from uploadcore.domain.parts import PartRef, ReceivedPart
from uploadcore.domain.upload import Upload
from uploadcore.entrypoints.http.problems import PayloadTooLarge, UnsupportedMediaType
from uploadcore.services.initiate import Initiated, NewUpload
from uploadcore.services.resume import RefreshedUrls, UploadState

MAX_JSON_BYTES = 2 * 1024 * 1024  # a completion of 10,000 parts is about 600 KB
MAX_FIELD_ERRORS = 20  # field errors named in one answer


async def read_json(request: Request, *, optional: bool = False) -> Any:
    """The parsed JSON body; 415 for another media type, 413 past MAX_JSON_BYTES."""
    body = await _read_limited(request)
    if optional and not body.strip():
        return None
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise UnsupportedMediaType(
            f"the body must be application/json, not {media_type or 'missing'}"
        )
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as error:
        raise MalformedJson(f"the body is not valid JSON: {_short(error)}") from None


async def _read_limited(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    # isascii(): "²".isdigit() is true too, and int() would refuse it.
    if declared.isascii() and declared.isdigit() and int(declared) > MAX_JSON_BYTES:
        raise PayloadTooLarge(f"a JSON body may be at most {MAX_JSON_BYTES} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_JSON_BYTES:
            raise PayloadTooLarge(f"a JSON body may be at most {MAX_JSON_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _short(error: BaseException) -> str:
    return "nested too deeply" if isinstance(error, RecursionError) else str(error)[:200]


class _Fields:
    """Reads typed fields from a JSON object, collecting every problem before failing."""

    def __init__(self, data: Any, allowed: set[str]) -> None:
        if not isinstance(data, dict):
            raise InvalidInput("the body must be a JSON object")
        self.data: dict[str, Any] = data
        self.errors: list[FieldError] = [
            FieldError(name, "is not a known field") for name in sorted(set(data) - allowed)
        ]

    def integer(self, name: str, *, minimum: int = 0) -> int:
        value = self.data.get(name)
        if type(value) is not int:  # bool is an int subclass, and so are enums: exactly int
            self.errors.append(FieldError(name, "is required and must be an integer"))
            return minimum
        if value < minimum:
            self.errors.append(FieldError(name, f"must be at least {minimum}"))
        return value

    def text(self, name: str, *, required: bool = True) -> str | None:
        value = self.data.get(name)
        if value is None and not required:
            return None
        if not isinstance(value, str):
            self.errors.append(FieldError(name, "is required and must be a string"))
            return ""
        return value

    def identifier(self, name: str) -> str | None:
        """A string or an integer (not a boolean), kept as a string."""
        value = self.data.get(name)
        if value is None or isinstance(value, str):
            return value
        if type(value) is int:
            return str(value)
        self.errors.append(FieldError(name, "must be a string or an integer"))
        return None

    def check(self) -> None:
        if self.errors:
            # The first few problems, and how many more: a body of 10**5 bad fields must
            # not earn a 20 MB answer.
            shown = self.errors[:MAX_FIELD_ERRORS]
            names = ", ".join(dict.fromkeys(e.field for e in shown))
            if len(self.errors) > len(shown):
                names += f" and {len(self.errors) - len(shown)} more"
            raise InvalidInput(f"invalid fields: {names}", errors=tuple(shown))


def parse_initiate(data: Any, max_file_size: int) -> NewUpload:
    fields = _Fields(
        data,
        {
            "file_name", "file_size", "file_content_type", "num_parts", "part_size",
            "parent_content_type", "parent_object_id",
        },
    )  # fmt: skip
    file_size = fields.integer("file_size")
    if file_size > max_file_size:  # a file too large is 413 before any other check
        raise FileTooLarge(f"file_size {file_size} exceeds the maximum of {max_file_size} bytes")
    request = NewUpload(
        file_name=fields.text("file_name") or "",
        file_size=file_size,
        file_content_type=fields.text("file_content_type") or "",
        num_parts=fields.integer("num_parts", minimum=1),
        part_size=fields.integer("part_size", minimum=1),
        parent_content_type=fields.text("parent_content_type", required=False),
        parent_object_id=fields.identifier("parent_object_id"),
    )
    fields.check()
    return request


def parse_complete(data: Any) -> list[PartRef]:
    fields = _Fields(data, {"parts"})
    items = fields.data.get("parts")
    if not isinstance(items, list):
        fields.errors.append(FieldError("parts", "is required and must be a list"))
        items = []
    refs = []
    for index, item in enumerate(items):
        part = _Fields(item, {"part_number", "etag"}) if isinstance(item, dict) else None
        if part is None:
            fields.errors.append(FieldError(f"parts[{index}]", "must be an object"))
            continue
        number = part.integer("part_number", minimum=1)
        etag = part.text("etag") or ""
        fields.errors += [FieldError(f"parts[{index}].{e.field}", e.message) for e in part.errors]
        refs.append(PartRef(number, etag))
    fields.check()
    return refs


def parse_refresh(data: Any) -> list[int] | None:
    """The part numbers asked for; None (no body, no field, or null) means every missing part."""
    if data is None:
        return None
    fields = _Fields(data, {"part_numbers"})
    items = fields.data.get("part_numbers")
    if items is None:
        fields.check()
        return None
    if not isinstance(items, list):
        fields.errors.append(FieldError("part_numbers", "must be a list of part numbers"))
        items = []
    numbers = []
    for index, item in enumerate(items):
        if type(item) is not int:
            fields.errors.append(FieldError(f"part_numbers[{index}]", "must be an integer"))
        else:
            numbers.append(item)
    fields.check()
    return numbers


# -- representations ---------------------------------------------------------


def timestamp(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def file_json(upload: Upload, url: str | None) -> dict[str, Any]:
    return {
        "id": upload.id,
        "file_name": upload.file_name,
        "file_size": upload.file_size,
        "file_content_type": upload.file_content_type,
        "upload_status": upload.status.value,
        "url": url,
        "etag": upload.etag,
        "parent_content_type": upload.parent_content_type,
        "parent_object_id": upload.parent_object_id,
        "owner": upload.owner,
        "created": timestamp(upload.created),
        "modified": timestamp(upload.modified),
    }


def initiated_json(initiated: Initiated) -> dict[str, Any]:
    return {
        "file_obj": file_json(initiated.upload, None),
        "upload_id": initiated.upload.upload_id,
        "presigned_urls": [
            {"part_number": u.part_number, "url": u.url, "method": u.method}
            for u in initiated.presigned_urls
        ],
        "expires_in": initiated.expires_in,
    }


def refreshed_json(refreshed: RefreshedUrls) -> dict[str, Any]:
    return {
        "presigned_urls": [
            {"part_number": u.part_number, "url": u.url, "method": u.method}
            for u in refreshed.presigned_urls
        ],
        "expires_in": refreshed.expires_in,
    }


def part_json(part: ReceivedPart) -> dict[str, Any]:
    return {"part_number": part.part_number, "etag": part.etag, "size": part.size}


def state_json(state: UploadState) -> Mapping[str, Any]:
    upload = state.upload
    return {
        "id": upload.id,
        "upload_id": upload.upload_id,
        "upload_status": upload.status.value,
        "file_name": upload.file_name,
        "file_size": upload.file_size,
        "num_parts": upload.plan.num_parts,
        "part_size": upload.plan.part_size,
        "expires_at": timestamp(upload.expires_at),
        "parts": [part_json(p) for p in state.parts],
    }
