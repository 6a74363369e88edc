"""The file endpoints' inputs: the listing's query string and PATCH bodies; the next page's URL."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from msgspec import UNSET, UnsetType
from starlette.datastructures import QueryParams

from uploadcore.domain.errors import FieldError, InvalidInput
from uploadcore.domain.listing import MAX_LIMIT, parent_filter
from uploadcore.domain.metadata import EDITABLE
from uploadcore.domain.metadata import MetadataUpdate as Changes
from uploadcore.entrypoints.http import models as m
from uploadcore.entrypoints.http.validation import decode, invalid_fields
from uploadcore.services.listing import FileQuery

LIST_PARAMETERS = tuple(m.ListQuery.__struct_fields__)
# Fields of the file representation that exist but cannot be changed.
READ_ONLY = frozenset(
    {
        "id", "file_size", "file_content_type", "upload_status", "url", "etag", "owner",
        "created", "modified", "upload_id", "num_parts", "part_size",
    }
)  # fmt: skip
_LIMIT = re.compile(r"[0-9]{1,9}")


def parse_list_query(params: QueryParams) -> FileQuery:
    """The listing a query string asks for; 400 naming every bad parameter at once."""
    errors: list[FieldError] = []
    values: dict[str, Any] = {}
    for name, value in params.multi_items():
        if name not in LIST_PARAMETERS:
            errors.append(FieldError(name, "is not a query parameter of this listing"))
        elif name in values:
            errors.append(FieldError(name, "is given more than once"))
        else:
            values[name] = value
    limit = values.get("limit")
    if limit is not None:
        if _LIMIT.fullmatch(limit):
            values["limit"] = int(limit)
        else:
            del values["limit"]
            errors.append(FieldError("limit", f"must be an integer between 1 and {MAX_LIMIT}"))
    try:
        query = decode(m.ListQuery, values)
    except InvalidInput as error:
        errors += error.errors
    errors += _parent_errors(values.get("parent_content_type"), values.get("parent_object_id"))
    if errors:
        raise invalid_fields(errors, "query parameters")
    return FileQuery(
        owner=_given(query.owner),
        upload_status=query.upload_status,
        parent_content_type=_given(query.parent_content_type),
        parent_object_id=_given(query.parent_object_id),
        file_content_type=_given(query.file_content_type),
        limit=query.limit,
        cursor=_given(query.cursor),
    )


def _parent_errors(content_type: str | None, object_id: str | None) -> tuple[FieldError, ...]:
    """Both halves of the parent filter or neither, whatever else is wrong."""
    try:
        parent_filter(content_type, object_id)
    except InvalidInput as error:
        return error.errors
    return ()


def _given(value: str | UnsetType) -> str | None:
    return value if isinstance(value, str) else None


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


def parse_metadata_update(data: Any) -> Changes:
    """A PATCH body: only the editable fields, each checked as initiate checks it."""
    update = decode(m.MetadataUpdate, data, unknown=_not_editable)
    changes = {
        name: value if value is None or isinstance(value, str) else str(value)
        for name in EDITABLE
        if (value := getattr(update, name)) is not UNSET
    }
    return Changes.checked(changes)


def _not_editable(name: str) -> str:
    why = "cannot be changed" if name in READ_ONLY else "is not a known field"
    return f"{why}; only {', '.join(EDITABLE)} can be changed"
