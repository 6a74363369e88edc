"""Staging appended bytes for a store that joins parts: part sizes, when a tail goes, the tail."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from uploadcore.domain.append import Appending
from uploadcore.domain.parts import PartLimits
from uploadcore.domain.staging import flushes_tail, part_size

MiB = 1024 * 1024
LIMITS = PartLimits(max_file_size=5 * 1024 * MiB, min_part_size=5 * MiB, max_parts=10_000)


def test_parts_are_the_preferred_size_unless_the_upload_needs_bigger() -> None:
    assert part_size(1024 * MiB, LIMITS, 16 * MiB) == 16 * MiB
    assert part_size(1024 * MiB, LIMITS) == 5 * MiB
    assert part_size(10_000 * 64 * MiB + 1, LIMITS, 16 * MiB) == 64 * MiB + 1


@given(st.integers(0, 2**44), st.integers(0, 64 * MiB))
def test_max_parts_full_parts_hold_the_most_an_upload_may_hold(most: int, preferred: int) -> None:
    size = part_size(most, LIMITS, preferred)
    assert size >= LIMITS.min_part_size
    assert size * LIMITS.max_parts >= most


def test_a_tail_under_the_part_minimum_waits() -> None:
    assert not flushes_tail(5 * MiB - 1, 0, 100 * MiB, 16 * MiB, LIMITS)
    assert flushes_tail(5 * MiB, 0, 100 * MiB, 16 * MiB, LIMITS)


def test_a_tail_waits_when_the_parts_left_could_not_hold_the_rest() -> None:
    few = PartLimits(max_file_size=LIMITS.max_file_size, min_part_size=5 * MiB, max_parts=4)
    assert flushes_tail(6 * MiB, 1, 32 * MiB, 16 * MiB, few)  # 1 + 1 + 2 parts
    assert not flushes_tail(6 * MiB, 1, 32 * MiB + 1, 16 * MiB, few)


def test_an_instance_without_the_tail_sees_the_upload_end_where_storage_does() -> None:
    appending = Appending(offset=0, length=100).kept(30, 10, "t1")

    assert (appending.stored, appending.staged, appending.tail) == (20, 10, "t1")
    assert appending.without_tail() == Appending(offset=20, length=100)


def test_a_tail_cannot_hold_bytes_already_in_storage() -> None:
    appending = Appending(offset=20, length=100, staged=5, tail="t1")  # 15 in storage

    with pytest.raises(ValueError, match="do not fit"):
        appending.kept(30, 16, "t2")
    assert appending.kept(30, 15, "t2").stored == 15
    assert appending.kept(30, 0, "t2").tail == ""
