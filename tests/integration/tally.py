"""Counts the reliability and security tests keep, shown at the end of a run.

Each conftest that uses it prints its own section in pytest's terminal
summary: cases run, requests sent, faults injected, kills survived.
"""

from __future__ import annotations

from collections import Counter

import pytest

TALLY: Counter[str] = Counter()


def count(name: str, amount: int = 1) -> None:
    """Add `amount` to the count `name` ("reliability: kills survived", ...)."""
    TALLY[name] += amount


def report(terminalreporter: pytest.TerminalReporter, section: str) -> None:
    """Write the counts whose names start with `section:` under a heading of that name."""
    prefix = f"{section}: "
    lines = [
        f"{name.removeprefix(prefix)}: {value}"
        for name, value in sorted(TALLY.items())
        if name.startswith(prefix)
    ]
    if lines:
        terminalreporter.write_sep("-", f"{section} counts")
        for line in lines:
            terminalreporter.write_line(line)
