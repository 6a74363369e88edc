"""Uppy's Companion-compatible routes in the OpenAPI document: path items merged into it.

They speak Companion's S3 protocol (what Uppy's AwsS3 plugin sends), at the
endpoint `/v1/uppy/{uppy_token}` (an upload token in the path: Uppy sends no
Authorization header) and at `/v1/uppy` with `Authorization: Bearer`.
"""

from __future__ import annotations

from typing import Any

from uploadcore.entrypoints.http.tus_openapi import _PROBLEM
from uploadcore.entrypoints.links import FORM_UPLOAD_PATH

Json = dict[str, Any]

_WHY = {
    "400": "Bad input: a content type the token does not allow, parts below the minimum size.",
    "401": "A bad, expired or revoked upload token (or no credential).",
    "403": "A limit: the token's file count, or an upload it did not start.",
    "404": "No such upload, or a key or upload id not the upload's own.",
    "409": "The upload's state does not allow it (aborted, completed, expired).",
    "413": "Past the upload's size limit (MAX_FILE_UPLOAD_SIZE or the token's).",
    "503": "Storage or the database is unavailable; retry.",
}
_STR = {"type": "string"}
_INT = {"type": "integer"}
_KEY = {"in": "query", "name": "key", "required": True, "schema": _STR,
        "description": "The upload's key, as `POST …/s3/multipart` answered."}  # fmt: skip
_UPLOAD_ID = {"in": "path", "name": "upload_id", "required": True, "schema": _STR,
              "description": "The upload's `uploadId` (its storage upload id)."}  # fmt: skip
_TOKEN = {"in": "path", "name": "uppy_token", "required": True, "schema": _STR,
          "description": "An upload token (see `uppy_endpoint` of a minted token)."}  # fmt: skip
_EXAMPLE_KEY = "uploadcore/8dQ3kZ0aB1cD2eF3gH4iJ5"
_EXAMPLE_URL = "https://files.example.com/v1/files/presigned-uploads/…/upload-part/1/?token=…"


def _json(schema: Json, example: Any) -> Json:
    return {"application/json": {"schema": schema, "example": example}}


def _object(properties: Json, *required: str, closed: bool = True) -> Json:
    return {"type": "object", "properties": properties, "required": list(required),
            "additionalProperties": not closed}  # fmt: skip


def _answers(description: str, schema: Json, example: Any, *errors: str) -> Json:
    answers: Json = {"200": {"description": description, "content": _json(schema, example)}}
    for status in errors:
        answers[status] = {
            "description": _WHY[status],
            "content": {"application/problem+json": {"schema": _PROBLEM}},
        }
    return answers


_FILE_ANSWER = _object(
    {"location": {"type": ["string", "null"]}, "key": _STR, "file": {"type": "object"}},
    "location", "key", closed=False,
)  # fmt: skip
_FILE_EXAMPLE = {"location": "https://files.example.com/v1/files/…/download/?token=…",
                 "key": _EXAMPLE_KEY, "file": {"id": "8dQ3kZ0aB1cD2eF3gH4iJ5"}}  # fmt: skip


