"""How appended bytes become parts on a store that joins parts (S3): sizes and when to flush.

Such a store takes parts of at least `min_part_size` (the last may be smaller)
and at most `max_parts` of them. Appended bytes arrive in chunks of any size,
so they are staged until they make a part: cut at `part_size` while a request
streams, and at its end the staged tail goes as one more part only if it is
big enough and the parts left can still hold the rest of the upload.
"""

from __future__ import annotations

from uploadcore.domain.parts import PartLimits


def part_size(most: int, limits: PartLimits, preferred: int = 0) -> int:
    """The size to cut parts at, for an upload of at most `most` bytes.

    `preferred`, but at least `min_part_size`, and big enough that
    `max_parts` full parts hold `most` bytes.
    """
    return max(limits.min_part_size, preferred, -(-most // limits.max_parts))


def flushes_tail(staged: int, parts: int, room: int, size: int, limits: PartLimits) -> bool:
    """Whether a request's last `staged` bytes go as a part now, rather than wait for more.

    `parts` are used already, `room` bytes may still follow, parts are cut at
    `size`. Only a tail of at least `min_part_size` may go (a part in the
    middle must be that big), and only if the parts that remain can take
    `room` more bytes cut at `size`.
    """
    if staged < limits.min_part_size:
        return False
    return parts + 1 + -(-room // size) <= limits.max_parts


__all__ = ["flushes_tail", "part_size"]
