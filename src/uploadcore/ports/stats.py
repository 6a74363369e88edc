"""What an operator's dashboards read from the records: work in progress, the outbox's lag."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class OperationalStats:
    """The state of every instance at once, as the shared records hold it."""

    uploads_in_progress: int  # pending or uploading, not being deleted
    bytes_in_progress: int  # the sizes those uploads declared (what they will hold)
    oldest_undelivered: datetime | None  # the oldest event a webhook delivery still waits for
    gc_actions: Mapping[str, int] = field(default_factory=dict)  # running totals, by kind


@runtime_checkable
class ReportsStats(Protocol):
    def operational_stats(self) -> OperationalStats:
        """The figures, read in a few cheap queries (indexed; no scan of finished uploads).

        Raises StorageUnavailable if the records cannot be read.
        """


@runtime_checkable
class CountsGcActions(Protocol):
    def add_gc_actions(self, counts: Mapping[str, int]) -> None:
        """Add to the running totals of gc's actions, by kind; atomic per kind.

        Safe from several gc processes at once. Raises StorageUnavailable if the
        records cannot be written (nothing is added then).
        """
