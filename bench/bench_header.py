"""Frame headers (RFC 6455 5.2): parsing each length encoding, and building whole frames."""

from __future__ import annotations

import pytest
from conftest import KEY, SIZE_IDS, SIZES

from wsfast._bench import masked_frame, parse_frames


@pytest.mark.parametrize("length", [16, 1000, 70000], ids=["7-bit", "16-bit", "64-bit"])
@pytest.mark.parametrize("masked", [True, False], ids=["masked", "unmasked"])
def bench_parse_header(api, record, length, masked):
    frame = masked_frame(2, bytes(length), KEY)
    if not masked:
        # the same header with the MASK bit cleared and no key
        head = 2 + {16: 0, 1000: 2, 70000: 8}[length]
        frame = frame[:1] + bytes([frame[1] & 0x7F]) + frame[2:head]
    header = api.parse_header(frame)
    assert (header.opcode, header.length, header.masked) == (2, length, masked)
    assert header.mask == (KEY if masked else None)
    record("header: parse_header", length=length, masked=masked)(
        api.parse_header, frame
    )


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
@pytest.mark.parametrize("side", ["server", "client"])
def bench_build_frame(api, record, rng, side, size):
    payload = rng.randbytes(size)
    mask = KEY if side == "client" else None
    assert parse_frames(api.build_frame(2, payload, mask=mask)) == [(2, payload)]
    record(f"header: build_frame {side}", size=size, bytes=size)(
        api.build_frame, 2, payload, mask=mask
    )
