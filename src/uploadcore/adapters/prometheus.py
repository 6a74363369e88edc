"""The service's Prometheus metrics (`prometheus_client`), one set per process.

Under `uploadcore serve --workers N` every worker writes its counters and
histograms to files in `PROMETHEUS_MULTIPROC_DIR` (prometheus_client's
multiprocess mode, which `serve` sets up in a fresh directory at each start),
and a scrape of any worker reads and sums all of them. Without that variable
(an embedder's single process) they live in this process's memory.

The figures every instance shares (uploads in progress, the outbox's lag)
are read from the records at scrape time instead, so they are right however
many processes and machines serve.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from uploadcore.domain.errors import StorageUnavailable
from uploadcore.domain.events import Event, EventType
from uploadcore.ports.stats import OperationalStats

log = logging.getLogger(__name__)

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: The protocol of the request being served (`rest`, `tus`, `uppy`), set by the HTTP app;
#: `none` for changes made outside a request (the CLI, `gc`).
PROTOCOL: ContextVar[str] = ContextVar("uploadcore_protocol", default="none")

_PART_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
_COMPLETE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_UPLOAD_EVENTS = {
    EventType.UPLOAD_CREATED: ("initiated", "Uploads initiated"),
    EventType.UPLOAD_COMPLETED: ("completed", "Uploads completed"),
    EventType.UPLOAD_FAILED: ("failed", "Uploads failed (their assembled file did not match)"),
    EventType.UPLOAD_ABORTED: ("aborted", "Uploads aborted (by their owner, an admin or gc)"),
}


class PrometheusMetrics:
    """Every counter and histogram of the service; `exposition()` renders them for a scrape."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "uploadcore_http_requests",
            "HTTP requests answered, by route template, method and status",
            ["route", "method", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "uploadcore_http_request_duration_seconds",
            "Time from a request's arrival to the end of its answer, by route template",
            ["route", "method"],
            registry=r,
        )
        self.uploads = {
            event: Counter(f"uploadcore_uploads_{name}", text, ["storage", "protocol"], registry=r)
            for event, (name, text) in _UPLOAD_EVENTS.items()
        }
        self.received = Counter(
            "uploadcore_received_bytes",
            "Bytes of request bodies the service accepted (answered 2xx), by protocol",
            ["protocol"],
            registry=r,
        )
        self.part_seconds = Histogram(
            "uploadcore_part_upload_duration_seconds",
            "Time to receive one part (REST) or append (tus), answered 2xx",
            ["protocol"],
            buckets=_PART_BUCKETS,
            registry=r,
        )
        self.complete_seconds = Histogram(
            "uploadcore_completion_duration_seconds",
            "Time to complete an upload (check the parts, assemble, record), answered 2xx",
            ["protocol"],
            buckets=_COMPLETE_BUCKETS,
            registry=r,
        )
        self.deliveries = Counter(
            "uploadcore_webhook_deliveries",
            "Webhook delivery attempts, by outcome (delivered, retrying, failed: given up)",
            ["outcome"],
            registry=r,
        )
        self._request_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    # -- what the service reports -------------------------------------------------

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        """One request answered. Cheap: the labelled children are looked up once."""
        key = (route, method, status)
        children = self._request_children.get(key)
        if children is None:
            children = (
                self.requests.labels(route, method, str(status)),
                self.latency.labels(route, method),
            )
            self._request_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def upload_events(self, storage: str) -> Callable[[Event], None]:
        """An event handler counting uploads initiated, completed, failed and aborted."""

        children: dict[tuple[str, str], Counter] = {}  # looked up once: gc counts thousands

        def count(event: Event) -> None:
            key = (event.type, PROTOCOL.get())
            child = children.get(key)
            if child is None:
                counter = self.uploads.get(event.type)
                if counter is None:
                    return
                child = children[key] = counter.labels(storage, key[1])
            child.inc()

        return count

    def delivery(self, outcome: str) -> None:
        self.deliveries.labels(outcome).inc()

    # -- a scrape -------------------------------------------------------------------

    def exposition(self, stats: Callable[[], OperationalStats] | None = None) -> bytes:
        """The text exposition: every worker's metrics summed, and the shared figures."""
        registry = CollectorRegistry(auto_describe=False)
        if os.environ.get(MULTIPROC_DIR):
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        else:
            registry.register(_Proxy(self.registry))
        if stats is not None:
            registry.register(_Stats(stats))
        return generate_latest(registry)


@functools.cache
def process_metrics() -> PrometheusMetrics:
    """This process's metrics, made on first use (one set, however many apps it builds)."""
    return PrometheusMetrics()


class _Proxy(Collector):
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        return iter(self.registry.collect())


class _Stats(Collector):
    """Gauges read from the records at scrape time: the same on every instance."""

    def __init__(self, stats: Callable[[], OperationalStats]) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        try:
            figures = self.stats()
        except StorageUnavailable as error:  # the rest of the scrape is still worth having
            log.warning("metrics: the database figures are missing: %s", error.detail)
            return
        yield GaugeMetricFamily(
            "uploadcore_uploads_in_progress",
            "Uploads pending or uploading (all instances: read from the database)",
            value=figures.uploads_in_progress,
        )
        yield GaugeMetricFamily(
            "uploadcore_uploads_in_progress_bytes",
            "Sizes declared by the uploads in progress: the storage they hold once finished",
            value=figures.bytes_in_progress,
        )
        actions = CounterMetricFamily(
            "uploadcore_gc_actions",
            "What gc runs did, by kind of action (all instances: read from the database)",
            labels=["kind"],
        )
        for kind, count in sorted(figures.gc_actions.items()):
            actions.add_metric([kind], count)
        yield actions
        oldest = figures.oldest_undelivered
        age = 0.0 if oldest is None else (datetime.now(UTC) - oldest).total_seconds()
        yield GaugeMetricFamily(
            "uploadcore_webhook_oldest_undelivered_seconds",
            "Age of the oldest event a webhook delivery still waits for (0 when none waits)",
            value=max(age, 0.0),
        )


__all__ = ["CONTENT_TYPE", "MULTIPROC_DIR", "PROTOCOL", "PrometheusMetrics", "process_metrics"]
