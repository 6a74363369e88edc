"""The part URLs of one upload, refreshed through the API before they expire."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping

from uploadcore.entrypoints.client.api import Api, ClientError, Json

#: Refresh this long before the URLs expire (at most a quarter of their lifetime).
MARGIN = 60.0


class PartUrls:
    """Part URLs with one expiry; asking for one near it refreshes every part still to send."""

    def __init__(
        self,
        api: Api,
        file_id: str,
        answer: Json,
        pending: Iterable[int],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._api = api
        self._file_id = file_id
        self._clock = clock
        self._lock = threading.Lock()
        self._pending = set(pending)
        self._urls: dict[int, str] = {}
        self._valid_until = 0.0
        self._margin = 0.0
        self._take(answer)

    def url_for(self, number: int) -> str:
        with self._lock:
            if number not in self._urls or self._clock() >= self._valid_until - self._margin:
                self._refresh(sorted(self._pending | {number}))
            return self._urls[number]

    def refresh(self, number: int) -> None:
        """A new URL for this part (its old one was refused: expired, most likely)."""
        with self._lock:
            self._refresh([number])

    def done(self, number: int) -> None:
        with self._lock:
            self._pending.discard(number)

    def _refresh(self, numbers: list[int]) -> None:
        self._take(self._api.refresh_urls(self._file_id, numbers))

    def _take(self, answer: Mapping[str, object]) -> None:
        urls = answer.get("presigned_urls")
        expires_in = answer.get("expires_in")
        if not isinstance(urls, list) or not isinstance(expires_in, int | float):
            raise ClientError("the server's answer has no presigned_urls and expires_in")
        for entry in urls:
            if isinstance(entry, dict):
                self._urls[int(entry["part_number"])] = str(entry["url"])
        self._valid_until = self._clock() + float(expires_in)
        self._margin = min(MARGIN, float(expires_in) / 4)
