"""The file endpoints' inputs: the listing's query string and PATCH bodies; the next page's URL."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import QueryParams

from uploadcore.domain.errors import FieldError, InvalidInput
from uploadcore.domain.listing import DEFAULT_LIMIT, MAX_LIMIT
from uploadcore.domain.metadata import EDITABLE, MAX_TEXT, MetadataUpdate
from uploadcore.services.listing import FileQuery

LIST_PARAMETERS = (
    "owner", "upload_status", "parent_content_type", "parent_object_id", "file_content_type",
    "limit", "cursor",
)  # fmt: skip
MAX_CURSOR = 1024
# Fields of the file representation that exist but cannot be changed.
READ_ONLY = frozenset(
    {
        "id", "file_size", "file_content_type", "upload_status", "url", "etag", "owner",
        "created", "modified", "upload_id", "num_parts", "part_size",
    }
)  # fmt: skip
_LIMIT = re.compile(r"[0-9]{1,9}")
_KINDS = {
    "file_name": "a string",
    "parent_content_type": "a string or null",
    "parent_object_id": "a string, an integer or null",
}


def parse_list_query(params: QueryParams) -> FileQuery:
    """The listing a query string asks for; 400 naming unknown, repeated or empty parameters."""
    errors: list[FieldError] = []
    values: dict[str, str] = {}
    for name, value in params.multi_items():
        longest = MAX_CURSOR if name == "cursor" else MAX_TEXT
        if name not in LIST_PARAMETERS:
            errors.append(FieldError(name, "is not a query parameter of this listing"))
        elif name in values:
            errors.append(FieldError(name, "is given more than once"))
        elif not value or len(value) > longest:
            errors.append(FieldError(name, f"must be 1 to {longest} characters"))
        else:
            values[name] = value
    limit = values.get("limit", str(DEFAULT_LIMIT))
    if not _LIMIT.fullmatch(limit):
        errors.append(FieldError("limit", f"must be an integer between 1 and {MAX_LIMIT}"))
    if errors:
        names = ", ".join(dict.fromkeys(e.field for e in errors))
        raise InvalidInput(f"invalid query parameters: {names}", errors=tuple(errors))
    return FileQuery(
        owner=values.get("owner"),
        upload_status=values.get("upload_status", FileQuery.upload_status),
        parent_content_type=values.get("parent_content_type"),
        parent_object_id=values.get("parent_object_id"),
        file_content_type=values.get("file_content_type"),
        limit=int(limit),
        cursor=values.get("cursor"),
    )


def next_url(base_url: str, query: FileQuery, cursor: str | None) -> str | None:
    """The URL of the next page: the same filters and limit, and the new cursor."""
    if cursor is None:
        return None
    params = {
        "owner": query.owner,
        "upload_status": query.upload_status,
        "parent_content_type": query.parent_content_type,
        "parent_object_id": query.parent_object_id,
        "file_content_type": query.file_content_type,
        "limit": str(query.limit),
        "cursor": cursor,
    }
    given = {name: value for name, value in params.items() if value is not None}
    return f"{base_url.rstrip('/')}/v1/files/?{urlencode(given)}"


def parse_metadata_update(data: Any) -> MetadataUpdate:
    """A PATCH body: only the editable fields, each checked as initiate checks it."""
    if not isinstance(data, dict):
        raise InvalidInput("the body must be a JSON object")
    errors: list[FieldError] = []
    changes: dict[str, str | None] = {}
    for name, value in data.items():
        if name not in EDITABLE:
            why = "cannot be changed" if name in READ_ONLY else "is not a known field"
            errors.append(FieldError(name, f"{why}; only {', '.join(EDITABLE)} can be changed"))
        elif name == "parent_object_id" and type(value) is int:
            changes[name] = str(value)
        elif value is None or isinstance(value, str):
            changes[name] = value
        else:
            errors.append(FieldError(name, f"must be {_KINDS[name]}"))
    if errors:
        names = ", ".join(e.field for e in errors)
        raise InvalidInput(f"invalid fields: {names}", errors=tuple(errors))
    return MetadataUpdate.checked(changes)
