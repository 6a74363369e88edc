"""Hostile file names and content types: refused, or stored and sent back harmlessly.

A file name is a display name, never a path: it never chooses where bytes go,
and it reaches the download's Content-Disposition only escaped. A content type
reaches the download's Content-Type only if it is a clean MIME type.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import unquote

import httpx2
import pytest
from sqlalchemy import update
from tests.integration.http.support import error_fields, request_for
from tests.integration.security.conftest import Hostile, Live

from uploadcore.adapters.sql import SqlAlchemyRepository
from uploadcore.adapters.sql.tables import files

DATA = b"harmless bytes"
ESCAPE = f"uploadcore-escape-{os.getpid()}"

HOSTILE_NAMES = {
    "dot-dot": f"../../{ESCAPE}",
    "dot-dot-backslash": f"..\\..\\{ESCAPE}",
    "absolute": f"/tmp/{ESCAPE}",
    "dot": ".",
    "dot-dot-alone": "..",
    "nul": f"{ESCAPE}\x00.txt",
    "newline": "report\n.pdf",
    "crlf-header": "a.txt\r\nSet-Cookie: stolen=1",
    "escape": "\x1b[31mred\x1b[0m.txt",
    "delete": "a\x7fb.txt",
    "nel": "a\x85b.txt",
    "line-separator": "a\u2028b.txt",
    "rtl-override": "invoice\u202efdp.exe",
    "rtl-isolate": "a\u2067b\u2069.txt",
    "ten-thousand": "x" * 10_000,
    "empty": "",
    "lone-surrogate": "a\ud800b.txt",
}
STRANGE_BUT_FINE = {
    "unicode": "résumé 履歴書 🙂.pdf",
    "quotes": 'say "hi".txt',
    "percent": "100%25 done%0d%0a.txt",
    "semicolon": "a; filename=evil.exe",
    "backtick-dollar": "$(rm -rf ~)`id`.txt",
    "html": "<img src=x onerror=alert(1)>.html",
    "max-length": "é" * 255,
}


def send_json(hostile: Hostile, method: str, path: str, body: object) -> httpx2.Response:
    """As Alice; ASCII-escaped, so that even a lone surrogate travels (as JSON allows)."""
    headers = hostile.alice | {"Content-Type": "application/json"}
    return hostile.http.request(method, path, headers=headers, content=json.dumps(body))


def test_no_hostile_path_exists_before_the_tests() -> None:
    assert not Path("/tmp", ESCAPE).exists()


@pytest.mark.parametrize("name", HOSTILE_NAMES.values(), ids=HOSTILE_NAMES.keys())
def test_a_hostile_file_name_is_refused_at_initiate(hostile: Hostile, name: str) -> None:
    response = send_json(hostile, "POST", "/v1/files/uploads/", request_for(DATA, file_name=name))

    assert error_fields(response) == {"file_name"}
    assert len(response.text) < 2000
    assert not list(hostile.api.media_root.rglob(f"*{ESCAPE}*"))
    assert not Path("/tmp", ESCAPE).exists()


@pytest.mark.parametrize("name", HOSTILE_NAMES.values(), ids=HOSTILE_NAMES.keys())
def test_a_hostile_file_name_is_refused_by_patch(hostile: Hostile, name: str) -> None:
    file = hostile.alice_file(DATA)

    response = send_json(hostile, "PATCH", f"/v1/files/{file['id']}/", {"file_name": name})

    assert response.status_code == 400, response.text
    shown = hostile.http.get(f"/v1/files/{file['id']}/", headers=hostile.alice).json()
    assert shown["file_name"] == file["file_name"]


@pytest.mark.parametrize("name", STRANGE_BUT_FINE.values(), ids=STRANGE_BUT_FINE.keys())
def test_a_strange_but_valid_name_is_kept_and_downloads_with_a_safe_disposition(
    hostile: Hostile, name: str
) -> None:
    started = hostile.api.client.start(hostile.alice, DATA, len(DATA), file_name=name)
    refs = hostile.api.client.put_parts(started)
    file = hostile.api.client.complete(hostile.alice, started.file_id, refs).json()

    response = hostile.http.get(file["url"])

    assert file["file_name"] == name
    assert response.content == DATA
    disposition = response.headers["content-disposition"]
    assert disposition.isascii()
    assert "\r" not in disposition
    assert "\n" not in disposition
    assert disposition.startswith("attachment; ")
    if "filename*=" in disposition:
        assert unquote(disposition.split("filename*=UTF-8''")[1]) == name
    [final] = hostile.api.final_files(started.file_id)
    assert final.name == started.file_id


# -- content types --------------------------------------------------------------------

HOSTILE_TYPES = {
    "crlf": "text/html\r\nSet-Cookie: stolen=1",
    "crlf-in-parameter-space": "text/html;\r\nX-Injected=1",
    "lf-before-parameter": "text/html\n;a=b",
    "line-separator": "text/plain;\u2028a=b",
    "nel": "text/plain;\x85a=b",
    "nul": "text/plain\x00",
    "non-ascii-quoted": 'text/plain; name="日本"',
    "latin1-quoted": 'text/plain; name="\xe9"',
    "quoted-crlf": 'text/plain; a="x\r\nSet-Cookie: b"',
    "no-subtype": "text",
    "spaces": "text / plain",
    "long": "a/" + "b" * 10_000,
    "empty": "",
}


@pytest.mark.parametrize("value", HOSTILE_TYPES.values(), ids=HOSTILE_TYPES.keys())
def test_a_hostile_content_type_is_refused_at_initiate(hostile: Hostile, value: str) -> None:
    response = hostile.api.client.initiate(
        hostile.alice, request_for(DATA, file_content_type=value)
    )

    assert error_fields(response) == {"file_content_type"}


@pytest.mark.parametrize(
    "value", ["text/plain; charset=utf-8", 'text/plain;\tname="a b"', "application/x.y+json"]
)
def test_a_content_type_with_parameters_is_kept_and_sent(hostile: Hostile, value: str) -> None:
    started = hostile.api.client.start(hostile.alice, DATA, len(DATA), file_content_type=value)
    refs = hostile.api.client.put_parts(started)
    file = hostile.api.client.complete(hostile.alice, started.file_id, refs).json()

    assert hostile.http.get(file["url"]).headers["content-type"] == value


def store_behind_the_apis_back(hostile: Hostile, file_id: str, **values: str) -> None:
    """What an older version, a migration or another writer of the database may have left."""
    repo = hostile.api.core.complete.repo
    assert isinstance(repo, SqlAlchemyRepository)
    with repo.engine.begin() as connection:
        connection.execute(update(files).where(files.c.id == file_id).values(**values))


STORED = {
    **{k: v for k, v in HOSTILE_TYPES.items() if k not in ("nul", "empty")},
    "html": "text/html",
}


@pytest.mark.parametrize("value", STORED.values(), ids=STORED.keys())
def test_a_stored_content_type_never_reaches_a_header_unescaped(live: Live, value: str) -> None:
    """Over a real socket, so what is checked is the bytes uvicorn put on the wire."""
    hostile = live.hostile
    file = hostile.alice_file(DATA)
    store_behind_the_apis_back(
        hostile, file["id"], file_content_type=value, file_name="a\r\nSet-Cookie: n=1"
    )

    head = raw_get(live, file["url"])

    status, _, rest = head.partition(b"\r\n")
    assert status == b"HTTP/1.1 200 OK", head
    lines = rest.split(b"\r\n")
    names = [line.split(b":")[0].lower() for line in lines if line]
    assert b"set-cookie" not in names
    assert b"x-injected" not in names
    content_type = next(line for line in lines if line.lower().startswith(b"content-type:"))
    expected = value if value == "text/html" else "application/octet-stream"
    assert content_type == b"content-type: " + expected.encode()
    assert b"x-content-type-options: nosniff" in lines


def raw_get(live: Live, url: str) -> bytes:
    """The status line and headers of a GET, as they came off the socket."""
    path = url.split(str(live.port), 1)[1]
    with live.connect() as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    return answer.split(b"\r\n\r\n")[0]
