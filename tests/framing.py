"""Frames built by hand for the tests, independently of wsfast's own encoder."""

from __future__ import annotations

import struct

KEY = bytes.fromhex("37fa213d")


def frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bytes | None = KEY,
    length: int | None = None,
    encoding: int | None = None,
) -> bytes:
    """One frame; ``mask=None`` leaves it unmasked; ``length`` overrides the declared size;
    ``encoding`` (7, 16 or 64) forces that length form, for non-minimal lengths."""
    n = len(payload) if length is None else length
    form = encoding or (7 if n < 126 else 16 if n < 65536 else 64)
    head = bytes([(0x80 if fin else 0) | rsv | opcode])
    flag = 0x80 if mask is not None else 0
    if form == 7:
        head += bytes([flag | n])
    elif form == 16:
        head += bytes([flag | 126]) + struct.pack("!H", n)
    else:
        head += bytes([flag | 127]) + struct.pack("!Q", n)
    if mask is None:
        return head + payload
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def client_frame(opcode, payload=b"", **kw):
    return frame(opcode, payload, **kw)


def server_frame(opcode, payload=b"", **kw):
    return frame(opcode, payload, mask=None, **kw)
