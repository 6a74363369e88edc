"""Which failures are worth another try, and how long to wait before it.

Transient: a connection that failed or broke, a timeout, 408, 429, and 5xx
but 501 and 507 (a server that does not implement the request, or whose disk
is full, will not change its mind in a few seconds). The wait is
exponential with full jitter (a random time between 0 and
`base * 2**attempt`, capped), so many clients failing together do not retry
together; a `Retry-After` of a few seconds is honoured instead.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx2

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """`attempts` tries in all, waits growing from `base` seconds up to `cap`."""

    attempts: int = 8
    base: float = 0.5
    cap: float = 30.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed try number `attempt` (0 for the first)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.cap)
        return random.uniform(0, min(self.cap, self.base * 2**attempt))


def is_transient(failure: httpx2.Response | httpx2.TransportError) -> bool:
    if isinstance(failure, httpx2.UnsupportedProtocol):  # a URL that no retry will fix
        return False
    if isinstance(failure, httpx2.TransportError):
        return True
    return failure.status_code in RETRYABLE_STATUS


def retry_after(response: httpx2.Response) -> float | None:
    """A `Retry-After` header in seconds (delta or HTTP date), if there is a usable one."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    date = response.headers.get("date")
    try:
        now = parsedate_to_datetime(date) if date else None
    except (TypeError, ValueError):
        now = None
    if now is None:
        return None
    return max((moment - now).total_seconds(), 0.0)
