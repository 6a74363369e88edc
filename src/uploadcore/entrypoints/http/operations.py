"""What each route of the API is, for its OpenAPI document: prose, models, answers, problems.

The bodies themselves (schemas, descriptions, examples) are the models of
`models.py`; `openapi.py` turns this table and them into the document.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec

from uploadcore.entrypoints.http import models as m
from uploadcore.entrypoints.http import token_models as tm

Json = dict[str, Any]


@dataclass(frozen=True)
class Answer:
    """One success response: a model's JSON, raw bytes (`binary`), or no body at all."""

    description: str
    model: Any = None
    example: Json = field(default_factory=dict)  # merged over the example the model makes
    binary: str | None = None  # an example of a raw body
    headers: Mapping[str, str] = field(default_factory=dict)  # name: description


@dataclass(frozen=True)
class Operation:
    id: str
    summary: str
    description: str
    answers: Mapping[int, Answer]
    problems: tuple[int, ...]
    body: Any = None  # the request model; `bytes` for a raw body
    optional_body: bool = False
    auth: Literal["key", "token", "none"] = "key"  # a token in the URL, or nothing at all
    query: type[msgspec.Struct] | None = None
    headers: tuple[Json, ...] = ()


def _urls(*numbers: int) -> Json:
    prefix = f"{m.BASE}/v1/files/presigned-uploads/{m.FILE_ID}/upload-part"
    urls = [{"part_number": n, "url": f"{prefix}/{n}/?token={m.TOKEN}"} for n in numbers]
    return {"presigned_urls": [{**u, "method": "PUT"} for u in urls]}


_DOWNLOAD_HEADERS = {
    "ETag": "The file's multipart etag, quoted (a strong validator).",
    "Last-Modified": "When the file was assembled.",
    "Accept-Ranges": "`bytes`.",
    "Content-Disposition": "`attachment`, an ASCII `filename` and, for other names, "
    "`filename*` (RFC 6266).",
}
_JSON_IN = (408, 413, 415)  # a JSON body can be too slow, too big, or not JSON

