"""The OpenAPI 3.1 document of the HTTP API, generated from the models and the route table.

Schemas, their descriptions and examples come from `models.py` (msgspec writes
them); which operation each route is, in prose, comes from `operations.py`.
Tests hold the document to the app: it validates as OpenAPI 3.1, every route of
the app is an operation here and every operation a route, its examples match
its schemas, real responses match the schemas they are documented with, and
the README's API table lists exactly these operations.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any, get_type_hints

import msgspec

from uploadcore.entrypoints.http import models as m
from uploadcore.entrypoints.http import tus_openapi, uppy_openapi
from uploadcore.entrypoints.http.operations import (
    DESCRIPTION,
    PATH_PARAMETERS,
    PATHS,
    PROBLEM_HEADERS,
    PROBLEMS,
    Answer,
    Operation,
)

__all__ = ["PATHS", "document"]

Json = dict[str, Any]


def document(mounted: Iterable[str], base_url: str) -> Json:
    """The document for an app whose routes have these paths, served at `base_url`.

    Operations whose route the app does not mount (part upload and download on
    S3 storage) are left out, so the document describes exactly this app.
    """
    present = {_fold(p) for p in mounted} | {"/openapi.json", "/docs"}
    paths, components = _generated()
    return {
        "openapi": "3.1.0",
        "info": {"title": "uploadcore", "version": "1", "description": DESCRIPTION},
        "servers": [{"url": base_url.rstrip("/") or "/"}],
        "security": [{"bearerAuth": []}],
        "paths": {
            p: copy.deepcopy(v)
            for p, v in (paths | tus_openapi.paths() | uppy_openapi.paths()).items()
            if _fold(p) in present
        },
        "components": copy.deepcopy(components),
    }


def _fold(path: str) -> str:
    return path.rstrip("/") or "/"


# -- generation ---------------------------------------------------------------------------


@cache
def _generated() -> tuple[Json, Json]:
    """Every operation and the components they use; made once, copied for each answer."""
    models = [m.Problem, *dict.fromkeys(_models())]
    refs, schemas = msgspec.json.schema_components(models, ref_template=_REF + "{name}")
    by_name = {model.__name__: model for model in models}
    for name, schema in schemas.items():
        if "properties" in schema:
            _in_declared_order(schema, by_name.get(name) or getattr(m, name))
    components = {
        "securitySchemes": {
            "bearerAuth": {"type": "http", "scheme": "bearer",
                           "description": "An API key from `uploadcore users create`; on "
                           "the upload endpoints also an upload token from "
                           "`POST /v1/upload-tokens/`."}
        },
        "schemas": schemas,
        "parameters": {
            **{name: _parameter(t.strip("{}"), tp, schemas)
               for t, (name, tp) in PATH_PARAMETERS.items()},
            "Token": {**_parameter("token", m.Token, schemas), "in": "query"},
        },
        "responses": {name: _problem(status, schemas) for status, (name, *_) in PROBLEMS.items()},
    }  # fmt: skip
    ref_of = dict(zip(models, refs, strict=True))
    paths = {path: _path(path, item, ref_of, schemas) for path, item in PATHS.items()}
    return paths, components


_REF = "#/components/schemas/"


def _models() -> Iterable[Any]:
    for item in PATHS.values():
        for op in item.values():
            if isinstance(op.body, type) and issubclass(op.body, msgspec.Struct):
                yield op.body
            yield from (a.model for a in op.answers.values() if a.model not in (None, dict))


def _in_declared_order(schema: Json, model: Any) -> None:
    """msgspec sorts a TypedDict's properties by name; a reader wants the model's order."""
    order = list(get_type_hints(model))
    schema["properties"] = {name: schema["properties"][name] for name in order}
    schema["required"] = [name for name in order if name in schema.get("required", ())]


def _path(
    path: str, item: Mapping[str, Operation], ref_of: Mapping[Any, Json], schemas: Json
) -> Json:
    parameters = [
        {"$ref": f"#/components/parameters/{name}"}
        for template, (name, _) in PATH_PARAMETERS.items()
        if template in path
    ]
    if any(op.auth == "token" for op in item.values()):
        parameters.append({"$ref": "#/components/parameters/Token"})
    operations = {method: _operation(op, ref_of, schemas) for method, op in item.items()}
    return {"parameters": parameters, **operations} if parameters else operations


def _operation(op: Operation, ref_of: Mapping[Any, Json], schemas: Json) -> Json:
    out: Json = {"operationId": op.id, "summary": op.summary, "description": op.description}
    if op.query is not None or op.headers:
        out["parameters"] = [*_query(op.query, schemas), *op.headers]
    if op.body is bytes:
        raw = {"schema": {"type": "string", "format": "binary"}, "example": "hello"}
        out["requestBody"] = {"required": True, "content": {"application/octet-stream": raw}}
    elif op.body is not None:
        media = _media(ref_of[op.body], _example(ref_of[op.body], schemas))
        out["requestBody"] = {"required": not op.optional_body, "content": media}
    answers = {str(s): _answer(a, ref_of, schemas) for s, a in op.answers.items()}
    problems = {str(s): {"$ref": f"#/components/responses/{PROBLEMS[s][0]}"} for s in op.problems}
    out["responses"] = {**answers, **problems}
    if op.auth != "key":
        out["security"] = []
    return out


def _answer(answer: Answer, ref_of: Mapping[Any, Json], schemas: Json) -> Json:
    out: Json = {"description": answer.description}
    if answer.headers:
        out["headers"] = {
            name: {"description": text, "schema": {"type": "string"}}
            for name, text in answer.headers.items()
        }
    if answer.binary is not None:
        out["content"] = {
            "*/*": {"schema": {"type": "string", "format": "binary"}, "example": answer.binary}
        }
    elif answer.model is dict:  # this document: any object
        out["content"] = _media({"type": "object"}, answer.example)
    elif answer.model is not None:
        schema = ref_of[answer.model]
        example = _example(schema, schemas)
        out["content"] = _media(
            schema, _merged(example, answer.example) if answer.example else example
        )
    return out


def _media(schema: Json, example: Any) -> Json:
    return {"application/json": {"schema": schema, "example": example}}


def _parameter(name: str, tp: Any, schemas: Json) -> Json:
    schema = msgspec.json.schema(tp)
    return {"name": name, "in": "path", "required": True, **_split(schema, schemas)}


def _query(query: type[msgspec.Struct] | None, schemas: Json) -> list[Json]:
    """The fields of a query model, each an optional query parameter."""
    if query is None:
        return []
    properties = msgspec.json.schema(query)["$defs"][query.__name__]["properties"]
    return [
        {"name": name, "in": "query", "required": False, **_split(schema, schemas)}
        for name, schema in properties.items()
    ]


def _split(schema: Json, schemas: Json) -> Json:
    """A parameter's description and example, and the schema without them."""
    schema = dict(schema)
    description, example = schema.pop("description", None), _example(schema, schemas)
    schema.pop("examples", None)
    return {"description": description, "schema": schema, "example": example}


