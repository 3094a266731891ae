"""An independent definition of the fail-fast position, built on CPython's strict decoder.

A prefix can still begin valid UTF-8 when some completion of at most three continuation bytes
decodes.  The fail-fast position is the first index whose prefix cannot; it is slow and obvious
on purpose, and shares nothing with either backend.
"""

from __future__ import annotations

_FIRST = (0x80, 0x90, 0xA0)  # one of these starts every allowed continuation range


def _decodes(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def can_begin_valid(prefix: bytes) -> bool:
    if _decodes(prefix):
        return True
    for extra in range(1, 4):
        for first in _FIRST:
            if _decodes(prefix + bytes([first]) + b"\x80" * (extra - 1)):
                return True
    return False


def fail_position(data: bytes) -> int | None:
    """Index of the first byte after which ``data`` can no longer be valid, or None."""
    # Only the neighbourhood of the decoder's first complaint needs the slow search.
    try:
        data.decode("utf-8")
        return None
    except UnicodeDecodeError as exc:
        start = exc.start
    for i in range(start, len(data)):
        if not can_begin_valid(data[: i + 1]):
            return i
    return None  # valid so far, only incomplete