PATHS: dict[str, dict[str, Operation]] = {
    "/v1/files/uploads/": {
        "post": Operation(
            "initiateUpload",
            "Initiate an upload",
            "Checks the part plan, records the file and answers one presigned URL per part, "
            "ascending. `file_size` over MAX_FILE_UPLOAD_SIZE is 413 before any other check; "
            "every other invalid field is named at once.",
            {
                201: Answer(
                    "Initiated.",
                    m.Initiated,
                    {
                        "file_obj": {"upload_status": "uploading", "url": None, "etag": None},
                        **_urls(1, 2, 3),
                    },
                )
            },
            (400, 401, *_JSON_IN, 503, 507),
            body=m.InitiateRequest,
        )
    },
    "/v1/files/uploads/{file_id}/": {
        "get": Operation(
            "getUploadState",
            "Upload state, for resuming",
            "The upload and the parts received so far, with their etags and sizes (on S3, as "
            "S3 lists them). An aborted upload lists no parts.",
            {200: Answer("The state.", m.UploadState)},
            (401, 403, 404, 503),
        ),
        "delete": Operation(
            "abortUpload",
            "Abort an upload",
            "Frees every stored part and marks the upload `aborted`. Aborting an aborted upload "
            "is 204 again; a completed or failed one is 409 (delete the file instead).",
            {204: Answer("Aborted.")},
            (401, 403, 404, 409, 503),
        ),
    },
    "/v1/files/uploads/{file_id}/presigned-urls/": {
        "post": Operation(
            "refreshPartUrls",
            "Fresh part URLs (resume)",
            "Signs new URLs for the parts asked for; with no body, an empty object or "
            "`part_numbers: null`, for every part not yet received. Only while the upload is "
            "`uploading` and not expired (409 otherwise, checked before the part numbers); "
            "part numbers outside the plan are 400, naming them. Counts as activity: the "
            "upload's expiry moves to UPLOAD_EXPIRES_IN from now. The body may be omitted; "
            "when sent it must be JSON.",
            {200: Answer("Fresh URLs.", m.RefreshedUrls, _urls(2, 3))},
            (400, 401, 403, 404, 408, 409, 413, 415, 503),
            body=m.RefreshRequest,
            optional_body=True,
        )
    },
    "/v1/files/presigned-uploads/{file_id}/upload-part/{part_number}/": {
        "put": Operation(
            "uploadPart",
            "Upload one part (local storage)",
            "The raw bytes of one part, exactly its planned size (shorter is 400, longer is "
            "413 at the first byte past the plan; nothing of a refused body is kept). An "
            "optional `Content-MD5` is verified. Uploading a part again replaces it. "
            "Authenticated by the token alone; only mounted on local storage.",
            {200: Answer("Stored.", m.PartReceipt, headers={"ETag": "The part's md5, quoted."})},
            (400, 403, 404, 408, 409, 413, 503, 507),
            body=bytes,
            auth="token",
        )
    },
    "/v1/files/uploads/{file_id}/complete/": {
        "post": Operation(
            "completeUpload",
            "Complete an upload",
            "Names every part once with its etag; the parts are assembled in part-number "
            "order. Completing a completed upload again with the same parts answers the same "
            "file; with other parts it is 409. A part lost from storage fails the upload "
            "(409 `upload_failed`).",
            {200: Answer("The completed file.", m.File)},
            (400, 401, 403, 404, 408, 409, 413, 415, 503, 507),
            body=m.CompleteRequest,
        )
    },
    "/v1/files/": {
        "get": Operation(
            "listFiles",
            "List files",
            "Newest first (`created`, then `id`, both descending). Only your files; admins "
            "see every file unless `owner` narrows it. Keyset pagination: follow `next`; a "
            "page never repeats or skips a file, whatever is added meanwhile (newer files "
            "show on a fresh listing). Unknown, repeated or empty query parameters are 400, "
            "every one named at once. Deleted files are never listed.",
            {200: Answer("A page.", m.FileList)},
            (400, 401, 403, 503),
            query=m.ListQuery,
        )
    },
    "/v1/files/{file_id}/": {
        "get": Operation(
            "getFile",
            "File details",
            "The file in any state; `url` is freshly minted on every request.",
            {200: Answer("The file.", m.File)},
            (401, 403, 404, 503),
        ),
        "patch": Operation(
            "updateFile",
            "Update a file's metadata",
            "Changes `file_name`, `parent_content_type`, `parent_object_id` (checked as at "
            "initiate), in any state; `modified` moves when something changes. Any other "
            "field is 400 naming it.",
            {200: Answer("The updated file.", m.File, {"file_name": "talk.mp4"})},
            (400, 401, 403, 404, *_JSON_IN, 503),
            body=m.MetadataUpdate,
        ),
        "delete": Operation(
            "deleteFile",
            "Delete a file",
            "Aborts the upload if it is in progress, removes the stored bytes, then the "
            "record. The file is gone for clients from the first step; if a backend fails "
            "midway (503), deleting again finishes the work. Deleting it again afterwards "
            "is 404.",
            {204: Answer("Deleted.")},
            (401, 403, 404, 503),
        ),
    },
    "/v1/files/{file_id}/download/": {
        "get": Operation(
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
                200: Answer("The whole file.", binary="hello", headers=_DOWNLOAD_HEADERS),
                206: Answer(
                    "One range, with `Content-Range`.", binary="ell", headers=_DOWNLOAD_HEADERS
                ),
                304: Answer("Not modified (`If-None-Match` / `If-Modified-Since`)."),
            },
            (403, 404, 409, 412, 416, 503),
            auth="token",
            headers=(
                {
                    "name": "Range",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string"},
                    "example": "bytes=0-1023",
                },
            ),
        )
    },
    "/v1/upload-tokens/": {
        "post": Operation(
            "mintUploadToken",
            "Mint a browser upload token",
            "For an application's backend, with its API key: a short-lived token a browser "
            "uses instead of the key, as `Authorization: Bearer <token>` on the upload "
            "endpoints (initiate, upload state, fresh URLs, complete, abort) and nowhere else "
            "(403). It acts for the caller, only on the uploads it started, within its limits; "
            "files uploaded with it carry its parent. An expired token is 401 `token_expired`, a "
            "revoked one 401 `not_authenticated`. An upload token cannot mint tokens (403).",
            {201: Answer("Minted.", tm.UploadTokenMinted)},
            (400, 401, 403, *_JSON_IN, 503),
            body=tm.UploadTokenRequest,
            optional_body=True,
        )
    },
    "/v1/upload-tokens/{token_id}/": {
        "delete": Operation(
            "revokeUploadToken",
            "Revoke an upload token",
            "The token stops authenticating at once. Its owner or an admin may revoke it; "
            "another user's token is 404. Revoking it again is 204 again.",
            {204: Answer("Revoked.")},
            (401, 403, 404, 503),
        )
    },
    "/healthz": {
        "get": Operation(
            "health",
            "Liveness",
            "200 while the process answers, whatever its database and storage do: restart "
            "the process only when this fails. Readiness is `/readyz`.",
            {200: Answer("Alive.", m.Health)},
            (),
            auth="none",
        )
    },
    "/readyz": {
        "get": Operation(
            "ready",
            "Readiness: the database and the storage answer",
            "200 when the database answers and the storage is usable (S3: HeadBucket on the "
            "bucket; local disk: the media directory is writable); 503 `not_ready` naming "
            "each dependency that is down, in `detail` and `checks`, until it is back. A "
            "load balancer sends requests only to instances that answer 200.",
            {200: Answer("Ready.", m.Ready)},
            (503,),
            auth="none",
        )
    },
    "/metrics": {
        "get": Operation(
            "metrics",
            "Prometheus metrics",
            "The Prometheus text exposition of this instance (every worker summed): requests "
            "by route template, method and status, with latencies; uploads initiated, "
            "completed, failed and aborted by storage and protocol; bytes received; part "
            "upload and completion durations; webhook deliveries by outcome. Read from the "
            "database, the same on every instance: uploads in progress and their sizes, and "
            "the age of the oldest event a webhook still waits for. With METRICS_TOKEN set, "
            "it needs `Authorization: Bearer <METRICS_TOKEN>` (401 otherwise).",
            {200: Answer("The metrics.", binary="# TYPE uploadcore_http_requests_total counter")},
            (401,),
            auth="none",
        )
    },
    "/openapi.json": {
        "get": Operation(
            "openapi",
            "This document",
            "The OpenAPI 3.1 document of the API, with this server's base URL.",
            {200: Answer("The document.", dict, {"openapi": "3.1.0"})},
            (),
            auth="none",
        )
    },
    "/docs": {
        "get": Operation(
            "docs",
            "Browsable API documentation",
            "Swagger UI over this document, for people: every operation, its models and "
            "examples, and requests to try. Its assets are served by this app (under "
            "`/docs/static/`), never fetched from elsewhere.",
            {200: Answer("The HTML page.", binary="<!DOCTYPE html>")},
            (),
            auth="none",
        )
    },
}

