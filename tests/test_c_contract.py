"""The C decoder's calling contract (csrc/wsfast.h) where it allows more than the Python wrapper
does: driven through cffi directly, with canary bytes after every buffer so that a write past
one is seen without corrupting the process."""

from __future__ import annotations

import pytest

from .conftest import NO_C

pytestmark = pytest.mark.skipif(
    NO_C, reason="WSFAST_NO_EXTENSIONS=1 run: the C backend is not under test"
)
CANARY = 0xAA


def canaried(size: int) -> bytearray:
    return bytearray([CANARY]) * (size + 64)


def test_the_call_after_a_sink_is_set_may_carry_input():
    from wsfast._wsfast import ffi, lib  # type: ignore[import-not-found]

    d = ffi.new("wsfast_decoder *")
    d.flags = lib.WSFAST_CLIENT
    d.max_frame = d.max_message = 2**64 - 1
    d.sink_min, d.sink_max = 1, 1 << 20
    receive = canaried(16)
    d.buffer, d.capacity = ffi.from_buffer(receive), 16

    # a 32-byte binary frame whose first 4 payload bytes arrive with its header
    head = bytes([0x82, 32]) + b"abcd"
    assert lib.wsfast_decode(d, head, len(head)) == 0
    assert d.want_sink == 32
    sink = canaried(32)
    d.sink, d.want_sink = ffi.from_buffer(sink), 0

    # the rest of its payload, then nine empty frames: 18 bytes for a 16-byte buffer
    rest = b"x" * 28 + bytes([0x82, 0]) * 9
    rc = lib.wsfast_decode(d, rest, len(rest))
    assert receive[16:] == canaried(0), "written past the receive buffer"
    assert sink[32:] == canaried(0), "written past the sink"
    # nothing consumed and room asked for, or the frame delivered and the rest kept
    assert rc == -lib.WSFAST_NEED_ROOM or (rc == 1 and sink[:32] == b"abcd" + b"x" * 28)
