"""What a C-backend decoder holds between reads (issue 16): its state and, only while a frame is
still arriving, that frame's bytes; the per-call scratch is shared and bounded.  The resident
memory itself is measured by bench/memory.py, not here."""

from __future__ import annotations

import pytest

from .conftest import NO_C
from .framing import frame

pytestmark = pytest.mark.skipif(
    NO_C, reason="WSFAST_NO_EXTENSIONS=1 run: the C backend is not under test"
)
MiB = 1 << 20


@pytest.fixture
def c():
    from wsfast import _backend

    return _backend.bind(_backend.load_c())


def held(decoder) -> tuple:
    """(keep buffer size or None, sink size or None) of a C decoder."""
    from wsfast._wsfast import ffi  # type: ignore[import-not-found]

    scanner = decoder._scanner
    keep = None if scanner._keep is None else len(ffi.buffer(scanner._keep))
    sink = None if scanner._sink is None else len(scanner._sink[0])
    return keep, sink


def test_the_state_a_connection_keeps_is_small():
    from wsfast._wsfast import ffi  # type: ignore[import-not-found]

    assert ffi.sizeof("wsfast_decoder") <= 256


def test_a_frame_still_arriving_is_kept_in_a_buffer_of_its_size_until_it_completes(c):
    d = c.Decoder()
    data = frame(2, b"k" * 3000)
    assert held(d) == (None, None)
    assert d.feed(data[:1000]) == []
    assert held(d) == (3000, None)
    assert d.feed(data[1000:2000]) == []
    assert held(d) == (3000, None)
    assert [m.data for m in d.feed(data[2000:] + frame(1, b"x"))] == [b"k" * 3000, b"x"]
    assert held(d) == (None, None)
    # a header cut short needs no buffer at all
    assert d.feed(data[:3]) == []
    assert held(d) == (None, None)
    assert [m.data for m in d.feed(data[3:])] == [b"k" * 3000]


def test_a_large_frame_goes_into_its_own_bytes_and_nothing_stays(c):
    d = c.Decoder()
    data = frame(2, b"L" * 200_000)
    assert d.feed(data[:70_000]) == []
    assert held(d) == (None, 200_000)
    (message,) = d.feed(data[70_000:])
    assert message.data == b"L" * 200_000
    assert held(d) == (None, None)


def test_the_scratch_grows_for_a_large_complete_frame_and_stays_bounded(c):
    from wsfast import _cbackend

    def largest() -> int:
        return max(scratch[0].capacity for scratch in _cbackend._scratches)

    d = c.Decoder(max_message_size=None)
    (message,) = d.feed(frame(2, b"m" * MiB))  # complete in one read: through the scratch
    assert message.data == b"m" * MiB
    assert largest() >= MiB  # kept for the next one
    (message,) = d.feed(frame(2, b"n" * (9 * MiB)))
    assert message.data == b"n" * (9 * MiB)
    assert largest() <= 8 * MiB  # not kept beyond 8 MiB