# status: (component name, when, an example's code and detail)
PROBLEMS: dict[int, tuple[str, str, str, str]] = {
    400: ("BadRequest", "Invalid parameters, part numbers, sizes, etags or malformed JSON; "
          "every invalid field is named at once in `errors`.", "validation_error",
          "invalid fields: file_name"),
    401: ("Unauthorized", "Missing or unknown API key; an upload token that is unknown, "
          "revoked (`not_authenticated`) or expired (`token_expired`).", "not_authenticated",
          "the API key or upload token is not valid"),
    403: ("Forbidden", "Not the owner; or a part/download token that is missing, tampered "
          "with, expired or minted for another file, upload or part.", "forbidden",
          "file AbCd belongs to another user"),
    404: ("NotFound", "No such file or upload.", "not_found", "no upload with id AbCd"),
    408: ("RequestTimeout", "The request body sent nothing for BODY_READ_TIMEOUT (60 s by "
          "default); nothing of it was kept and the connection is closed.", "request_timeout",
          "the request body sent nothing for 60 seconds; nothing of it was kept, send it again"),
    409: ("Conflict", "The upload's state does not allow this.", "invalid_state",
          "upload AbCd is completed; it accepts no parts"),
    412: ("PreconditionFailed", "An If-Match or If-Unmodified-Since condition failed.",
          "precondition_failed", "the file's ETag does not satisfy the request's conditions"),
    413: ("PayloadTooLarge", "A file larger than MAX_FILE_UPLOAD_SIZE, a part body longer than "
          "planned, or a JSON body over 2 MiB.", "file_too_large",
          "file_size 6442450944 exceeds the maximum of 5368709120 bytes"),
    415: ("UnsupportedMediaType", "A JSON endpoint was sent a body that is not "
          "application/json (or +json).", "unsupported_media_type",
          "the body must be application/json, not text/plain"),
    416: ("RangeNotSatisfiable", "The Range asks for no byte of the file; Content-Range gives "
          "its size.", "range_not_satisfiable",
          "the file has 10 bytes; the range asks for none of them"),
    503: ("Unavailable", "A storage or database backend is unavailable; retry later, nothing "
          "changed.", "storage_unavailable", "the database is unavailable; retry shortly"),
    507: ("InsufficientStorage", "The local disk is full; nothing partial was kept.",
          "insufficient_storage", "the disk is full: could not receive a part"),
}  # fmt: skip
PROBLEM_HEADERS = {
    401: {"WWW-Authenticate": {"schema": {"type": "string", "const": "Bearer"}}},
    416: {"Content-Range": {"description": "`bytes */SIZE`", "schema": {"type": "string"}}},
}
PATH_PARAMETERS = {
    "{file_id}": ("FileId", m.FileId),
    "{part_number}": ("PartNumber", m.PartNumber),
    "{token_id}": ("TokenId", tm.TokenId),
}

DESCRIPTION = """\
Resumable multipart file uploads. Clients initiate an upload, PUT its parts (in parallel, \
in any order) to the presigned URLs, then complete it; an interrupted upload resumes from \
its file id (`GET /v1/files/uploads/{file_id}/`, then fresh URLs for the missing parts).

- Authentication: `Authorization: Bearer <api key>` (the scheme name is case-insensitive), \
except on the token-signed part and download URLs, `/healthz`, `/readyz`, `/metrics` \
(its own token when METRICS_TOKEN is set), this document and `/docs`. \
A browser holds no API key: its backend mints it an upload token (`POST /v1/upload-tokens/`), \
accepted on the upload endpoints only.
- A user sees and changes only their own files (another user's file is 403, an unknown id \
404); admins act on every file.
- Every path answers with and without its trailing slash; every GET also answers HEAD.
- Every error is `application/problem+json` (RFC 9457) with a stable `code`; a request with \
several invalid fields has every one of them named at once.
- Times are RFC 3339 UTC strings. Ids are opaque.
"""
