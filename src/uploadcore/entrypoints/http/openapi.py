"""The OpenAPI 3.1 document of the HTTP API, as data kept next to the routes.

Tests hold it to the app: it validates as OpenAPI 3.1, every route of the
app is an operation here and every operation a route, its examples match
its schemas, real responses match the schemas they are documented with,
and the README's API table lists exactly these operations. Where SPEC is
silent, the descriptions say what the service does.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from uploadcore.domain.listing import DEFAULT_LIMIT, MAX_LIMIT
from uploadcore.entrypoints.http import tus_openapi

Json = dict[str, Any]

_FILE_ID = "AbCdEf0123456789AbCdEf0123456789"
_UPLOAD_ID = "9f2d3c4b5a6978807162534435261708"
_TOKEN = "WyJBYkNkRWYwMTIzIiwiOWYyZDNjIiwxLDE3NjcyMzM2MDBd.q8n3R2u0bXk"
_BASE = "https://uploads.example.com"
_ETAG = "5d41402abc4b2a76b9719d911017c592"

# -- reusable pieces -----------------------------------------------------------


def _ref(name: str) -> Json:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: Json, example: Any) -> Json:
    return {"application/json": {"schema": schema, "example": example}}


def _problems(*statuses: int) -> dict[str, Json]:
    return {
        str(status): {"$ref": f"#/components/responses/{_PROBLEM_NAMES[status]}"}
        for status in statuses
    }


def _nullable(kind: str, **extra: Any) -> Json:
    return {"type": [kind, "null"], **extra}


_PROBLEM_NAMES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    408: "RequestTimeout",
    409: "Conflict",
    412: "PreconditionFailed",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
    416: "RangeNotSatisfiable",
    503: "Unavailable",
    507: "InsufficientStorage",
}

_PROBLEM_TEXT = {
    400: ("Invalid parameters, part numbers, sizes, etags or malformed JSON.", "validation_error",
          "invalid fields: file_name"),
    401: ("Missing or unknown API key.", "not_authenticated", "the API key is not valid"),
    403: ("Not the owner; or a part/download token that is missing, tampered with, expired "
          "or minted for another file, upload or part.", "forbidden",
          "file AbCd belongs to another user"),
    404: ("No such file or upload.", "not_found", "no upload with id AbCd"),
    408: ("The request body sent nothing for BODY_READ_TIMEOUT (60 s by default); nothing "
          "of it was kept and the connection is closed.", "request_timeout",
          "the request body sent nothing for 60 seconds; nothing of it was kept, send it again"),
    409: ("The upload's state does not allow this.", "invalid_state",
          "upload AbCd is completed; it accepts no parts"),
    412: ("An If-Match or If-Unmodified-Since condition failed.", "precondition_failed",
          "the file's ETag does not satisfy the request's conditions"),
    413: ("A file larger than MAX_FILE_UPLOAD_SIZE, a part body longer than planned, or a "
          "JSON body over 2 MiB.", "file_too_large",
          "file_size 6442450944 exceeds the maximum of 5368709120 bytes"),
    415: ("A JSON endpoint was sent a body that is not application/json (or +json).",
          "unsupported_media_type", "the body must be application/json, not text/plain"),
    416: ("The Range asks for no byte of the file; Content-Range gives its size.",
          "range_not_satisfiable", "the file has 10 bytes; the range asks for none of them"),
    503: ("A storage or database backend is unavailable; retry later, nothing changed.",
          "storage_unavailable", "the database is unavailable; retry shortly"),
    507: ("The local disk is full; nothing partial was kept.", "insufficient_storage",
          "the disk is full: could not receive a part"),
}  # fmt: skip


def _problem_response(status: int) -> Json:
    description, code, detail = _PROBLEM_TEXT[status]
    example = {
        "type": f"https://uploadcore.dev/problems/{code}",
        "title": code.replace("_", " ").capitalize(),
        "status": status,
        "detail": detail,
        "code": code,
    }
    if status == 400:
        example["errors"] = [
            {"field": "file_name", "message": "must be 1 to 255 characters, got 0"}
        ]
    response: Json = {
        "description": description,
        "content": {"application/problem+json": {"schema": _ref("Problem"), "example": example}},
    }
    if status == 401:
        response["headers"] = {
            "WWW-Authenticate": {"schema": {"type": "string", "const": "Bearer"}}
        }
    if status == 416:
        response["headers"] = {
            "Content-Range": {"description": "`bytes */SIZE`", "schema": {"type": "string"}}
        }
    return response


# -- schemas -------------------------------------------------------------------

_TIME = {"type": "string", "format": "date-time", "description": "RFC 3339, UTC (`Z`)."}
_STATUS = {"type": "string", "enum": ["pending", "uploading", "completed", "failed", "aborted"]}
_TEXT = {"type": "string", "minLength": 1, "maxLength": 255}
_PART_NUMBER = {"type": "integer", "minimum": 1, "maximum": 10_000}

_FILE_EXAMPLE = {
    "id": _FILE_ID,
    "file_name": "large-video.mp4",
    "file_size": 12582912,
    "file_content_type": "video/mp4",
    "upload_status": "completed",
    "url": f"{_BASE}/v1/files/{_FILE_ID}/download/?token={_TOKEN}",
    "etag": "9b2cf535f27731c974343645a3985328-3",
    "parent_content_type": "blog.post",
    "parent_object_id": "42",
    "owner": "alice",
    "created": "2026-01-01T12:00:00.000000Z",
    "modified": "2026-01-01T12:03:10.512000Z",
}
_STATE_EXAMPLE = {
    "id": _FILE_ID,
    "upload_id": _UPLOAD_ID,
    "upload_status": "uploading",
    "file_name": "large-video.mp4",
    "file_size": 12582912,
    "num_parts": 3,
    "part_size": 5242880,
    "expires_at": "2026-01-02T12:01:00.000000Z",
    "parts": [{"part_number": 1, "etag": _ETAG, "size": 5242880}],
}
_PART_URLS_EXAMPLE = [
    {
        "part_number": n,
        "url": f"{_BASE}/v1/files/presigned-uploads/{_FILE_ID}/upload-part/{n}/?token={_TOKEN}",
        "method": "PUT",
    }
    for n in (1, 2, 3)
]

SCHEMAS: Json = {
    "Problem": {
        "type": "object",
        "description": "An RFC 9457 problem. `code` is stable and machine-readable.",
        "required": ["type", "title", "status", "detail", "code"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "code": {"type": "string"},
            "errors": {"type": "array", "items": _ref("FieldError")},
        },
    },
    "FieldError": {
        "type": "object",
        "required": ["field", "message"],
        "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
    },
    "File": {
        "type": "object",
        "description": "A file, in whatever state its upload is.",
        "required": list(_FILE_EXAMPLE),
        "properties": {
            "id": {"type": "string", "description": "The file id: every `{file_id}` in a path."},
            "file_name": _TEXT,
            "file_size": {"type": "integer", "minimum": 0},
            "file_content_type": {"type": "string"},
            "upload_status": _STATUS,
            "url": _nullable(
                "string",
                format="uri",
                description="Fetches the bytes as given (a token-signed download URL on local "
                "storage, a presigned GET on S3); null unless completed. Every response "
                "mints a fresh one; it expires after PRESIGNED_URL_EXPIRES_IN.",
            ),
            "etag": _nullable(
                "string",
                description="S3-style multipart etag: md5 of the binary part md5s, `-N`.",
            ),
            "parent_content_type": _nullable("string"),
            "parent_object_id": _nullable("string"),
            "owner": {"type": "string", "description": "The user name of the owner."},
            "created": _TIME,
            "modified": _TIME,
        },
    },
    "FileList": {
        "type": "object",
        "required": ["results", "next"],
        "properties": {
            "results": {"type": "array", "items": _ref("File")},
            "next": _nullable(
                "string",
                format="uri",
                description="The next page, with the same filters and limit; null on the last.",
            ),
        },
    },
    "InitiateRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["file_name", "file_size", "file_content_type", "num_parts", "part_size"],
        "properties": {
            "file_name": {
                **_TEXT,
                "description": (
                    "A display name, stored and returned exactly as given: no control, "
                    "bidi-control or line-separator characters. `/` and `\\` are ordinary "
                    "characters (`photos/2024/a.jpg`); the name never chooses where the bytes "
                    "are stored."
                ),
            },
            "file_size": {"type": "integer", "minimum": 0},
            "file_content_type": {"type": "string", "description": "A `type/subtype` MIME type."},
            "num_parts": _PART_NUMBER,
            "part_size": {"type": "integer", "minimum": 1},
            "parent_content_type": _nullable("string", minLength=1, maxLength=255),
            "parent_object_id": {
                "type": ["string", "integer", "null"],
                "minLength": 1,
                "maxLength": 255,
                "description": "Stored and returned as a string.",
            },
        },
    },
    "PartUrl": {
        "type": "object",
        "required": ["part_number", "url", "method"],
        "properties": {
            "part_number": _PART_NUMBER,
            "url": {"type": "string", "format": "uri"},
            "method": {"type": "string", "const": "PUT"},
        },
    },
    "Initiated": {
        "type": "object",
        "required": ["file_obj", "upload_id", "presigned_urls", "expires_in"],
        "properties": {
            "file_obj": _ref("File"),
            "upload_id": {"type": "string", "description": "The storage's own upload id."},
            "presigned_urls": {"type": "array", "items": _ref("PartUrl")},
            "expires_in": {"type": "integer", "description": "Seconds the URLs stay valid."},
        },
    },
    "Part": {
        "type": "object",
        "required": ["part_number", "etag", "size"],
        "properties": {
            "part_number": _PART_NUMBER,
            "etag": {"type": "string", "description": "Hex md5 of the part."},
            "size": {"type": "integer", "minimum": 0},
        },
    },
    "UploadState": {
        "type": "object",
        "required": list(_STATE_EXAMPLE),
        "properties": {
            "id": {"type": "string"},
            "upload_id": {"type": "string"},
            "upload_status": _STATUS,
            "file_name": _TEXT,
            "file_size": {"type": "integer", "minimum": 0},
            "num_parts": _PART_NUMBER,
            "part_size": {"type": "integer", "minimum": 1},
            "expires_at": _TIME,
            "parts": {"type": "array", "items": _ref("Part")},
        },
    },
    "RefreshRequest": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "part_numbers": {
                "type": ["array", "null"],
                "items": {"type": "integer"},
                "description": "Parts to sign URLs for; absent or null: every part not yet "
                "received. Repeats collapse; the answer is in ascending order.",
            }
        },
    },
    "RefreshedUrls": {
        "type": "object",
        "required": ["presigned_urls", "expires_in"],
        "properties": {
            "presigned_urls": {"type": "array", "items": _ref("PartUrl")},
            "expires_in": {"type": "integer"},
        },
    },
    "PartReceipt": {
        "type": "object",
        "required": ["part_number", "etag"],
        "properties": {"part_number": _PART_NUMBER, "etag": {"type": "string"}},
    },
    "CompleteRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["parts"],
        "properties": {
            "parts": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["part_number", "etag"],
                    "properties": {
                        "part_number": {"type": "integer", "minimum": 1},
                        "etag": {"type": "string", "description": "Quoted or not."},
                    },
                },
            }
        },
    },
    "MetadataUpdate": {
        "type": "object",
        "additionalProperties": False,
        "description": "Only these fields; any other (`upload_status`, `file_size`, ...) is "
        "400 naming it. null clears a parent field. `{}` changes nothing.",
        "properties": {
            "file_name": _TEXT,
            "parent_content_type": _nullable("string", minLength=1, maxLength=255),
            "parent_object_id": {
                "type": ["string", "integer", "null"],
                "minLength": 1,
                "maxLength": 255,
            },
        },
    },
    "Health": {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"type": "string", "const": "ok"}},
    },
}

# -- parameters ----------------------------------------------------------------

PARAMETERS: Json = {
    "FileId": {
        "name": "file_id",
        "in": "path",
        "required": True,
        "description": "The file id (`file_obj.id`).",
        "schema": {"type": "string"},
        "example": _FILE_ID,
    },
    "PartNumber": {
        "name": "part_number",
        "in": "path",
        "required": True,
        "schema": _PART_NUMBER,
        "example": 1,
    },
    "Token": {
        "name": "token",
        "in": "query",
        "required": True,
        "description": "The signed token from the URL the service gave; it replaces the API "
        "key for this one request. A missing, tampered, expired or misdirected token is 403.",
        "schema": {"type": "string"},
        "example": _TOKEN,
    },
}


def _query(name: str, description: str, schema: Json, example: Any) -> Json:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema, "example": example}  # fmt: skip


_LIST_PARAMETERS = [
    _query("owner", "Only this user's files. Admins only; anyone else naming another user is "
           "403 (naming yourself is allowed).", {"type": "string"}, "alice"),
    _query("upload_status", "One status, or `all`. Default `completed`.",
           {"type": "string", "enum": [*_STATUS["enum"], "all"], "default": "completed"}, "all"),
    _query("parent_content_type", "With `parent_object_id` (both or neither): the files of "
           "one parent object.", {"type": "string"}, "blog.post"),
    _query("parent_object_id", "With `parent_content_type`.", {"type": "string"}, "42"),
    _query("file_content_type", "Exact match on the stored content type.",
           {"type": "string"}, "video/mp4"),
    _query("limit", f"Page size, 1 to {MAX_LIMIT}.",
           {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}, 50),
    _query("cursor", "From `next`; opaque and signed. A cursor issued to another user or for "
           "other filters is 400. Cursors do not expire.", {"type": "string"}, _TOKEN),
]  # fmt: skip

# -- operations ----------------------------------------------------------------

_ID = [{"$ref": "#/components/parameters/FileId"}]
_NO_AUTH: list[Json] = []


def _op(operation_id: str, summary: str, description: str, responses: Json, **extra: Any) -> Json:
    return {"operationId": operation_id, "summary": summary, "description": description,
            "responses": responses, **extra}  # fmt: skip


def _body(schema: str, example: Any, *, required: bool = True) -> Json:
    return {"required": required, "content": _json(_ref(schema), example)}


_DOWNLOAD_HEADERS = {
    name: {"description": text, "schema": {"type": "string"}}
    for name, text in {
        "ETag": "The file's multipart etag, quoted (a strong validator).",
        "Last-Modified": "When the file was assembled.",
        "Accept-Ranges": "`bytes`.",
        "Content-Disposition": "`attachment`, an ASCII `filename` and, for other names, "
        "`filename*` (RFC 6266).",
    }.items()
}

PATHS: Json = {
    "/v1/files/uploads/": {
        "post": _op(
            "initiateUpload",
            "Initiate an upload",
            "Checks the part plan (SPEC section 2), records the file and answers one "
            "presigned URL per part, ascending. `file_size` over MAX_FILE_UPLOAD_SIZE is "
            "413 before any other check.",
            {
                "201": {"description": "Initiated.", "content": _json(_ref("Initiated"), {
                    "file_obj": {**_FILE_EXAMPLE, "upload_status": "uploading", "url": None,
                                 "etag": None},
                    "upload_id": _UPLOAD_ID, "presigned_urls": _PART_URLS_EXAMPLE,
                    "expires_in": 3600})},
                **_problems(400, 401, 408, 413, 415, 503, 507),
            },
            requestBody=_body("InitiateRequest", {
                "file_name": "large-video.mp4", "file_size": 12582912,
                "file_content_type": "video/mp4", "num_parts": 3, "part_size": 5242880,
                "parent_content_type": "blog.post", "parent_object_id": 42}),
        )
    },
    "/v1/files/uploads/{file_id}/": {
        "parameters": _ID,
        "get": _op(
            "getUploadState",
            "Upload state, for resuming",
            "The upload and the parts received so far, with their etags and sizes (on S3, as "
            "S3 lists them). An aborted upload lists no parts.",
            {
                "200": {"description": "The state.",
                        "content": _json(_ref("UploadState"), _STATE_EXAMPLE)},
                **_problems(401, 403, 404, 503),
            },
        ),
        "delete": _op(
            "abortUpload",
            "Abort an upload",
            "Frees every stored part and marks the upload `aborted`. Aborting an aborted upload "
            "is 204 again; a completed or failed one is 409 (delete the file instead).",
            {"204": {"description": "Aborted."}, **_problems(401, 403, 404, 409, 503)},
        ),
    },
    "/v1/files/uploads/{file_id}/presigned-urls/": {
        "parameters": _ID,
        "post": _op(
            "refreshPartUrls",
            "Fresh part URLs (resume)",
            "Signs new URLs for the parts asked for; with no body, an empty object or "
            "`part_numbers: null`, for every part not yet received. Only while the upload is "
            "`uploading` and not expired (409 otherwise, checked before the part numbers); "
            "part numbers outside the plan are 400, naming them. Counts as activity: the "
            "upload's expiry moves to UPLOAD_EXPIRES_IN from now. The body may be omitted; "
            "when sent it must be JSON.",
            {
                "200": {"description": "Fresh URLs.", "content": _json(_ref("RefreshedUrls"), {
                    "presigned_urls": _PART_URLS_EXAMPLE[1:], "expires_in": 3600})},
                **_problems(400, 401, 403, 404, 408, 409, 413, 415, 503),
            },
            requestBody=_body("RefreshRequest", {"part_numbers": [2, 3]}, required=False),
        )
    },
    "/v1/files/presigned-uploads/{file_id}/upload-part/{part_number}/": {
        "parameters": [*_ID, {"$ref": "#/components/parameters/PartNumber"},
                       {"$ref": "#/components/parameters/Token"}],
        "put": _op(
            "uploadPart",
            "Upload one part (local storage)",
            "The raw bytes of one part, exactly its planned size (shorter is 400, longer is "
            "413 at the first byte past the plan; nothing of a refused body is kept). An "
            "optional `Content-MD5` is verified. Uploading a part again replaces it. "
            "Authenticated by the token alone; only mounted on local storage.",
            {
                "200": {
                    "description": "Stored.",
                    "headers": {"ETag": {"description": "The part's md5, quoted.",
                                         "schema": {"type": "string"}}},
                    "content": _json(_ref("PartReceipt"), {"part_number": 1, "etag": _ETAG}),
                },
                **_problems(400, 403, 404, 408, 409, 413, 503, 507),
            },
            security=_NO_AUTH,
            requestBody={"required": True, "content": {"application/octet-stream": {
                "schema": {"type": "string", "format": "binary"}, "example": "hello"}}},
        )
    },
    "/v1/files/uploads/{file_id}/complete/": {
        "parameters": _ID,
        "post": _op(
            "completeUpload",
            "Complete an upload",
            "Names every part once with its etag; the parts are assembled in part-number "
            "order. Completing a completed upload again with the same parts answers the same "
            "file; with other parts it is 409. A part lost from storage fails the upload "
            "(409 `upload_failed`).",
            {
                "200": {"description": "The completed file.",
                        "content": _json(_ref("File"), _FILE_EXAMPLE)},
                **_problems(400, 401, 403, 404, 408, 409, 413, 415, 503, 507),
            },
            requestBody=_body("CompleteRequest", {"parts": [
                {"part_number": 1, "etag": _ETAG}, {"part_number": 2, "etag": f'"{_ETAG}"'}]}),
        )
    },
    "/v1/files/": {
        "get": _op(
            "listFiles",
            "List files",
            "Newest first (`created`, then `id`, both descending). Only your files; admins "
            "see every file unless `owner` narrows it. Keyset pagination: follow `next`; a "
            "page never repeats or skips a file, whatever is added meanwhile (newer files "
            "show on a fresh listing). Unknown, repeated or empty query parameters are 400. "
            "Deleted files are never listed.",
            {
                "200": {"description": "A page.", "content": _json(_ref("FileList"), {
                    "results": [_FILE_EXAMPLE],
                    "next": f"{_BASE}/v1/files/?upload_status=completed&limit=1&cursor={_TOKEN}"})},
                **_problems(400, 401, 403, 503),
            },
            parameters=_LIST_PARAMETERS,
        )
    },
    "/v1/files/{file_id}/": {
        "parameters": _ID,
        "get": _op(
            "getFile",
            "File details",
            "The file in any state; `url` is freshly minted on every request.",
            {"200": {"description": "The file.", "content": _json(_ref("File"), _FILE_EXAMPLE)},
             **_problems(401, 403, 404, 503)},
        ),
        "patch": _op(
            "updateFile",
            "Update a file's metadata",
            "Changes `file_name`, `parent_content_type`, `parent_object_id` (checked as at "
            "initiate), in any state; `modified` moves when something changes. Any other "
            "field is 400 naming it.",
            {"200": {"description": "The updated file.",
                     "content": _json(_ref("File"), {**_FILE_EXAMPLE, "file_name": "talk.mp4"})},
             **_problems(400, 401, 403, 404, 408, 413, 415, 503)},
            requestBody=_body("MetadataUpdate", {"file_name": "talk.mp4"}),
        ),
        "delete": _op(
            "deleteFile",
            "Delete a file",
            "Aborts the upload if it is in progress, removes the stored bytes, then the "
            "record. The file is gone for clients from the first step; if a backend fails "
            "midway (503), deleting again finishes the work. Deleting it again afterwards "
            "is 404.",
            {"204": {"description": "Deleted."}, **_problems(401, 403, 404, 503)},
        ),
    },
    "/v1/files/{file_id}/download/": {
        "parameters": [*_ID, {"$ref": "#/components/parameters/Token"}],
        "get": _op(
            "downloadFile",
            "Download a file (local storage)",
            "Streams the bytes. Conditional requests: `If-None-Match` / `If-Modified-Since` "
            "that match answer 304, `If-Match` / `If-Unmodified-Since` that fail 412. A single "
            "`bytes` Range answers 206 (suffix ranges included); several ranges, another "
            "unit or a malformed header are ignored and the whole file is sent (as S3 does); "
            "a range starting past the end is 416. `If-Range` that does not match strongly "
            "sends the whole file. HEAD answers the headers of a full GET. Responses carry "
            "`Cache-Control: private` and `X-Content-Type-Options: nosniff`. Authenticated by "
            "the token alone; only mounted on local storage.",
            {
                "200": {"description": "The whole file.", "headers": _DOWNLOAD_HEADERS,
                        "content": {"*/*": {"schema": {"type": "string", "format": "binary"},
                                            "example": "hello"}}},
                "206": {"description": "One range, with `Content-Range`.",
                        "headers": _DOWNLOAD_HEADERS,
                        "content": {"*/*": {"schema": {"type": "string", "format": "binary"},
                                            "example": "ell"}}},
                "304": {"description": "Not modified (`If-None-Match` / `If-Modified-Since`)."},
                **_problems(403, 404, 409, 412, 416, 503),
            },
            security=_NO_AUTH,
            parameters=[
                {"name": "Range", "in": "header", "required": False,
                 "schema": {"type": "string"}, "example": "bytes=0-1023"},
            ],
        )
    },
    "/healthz": {
        "get": _op(
            "health",
            "Liveness and database check",
            "200 when the service answers and its database does; 503 otherwise.",
            {"200": {"description": "Healthy.", "content": _json(_ref("Health"), {"status": "ok"})},
             **_problems(503)},
            security=_NO_AUTH,
        )
    },
    "/openapi.json": {
        "get": _op(
            "openapi",
            "This document",
            "The OpenAPI 3.1 document of the API, with this server's base URL.",
            {"200": {"description": "The document.",
                     "content": _json({"type": "object"}, {"openapi": "3.1.0"})}},
            security=_NO_AUTH,
        )
    },
}  # fmt: skip

DESCRIPTION = """\
Resumable multipart file uploads. Clients initiate an upload, PUT its parts (in parallel, \
in any order) to the presigned URLs, then complete it; an interrupted upload resumes from \
its file id (`GET /v1/files/uploads/{file_id}/`, then fresh URLs for the missing parts).

