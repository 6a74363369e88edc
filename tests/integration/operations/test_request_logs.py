"""A whole `uploadcore serve` session's log: a line per request, and no key, token or signature.

The session does what clients do: a REST upload with an API key through the
signed part URLs, fresh part URLs, a download through its signed URL, an
upload token minted and used, tus uploads, and some requests with bad
credentials. Then every secret the session saw (keys, tokens, each token's
signature) is looked for in everything the server wrote.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from tests.integration.http.support import PART, request_for, split
from tests.integration.http.tus_support import create, patch, tus
from tests.integration.reliability.server import Server, api_key, running, server_env

DATA = bytes(range(256)) * 9  # 2,304 bytes: three parts of 1 KiB


class Session:
    """A client that keeps every secret it is handed or sends."""

    def __init__(self, http: httpx2.Client, key: str) -> None:
        self.http = http
        self.key = key
        self.secrets: set[str] = {key}
        self.requests = 0

    def send(self, method: str, url: str, **kwargs: object) -> httpx2.Response:
        self.requests += 1
        response = self.http.request(method, url, **kwargs)  # type: ignore[arg-type]
        for token in parse_qs(urlsplit(url).query).get("token", []):
            self.keep(token)
        return response

    def keep(self, token: str) -> None:
        self.secrets.add(token)
        self.secrets.add(token.rsplit(".", 1)[-1])  # the signature alone

    def auth(self, credential: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {credential or self.key}"}

    def rest_upload(self, credential: str | None = None) -> dict[str, object]:
        body = request_for(DATA, PART)
        started = self.send("POST", "/v1/files/uploads/", headers=self.auth(credential), json=body)
        assert started.status_code == 201, started.text
        file_id = started.json()["file_obj"]["id"]
        urls = {u["part_number"]: u["url"] for u in started.json()["presigned_urls"]}
        for url in urls.values():
            self.keep(parse_qs(urlsplit(url).query)["token"][0])
        fresh = self.send(
            "POST", f"/v1/files/uploads/{file_id}/presigned-urls/", headers=self.auth(credential)
        )
        urls = {u["part_number"]: u["url"] for u in fresh.json()["presigned_urls"]}
        refs = []
        for number, chunk in enumerate(split(DATA, PART), 1):
            answer = self.send("PUT", urls[number], content=chunk)
            assert answer.status_code == 200, answer.text
            refs.append({"part_number": number, "etag": answer.json()["etag"]})
        done = self.send(
            "POST",
            f"/v1/files/uploads/{file_id}/complete/",
            headers=self.auth(credential),
            json={"parts": refs},
        )
        assert done.status_code == 200, done.text
        file: dict[str, object] = done.json()
        return file

    def tampered(self, url: str) -> str:
        token = parse_qs(urlsplit(url).query)["token"][0]
        bad = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
        self.keep(bad)
        return url.split("?", 1)[0] + "?token=" + bad


def session(http: httpx2.Client, key: str) -> Session:
    s = Session(http, key)
    file = s.rest_upload()
    url = str(file["url"])
    assert s.send("GET", url).content == DATA
    assert s.send("GET", url, headers={"Range": "bytes=0-9"}).status_code == 206
    assert s.send("HEAD", url).status_code == 200
    assert s.send("GET", s.tampered(url)).status_code == 403
    details = s.send("GET", f"/v1/files/{file['id']}/", headers=s.auth())
    s.send("GET", str(details.json()["url"]))
    assert s.send("GET", "/v1/files/", headers=s.auth()).status_code == 200
    # An upload token, minted by the backend and used by a browser.
    minted = s.send("POST", "/v1/upload-tokens/", headers=s.auth(), json={"max_files": 3})
    token = minted.json()["token"]
    s.keep(token)
    s.rest_upload(token)
    started = s.send("POST", "/v1/files/uploads/", headers=s.auth(token), json=request_for(DATA))
    part_url = started.json()["presigned_urls"][0]["url"]
    assert s.send("PUT", s.tampered(part_url), content=DATA[:PART]).status_code == 403
    s.send(
        "DELETE", f"/v1/files/uploads/{started.json()['file_obj']['id']}/", headers=s.auth(token)
    )
    # tus, with the API key and with the upload token.
    for credential in (key, token):
        s.requests += 2
        path = create(http, s.auth(credential), len(DATA))
        assert patch(http, s.auth(credential), path, 0, DATA).status_code == 204
        s.send("HEAD", path, headers=tus(s.auth(credential)))
    # Bad credentials, and a token on a URL that does not exist.
    wrong = "uc_" + "x" * 43
    s.secrets.add(wrong)
    assert s.send("GET", "/v1/files/", headers=s.auth(wrong)).status_code == 401
    assert s.send("GET", "/v1/nothing/?token=" + token).status_code == 404
    s.send("GET", "/readyz", headers={"X-Request-ID": "trace-me-42"})
    return s


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_a_whole_session_logs_each_request_and_never_a_secret(
    tmp_path: Path, log_format: str
) -> None:
    env = server_env(tmp_path / "data", log_format=log_format, min_part_size=str(PART))
    key = api_key(env, "alice")
    server = Server(env, tmp_path / "serve.log", workers=2)

    with running(server), httpx2.Client(base_url=server.url, trust_env=False) as http:
        done = session(http, key)
    logged = server.log.read_text()

    leaks = sorted(s for s in done.secrets if s in logged)
    assert not leaks, f"{len(leaks)} secrets in the log"
    assert len(done.secrets) > 20  # every part and download token, with their signatures
    assert "?" not in "".join(line for line in logged.splitlines() if "access" in line)
    lines = access_lines(logged, log_format)
    assert len(lines) >= done.requests
    traced = [line for line in lines if "trace-me-42" in line]
    assert len(traced) == 1
    assert "/readyz/" in traced[0]
    assert any("alice" in line and "/complete/" in line for line in lines)
    details = [line for line in lines if "GET /v1/files/{file_id}/ 200" in line]
    assert details
    assert all("alice" in line for line in details)  # the caller, on the hottest read too


def access_lines(logged: str, log_format: str) -> list[str]:
    """The request lines of the log (uploadcore.access), checked for their shape."""
    lines = [line for line in logged.splitlines() if "uploadcore.access" in line]
    for line in lines:
        if log_format == "json":
            record = json.loads(line)
            assert {"request_id", "method", "route", "status", "duration_ms"} <= set(record)
            assert record["route"].startswith("/") or record["route"] == "unmatched"
        else:
            assert " request_id=" in line
    return lines
