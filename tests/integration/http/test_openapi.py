"""GET /openapi.json: a valid OpenAPI 3.1 document that describes exactly this app.

The document is held to the app from five sides: a real validator accepts it,
its operations are exactly the app's routes, its schemas are the models the
app parses and renders with, its examples match its schemas, and the app's real
responses match the schemas documented for their status, field for field.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any, get_type_hints

import httpx2
import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator
from starlette.routing import Route
from tests.integration.http.support import PART, Harness, Headers, Json, md5_hex

from uploadcore.entrypoints.http import models, openapi, token_models
from uploadcore.entrypoints.http.app import create_app

METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
UNAUTHENTICATED = {
    "uploadPart",
    "downloadFile",
    "health",
    "ready",
    "metrics",  # its own token when METRICS_TOKEN is set, never an API key
    "openapi",
    "docs",
    "tusOptions",
    "tusUploadOptions",
    # Uppy's endpoint carries its upload token in the path; its form URL is token-signed.
    *(
        f"{name}InPath"
        for name in (
            "uppyParams",
            "uppyCreateMultipart",
            "uppySignParts",
            "uppyComplete",
            "uppySignPart",
            "uppyListParts",
            "uppyAbort",
        )
    ),
    "uppyForm",
}


def fold(path: str) -> str:
    return path.rstrip("/") or "/"


def operations(document: Json) -> Iterator[tuple[str, str, Json]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method.upper(), operation


@pytest.fixture
def document(api: Harness) -> Json:
    response = api.client.http.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body: Json = response.json()
    return body


def validator(document: Json, schema: Json) -> Draft202012Validator:
    """A JSON Schema validator for `schema`, resolving the document's `#/components` refs."""
    root = {"allOf": [schema], "components": document["components"]}
    return Draft202012Validator(root, format_checker=Draft202012Validator.FORMAT_CHECKER)


def resolve(document: Json, node: Json) -> Json:
    while "$ref" in node:
        target: Any = document
        for key in node["$ref"].removeprefix("#/").split("/"):
            target = target[key]
        node = target
    return node


# -- the document itself ----------------------------------------------------------------


def test_the_document_is_valid_openapi_3_1(document: Json) -> None:
    assert document["openapi"] == "3.1.0"
    OpenAPIV31SpecValidator(document).validate()


def test_the_document_names_this_servers_base_url(document: Json) -> None:
    assert document["servers"] == [{"url": "http://testserver"}]


def test_every_route_of_the_app_is_an_operation_and_every_operation_a_route(
    api: Harness, document: Json
) -> None:
    app = create_app(api.settings, api.core)
    routed = {
        (fold(route.path), method)
        for route in app.routes
        if isinstance(route, Route)
        # tus routes take every method and answer 405 themselves: they say which they serve.
        for method in route.methods or getattr(route.endpoint, "methods", None) or ()
        # Starlette answers HEAD wherever it answers GET; tus routes HEAD on its own.
        if method != "HEAD" or "GET" not in (route.methods or ())
    }
    documented = {(fold(path), method) for path, method, _ in operations(document)}

    assert routed == documented


def test_without_local_storage_routes_the_part_and_download_operations_are_left_out() -> None:
    mounted = [p for p, *_ in openapi.PATHS.items() if "presigned-uploads" not in p]
    mounted = [p for p in mounted if not p.endswith("/download/")]

    document = openapi.document(mounted, "https://api.example")

    ids = {op["operationId"] for _, _, op in operations(document)}
    assert "uploadPart" not in ids
    assert "downloadFile" not in ids
    assert "listFiles" in ids
    OpenAPIV31SpecValidator(document).validate()


def test_every_operation_has_an_id_a_summary_a_description_and_an_example(
    document: Json,
) -> None:
    ids = [op["operationId"] for _, _, op in operations(document)]
    assert len(ids) == len(set(ids))
    for path, method, operation in operations(document):
        assert operation["summary"], (path, method)
        assert operation["description"], (path, method)
        success = [r for s, r in operation["responses"].items() if s.startswith("2")]
        examples = [m["example"] for r in success for m in r.get("content", {}).values()]
        header_only = all("content" not in r and "headers" in r for r in success)  # tus
        if not any(s in operation["responses"] for s in ("204",)) and not header_only:
            assert examples, f"{method} {path} shows no example response"
        body = operation.get("requestBody")
        if body is not None:
            assert all("example" in m for m in body["content"].values()), (path, method)


