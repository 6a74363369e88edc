"""The part plan, completion checks and the multipart etag."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from uploadcore.domain.errors import (
    EtagMismatch,
    FieldError,
    FileTooLarge,
    InvalidInput,
    PartPlanMismatch,
    PartsIncomplete,
    PartSizeMismatch,
    PartTooLarge,
)
from uploadcore.domain.sizes import size_text

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB


@dataclass(frozen=True)
class PartLimits:
    """The limits a part plan is checked against, built from settings."""

    max_file_size: int = 5 * GiB
    min_part_size: int = 5 * MiB
    max_parts: int = 10_000
    max_part_size: int = 5 * GiB


@dataclass(frozen=True)
class ReceivedPart:
    """A part that storage holds: its number, the hex md5 of its bytes, its size."""

    part_number: int
    etag: str
    size: int


@dataclass(frozen=True)
class PartRef:
    """A part as a client names it when completing."""

    part_number: int
    etag: str


@dataclass(frozen=True)
class PartPlan:
    """The exact size of every part of an upload.

    Build one with `PartPlan.checked`, which enforces the rules of a plan (every
    part but the last is `part_size` bytes, the last 1 to `part_size`; at most
    `max_parts` parts; `part_size` at least `min_part_size` when there are several
    and at most 5 GiB; `file_size` within `max_file_size`, checked first); the
    plain constructor trusts its arguments (values read back from storage).
    """

    file_size: int
    num_parts: int
    part_size: int

    @classmethod
    def checked(
        cls, file_size: int, num_parts: int, part_size: int, limits: PartLimits
    ) -> PartPlan:
        """Return the plan, or raise FileTooLarge (checked first) or PartPlanMismatch."""
        if file_size > limits.max_file_size:
            raise FileTooLarge(
                f"file_size {file_size} exceeds the maximum of {size_text(limits.max_file_size)}"
            )
        _check_ranges(file_size, num_parts, part_size, limits)
        last = file_size - (num_parts - 1) * part_size
        if num_parts == 1:
            if part_size < file_size:
                raise PartPlanMismatch(
                    f"with num_parts 1, part_size {part_size} must be at least "
                    f"file_size {file_size}"
                )
        elif not 1 <= last <= part_size:
            raise PartPlanMismatch(
                f"{num_parts} parts of {part_size} bytes do not make {file_size} bytes: "
                f"the last part would be {last} bytes, not between 1 and {part_size}"
            )
        return cls(file_size, num_parts, part_size)

    @property
    def part_numbers(self) -> range:
        return range(1, self.num_parts + 1)

    def size_of(self, part_number: int) -> int:
        """The planned size of one part; InvalidInput for a number outside the plan."""
        self.check_part_number(part_number)
        if part_number < self.num_parts:
            return self.part_size
        return self.file_size - (self.num_parts - 1) * self.part_size

    def check_part_number(self, part_number: int) -> None:
        if not 1 <= part_number <= self.num_parts:
            raise InvalidInput(f"part number {part_number} is outside 1..{self.num_parts}")

    def checked_part_numbers(self, numbers: Iterable[int]) -> tuple[int, ...]:
        """The distinct part numbers asked for, ascending; InvalidInput naming any outside."""
        wanted = sorted(set(numbers))
        outside = [n for n in wanted if not 1 <= n <= self.num_parts]
        if outside:
            message = f"part numbers outside 1..{self.num_parts}: {_ranges(outside)}"
            raise InvalidInput(message, errors=(FieldError("part_numbers", message),))
        return tuple(wanted)

    def check_received_size(self, part_number: int, received: int) -> None:
        """Raise PartSizeMismatch (short) or PartTooLarge (long) unless exact."""
        planned = self.size_of(part_number)
        if received > planned:
            raise PartTooLarge(f"part {part_number} is larger than its planned {planned} bytes")
        if received < planned:
            raise PartSizeMismatch(
                f"part {part_number} has {received} bytes, planned {planned} bytes"
            )


def _check_ranges(file_size: int, num_parts: int, part_size: int, limits: PartLimits) -> None:
    if file_size < 0:
        raise PartPlanMismatch(f"file_size {file_size} is negative")
    if not 1 <= num_parts <= limits.max_parts:
        raise PartPlanMismatch(f"num_parts {num_parts} is outside 1..{limits.max_parts}")
    if part_size < 1:
        raise PartPlanMismatch(f"part_size {part_size} must be at least 1")
    if part_size > limits.max_part_size:
        raise PartPlanMismatch(
            f"part_size {part_size} exceeds the maximum of {size_text(limits.max_part_size)}"
        )
    if num_parts > 1 and part_size < limits.min_part_size:
        raise PartPlanMismatch(
            f"part_size {part_size} is below the minimum of {size_text(limits.min_part_size)} "
            f"for an upload of {num_parts} parts"
        )


def normalize_etag(etag: str) -> str:
    """An etag without surrounding quotes, lower case: `"ABC"` and `abc` compare equal."""
    etag = etag.strip()
    if len(etag) >= 2 and etag[0] == etag[-1] == '"':
        etag = etag[1:-1]
    return etag.lower()


def check_completion(
    plan: PartPlan, claimed: Sequence[PartRef], received: Mapping[int, ReceivedPart]
) -> tuple[ReceivedPart, ...]:
    """Check a completion list against the parts storage holds.

    Returns the parts to assemble, in part-number order. Raises PartsIncomplete
    naming missing, duplicate, out-of-range or never-uploaded parts, and
    EtagMismatch naming parts whose etag differs from the stored one.
    """
    numbers = [ref.part_number for ref in claimed]
    _check_numbering(plan, numbers)
    never = sorted(n for n in numbers if n not in received)
    if never:
        raise PartsIncomplete(f"parts never uploaded: {_ranges(never)}")
    wrong = sorted(
        ref.part_number
        for ref in claimed
        if normalize_etag(ref.etag) != normalize_etag(received[ref.part_number].etag)
    )
    if wrong:
        raise EtagMismatch(f"etag does not match the uploaded part for parts: {_ranges(wrong)}")
    ordered = tuple(received[n] for n in plan.part_numbers)
    bad_size = [p.part_number for p in ordered if p.size != plan.size_of(p.part_number)]
    if bad_size:
        raise PartSizeMismatch(f"stored size differs from the plan for parts: {_ranges(bad_size)}")
    return ordered


def _check_numbering(plan: PartPlan, numbers: Sequence[int]) -> None:
    seen: set[int] = set()
    duplicates: set[int] = set()
    for n in numbers:
        (duplicates if n in seen else seen).add(n)
    problems = []
    outside = sorted(n for n in seen if not 1 <= n <= plan.num_parts)
    if outside:
        problems.append(f"outside 1..{plan.num_parts}: {_ranges(outside)}")
    if duplicates:
        problems.append(f"listed more than once: {_ranges(sorted(duplicates))}")
    missing = [n for n in plan.part_numbers if n not in seen]
    if missing:
        problems.append(f"missing: {_ranges(missing)}")
    if problems:
        raise PartsIncomplete(
            "completion must name every part exactly once; " + "; ".join(problems)
        )


def _ranges(numbers: Iterable[int]) -> str:
    """`1, 3-5, 9` for [1, 3, 4, 5, 9]: short even for thousands of parts.

    At most `_MAX_SPANS` spans are named, then how many more there are, so a
    hostile list (every other number of 10**5) never makes a megabyte message.
    """
    spans: list[list[int]] = []
    for n in numbers:
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    text = ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans[:_MAX_SPANS])
    if len(spans) > _MAX_SPANS:
        text += f" and {len(spans) - _MAX_SPANS} more"
    return text


_MAX_SPANS = 20


def multipart_etag(part_etags: Sequence[str]) -> str:
    """S3's etag of a multipart object: md5 of the binary part md5s, then `-N`.

    Raises EtagMismatch for an etag that is not hexadecimal: no part has one, and
    an etag may come from a client.
    """
    digest = hashlib.md5(usedforsecurity=False)
    for etag in part_etags:
        try:
            digest.update(bytes.fromhex(normalize_etag(etag)))
        except ValueError:
            raise EtagMismatch(f"etag {etag[:40]!r} is not hexadecimal: no part has it") from None
    return f"{digest.hexdigest()}-{len(part_etags)}"
