"""Schemathesis against the app's own /openapi.json: every operation, with a valid API key.

No 5xx; every response matches the status, content type, headers and schema
its operation documents; every error is problem+json. Bounded for CI:
derandomized (the same cases every run), at most MAX_EXAMPLES generated per
operation besides schemathesis's own example and coverage cases.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.core.transport import Response
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.applications import Starlette
from tests.integration.http.support import token_of
from tests.integration.security.conftest import Hostile
from tests.integration.tally import count

from uploadcore.entrypoints.http import openapi, tus_openapi, uppy_openapi
from uploadcore.entrypoints.http.app import create_app

MAX_EXAMPLES = 25
MAX_REAL_EXAMPLES = 10  # each makes a real upload or file first
DATA = bytes(range(256)) * 9  # three parts of 1 KiB and a shorter last one
# Everything but `positive_data_acceptance`: a schema-valid request may still be refused,
# as JSON Schema cannot say that `num_parts` parts of `part_size` bytes make `file_size`.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
BASE_URL = "http://testserver"
# The document of the app as the tests run it (local storage: every operation mounted).
# Built from the same code that serves /openapi.json, without building an app at import;
# the test checks that the app serves exactly this document.
DOCUMENT = openapi.document([*openapi.PATHS, *tus_openapi.paths(), *uppy_openapi.paths()], BASE_URL)
# tus is a header protocol, and the Uppy routes are Companion's, each held to it by its own
# tests (the protocol tests and the real clients); schemathesis fuzzes the JSON API.
FUZZED = DOCUMENT | {
    "paths": {p: v for p, v in DOCUMENT["paths"].items() if "/tus/" not in p and "/uppy/" not in p}
}


async def _no_app(scope: Any, receive: Any, send: Any) -> None:
    """Marks the schema as an ASGI app's; every call names the test's own app instead."""
    raise RuntimeError("pass app= to case.call_and_validate")


# Schema-invalid data must be refused with a 4xx: 413 too, as a file_size over the maximum
# is refused before anything else is looked at (SPEC section 2).
CONFIG = SchemathesisConfig.from_dict(
    {"checks": {"negative_data_rejection": {"expected-statuses": [*range(400, 416), 422]}}}
)
schema = schemathesis.openapi.from_dict(FUZZED, config=CONFIG)
schema.app = _no_app


@pytest.fixture
def app(hostile: Hostile) -> Starlette:
    served = create_app(hostile.api.settings, hostile.api.core)
    assert hostile.http.get("/openapi.json").json() == DOCUMENT
    return served


def problem_json(ctx: Any, response: Response, case: Case[Any]) -> bool | None:
    """Every error answer is an RFC 9457 problem with a stable code."""
    if response.status_code < 400:
        return None
    content_type = response.headers.get("content-type", [""])[0]
    assert content_type == "application/problem+json", (response.status_code, content_type)
    if case.method != "HEAD":
        body = response.json()
        assert {"type", "title", "status", "detail", "code"} <= set(body), body
        assert body["status"] == response.status_code
    return True


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_every_operation_answers_as_documented(
    case: Case[Any], hostile: Hostile, app: Starlette
) -> None:
    response = case.call_and_validate(
        app=app, headers=hostile.alice, checks=[*CHECKS, problem_json]
    )

    count("security: schema cases")
    assert response.status_code < 500


def aim_at_real_files(case: Case[Any], hostile: Hostile) -> None:
    """Point a schema-valid case at a real file of Alice's (and its real token, if any).

    Random ids only ever meet 404 and random tokens 403: this takes the same
    generated bodies, queries and headers to uploads in progress and files.
    """
    params = case.path_parameters
    if not params or "file_id" not in params or not case.meta:
        return
    if not case.meta.generation.mode.is_positive:
        return  # a negative case must stay as wrong as it was made
    if case.path.startswith(("/v1/files/uploads/", "/v1/files/presigned-uploads/")):
        started = hostile.alice_upload(DATA)
        hostile.api.client.put_part(started.urls[1], started.chunks[0])
        params["file_id"] = started.file_id
        if "part_number" in params and isinstance(params["part_number"], int):
            number = min(max(params["part_number"], 1), len(started.urls))
            case.query = {**(case.query or {}), "token": token_of(started.urls[number])}
    else:
        file = hostile.alice_file(DATA)
        params["file_id"] = file["id"]
        if case.path.endswith("/download/"):
            case.query = {**(case.query or {}), "token": token_of(file["url"])}


@schema.parametrize()
@settings(
    max_examples=MAX_REAL_EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_every_operation_on_real_files_answers_as_documented(
    case: Case[Any], hostile: Hostile, app: Starlette
) -> None:
    aim_at_real_files(case, hostile)

    response = case.call_and_validate(
        app=app, headers=hostile.alice, checks=[*CHECKS, problem_json]
    )

    count("security: schema cases")
    assert response.status_code < 500