def test_bearer_authentication_is_the_default_and_token_urls_opt_out(document: Json) -> None:
    scheme = document["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert document["security"] == [{"bearerAuth": []}]
    open_ = {op["operationId"] for _, _, op in operations(document) if op.get("security") == []}
    assert open_ == UNAUTHENTICATED


def test_the_token_query_parameter_is_documented_on_the_token_urls(document: Json) -> None:
    token = document["components"]["parameters"]["Token"]
    assert (token["in"], token["name"], token["required"]) == ("query", "token", True)
    for path, item in document["paths"].items():
        refs = [p.get("$ref") for p in item.get("parameters", [])]
        token_urls = ("presigned-uploads", "/uppy/forms/")
        uses_token = any(u in path for u in token_urls) or path.endswith("/download/")
        assert uses_token == ("#/components/parameters/Token" in refs), path


def test_every_schema_is_a_model_with_its_fields_in_order(document: Json) -> None:
    for name, schema in document["components"]["schemas"].items():
        model = getattr(models, name, None) or getattr(token_models, name)
        if "properties" in schema:
            assert list(schema["properties"]) == list(get_type_hints(model)), name
            assert schema.get("description") or name == "Health", name


def test_request_bodies_refuse_unknown_fields_as_the_models_do(document: Json) -> None:
    for path, method, operation in operations(document):
        media = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if media is not None:
            schema = resolve(document, media["schema"])
            assert schema["additionalProperties"] is False, (method, path)


def test_the_document_states_its_rules_itself(document: Json) -> None:
    assert "SPEC" not in json.dumps(document)


def test_every_error_response_is_a_problem(document: Json) -> None:
    for path, method, operation in operations(document):
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                content = resolve(document, response)["content"]
                assert list(content) == ["application/problem+json"], (path, method, status)


def test_every_example_matches_its_schema(document: Json) -> None:
    checked = 0
    for path, method, operation in operations(document):
        bodies = [operation.get("requestBody", {})] + [
            resolve(document, r) for r in operation["responses"].values()
        ]
        for body in bodies:
            for media_type, media in body.get("content", {}).items():
                if "example" in media and "json" in media_type:
                    errors = list(
                        validator(document, media["schema"]).iter_errors(media["example"])
                    )
                    assert not errors, (method, path, media_type, [e.message for e in errors])
                    checked += 1
    assert checked > 20


# -- the app's real responses against the document -----------------------------------------


class Conformance:
    """Sends requests and checks each response against the documented one for its status."""

    def __init__(self, api: Harness, document: Json) -> None:
        self.http = api.client.http
        self.document = document
        self.seen: set[tuple[str, str, int]] = set()

    def __call__(self, method: str, template: str, url: str, **kwargs: Any) -> httpx2.Response:
        response = self.http.request(method, url, **kwargs)
        operation = self.document["paths"][template][method.lower()]
        documented = operation["responses"]
        status = str(response.status_code)
        assert status in documented, f"{method} {template} answered undocumented {status}"
        content = resolve(self.document, documented[status]).get("content", {})
        media = response.headers.get("content-type", "").split(";")[0]
        if "json" in media:
            assert media in content, (method, template, status, media)
            schema = content[media]["schema"]
            errors = list(validator(self.document, schema).iter_errors(response.json()))
            assert not errors, (method, template, status, [e.message for e in errors])
            documented_fields = resolve(self.document, schema).get("properties", {})
            if documented_fields and int(status) < 400:  # problems have `errors` only at times
                assert set(response.json()) == set(documented_fields), (method, template)
        self.seen.add((method, template, response.status_code))
        return response


TUS = "/v1/tus/"
TUS_UPLOAD = "/v1/tus/{file_id}"
STATE = "/v1/files/uploads/{file_id}/"
REFRESH = "/v1/files/uploads/{file_id}/presigned-urls/"
PART_URL = "/v1/files/presigned-uploads/{file_id}/upload-part/{part_number}/"
COMPLETE = "/v1/files/uploads/{file_id}/complete/"
ONE = "/v1/files/{file_id}/"
DOWNLOAD = "/v1/files/{file_id}/download/"


def test_real_responses_match_their_documented_schemas(
    api: Harness, alice: Headers, bob: Headers, document: Json
) -> None:
    call = Conformance(api, document)
    data = os.urandom(PART + 10)
    chunks = [data[:PART], data[PART:]]
    new = {
        "file_name": "a.bin",
        "file_size": len(data),
        "file_content_type": "text/plain",
        "num_parts": 2,
        "part_size": PART,
        "parent_object_id": 7,
    }
    initiate = "/v1/files/uploads/"
    call("POST", initiate, initiate, headers=alice, json={})
    call("POST", initiate, initiate, headers=alice, json={**new, "file_size": 10 * 2**30})
    started = call("POST", initiate, initiate, headers=alice, json=new).json()
    fid = started["file_obj"]["id"]

    def at(template: str) -> str:
        return template.format(file_id=fid)

    call("GET", STATE, at(STATE), headers=alice)
    call("GET", STATE, at(STATE), headers=bob)
    call("POST", REFRESH, at(REFRESH), headers=alice)
    call("POST", REFRESH, at(REFRESH), headers=alice, json={"part_numbers": [9]})
    for url, chunk in zip(started["presigned_urls"], chunks, strict=True):
        call("PUT", PART_URL, url["url"], content=chunk)
    call("PUT", PART_URL, started["presigned_urls"][0]["url"] + "x", content=chunks[0])
    call("POST", COMPLETE, at(COMPLETE), headers=alice, content=b"{}")
    refs = [{"part_number": n, "etag": md5_hex(c)} for n, c in enumerate(chunks, 1)]
    file = call("POST", COMPLETE, at(COMPLETE), headers=alice, json={"parts": refs}).json()
    call("POST", REFRESH, at(REFRESH), headers=alice)  # 409: completed
    call("DELETE", STATE, at(STATE), headers=alice)  # 409: completed

    call("GET", "/v1/files/", "/v1/files/?limit=1&upload_status=all", headers=alice)
    call("GET", "/v1/files/", "/v1/files/?limit=0", headers=alice)
    call("GET", "/v1/files/", "/v1/files/?owner=bob", headers=alice)
    call("GET", "/v1/files/", "/v1/files/")
    call("GET", ONE, at(ONE), headers=alice)
    call("PATCH", ONE, at(ONE), headers=alice, json={"file_name": "b.bin"})
    call("PATCH", ONE, at(ONE), headers=alice, json={"file_size": 1})
    call("PATCH", ONE, at(ONE), headers=alice, content=b"x")
    call("GET", DOWNLOAD, file["url"])
    call("GET", DOWNLOAD, file["url"], headers={"Range": "bytes=0-0"})
    call("GET", DOWNLOAD, file["url"], headers={"Range": "bytes=99999-"})
    call("GET", DOWNLOAD, file["url"], headers={"If-None-Match": f'"{file["etag"]}"'})
    call("GET", DOWNLOAD, file["url"], headers={"If-Match": '"nope"'})
    call("GET", DOWNLOAD, file["url"] + "x")
    call("DELETE", ONE, at(ONE), headers=bob)
    call("DELETE", ONE, at(ONE), headers=alice)
    call("GET", ONE, at(ONE), headers=alice)
    tokens = "/v1/upload-tokens/"
    one_token = "/v1/upload-tokens/{token_id}/"
    minted = call("POST", tokens, tokens, headers=alice, json={"max_files": 1}).json()
    call("POST", tokens, tokens, headers=alice, json={"max_files": 0, "colour": "red"})
    call("POST", tokens, tokens, headers={"Authorization": f"Bearer {minted['token']}"})
    call("DELETE", one_token, one_token.format(token_id=minted["id"]), headers=bob)
    call("DELETE", one_token, one_token.format(token_id=minted["id"]), headers=alice)
    call("GET", "/healthz", "/healthz")
    call("GET", "/readyz", "/readyz")
    call("GET", "/metrics", "/metrics")
    call("GET", "/openapi.json", "/openapi.json")
    tus_calls(call, alice)
    uppy_calls(call, alice)
    call("GET", "/docs", "/docs")

    statuses = {status for *_, status in call.seen}
    assert statuses >= {200, 201, 204, 206, 304, 400, 401, 403, 404, 409, 412, 413, 415, 416}
    assert {(m, t) for m, t, _ in call.seen} == {(m, t) for t, m, _ in operations(document)}


def uppy_calls(call: Conformance, alice: Headers) -> None:
    """Every Uppy operation, at both endpoints: the token in the path and in Authorization."""
    token = call.http.post("/v1/upload-tokens/", headers=alice, json={}).json()["token"]
    for prefix, headers in (("/v1/uppy/{uppy_token}/s3", {}), ("/v1/uppy/s3", alice)):
        uppy_endpoint_calls(call, prefix, prefix.replace("{uppy_token}", token), headers)
    form = call.http.get(f"/v1/uppy/{token}/s3/params", params={"filename": "f.txt"}).json()
    form_path = "/v1/uppy/forms/{file_id}/"
    call("POST", form_path, form["url"], data=form["fields"], files={"file": ("f", b"f")})
    call("POST", form_path, form["url"] + "x", data=form["fields"], files={"file": ("f", b"f")})


def uppy_endpoint_calls(call: Conformance, prefix: str, base: str, headers: Headers) -> None:
    def at(suffix: str, key: str = "", **values: str) -> tuple[str, str]:
        url = base + suffix.format(**values) + (f"?key={key}" if key else "")
        return prefix + suffix, url

    call("GET", *at("/params"), headers=headers, params={"filename": "u.txt"})
    call("POST", *at("/multipart"), headers=headers, json={"name": "no filename"})
    made = call("POST", *at("/multipart"), headers=headers, json={"filename": "u.bin"}).json()
    key, upload_id = made["key"], made["uploadId"]
    one = "/multipart/{upload_id}/{part_number}"
    signed = call("GET", *at(one, key, upload_id=upload_id, part_number="1"), headers=headers)
    call("GET", *at(one, key, upload_id="nope", part_number="1"), headers=headers)
    batch = "/multipart/{upload_id}/batch"
    call("GET", *at(batch, key, upload_id=upload_id), headers=headers,
         params={"key": key, "partNumbers": "1,2"})  # fmt: skip
    etag = call.http.put(signed.json()["url"], content=b"u" * 10).headers["etag"]
    parts = "/multipart/{upload_id}"
    call("GET", *at(parts, key, upload_id=upload_id), headers=headers)
    complete = "/multipart/{upload_id}/complete"
    refs = {"parts": [{"PartNumber": 1, "ETag": etag}]}
    call("POST", *at(complete, key, upload_id=upload_id), headers=headers, json=refs)
    call("DELETE", *at(parts, key, upload_id=upload_id), headers=headers)  # 409: completed


def tus_calls(call: Conformance, alice: Headers) -> None:
    tus = {**alice, "Tus-Resumable": "1.0.0"}
    chunk = {**tus, "Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"}
    call("OPTIONS", TUS, TUS)
    url = call("POST", TUS, TUS, headers={**tus, "Upload-Length": "2"}).headers["location"]
    path = "/v1/tus/" + url.rsplit("/", 1)[1]
    call("OPTIONS", TUS_UPLOAD, path)
    call("HEAD", TUS_UPLOAD, path, headers=tus)
    call("PATCH", TUS_UPLOAD, path, headers=chunk, content=b"a")
    call("POST", TUS_UPLOAD, path, headers={**chunk, "Upload-Offset": "1",
         "X-HTTP-Method-Override": "PATCH"}, content=b"b")  # fmt: skip
    call("DELETE", TUS_UPLOAD, path, headers=tus)
