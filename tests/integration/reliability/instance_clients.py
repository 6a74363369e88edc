"""The clients of the several-instances test: raw httpx requests and `uploadcore upload`'s own.

Each raw upload sends its initiate, parts and completions or aborts through a
load-balancing transport (instances.py), racing as its kind says; what every
answer was is kept for the checks.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
from tests.integration.reliability.instances import PIN, PUBLIC, Balanced, BalancedSync, Recorder

from uploadcore.entrypoints.client import Api, Uploader, UploadRequest

KiB = 1024
PART = 64 * KiB
PARTS = 3
RAW_UPLOADS = 80
CLIENT_UPLOADS = 6
AT_ONCE = 12  # raw uploads in flight at a time
SEED = 20_261_205
KINDS = (
    "complete-race",  # three completions at once: one on each instance, one at random
    "complete-vs-abort",  # a completion on one instance, an abort on the other
    "complete-complete-abort",
    "abort-during-parts",
    "complete-then-abort",
)


@dataclass
class Upload:
    """One raw client's upload: its bytes, the answers it got and what it concluded."""

    number: int
    kind: str
    data: bytes
    file_id: str = ""
    urls: dict[int, str] = field(default_factory=dict)
    answers: Counter[tuple[str, int]] = field(default_factory=Counter)

    @property
    def chunks(self) -> list[bytes]:
        return [self.data[i : i + PART] for i in range(0, len(self.data), PART)]

    def got(self, what: str) -> set[int]:
        return {status for (name, status) in self.answers if name == what}


class Clients:
    """Raw HTTP clients (httpx) of the public address, one coroutine per upload."""

    def __init__(self, http: httpx2.AsyncClient, auth: dict[str, str]) -> None:
        self.http = http
        self.auth = auth

    async def call(self, upload: Upload, what: str, method: str, url: str, **kw: Any) -> int:
        response = await self.http.request(method, url, **kw)
        upload.answers[(what, response.status_code)] += 1
        return response.status_code

    def complete(self, upload: Upload, etags: dict[int, str], pin: int | None = None) -> Any:
        parts = [{"part_number": n, "etag": etags.get(n, "")} for n in range(1, PARTS + 1)]
        headers = self.auth if pin is None else {**self.auth, PIN: str(pin)}
        path = f"/v1/files/uploads/{upload.file_id}/complete/"
        return self.call(upload, "complete", "POST", path, headers=headers, json={"parts": parts})

    def abort(self, upload: Upload, pin: int | None = None) -> Any:
        headers = self.auth if pin is None else {**self.auth, PIN: str(pin)}
        return self.call(
            upload, "abort", "DELETE", f"/v1/files/uploads/{upload.file_id}/", headers=headers
        )

    async def put(self, upload: Upload, number: int, etags: dict[int, str]) -> None:
        body = upload.chunks[number - 1]
        response = await self.http.put(upload.urls[number], content=body)
        upload.answers[("part", response.status_code)] += 1
        if response.status_code == 200:
            etags[number] = response.headers["etag"].strip('"')

    async def run(self, upload: Upload) -> None:
        body = {
            "file_name": f"raw-{upload.number}.bin",
            "file_size": len(upload.data),
            "file_content_type": "application/octet-stream",
            "num_parts": PARTS,
            "part_size": PART,
        }
        started = await self.http.post("/v1/files/uploads/", headers=self.auth, json=body)
        assert started.status_code == 201, started.text
        upload.file_id = started.json()["file_obj"]["id"]
        upload.urls = {u["part_number"]: u["url"] for u in started.json()["presigned_urls"]}
        etags: dict[int, str] = {}
        parts = [self.put(upload, n, etags) for n in range(1, PARTS + 1)]
        if upload.kind == "abort-during-parts":
            await asyncio.gather(*parts, self.abort(upload))
            return
        await asyncio.gather(*parts)
        if upload.kind == "complete-race":
            await asyncio.gather(
                self.complete(upload, etags, 0),
                self.complete(upload, etags, 1),
                self.complete(upload, etags),
            )
        elif upload.kind == "complete-vs-abort":
            await asyncio.gather(self.complete(upload, etags, 0), self.abort(upload, 1))
        elif upload.kind == "complete-complete-abort":
            await asyncio.gather(
                self.complete(upload, etags, 1), self.abort(upload), self.complete(upload, etags, 0)
            )
        else:
            await self.complete(upload, etags)
            await self.abort(upload)
            await self.complete(upload, etags)


def client_upload(path: Path, key: str, recorder: Recorder) -> dict[str, Any]:
    """`uploadcore upload`'s client, unmodified, through the load-balancing transport."""
    transport = BalancedSync(recorder, limits=httpx2.Limits(max_connections=5))
    with httpx2.Client(transport=transport, timeout=60, trust_env=False) as http:
        result = Uploader(Api(PUBLIC, key, http)).upload(
            UploadRequest(path, part_size=PART, parallel=3)
        )
    return result.file


async def load(
    uploads: list[Upload], files: list[Path], key: str, recorder: Recorder
) -> list[dict[str, Any]]:
    auth = {"Authorization": f"Bearer {key}"}
    transport = Balanced(recorder, limits=httpx2.Limits(max_connections=48))
    async with httpx2.AsyncClient(
        base_url=PUBLIC, transport=transport, timeout=60, trust_env=False
    ) as http:
        clients = Clients(http, auth)
        gate = asyncio.Semaphore(AT_ONCE)

        async def one(upload: Upload) -> None:
            async with gate:
                await clients.run(upload)

        uploaded = [asyncio.to_thread(client_upload, path, key, recorder) for path in files]
        done, _ = await asyncio.gather(
            asyncio.gather(*uploaded), asyncio.gather(*(one(u) for u in uploads))
        )
        return [dict(file) for file in done]


def make_uploads(rng: random.Random) -> list[Upload]:
    return [
        Upload(n, KINDS[n % len(KINDS)], rng.randbytes((PARTS - 1) * PART + rng.randint(1, PART)))
        for n in range(RAW_UPLOADS)
    ]
