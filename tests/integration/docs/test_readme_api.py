"""The README's API section and the OpenAPI document describe the same API."""

from __future__ import annotations

import re
from pathlib import Path

from uploadcore.entrypoints.http import openapi

README = Path(__file__).parents[3] / "README.md"
PATHS = openapi.document(openapi.PATHS, "https://api.example")["paths"]
ROW = re.compile(r"^\| `(GET|POST|PUT|PATCH|DELETE)` \| `([^`]+)` \| (\w+) \|", re.M)


def api_section() -> str:
    text = README.read_text()
    start = text.index("\n## API\n")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def canonical(path: str) -> str:
    """README paths say `{id}` and `{n}`; the document says `{file_id}` and `{part_number}`."""
    path = path.replace("{id}", "{file_id}").replace("{n}", "{part_number}")
    return path.rstrip("/") or "/"


def documented() -> dict[tuple[str, str], bool]:
    """Each operation of the document, and whether it takes the API key."""
    return {
        (method.upper(), canonical(path)): operation.get("security") != []
        for path, item in PATHS.items()
        for method, operation in item.items()
        if method != "parameters"
    }


def test_the_readme_table_lists_exactly_the_documented_operations() -> None:
    rows = {(m, canonical(p)) for m, p, _ in ROW.findall(api_section())}

    assert rows == set(documented())


def test_the_readme_table_says_which_operations_take_the_api_key() -> None:
    for method, path, auth in ROW.findall(api_section()):
        takes_key = documented()[(method, canonical(path))]
        assert (auth == "key") == takes_key, (method, path, auth)


def test_the_readme_names_every_query_parameter_of_the_listing() -> None:
    listing = PATHS["/v1/files/"]["get"]["parameters"]
    section = api_section()

    for parameter in listing:
        assert f"`{parameter['name']}`" in section, parameter["name"]


def test_the_readme_names_the_listing_bounds_the_service_enforces() -> None:
    section = api_section()
    limit = next(p for p in PATHS["/v1/files/"]["get"]["parameters"] if p["name"] == "limit")

    assert f"1 to {limit['schema']['maximum']}, default {limit['schema']['default']}" in section
