"""A progress bar with rate and time left (rich, on stderr), or nothing at all."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from rich.progress import ProgressColumn


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


MiB = 1024 * 1024


class BarProgress:
    """rich's bar on stderr: name, bar, MiB sent of total, MiB/s, time left.

    One unit family throughout (MiB and MiB/s), and the rate counts only what
    this run sends: the parts a resumed upload finds on the server start the
    bar (`done`) without counting as speed.
    """

    def __init__(self, description: str, total: int, done: int = 0) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, TextColumn, TimeRemainingColumn
        from rich.progress import Progress as RichProgress

        sent, rate = _mib_columns()
        self._bar = RichProgress(
            TextColumn("{task.description}"), BarColumn(), sent, rate, TimeRemainingColumn(),
            console=Console(stderr=True),
        )  # fmt: skip
        # `completed` rather than an advance: rich counts advances, and only them, as speed.
        self._task = self._bar.add_task(description, total=total, completed=done)

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


def sent_text(sent: int, total: int) -> str:
    """`3.0/12.0 MiB`: both in MiB, whatever their size."""
    return f"{sent / MiB:.1f}/{total / MiB:.1f} MiB"


def rate_text(bytes_per_second: float | None) -> str:
    """`1.5 MiB/s`, or `? MiB/s` before there is a rate to show."""
    return "? MiB/s" if bytes_per_second is None else f"{bytes_per_second / MiB:.1f} MiB/s"


def _mib_columns() -> tuple[ProgressColumn, ProgressColumn]:
    """rich columns for `sent_text` and `rate_text` (rich loads for the bar only)."""
    from rich.progress import ProgressColumn, Task
    from rich.text import Text

    class Sent(ProgressColumn):
        def render(self, task: Task) -> Text:
            return Text(sent_text(int(task.completed), int(task.total or 0)), "progress.download")

    class Rate(ProgressColumn):
        def render(self, task: Task) -> Text:
            return Text(rate_text(task.speed), "progress.data.speed")

    return Sent(), Rate()
