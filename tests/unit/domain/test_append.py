"""The appending model: offsets, a length declared once, the limit at the first byte past it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from uploadcore.domain.append import Appending, Concat, check_open_parts
from uploadcore.domain.errors import (
    FileTooLarge,
    InvalidInput,
    OffsetMismatch,
    PartPlanMismatch,
)
from uploadcore.domain.parts import PartLimits

LIMIT = 100


def test_a_length_past_the_limit_creates_nothing() -> None:
    with pytest.raises(FileTooLarge):
        Appending.started(LIMIT + 1, LIMIT)


def test_appends_go_exactly_where_the_held_bytes_end() -> None:
    appending = Appending.started(10, LIMIT).advanced(4)

    appending.check_offset(4)
    with pytest.raises(OffsetMismatch):
        appending.check_offset(3)


def test_a_deferred_length_is_declared_once_and_never_below_what_is_held() -> None:
    appending = Appending.started(None, LIMIT).advanced(5)

    assert appending.with_length(8, LIMIT).length == 8
    assert appending.with_length(8, LIMIT).with_length(8, LIMIT).length == 8
    with pytest.raises(InvalidInput):
        appending.with_length(8, LIMIT).with_length(9, LIMIT)
    with pytest.raises(InvalidInput):
        appending.with_length(4, LIMIT)
    with pytest.raises(FileTooLarge):
        appending.with_length(LIMIT + 1, LIMIT)


@given(st.integers(0, LIMIT), st.one_of(st.none(), st.integers(0, LIMIT)))
def test_the_room_never_lets_an_upload_pass_its_length_or_the_limit(
    held: int, length: int | None
) -> None:
    if length is not None and held > length:
        return
    appending = Appending(held, length)
    assert held + appending.room(LIMIT) == (LIMIT if length is None else length)
    with pytest.raises(FileTooLarge):
        appending.check_room(appending.room(LIMIT) + 1, LIMIT)


def test_a_final_concatenation_takes_only_finished_partials() -> None:
    done = Appending(3, 3, concat=Concat.PARTIAL)
    open_ = Appending(1, 3, concat=Concat.PARTIAL)

    final = Appending.concatenated([("a", done), ("b", done)], LIMIT)
    assert (final.offset, final.length, final.partials) == (6, 6, ("a", "b"))
    with pytest.raises(InvalidInput):
        Appending.concatenated([("a", done), ("b", open_)], LIMIT)
    with pytest.raises(OffsetMismatch):
        final.check_offset(6)


def test_open_parts_need_the_minimum_size_but_the_last() -> None:
    limits = PartLimits(max_file_size=100, min_part_size=10, max_parts=3)

    assert check_open_parts([10, 10, 1], limits) == 21
    with pytest.raises(PartPlanMismatch):
        check_open_parts([10, 9, 1], limits)
    with pytest.raises(PartPlanMismatch):
        check_open_parts([10] * 4, limits)
    with pytest.raises(FileTooLarge):
        check_open_parts([60, 41], limits)