- Authentication: `Authorization: Bearer <api key>` (the scheme name is case-insensitive), \
except on the token-signed part and download URLs, `/healthz` and this document.
- A user sees and changes only their own files (another user's file is 403, an unknown id \
404); admins act on every file.
- Every path answers with and without its trailing slash; every GET also answers HEAD.
- Every error is `application/problem+json` (RFC 9457) with a stable `code`.
- Times are RFC 3339 UTC strings. Ids are opaque.
"""


def document(mounted: Iterable[str], base_url: str) -> Json:
    """The document for an app whose routes have these paths, served at `base_url`.

    Operations whose route the app does not mount (part upload and download on
    S3 storage) are left out, so the document describes exactly this app.
    """
    present = {_fold(p) for p in mounted} | {"/openapi.json"}
    return {
        "openapi": "3.1.0",
        "info": {"title": "uploadcore", "version": "1", "description": DESCRIPTION},
        "servers": [{"url": base_url.rstrip("/") or "/"}],
        "security": [{"bearerAuth": []}],
        "paths": {
            p: copy.deepcopy(v)
            for p, v in (PATHS | tus_openapi.paths()).items()
            if _fold(p) in present
        },
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer",
                               "description": "An API key from `uploadcore users create`."}
            },
            "schemas": copy.deepcopy(SCHEMAS),
            "parameters": copy.deepcopy(PARAMETERS),
            "responses": {name: _problem_response(s) for s, name in _PROBLEM_NAMES.items()},
        },
    }  # fmt: skip


def _fold(path: str) -> str:
    return path.rstrip("/") or "/"
