"""WebhookSender on httpx2: one connection pool per event loop, never raising for the receiver.

httpx2 is imported at the first delivery: a server with no webhook endpoint
never holds it in memory.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING

from uploadcore.ports.events import SendOutcome

if TYPE_CHECKING:
    import httpx2


class HttpxWebhookSender:
    """POSTs webhooks with an `httpx2.AsyncClient` made on first use in the running loop.

    Redirects are not followed (a 3xx is not a delivery). Call `aclose` when done.
    """

    def __init__(self, *, max_connections: int = 100) -> None:
        self._max_connections = max_connections
        self._client: httpx2.AsyncClient | None = None

    async def send(
        self, url: str, headers: Mapping[str, str], body: bytes, timeout: float
    ) -> SendOutcome:
        import httpx2

        client = self._client
        if client is None:
            limits = httpx2.Limits(
                max_connections=self._max_connections, max_keepalive_connections=20
            )
            client = self._client = httpx2.AsyncClient(
                limits=limits, follow_redirects=False, headers={"user-agent": "uploadcore"}
            )
        try:
            async with asyncio.timeout(timeout):  # in all, not per phase
                answer = await client.post(url, content=body, headers=dict(headers))
        except TimeoutError:
            return SendOutcome(None, f"no answer within {timeout:g}s")
        except httpx2.HTTPError as error:
            return SendOutcome(None, f"{type(error).__name__}: {error}"[:300])
        if 200 <= answer.status_code < 300:
            return SendOutcome(answer.status_code)
        return SendOutcome(answer.status_code, f"HTTP {answer.status_code}")

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


__all__ = ["HttpxWebhookSender"]
