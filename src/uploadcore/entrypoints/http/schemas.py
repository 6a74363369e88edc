"""Request bodies in, representations out, through the models of `models.py`."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, cast

from starlette.requests import Request

from uploadcore.domain.errors import FileTooLarge, MalformedJson
from uploadcore.domain.parts import PartRef, ReceivedPart
from uploadcore.domain.upload import Upload
from uploadcore.entrypoints.http import models as m
from uploadcore.entrypoints.http.problems import PayloadTooLarge, UnsupportedMediaType
from uploadcore.entrypoints.http.validation import decode
from uploadcore.services.initiate import Initiated, NewUpload
from uploadcore.services.resume import RefreshedUrls, UploadState
from uploadcore.services.urls import PartUrl

MAX_JSON_BYTES = 2 * 1024 * 1024  # a completion of 10,000 parts is about 600 KB


async def read_json(request: Request, *, optional: bool = False, absent: Any = None) -> Any:
    """The parsed JSON body; 415 for another media type, 413 past MAX_JSON_BYTES.

    With `optional`, an empty body is `absent`.
    """
    body = await _read_limited(request)
    if optional and not body.strip():
        return absent
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


def parse_initiate(data: Any, max_file_size: int) -> NewUpload:
    """An initiate body; a `file_size` over `max_file_size` is refused before anything else."""
    file_size = data.get("file_size") if isinstance(data, dict) else None
    if type(file_size) is int and file_size > max_file_size:
        raise FileTooLarge(f"file_size {file_size} exceeds the maximum of {max_file_size} bytes")
    new = decode(m.InitiateRequest, data)
    parent_id = new.parent_object_id
    return NewUpload(
        file_name=new.file_name,
        file_size=new.file_size,
        file_content_type=new.file_content_type,
        num_parts=new.num_parts,
        part_size=new.part_size,
        parent_content_type=new.parent_content_type,
        parent_object_id=parent_id if parent_id is None else str(parent_id),
    )


def parse_complete(data: Any) -> list[PartRef]:
    return [PartRef(p.part_number, p.etag) for p in decode(m.CompleteRequest, data).parts]


def parse_refresh(data: Any) -> list[int] | None:
    """The part numbers asked for; None (no body, no field, or null) means every missing part."""
    return None if data is None else decode(m.RefreshRequest, data).part_numbers


# -- representations ---------------------------------------------------------
# Each is built as its model, so mypy holds it to the documented shape, and handed
# on as the plain dict it is (the routes take dicts; orjson writes them).


def timestamp(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _file(upload: Upload, url: str | None) -> m.File:
    return {
        "id": upload.id,
        "file_name": upload.file_name,
        "file_size": upload.file_size,
        "file_content_type": upload.file_content_type,
        "upload_status": upload.status,
        "url": url,
        "etag": upload.etag,
        "parent_content_type": upload.parent_content_type,
        "parent_object_id": upload.parent_object_id,
        "owner": upload.owner,
        "created": timestamp(upload.created),
        "modified": timestamp(upload.modified),
    }


# The routes take a file as a plain dict: the same function, typed so for them (a
# wrapper would cost a call on the hottest read).
file_json = cast("Callable[[Upload, str | None], dict[str, Any]]", _file)


def initiated_json(initiated: Initiated) -> dict[str, Any]:
    body: m.Initiated = {
        "file_obj": _file(initiated.upload, None),
        "upload_id": initiated.upload.upload_id,
        "presigned_urls": _part_urls(initiated.presigned_urls),
        "expires_in": initiated.expires_in,
    }
    return cast("dict[str, Any]", body)


def refreshed_json(refreshed: RefreshedUrls) -> dict[str, Any]:
    body: m.RefreshedUrls = {
        "presigned_urls": _part_urls(refreshed.presigned_urls),
        "expires_in": refreshed.expires_in,
    }
    return cast("dict[str, Any]", body)


def _part_urls(urls: tuple[PartUrl, ...]) -> list[m.PartUrl]:
    # PUT is the one method a part URL takes (the model says so; so does every store).
    return [{"part_number": u.part_number, "url": u.url, "method": "PUT"} for u in urls]


def part_json(part: ReceivedPart) -> m.Part:
    return {"part_number": part.part_number, "etag": part.etag, "size": part.size}


def state_json(state: UploadState) -> Mapping[str, Any]:
    upload = state.upload
    body: m.UploadState = {
        "id": upload.id,
        "upload_id": upload.upload_id,
        "upload_status": upload.status,
        "file_name": upload.file_name,
        "file_size": upload.file_size,
        "num_parts": upload.plan.num_parts,
        "part_size": upload.plan.part_size,
        "expires_at": timestamp(upload.expires_at),
        "parts": [part_json(p) for p in state.parts],
    }
    return body
