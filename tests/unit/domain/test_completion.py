"""check_completion and the multipart etag (SPEC section 2, Completion)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from uploadcore.domain.errors import (
    EtagMismatch,
    InvalidInput,
    PartsIncomplete,
    PartSizeMismatch,
)
from uploadcore.domain.parts import (
    PartPlan,
    PartRef,
    ReceivedPart,
    check_completion,
    multipart_etag,
    normalize_etag,
)

MiB = 2**20


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def received_for(plan: PartPlan, salt: str = "") -> dict[int, ReceivedPart]:
    """Every part of the plan as storage would hold it, each with its own etag."""
    return {
        n: ReceivedPart(n, md5(f"{salt}part {n}".encode()), plan.size_of(n))
        for n in plan.part_numbers
    }


def refs_for(received: dict[int, ReceivedPart]) -> list[PartRef]:
    return [PartRef(p.part_number, p.etag) for p in received.values()]


def named_numbers(message: str) -> set[int]:
    """Part numbers a message lists after a colon, with `3-5` meaning 3, 4 and 5."""
    numbers: set[int] = set()
    for clause in message.split(";"):
        if ":" not in clause:
            continue
        for item in clause.rsplit(":", 1)[1].split(","):
            first, _, last = item.strip().partition("-")
            if first.isdigit():
                numbers.update(range(int(first), int(last or first) + 1))
    return numbers


PLAN = PartPlan(file_size=25, num_parts=3, part_size=10)
RECEIVED = received_for(PLAN)


@st.composite
def small_plans(draw: st.DrawFn, max_parts: int = 8) -> PartPlan:
    num_parts = draw(st.integers(1, max_parts))
    part_size = draw(st.integers(1, 10))
    last = draw(st.integers(1, part_size))
    return PartPlan((num_parts - 1) * part_size + last, num_parts, part_size)


plans = small_plans()

Spelling = Callable[[str], str]
SPELLINGS: list[Spelling] = [
    lambda etag: etag,
    lambda etag: f'"{etag}"',
    str.upper,
    lambda etag: f'"{etag.upper()}"',
]


# -- accepted lists ----------------------------------------------------------


def test_the_parts_in_order_are_accepted_and_returned() -> None:
    assert check_completion(PLAN, refs_for(RECEIVED), RECEIVED) == (
        RECEIVED[1],
        RECEIVED[2],
        RECEIVED[3],
    )


@given(plans, st.data())
def test_any_order_of_the_right_list_returns_the_parts_in_part_number_order(
    plan: PartPlan, data: st.DataObject
) -> None:
    received = received_for(plan)
    shuffled = data.draw(st.permutations(refs_for(received)))

    ordered = check_completion(plan, shuffled, received)

    assert ordered == tuple(received[n] for n in plan.part_numbers)


@given(plans, st.data())
def test_etags_match_quoted_or_not_and_in_any_case(plan: PartPlan, data: st.DataObject) -> None:
    received = received_for(plan)
    refs = [
        PartRef(ref.part_number, data.draw(st.sampled_from(SPELLINGS))(ref.etag))
        for ref in refs_for(received)
    ]

    assert check_completion(plan, refs, received) == tuple(received.values())


def test_a_quoted_stored_etag_matches_an_unquoted_claimed_one() -> None:
    stored = {1: ReceivedPart(1, '"ABCDEF"', 5)}

    assert check_completion(PartPlan(5, 1, 5), [PartRef(1, "abcdef")], stored) == (stored[1],)


def test_the_zero_byte_file_completes_with_its_one_empty_part() -> None:
    plan = PartPlan(0, 1, 1)
    stored = {1: ReceivedPart(1, md5(b""), 0)}

    assert check_completion(plan, [PartRef(1, md5(b""))], stored) == (stored[1],)


# -- rejected lists ----------------------------------------------------------


@given(plans, st.data())
def test_a_list_missing_parts_is_incomplete_naming_them(
    plan: PartPlan, data: st.DataObject
) -> None:
    received = received_for(plan)
    refs = refs_for(received)
    missing = data.draw(st.sets(st.sampled_from(list(plan.part_numbers)), min_size=1))
    kept = [ref for ref in refs if ref.part_number not in missing]

    with pytest.raises(PartsIncomplete) as raised:
        check_completion(plan, kept, received)
    assert missing <= named_numbers(str(raised.value))


@given(plans, st.data())
def test_a_list_naming_a_part_twice_is_incomplete_naming_it(
    plan: PartPlan, data: st.DataObject
) -> None:
    received = received_for(plan)
    refs = refs_for(received)
    twice = data.draw(st.sampled_from(refs))
    listed = data.draw(st.permutations([*refs, twice]))

    with pytest.raises(PartsIncomplete) as raised:
        check_completion(plan, listed, received)
    assert twice.part_number in named_numbers(str(raised.value))


def test_complete_rejects_a_part_listed_twice_even_with_another_missing() -> None:
    refs = [PartRef(1, RECEIVED[1].etag), PartRef(1, RECEIVED[1].etag)]
    refs.append(PartRef(3, RECEIVED[3].etag))

    with pytest.raises(PartsIncomplete) as raised:
        check_completion(PLAN, refs, RECEIVED)
    assert {1, 2} <= named_numbers(str(raised.value))


@given(plans, st.data())
def test_a_list_naming_a_part_outside_the_plan_is_incomplete_naming_it(
    plan: PartPlan, data: st.DataObject
) -> None:
    received = received_for(plan)
    outside = data.draw(
        st.one_of(st.integers(-3, 0), st.integers(plan.num_parts + 1, plan.num_parts + 10_000))
    )
    listed = data.draw(st.permutations([*refs_for(received), PartRef(outside, "0" * 32)]))

    with pytest.raises(PartsIncomplete) as raised:
        check_completion(plan, listed, received)
    assert str(outside) in str(raised.value)


@given(plans, st.data())
def test_a_list_naming_a_part_never_uploaded_is_incomplete_naming_it(
    plan: PartPlan, data: st.DataObject
) -> None:
    received = received_for(plan)
    refs = refs_for(received)
    never = data.draw(st.sets(st.sampled_from(list(plan.part_numbers)), min_size=1))
    stored = {n: part for n, part in received.items() if n not in never}

    with pytest.raises(PartsIncomplete) as raised:
        check_completion(plan, refs, stored)
    assert named_numbers(str(raised.value)) == never


@given(plans, st.data())
def test_a_wrong_etag_is_an_etag_mismatch_naming_exactly_those_parts(
    plan: PartPlan, data: st.DataObject
) -> None:
    received = received_for(plan)
    wrong = data.draw(st.sets(st.sampled_from(list(plan.part_numbers)), min_size=1))
    refs = [
        PartRef(ref.part_number, md5(b"other bytes") if ref.part_number in wrong else ref.etag)
        for ref in refs_for(received)
    ]

    with pytest.raises(EtagMismatch) as raised:
        check_completion(plan, refs, received)
    assert named_numbers(str(raised.value)) == wrong


def test_an_etag_of_a_part_with_another_number_does_not_match() -> None:
    swapped = [
        PartRef(1, RECEIVED[2].etag),
        PartRef(2, RECEIVED[1].etag),
        PartRef(3, RECEIVED[3].etag),
    ]

    with pytest.raises(EtagMismatch) as raised:
        check_completion(PLAN, swapped, RECEIVED)
    assert named_numbers(str(raised.value)) == {1, 2}


def test_an_empty_list_is_incomplete_naming_every_part() -> None:
    with pytest.raises(PartsIncomplete) as raised:
        check_completion(PLAN, [], RECEIVED)

    assert named_numbers(str(raised.value)) == {1, 2, 3}


def test_a_stored_part_of_the_wrong_size_is_not_assembled() -> None:
    stored = {**RECEIVED, 2: ReceivedPart(2, RECEIVED[2].etag, 9)}

    with pytest.raises(PartSizeMismatch) as raised:
        check_completion(PLAN, refs_for(RECEIVED), stored)
    assert named_numbers(str(raised.value)) == {2}


def test_thousands_of_missing_parts_are_named_as_a_short_range() -> None:
    plan = PartPlan(10_000 * 5 * MiB, 10_000, 5 * MiB)
    received = received_for(plan)

    with pytest.raises(PartsIncomplete) as raised:
        check_completion(plan, refs_for(received)[:2], received)
    assert named_numbers(str(raised.value)) >= set(range(3, 10_001))
    assert len(str(raised.value)) < 200


def test_completion_errors_are_invalid_input() -> None:
    assert issubclass(PartsIncomplete, InvalidInput)
    assert issubclass(EtagMismatch, InvalidInput)
    assert (PartsIncomplete.code, EtagMismatch.code) == ("parts_incomplete", "etag_mismatch")


@st.composite
def completion_attempts(
    draw: st.DrawFn,
) -> tuple[PartPlan, dict[int, ReceivedPart], list[PartRef]]:
    """A small plan, some of its parts stored, and an arbitrary list of refs."""
    plan = draw(small_plans(max_parts=4))
    received = received_for(plan)
    stored_numbers = draw(st.sets(st.sampled_from(list(plan.part_numbers))))
    stored = {n: received[n] for n in stored_numbers}
    etag_choices = st.sampled_from([md5(b"stranger"), *[p.etag for p in received.values()]])
    ref = st.builds(
        PartRef,
        part_number=st.integers(0, plan.num_parts + 1),
        etag=st.tuples(etag_choices, st.sampled_from(SPELLINGS)).map(lambda t: t[1](t[0])),
    )
    return plan, stored, draw(st.lists(ref, max_size=plan.num_parts + 2))


@given(completion_attempts())
def test_completion_accepts_exactly_the_lists_naming_every_stored_part_once(
    attempt: tuple[PartPlan, dict[int, ReceivedPart], list[PartRef]],
) -> None:
    plan, stored, refs = attempt
    numbers = sorted(ref.part_number for ref in refs)
    right = numbers == list(plan.part_numbers) and all(
        ref.part_number in stored and ref.etag.strip('"').lower() == stored[ref.part_number].etag
        for ref in refs
    )

    event("accepted" if right else "rejected")
    if right:
        assert check_completion(plan, refs, stored) == tuple(stored[n] for n in plan.part_numbers)
    else:
        with pytest.raises((PartsIncomplete, EtagMismatch)):
            check_completion(plan, refs, stored)


# -- normalize_etag ----------------------------------------------------------


@pytest.mark.parametrize("spelling", ['"abc123"', "abc123", "ABC123", '"ABC123"', ' "abc123" '])
def test_normalize_etag_drops_quotes_and_case(spelling: str) -> None:
    assert normalize_etag(spelling) == "abc123"


# -- the multipart etag ------------------------------------------------------


def test_multipart_etag_is_the_md5_of_the_binary_part_md5s_then_the_count() -> None:
    parts = [b"first part", b"second part", b"third"]
    by_hand = hashlib.md5(usedforsecurity=False)
    for part in parts:
        by_hand.update(hashlib.md5(part, usedforsecurity=False).digest())

    etag = multipart_etag([md5(part) for part in parts])

    assert etag == f"{by_hand.hexdigest()}-3"


def test_multipart_etag_of_a_known_two_part_object() -> None:
    # 5 MiB of zeros then "hello world\n", as S3 would report it; the value
    # was computed with coreutils: md5sum of each part, then md5sum of the
    # concatenated binary digests (xxd -r -p).
    parts = [bytes(5 * MiB), b"hello world\n"]

    assert [md5(part) for part in parts] == [
        "5f363e0e58a95f06cbe9bbc662c5dfb6",
        "6f5902ac237024bdd0c176cb93063dc4",
    ]
    assert multipart_etag([md5(part) for part in parts]) == "50e6b3af29bc744e07d384541ed778df-2"


def test_multipart_etag_of_one_empty_part() -> None:
    assert multipart_etag([md5(b"")]) == "59adb24ef3cdbe0297f05b395827453f-1"


def test_multipart_etag_reads_quoted_and_upper_case_part_etags() -> None:
    etags = [md5(b"a"), md5(b"b")]

    assert multipart_etag([f'"{etags[0].upper()}"', etags[1]]) == multipart_etag(etags)


def test_multipart_etag_depends_on_the_order_of_the_parts() -> None:
    etags = [md5(b"a"), md5(b"b")]

    assert multipart_etag(etags) != multipart_etag(etags[::-1])
    assert re.fullmatch(r"[0-9a-f]{32}-2", multipart_etag(etags))
