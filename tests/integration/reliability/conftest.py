"""Reliability tests: races, crashes and faults against real servers and real disks."""

from __future__ import annotations

import pytest
from tests.integration.tally import report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    report(terminalreporter, "reliability")