def _operations(prefix: str, by_path: bool) -> dict[str, Json]:
    """The path items under one endpoint: the token in the path, or in Authorization."""
    suffix = "InPath" if by_path else ""
    how = (
        "The upload token is in the path."
        if by_path
        else "With `Authorization: Bearer` (an upload token or an API key)."
    )
    base: list[Json] = [_TOKEN] if by_path else []
    security: Json = {"security": []} if by_path else {}

    def op(
        operation_id: str, summary: str, description: str, responses: Json, **extra: Any
    ) -> Json:
        return {"operationId": operation_id + suffix, "summary": f"Uppy: {summary}",
                "description": f"{description} {how}", "tags": ["uppy"],
                "responses": responses, **security, **extra}  # fmt: skip

    errors = ("400", "401", "403", "404", "409", "413", "503")
    return {
        f"{prefix}/params": {"parameters": base, "get": op(
            "uppyParams", "a form for a single-request upload",
            "Uppy sends every file up to 100 MiB, and every empty one, this way: it then POSTs "
            "`multipart/form-data` with every field and the `file` last. On local storage the "
            "form goes to this service (streamed to disk, completed on receipt); on S3 it is a "
            "presigned POST policy for the upload's key, type and size limit, and the upload "
            "is recorded completed once the object is there.",
            _answers("The form.", _object({"method": _STR, "url": _STR, "fields": {
                "type": "object", "additionalProperties": _STR}, "expires": _INT},
                "method", "url", "fields"),
                {"method": "POST", "url": "https://files.example.com/v1/uppy/forms/…/?token=…",
                 "fields": {"key": "files/8d/8dQ3kZ0aB1cD2eF3gH4iJ5"}, "expires": 3600},
                "400", "401", "403", "503"),
            parameters=[
                {"in": "query", "name": "filename", "schema": _STR, "description": "The name."},
                {"in": "query", "name": "type", "schema": _STR, "description": "The MIME type."},
            ],
        )},
        f"{prefix}/multipart": {"parameters": base, "post": op(
            "uppyCreateMultipart", "start a multipart upload of open length",
            "No size is sent: it is settled at completion. Every part but the last must be at "
            "least MIN_PART_SIZE; the total is held to the upload's size limit.",
            _answers("The upload.", _object({"key": _STR, "uploadId": _STR}, "key", "uploadId"),
                     {"key": _EXAMPLE_KEY, "uploadId": "2~abc"}, "400", "401", "403", "503"),
            requestBody={"required": True, "content": _json(
                _object({"filename": _STR, "type": _STR, "metadata": {"type": "object"}},
                        "filename"),
                {"filename": "video.mp4", "type": "video/mp4", "metadata": {"name": "video.mp4"}},
            )},
        )},
        f"{prefix}/multipart/{{upload_id}}/batch": {"parameters": [*base, _UPLOAD_ID], "get": op(
            "uppySignParts", "URLs for several parts (older Uppy versions)",
            "`partNumbers` is a comma-separated list.",
            _answers("One URL per part.", _object({"presignedUrls": {
                "type": "object", "additionalProperties": _STR}}, "presignedUrls"),
                {"presignedUrls": {"1": _EXAMPLE_URL}}, *errors),
            parameters=[_KEY, {"in": "query", "name": "partNumbers", "required": True,
                               "schema": _STR, "example": "1,2"}],
        )},
        f"{prefix}/multipart/{{upload_id}}/complete": {
            "parameters": [*base, _UPLOAD_ID], "post": op(
            "uppyComplete", "complete a multipart upload",
            "The parts 1..N, etags quoted or not; the file is an ordinary completed file, "
            "and `location` its `url`. Parts past the size limit abort the upload (413).",
            _answers("The file.", _FILE_ANSWER, _FILE_EXAMPLE, *errors),
            parameters=[_KEY],
            requestBody={"required": True, "content": _json(
                _object({"parts": {"type": "array", "items": _object(
                    {"PartNumber": {"type": "integer", "minimum": 1}, "ETag": _STR},
                    "PartNumber", "ETag")}}, "parts"),
                {"parts": [{"PartNumber": 1, "ETag": '"9b2cf535f27731c974343645a3985328"'}]},
            )},
        )},
        f"{prefix}/multipart/{{upload_id}}/{{part_number}}": {
            "parameters": [*base, _UPLOAD_ID, {"in": "path", "name": "part_number",
                           "required": True, "schema": {"type": "integer", "minimum": 1}}],
            "get": op(
                "uppySignPart", "a URL for one part",
                "Uppy asks right before each part's PUT. On local storage a token-signed URL "
                "of this service, on S3 a presigned UploadPart URL; the PUT's answer carries "
                "the part's `ETag` (exposed to browsers by CORS).",
                _answers("The part's URL.", _object({"url": _STR, "expires": _INT}, "url"),
                         {"url": _EXAMPLE_URL, "expires": 3600}, *errors),
                parameters=[_KEY],
            ),
        },
        f"{prefix}/multipart/{{upload_id}}": {
            "parameters": [*base, _UPLOAD_ID],
            "get": op(
                "uppyListParts", "the parts received so far",
                "Uppy asks on every resume, retry or page reload: a bare array.",
                _answers("The parts.", {"type": "array", "items": _object(
                    {"PartNumber": _INT, "ETag": _STR, "Size": _INT}, "PartNumber", "ETag")},
                    [{"PartNumber": 1, "ETag": "9b2cf535f27731c974343645a3985328",
                      "Size": 5242880}], *errors),
                parameters=[_KEY],
            ),
            "delete": op(
                "uppyAbort", "abort a multipart upload",
                "Uppy sends it on cancel or remove: the upload is aborted, its parts freed.",
                _answers("Aborted.", {"type": "object"}, {}, *errors),
                parameters=[_KEY],
            ),
        },
    }  # fmt: skip


_FORM_ERRORS = {
    "400": "Not multipart/form-data with a `file` field.",
    "403": "The form token is missing, tampered with, expired or for another upload.",
    "409": "The upload is no longer in progress, or another request is sending it.",
    "413": "Past the upload's size limit; the upload is aborted.",
    "503": "Storage or the database is unavailable.",
}


def paths() -> dict[str, Json]:
    """Every Uppy path item (the app leaves out the form endpoint where S3 takes forms)."""
    items = {**_operations("/v1/uppy/s3", False), **_operations("/v1/uppy/{uppy_token}/s3", True)}
    items[FORM_UPLOAD_PATH] = {
        "parameters": [{"in": "path", "name": "file_id", "required": True, "schema": _STR},
                       {"$ref": "#/components/parameters/Token"}],
        "post": {
            "operationId": "uppyForm", "tags": ["uppy"], "security": [],
            "summary": "Uppy: a single-request upload, in one form (local storage)",
            "description": "The URL `…/s3/params` handed out, token-signed. The `file` "
            "field is streamed to disk, never held whole, and completes the upload; a form "
            "refused (too large) or cut off aborts it: ask for new params.",
            "requestBody": {"required": True, "content": {"multipart/form-data": {
                "schema": _object({"key": _STR, "file": {"type": "string",
                                   "format": "binary"}}, "file", closed=False),
                "example": {"key": "files/8d/8dQ3kZ0aB1cD2eF3gH4iJ5", "file": "bytes"}}}},
            "responses": {
                "201": {"description": "The completed file.",
                        "headers": {"ETag": {"description": "The file's etag.",
                                             "schema": _STR}},
                        "content": _json(_FILE_ANSWER, _FILE_EXAMPLE)},
                **{s: {"description": d,
                       "content": {"application/problem+json": {"schema": _PROBLEM}}}
                   for s, d in _FORM_ERRORS.items()},
            },
        },
    }  # fmt: skip
    return items


__all__ = ["paths"]