def _problem(status: int, schemas: Json) -> Json:
    _, description, code, detail = PROBLEMS[status]
    example = {
        "type": f"https://uploadcore.dev/problems/{code}",
        "title": code.replace("_", " ").capitalize(),
        "status": status,
        "detail": detail,
        "code": code,
    }
    if status == 400:
        example["errors"] = [_example({"$ref": _REF + "FieldError"}, schemas)]
    response: Json = {
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": _REF + "Problem"},
                                                 "example": example}},
    }  # fmt: skip
    if status in PROBLEM_HEADERS:
        response["headers"] = PROBLEM_HEADERS[status]
    return response


def _example(schema: Json, schemas: Json) -> Any:
    """An example of `schema`, made of the examples its fields carry."""
    if "examples" in schema:
        return schema["examples"][0]
    if "$ref" in schema:
        return _example(schemas[schema["$ref"].removeprefix(_REF)], schemas)
    if "properties" in schema:
        return {name: _example(s, schemas) for name, s in schema["properties"].items()}
    if schema.get("type") == "array":
        return [_example(schema["items"], schemas)]
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    if {"type": "null"} in schema.get("anyOf", ()):
        return None
    raise ValueError(f"no example for {schema}: give the model's field one")


def _merged(example: Json, changes: Json) -> Json:
    """`example` with `changes` in it, nested objects merged rather than replaced."""
    merged = dict(example)
    for key, value in changes.items():
        merged[key] = _merged(merged[key], value) if isinstance(value, dict) else value
    return merged
