"""PartPlan.checked and the part sizes it promises (SPEC section 2)."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from uploadcore.domain.errors import (
    FileTooLarge,
    InvalidInput,
    PartPlanMismatch,
    PartSizeMismatch,
    PartTooLarge,
    UploadcoreError,
)
from uploadcore.domain.parts import PartLimits, PartPlan

MiB = 2**20
GiB = 2**30
LIMITS = PartLimits()  # the SPEC defaults: 5 GiB files, 5 MiB parts, 10,000 parts


def spec_verdict(
    file_size: int, num_parts: int, part_size: int, limits: PartLimits
) -> type[UploadcoreError] | None:
    """The error SPEC section 2 asks for, or None for a valid plan.

    Written from the SPEC's words, not from the code: a plan is valid when
    `num_parts` is the number of `part_size` pieces the file needs (at least
    one, for the zero-byte file).
    """
    if file_size > limits.max_file_size:
        return FileTooLarge
    if file_size < 0 or not 1 <= num_parts <= limits.max_parts:
        return PartPlanMismatch
    if not 1 <= part_size <= limits.max_part_size:
        return PartPlanMismatch
    if num_parts > 1 and part_size < limits.min_part_size:
        return PartPlanMismatch
    pieces_needed = max(1, -(-file_size // part_size))
    return None if num_parts == pieces_needed else PartPlanMismatch


def plan_error(file_size: int, num_parts: int, part_size: int, limits: PartLimits) -> str:
    """The message of the PartPlanMismatch the plan raises."""
    with pytest.raises(PartPlanMismatch) as raised:
        PartPlan.checked(file_size, num_parts, part_size, limits)
    return str(raised.value)


# -- examples, one per rule ----------------------------------------------


def test_a_plan_that_adds_up_is_accepted_as_given() -> None:
    plan = PartPlan.checked(12 * MiB, 3, 5 * MiB, LIMITS)

    assert plan == PartPlan(file_size=12 * MiB, num_parts=3, part_size=5 * MiB)
    assert [plan.size_of(n) for n in plan.part_numbers] == [5 * MiB, 5 * MiB, 2 * MiB]


def test_a_file_over_the_maximum_is_too_large_and_the_message_names_both_numbers() -> None:
    with pytest.raises(FileTooLarge) as raised:
        PartPlan.checked(5 * GiB + 1, 1025, 5 * MiB, LIMITS)

    assert str(5 * GiB + 1) in str(raised.value)
    assert "the maximum of 5 GiB (5368709120 bytes)" in str(raised.value)


@pytest.mark.parametrize(
    ("num_parts", "part_size"),
    [(0, 0), (-1, -1), (10_001, 1), (1, 0), (2, 6 * GiB), (1, 5 * GiB + 1)],
)
def test_file_too_large_is_checked_before_every_other_rule(num_parts: int, part_size: int) -> None:
    with pytest.raises(FileTooLarge):
        PartPlan.checked(6 * GiB, num_parts, part_size, LIMITS)


def test_a_file_of_exactly_the_maximum_size_is_not_too_large() -> None:
    plan = PartPlan.checked(5 * GiB, 1024, 5 * MiB, LIMITS)

    assert plan.size_of(1024) == 5 * MiB


def test_the_maximum_file_size_comes_from_the_limits() -> None:
    limits = PartLimits(max_file_size=100)

    with pytest.raises(FileTooLarge):
        PartPlan.checked(101, 1, 101, limits)
    assert PartPlan.checked(100, 1, 100, limits).file_size == 100


def test_a_zero_byte_file_is_one_empty_part() -> None:
    plan = PartPlan.checked(0, 1, 1, LIMITS)

    assert list(plan.part_numbers) == [1]
    assert plan.size_of(1) == 0


@pytest.mark.parametrize(("num_parts", "part_size"), [(0, 5 * MiB), (2, 5 * MiB), (1, 0)])
def test_a_zero_byte_file_needs_exactly_one_part_of_at_least_one_byte(
    num_parts: int, part_size: int
) -> None:
    with pytest.raises(PartPlanMismatch):
        PartPlan.checked(0, num_parts, part_size, LIMITS)


def test_a_negative_file_size_is_rejected_naming_it() -> None:
    assert "-1" in plan_error(-1, 1, 1, LIMITS)


@pytest.mark.parametrize("num_parts", [0, -3, 10_001])
def test_num_parts_outside_one_to_max_parts_is_rejected_naming_it(num_parts: int) -> None:
    message = plan_error(10 * MiB, num_parts, 5 * MiB, LIMITS)

    assert str(num_parts) in message
    assert "10000" in message


def test_exactly_max_parts_is_accepted() -> None:
    limits = PartLimits(max_file_size=50_000 * MiB)

    plan = PartPlan.checked(50_000 * MiB, 10_000, 5 * MiB, limits)

    assert plan.num_parts == 10_000


def test_max_parts_comes_from_the_limits() -> None:
    limits = PartLimits(min_part_size=1, max_parts=3)

    assert PartPlan.checked(3, 3, 1, limits).num_parts == 3
    assert "4" in plan_error(4, 4, 1, limits)


@pytest.mark.parametrize("part_size", [0, -1])
def test_part_size_below_one_byte_is_rejected_naming_it(part_size: int) -> None:
    assert str(part_size) in plan_error(0, 1, part_size, LIMITS)


def test_parts_below_the_minimum_size_are_rejected_when_there_are_several() -> None:
    message = plan_error(10 * MiB - 2, 2, 5 * MiB - 1, LIMITS)

    assert str(5 * MiB - 1) in message
    assert "the minimum of 5 MiB (5242880 bytes)" in message


def test_a_single_part_may_be_smaller_than_the_minimum_part_size() -> None:
    plan = PartPlan.checked(10, 1, 10, LIMITS)

    assert plan.size_of(1) == 10


def test_a_single_part_may_be_larger_than_the_file() -> None:
    plan = PartPlan.checked(10, 1, 5 * MiB, LIMITS)

    assert plan.size_of(1) == 10


def test_a_single_part_smaller_than_the_file_is_rejected_naming_both_numbers() -> None:
    message = plan_error(10 * MiB, 1, 5 * MiB, LIMITS)

    assert str(10 * MiB) in message
    assert str(5 * MiB) in message


def test_part_size_above_five_gib_is_rejected_naming_it() -> None:
    limits = PartLimits(max_file_size=20 * GiB)

    message = plan_error(6 * GiB, 1, 5 * GiB + 1, limits)

    assert str(5 * GiB + 1) in message
    assert "the maximum of 5 GiB (5368709120 bytes)" in message


def test_part_size_of_exactly_five_gib_is_accepted() -> None:
    limits = PartLimits(max_file_size=20 * GiB)

    assert PartPlan.checked(15 * GiB, 3, 5 * GiB, limits).size_of(3) == 5 * GiB


def test_a_last_part_of_one_byte_is_accepted() -> None:
    plan = PartPlan.checked(10 * MiB + 1, 3, 5 * MiB, LIMITS)

    assert plan.size_of(3) == 1


def test_a_last_part_as_large_as_the_others_is_accepted() -> None:
    plan = PartPlan.checked(15 * MiB, 3, 5 * MiB, LIMITS)

    assert plan.size_of(3) == 5 * MiB


def test_too_many_parts_for_the_file_are_rejected_naming_the_numbers() -> None:
    # Three parts of 5 MiB leave nothing for the last part of a 10 MiB file.
    message = plan_error(10 * MiB, 3, 5 * MiB, LIMITS)

    for number in (10 * MiB, 3, 5 * MiB, 0):
        assert str(number) in message


def test_too_few_parts_for_the_file_are_rejected_naming_the_numbers() -> None:
    # Two parts of 5 MiB would need a last part of 5 MiB + 1 byte.
    message = plan_error(10 * MiB + 1, 2, 5 * MiB, LIMITS)

    for number in (10 * MiB + 1, 2, 5 * MiB, 5 * MiB + 1):
        assert str(number) in message


def test_plan_errors_are_invalid_input_and_too_large_is_not() -> None:
    assert issubclass(PartPlanMismatch, InvalidInput)
    assert not issubclass(FileTooLarge, InvalidInput)
    assert PartPlanMismatch.code == "part_plan_mismatch"
    assert FileTooLarge.code == "file_too_large"


# -- properties ------------------------------------------------------------


@st.composite
def small_limits(draw: st.DrawFn) -> PartLimits:
    """Limits small enough that random numbers often land on both sides of each rule."""
    min_part_size = draw(st.integers(1, 16))
    return PartLimits(
        max_file_size=draw(st.integers(0, 400)),
        min_part_size=min_part_size,
        max_parts=draw(st.integers(1, 12)),
        max_part_size=draw(st.integers(min_part_size, 64)),
    )


@st.composite
def valid_plans(draw: st.DrawFn) -> tuple[PartLimits, int, int, int]:
    """A valid (limits, file_size, num_parts, part_size), built part by part."""
    limits = draw(small_limits())
    num_parts = draw(st.integers(1, limits.max_parts))
    if num_parts == 1:
        file_size = draw(st.integers(0, min(limits.max_file_size, limits.max_part_size)))
        part_size = draw(st.integers(max(file_size, 1), limits.max_part_size))
        return limits, file_size, num_parts, part_size
    part_size = draw(st.integers(limits.min_part_size, limits.max_part_size))
    last = draw(st.integers(1, part_size))
    file_size = (num_parts - 1) * part_size + last
    limits = PartLimits(
        max_file_size=max(file_size, limits.max_file_size),
        min_part_size=limits.min_part_size,
        max_parts=limits.max_parts,
        max_part_size=limits.max_part_size,
    )
    return limits, file_size, num_parts, part_size


@given(valid_plans())
def test_every_valid_plan_is_accepted(case: tuple[PartLimits, int, int, int]) -> None:
    limits, file_size, num_parts, part_size = case

    plan = PartPlan.checked(file_size, num_parts, part_size, limits)

    assert (plan.file_size, plan.num_parts, plan.part_size) == (file_size, num_parts, part_size)


@given(valid_plans())
def test_a_valid_plans_parts_follow_the_spec_and_add_up_to_the_file(
    case: tuple[PartLimits, int, int, int],
) -> None:
    limits, file_size, num_parts, part_size = case
    plan = PartPlan.checked(file_size, num_parts, part_size, limits)

    sizes = [plan.size_of(n) for n in plan.part_numbers]

    assert len(sizes) == num_parts
    assert sum(sizes) == file_size
    assert all(size == part_size for size in sizes[:-1])
    assert 1 <= sizes[-1] <= part_size or (file_size == 0 and sizes == [0])
    assert all(size <= limits.max_part_size for size in sizes)


@given(
    file_size=st.integers(0, 5 * GiB + 1),
    part_size=st.integers(5 * MiB - 1, 5 * GiB + 1),
    off_by=st.integers(-1, 1),
)
@example(file_size=5 * GiB, part_size=5 * MiB, off_by=0)
@example(file_size=0, part_size=5 * MiB, off_by=0)
def test_real_limits_accept_a_plan_exactly_when_the_spec_does(
    file_size: int, part_size: int, off_by: int
) -> None:
    # Near the count of parts the file needs, so both verdicts come up often.
    num_parts = max(1, -(-file_size // part_size)) + off_by
    expected = spec_verdict(file_size, num_parts, part_size, LIMITS)

    if expected is None:
        plan = PartPlan.checked(file_size, num_parts, part_size, LIMITS)
        assert sum(plan.size_of(n) for n in plan.part_numbers) == file_size
    else:
        with pytest.raises(UploadcoreError) as raised:
            PartPlan.checked(file_size, num_parts, part_size, LIMITS)
        assert type(raised.value) is expected


@given(
    limits=small_limits(),
    file_size=st.integers(-2, 410),
    num_parts=st.integers(-1, 14),
    part_size=st.integers(-1, 70),
)
def test_any_triple_is_accepted_exactly_when_the_spec_says_so(
    limits: PartLimits, file_size: int, num_parts: int, part_size: int
) -> None:
    expected = spec_verdict(file_size, num_parts, part_size, limits)

    if expected is None:
        PartPlan.checked(file_size, num_parts, part_size, limits)
    else:
        with pytest.raises(UploadcoreError) as raised:
            PartPlan.checked(file_size, num_parts, part_size, limits)
        assert type(raised.value) is expected


@given(valid_plans(), st.integers(-5, 5))
def test_part_numbers_outside_the_plan_have_no_size(
    case: tuple[PartLimits, int, int, int], offset: int
) -> None:
    limits, file_size, num_parts, part_size = case
    plan = PartPlan.checked(file_size, num_parts, part_size, limits)
    outside = offset if offset < 1 else num_parts + offset

    with pytest.raises(InvalidInput) as raised:
        plan.size_of(outside)
    assert str(outside) in str(raised.value)


# -- a received part against its plan --------------------------------------

PLAN = PartPlan(file_size=25, num_parts=3, part_size=10)  # parts of 10, 10 and 5 bytes


@pytest.mark.parametrize(("part_number", "size"), [(1, 10), (2, 10), (3, 5)])
def test_a_part_of_exactly_its_planned_size_is_accepted(part_number: int, size: int) -> None:
    PLAN.check_received_size(part_number, size)

    assert PLAN.size_of(part_number) == size


@pytest.mark.parametrize(("part_number", "size"), [(1, 9), (1, 0), (3, 4)])
def test_a_part_shorter_than_planned_is_a_size_mismatch_naming_the_numbers(
    part_number: int, size: int
) -> None:
    with pytest.raises(PartSizeMismatch) as raised:
        PLAN.check_received_size(part_number, size)

    assert str(size) in str(raised.value)
    assert str(PLAN.size_of(part_number)) in str(raised.value)


@pytest.mark.parametrize(("part_number", "size"), [(1, 11), (3, 6), (3, 10)])
def test_a_part_longer_than_planned_is_too_large(part_number: int, size: int) -> None:
    with pytest.raises(PartTooLarge) as raised:
        PLAN.check_received_size(part_number, size)

    assert str(PLAN.size_of(part_number)) in str(raised.value)


def test_a_received_size_for_a_part_outside_the_plan_is_rejected() -> None:
    with pytest.raises(InvalidInput):
        PLAN.check_received_size(4, 5)
