"""What every benchmark shares: interleaved rounds, ratios, result rows, disk checks."""

from __future__ import annotations

import shutil
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

MiB = 1024 * 1024
GiB = 1024 * MiB


@dataclass(frozen=True)
class Context:
    """What the command line chose: rounds per benchmark and a scratch directory."""

    rounds: int
    scratch: Path


@dataclass(frozen=True)
class Row:
    """One line of the result table."""

    benchmark: str
    uploadcore: str
    yardstick: str
    ratio: str
    target: str
    passed: bool | None  # None: an in-process diagnosis row, shown for information only


class BenchError(RuntimeError):
    """A benchmark could not run (setup failed, a request failed, a server died)."""


def progress(message: str) -> None:
    """Progress goes to stderr, so stdout carries only the table."""
    print(f"  {message}", file=sys.stderr, flush=True)


def interleave(
    rounds: int, contenders: Sequence[tuple[str, Callable[[], float]]]
) -> dict[str, list[float]]:
    """Run every contender once per round, in order (A B A B ...); collect their figures.

    Each contender does its own untimed preparation and cleanup and returns
    only what it measured.
    """
    figures: dict[str, list[float]] = {name: [] for name, _ in contenders}
    for round_number in range(1, rounds + 1):
        line = []
        for name, run in contenders:
            value = run()
            figures[name].append(value)
            line.append(f"{name}={value:.4g}")
        progress(f"round {round_number}/{rounds}: " + " ".join(line))
    return figures


def median_ratio(numerators: Sequence[float], denominators: Sequence[float]) -> float:
    """The median of the per-round ratios (pairs measured next to each other)."""
    return statistics.median(a / b for a, b in zip(numerators, denominators, strict=True))


def median_difference(first: Sequence[float], second: Sequence[float]) -> float:
    return statistics.median(a - b for a, b in zip(first, second, strict=True))


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def throughput(size: int, seconds: Sequence[float]) -> list[float]:
    """MiB/s for each timing."""
    return [size / MiB / s for s in seconds]


def check_free_space(path: Path, needed: int, what: str) -> None:
    free = shutil.disk_usage(path).free
    if free < needed:
        raise BenchError(
            f"{what} needs {needed / GiB:.1f} GiB free under {path}, "
            f"only {free / GiB:.1f} GiB is free (choose another place with --dir)"
        )


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `condition` every 50 ms for at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise BenchError(f"timed out after {timeout:.0f} s waiting for {what}")


def format_table(rows: Sequence[Row]) -> str:
    header = ("benchmark", "uploadcore", "yardstick", "ratio", "target", "result")
    lines = [
        (r.benchmark, r.uploadcore, r.yardstick, r.ratio, r.target, _result(r.passed)) for r in rows
    ]
    widths = [max(len(str(line[i])) for line in [header, *lines]) for i in range(len(header))]
    rule = "-+-".join("-" * w for w in widths)

    def render(cells: Sequence[str]) -> str:
        return " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([render(header), rule, *(render(line) for line in lines)])


def _result(passed: bool | None) -> str:
    return "info" if passed is None else "pass" if passed else "FAIL"
