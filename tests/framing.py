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
) -> bytes:
    """One frame; ``mask=None`` leaves it unmasked; ``length`` overrides the declared size."""
    n = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | rsv | opcode])
    flag = 0x80 if mask is not None else 0
    if n < 126:
        head += bytes([flag | n])
    elif n < 65536:
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
