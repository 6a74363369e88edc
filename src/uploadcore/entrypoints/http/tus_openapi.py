"""The tus routes in the OpenAPI document: self-contained path items, merged into it.

tus is a header protocol (tus.io/protocols/resumable-upload, version 1.0.0):
the operations name their headers and answers, not JSON bodies.
"""

from __future__ import annotations

from typing import Any

from uploadcore.entrypoints.http.tus_headers import TUS_PATH

Json = dict[str, Any]

_PROBLEM: Json = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
    },
}
_WHY = {
    "400": "Bad headers (length, offset, metadata, an unknown checksum algorithm).",
    "401": "Missing or unknown API key or upload token.",
    "403": "Another user's upload, or a PATCH of a final concatenation.",
    "404": "No such tus upload (or it was terminated).",
    "409": "Upload-Offset is not the upload's offset, or another PATCH holds it.",
    "412": "Tus-Resumable missing or not 1.0.0 (`Tus-Version` lists 1.0.0).",
    "413": "Past Upload-Length, Tus-Max-Size or the upload token's limit; nothing kept.",
    "415": "A PATCH body that is not application/offset+octet-stream.",
    "460": "Upload-Checksum does not match the chunk; nothing of it kept.",
    "503": "Storage or the database is unavailable; retry.",
}


def _header(description: str) -> Json:
    return {"description": description, "schema": {"type": "string"}}


def _in_header(name: str, description: str, required: bool = False) -> Json:
    return {"in": "header", "name": name, "required": required, "description": description,
            "schema": {"type": "string"}}  # fmt: skip


def _answers(success: str, description: str, headers: Json, *errors: str) -> Json:
    answers: Json = {success: {"description": description, "headers": headers}}
    for status in errors:
        answers[status] = {
            "description": _WHY[status],
            "content": {"application/problem+json": {"schema": _PROBLEM}},
        }
    return answers


_RESUMABLE = _in_header("Tus-Resumable", "Always `1.0.0`.", required=True)
_OFFSET = _header("The bytes the upload holds, acknowledged durably.")
_EXPIRES = _header("When the unfinished upload expires (RFC 7231), moved by activity.")


def _op(operation_id: str, summary: str, description: str, responses: Json, **extra: Any) -> Json:
    return {"operationId": operation_id, "summary": summary, "description": description,
            "tags": ["tus"], "responses": responses, **extra}  # fmt: skip


def paths() -> dict[str, Json]:
    """The path items of `/v1/tus/` and `/v1/tus/{file_id}`."""
    upload_id = {"in": "path", "name": "file_id", "required": True, "schema": {"type": "string"}}
    return {
        TUS_PATH: {
            "options": _op(
                "tusOptions", "tus: what this server supports",
                "No authentication. Tus-Max-Size is MAX_FILE_UPLOAD_SIZE.",
                _answers("204", "The tus capabilities.", {
                    "Tus-Version": _header("1.0.0"),
                    "Tus-Extension": _header("creation, creation-with-upload, ..."),
                    "Tus-Max-Size": _header("The largest upload, in bytes."),
                    "Tus-Checksum-Algorithm": _header("md5,sha1,sha256"),
                }),
                security=[],
            ),
            "post": _op(
                "tusCreate", "tus: create an upload (creation, concatenation)",
                "Upload-Length or Upload-Defer-Length: 1; Upload-Metadata `filename` and "
                "`filetype` (or `type`) name the file. `Upload-Concat: partial` makes a piece "
                "(never listed); `Upload-Concat: final;<urls>` assembles finished pieces into "
                "one completed file. A body of application/offset+octet-stream is the first "
                "chunk. `X-HTTP-Method-Override` makes a POST the method it names.",
                _answers("201", "Created.", {
                    "Location": _header("The upload's absolute URL."),
                    "Upload-Offset": _OFFSET, "Upload-Expires": _EXPIRES,
                }, "400", "401", "403", "409", "412", "413", "460", "503"),
                parameters=[
                    _RESUMABLE, _in_header("Upload-Length", "The size in bytes."),
                    _in_header("Upload-Defer-Length", "`1`: the size comes later."),
                    _in_header("Upload-Metadata", "Comma-separated `key base64(value)`."),
                    _in_header("Upload-Concat", "`partial` or `final;<url> <url> ...`."),
                ],
            ),
        },
        TUS_PATH + "{file_id}": {
            "parameters": [upload_id],
            "head": _op(
                "tusState", "tus: where an upload stands",
                "Upload-Offset always (also once finished), Upload-Length or "
                "Upload-Defer-Length: 1, Upload-Metadata as sent; Cache-Control: no-store.",
                _answers("200", "The upload's offset.", {
                    "Upload-Offset": _OFFSET, "Upload-Length": _header("The size, if known."),
                    "Upload-Metadata": _header("As sent at creation."),
                }, "401", "403", "404", "412", "503"),
                parameters=[_RESUMABLE],
            ),
            "patch": _op(
                "tusAppend", "tus: append a chunk at the offset",
                "Bytes are fsynced before the new offset is acknowledged; a request cut off "
                "keeps what arrived. The chunk that reaches Upload-Length completes the file.",
                _answers("204", "Appended.", {"Upload-Offset": _OFFSET, "Upload-Expires": _EXPIRES},
                         "400", "401", "403", "404", "409", "412", "413", "415", "460", "503"),
                parameters=[
                    _RESUMABLE, _in_header("Upload-Offset", "The offset.", required=True),
                    _in_header("Upload-Length", "Declares a deferred length, once."),
                    _in_header("Upload-Checksum", "`<algorithm> <base64 digest>` of the chunk."),
                ],
                requestBody={"required": True, "content": {"application/offset+octet-stream": {
                    "schema": {"type": "string", "format": "binary"}, "example": "bytes"}}},
            ),
            "delete": _op(
                "tusTerminate", "tus: terminate an upload",
                "Aborts an unfinished upload (its bytes freed), or deletes a finished file.",
                _answers("204", "Terminated.", {}, "401", "403", "404", "412", "503"),
                parameters=[_RESUMABLE],
            ),
            "options": _op(
                "tusUploadOptions", "tus: what this server supports",
                "As OPTIONS /v1/tus/.", _answers("204", "The tus capabilities.", {}), security=[],
            ),
            "post": _op(
                "tusOverride", "tus: a method through X-HTTP-Method-Override",
                "For clients that can send only GET and POST: the method named in "
                "X-HTTP-Method-Override (PATCH, HEAD, DELETE) with its headers.",
                _answers("204", "As the method named.", {},
                         "400", "401", "403", "404", "409", "412", "413", "415", "460", "503"),
                parameters=[_RESUMABLE, _in_header(
                    "X-HTTP-Method-Override", "PATCH, HEAD or DELETE.", required=True)],
            ),
        },
    }  # fmt: skip


__all__ = ["paths"]
