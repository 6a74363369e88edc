"""Uploads filled by appending at an offset, whose length may be settled late.

tus appends its chunks at the upload's offset, and may declare the length
only in a later request (or never, for a stream it ends by declaring it);
Uppy's multipart routes create uploads without a size and settle it at
completion. Both are this model: an `Appending` says how many bytes are held,
whether the length is known, and what may still arrive. Whatever the length,
an upload never holds more than its limit (`MAX_FILE_UPLOAD_SIZE`, or an
upload token's smaller one): the first byte past it is refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from uploadcore.domain.errors import (
    FileTooLarge,
    InvalidInput,
    OffsetMismatch,
    PartPlanMismatch,
    PartsIncomplete,
)
from uploadcore.domain.parts import PartLimits, PartPlan, PartRef, ReceivedPart, check_completion


class Fill(StrEnum):
    """How the bytes of an upload of open length arrive."""

    APPEND = ""  # appended at an offset (tus)
    PARTS = "parts"  # numbered parts, the length settled at completion (Uppy's multipart)
    FORM = "form"  # one form POST (Uppy's single request): to this service, or straight to S3


class Concat(StrEnum):
    """Where an appended upload stands in a concatenation."""

    NONE = ""
    PARTIAL = "partial"  # a piece of a later final upload; never listed as a file
    FINAL = "final"  # assembled from partials; nothing is appended to it


@dataclass(frozen=True)
class Appending:
    """The bytes an appended upload holds (`offset`) and its `length`, None until declared.

    `metadata` is kept as the client sent it (tus `Upload-Metadata`), so it
    can be given back unchanged. On a store that keeps the last bytes on one
    machine's disk until they make a part (S3), `staged` of the `offset`
    bytes are there, in the staged tail named `tail`; the rest are in storage.
    """

    offset: int = 0
    length: int | None = None
    metadata: str = ""
    concat: Concat = Concat.NONE
    partials: tuple[str, ...] = ()  # a final concatenation's partial uploads, in order
    fill: Fill = Fill.APPEND
    #: The most bytes it may hold, fixed when it starts: for bytes that arrive
    #: without the caller's credential (token-signed part and form URLs).
    limit: int | None = None
    staged: int = 0
    tail: str = ""

    @classmethod
    def started(
        cls, length: int | None, limit: int, metadata: str = "", concat: Concat = Concat.NONE
    ) -> Appending:
        """A new appended upload; FileTooLarge (nothing created) for a length past `limit`."""
        if length is not None:
            _check_length(length, limit)
        return cls(0, length, metadata, concat)

    @classmethod
    def open(cls, fill: Fill, limit: int) -> Appending:
        """A new upload of open length whose bytes arrive as parts or in one form."""
        return cls(fill=fill, limit=limit)

    @classmethod
    def concatenated(
        cls, partials: Sequence[tuple[str, Appending]], limit: int, metadata: str = ""
    ) -> Appending:
        """A final upload made of finished partial ones (InvalidInput naming any other)."""
        if not partials:
            raise InvalidInput("a final concatenation names at least one partial upload")
        wrong = [i for i, a in partials if a.concat is not Concat.PARTIAL or not a.finished]
        if wrong:
            raise InvalidInput(f"not finished partial uploads: {', '.join(wrong[:20])}")
        total = sum(a.offset for _, a in partials)
        _check_length(total, limit)
        ids = tuple(i for i, _ in partials)
        return cls(total, total, metadata, Concat.FINAL, ids)

    @property
    def finished(self) -> bool:
        return self.length is not None and self.offset == self.length

    def check_offset(self, claimed: int) -> None:
        """OffsetMismatch unless bytes are appended exactly where the held ones end."""
        if claimed != self.offset:
            raise OffsetMismatch(f"the upload holds {self.offset} bytes, not {claimed}")
        if self.concat is Concat.FINAL:
            raise OffsetMismatch("a final concatenation is assembled, not appended to")

    def with_length(self, length: int, limit: int) -> Appending:
        """Declare the length, once (declaring the same length again changes nothing)."""
        if self.length is not None:
            if length != self.length:
                raise InvalidInput(f"the length is already {self.length} bytes")
            return self
        _check_length(length, limit)
        if length < self.offset:
            raise InvalidInput(f"the length {length} is less than the {self.offset} bytes held")
        return replace(self, length=length)

    def room(self, limit: int) -> int:
        """How many more bytes may arrive: up to the length, or the limit while it is open."""
        return (self.length if self.length is not None else limit) - self.offset

    def check_room(self, declared: int | None, limit: int) -> None:
        """FileTooLarge, before any byte is read, for a body declared longer than the room."""
        if declared is not None and declared > self.room(limit):
            raise FileTooLarge(
                f"{declared} bytes at offset {self.offset} pass the upload's"
                f" {'length' if self.length is not None else 'maximum'} of"
                f" {self.length if self.length is not None else limit} bytes"
            )

    def advanced(self, received: int) -> Appending:
        return replace(self, offset=self.offset + received)

    @property
    def stored(self) -> int:
        """The bytes in storage itself, which any machine can continue from."""
        return self.offset - self.staged

    def without_tail(self) -> Appending:
        """As seen from a machine that does not hold the staged tail: it ends where storage does."""
        return replace(self, offset=self.stored, staged=0, tail="")

    def kept(self, offset: int, staged: int, tail: str) -> Appending:
        """After an append: `offset` bytes held, the last `staged` of them in the tail `tail`."""
        if not 0 <= staged <= offset - self.stored:
            raise ValueError(f"{staged} staged bytes do not fit between {self.stored} and {offset}")
        return replace(self, offset=offset, staged=staged, tail=tail if staged else "")

    def plan(self) -> PartPlan:
        """The plan of the finished upload: its bytes as one part."""
        size = self.offset
        return PartPlan(size, 1, max(size, 1))


def _check_length(length: int, limit: int) -> None:
    if length < 0:
        raise InvalidInput(f"the length {length} is negative")
    if length > limit:
        raise FileTooLarge(f"the length {length} exceeds the maximum of {limit} bytes")


def check_open_parts(sizes: Sequence[int], limits: PartLimits) -> int:
    """The total of parts received without a plan (the length settled at completion).

    Every part but the last must be at least `min_part_size` (PartPlanMismatch
    naming the first that is not), there may be at most `max_parts`, and the
    total at most `max_file_size` (FileTooLarge).
    """
    if not 1 <= len(sizes) <= limits.max_parts:
        raise PartPlanMismatch(f"{len(sizes)} parts is outside 1..{limits.max_parts}")
    for number, size in enumerate(sizes[:-1], start=1):
        if size < limits.min_part_size:
            raise PartPlanMismatch(
                f"part {number} has {size} bytes; every part but the last needs"
                f" {limits.min_part_size}"
            )
    total = sum(sizes)
    if total > limits.max_file_size:
        raise FileTooLarge(
            f"the parts make {total} bytes, over the maximum of {limits.max_file_size}"
        )
    return total


def check_open_completion(
    claimed: Sequence[PartRef], received: Mapping[int, ReceivedPart], limits: PartLimits
) -> tuple[tuple[ReceivedPart, ...], PartPlan]:
    """A completion of parts whose sizes were open: the parts to assemble and the settled plan.

    The list must name parts 1..N exactly once each, every one received with
    its etag (the same 400s as a planned completion); then `check_open_parts`
    holds their sizes and total to the limits.
    """
    count = max((r.part_number for r in claimed), default=0)
    if not 1 <= count <= limits.max_parts:
        raise PartsIncomplete(f"completion must name parts 1..N, N at most {limits.max_parts}")
    # The numbering and etag checks of a planned completion, sizes aside: one byte each.
    numbering = PartPlan(count, count, 1)
    check_completion(numbering, claimed, {n: replace(p, size=1) for n, p in received.items()})
    ordered = tuple(received[n] for n in range(1, count + 1))
    sizes = [p.size for p in ordered]
    check_open_parts(sizes, limits)
    return ordered, settled_plan(sizes)


def settled_plan(sizes: Sequence[int]) -> PartPlan:
    """The plan recorded for parts whose sizes were settled at completion.

    Its `part_size` is the largest part (Uppy's are all equal but the last).
    """
    return PartPlan(sum(sizes), len(sizes), max(1, *sizes))


__all__ = [
    "Appending",
    "Concat",
    "Fill",
    "check_open_completion",
    "check_open_parts",
    "settled_plan",
]
