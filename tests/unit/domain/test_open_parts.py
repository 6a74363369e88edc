"""Uploads of open length filled by parts (Uppy's multipart): the completion settles the plan."""

from __future__ import annotations

import pytest

from uploadcore.domain.append import Appending, Fill, check_open_completion, settled_plan
from uploadcore.domain.errors import EtagMismatch, FileTooLarge, PartPlanMismatch, PartsIncomplete
from uploadcore.domain.parts import PartLimits, PartPlan, PartRef, ReceivedPart

LIMITS = PartLimits(max_file_size=100, min_part_size=10, max_parts=5)


def received(*sizes: int) -> dict[int, ReceivedPart]:
    return {n: ReceivedPart(n, f"{n:032x}", size) for n, size in enumerate(sizes, start=1)}


def refs(*numbers: int, quoted: bool = False) -> list[PartRef]:
    return [PartRef(n, f'"{n:032x}"' if quoted else f"{n:032x}") for n in numbers]


def test_an_open_upload_keeps_its_fill_and_its_limit() -> None:
    appending = Appending.open(Fill.PARTS, 42)

    assert (appending.fill, appending.limit, appending.length, appending.offset) == (
        Fill.PARTS, 42, None, 0,
    )  # fmt: skip


def test_the_completion_settles_the_plan_in_part_number_order() -> None:
    ordered, plan = check_open_completion(refs(2, 1, 3, quoted=True), received(10, 10, 4), LIMITS)

    assert [p.part_number for p in ordered] == [1, 2, 3]
    assert plan == PartPlan(24, 3, 10)


@pytest.mark.parametrize(
    ("named", "error"),
    [
        ([1, 3], PartsIncomplete),  # 2 is missing
        ([1, 1, 2], PartsIncomplete),  # named twice
        ([1, 2, 3, 4], PartsIncomplete),  # 4 never uploaded
        ([], PartsIncomplete),
    ],
)
def test_the_list_must_name_parts_one_to_n_once_each(
    named: list[int], error: type[Exception]
) -> None:
    with pytest.raises(error):
        check_open_completion(refs(*named), received(10, 10, 4), LIMITS)


def test_an_etag_not_the_part_s_is_refused() -> None:
    with pytest.raises(EtagMismatch):
        check_open_completion([PartRef(1, "0" * 32)], received(10), LIMITS)


def test_every_part_but_the_last_needs_the_minimum_and_the_total_the_limit() -> None:
    with pytest.raises(PartPlanMismatch):
        check_open_completion(refs(1, 2), received(9, 10), LIMITS)
    with pytest.raises(FileTooLarge):
        check_open_completion(refs(1, 2), received(60, 41), LIMITS)


def test_a_settled_plan_names_the_largest_part() -> None:
    assert settled_plan([10, 10, 3]) == PartPlan(23, 3, 10)
    assert settled_plan([0]) == PartPlan(0, 1, 1)
