"""A progress bar with rate and time left (rich, on stderr), or nothing at all."""

from __future__ import annotations

from types import TracebackType
from typing import Protocol


class Progress(Protocol):
    """Bytes sent so far; `advance` is called from several threads at once."""

    def advance(self, count: int) -> None: ...

    def __enter__(self) -> Progress: ...

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None: ...


class NoProgress:
    """For scripts: no bar (stderr is not a terminal, or `--json`)."""

    def advance(self, count: int) -> None:
        pass

    def __enter__(self) -> NoProgress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        pass


class BarProgress:
    """rich's bar on stderr: name, bar, bytes sent of total, rate, time left."""

    def __init__(self, description: str, total: int) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )
        from rich.progress import Progress as RichProgress

        self._bar = RichProgress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(binary_units=True),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self._task = self._bar.add_task(description, total=total)

    def advance(self, count: int) -> None:
        self._bar.advance(self._task, count)  # rich takes its own lock: safe from any thread

    def __enter__(self) -> BarProgress:
        self._bar.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._bar.stop()
