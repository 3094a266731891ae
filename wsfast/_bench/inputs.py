"""Inputs every library gets, and references that do not use wsfast: a big-integer XOR for
masking, text of a known kind and size, frames built and parsed with struct."""

from __future__ import annotations

import random
import struct

KEY = bytes.fromhex("37fa213d")
KiB = 1024
MiB = 1024 * 1024
LIMIT = 16 * MiB  # message size limit given to every decoder
TEXT_KINDS = ("ascii", "cjk", "emoji-greek")


def size_label(n: int) -> str:
    if n >= MiB and n % MiB == 0:
        return f"{n // MiB} MiB"
    if n >= KiB and n % KiB == 0:
        return f"{n // KiB} KiB"
    return f"{n} B"


def reference_mask(data: bytes, mask: bytes) -> bytes:
    """RFC 6455 5.3 with Python integers: byte i XOR mask[i % 4]."""
    n = len(data)
    key = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(key, "little")).to_bytes(
        n, "little"
    )


_POOLS: dict[str, list[str]] = {
    "ascii": list("abcdefghijklmnopqrstuvwxyz") * 4
    + list("ABCDEFGHIJ0123456789 ,.:;!?-\"'{}[]")
    + [" "] * 20,
    # CJK Unified Ideographs (3 bytes each) with a few ideographic punctuation marks
    "cjk": [chr(c) for c in range(0x4E00, 0x9FA6, 7)] + ["\u3001", "\u3002", "\uff0c"],
    # Greek letters (2 bytes), emoji (4 bytes) and spaces (1 byte)
    "emoji-greek": [chr(c) for c in range(0x03B1, 0x03CA)]
    + [chr(c) for c in range(0x1F600, 0x1F650)]
    + [chr(c) for c in range(0x1F300, 0x1F330)]
    + [" "] * 8,
}


def make_text(kind: str, size: int, rng: random.Random) -> bytes:
    """Valid UTF-8 of exactly ``size`` bytes drawn from one kind of text."""
    pool = _POOLS[kind]
    width = {"ascii": 1, "cjk": 3, "emoji-greek": 2}[kind]
    chars = "".join(rng.choices(pool, k=size // width + 8))
    data = chars.encode("utf-8")[:size]
    # cut back to a code point boundary, then pad with ASCII to the exact size
    cut = len(data)
    while cut and (data[cut - 1] & 0xC0) == 0x80:
        cut -= 1
    if cut and data[cut - 1] >= 0xC0:
        lead = data[cut - 1]
        need = 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4
        if len(data) - (cut - 1) < need:
            cut -= 1
        else:
            cut = len(data)
    data = data[:cut] + b" " * (size - cut)
    data.decode("utf-8")  # valid by construction
    return data


def masked_frame(opcode: int, payload: bytes, key: bytes) -> bytes:
    """A complete, masked (client-to-server) frame built without wsfast."""
    n = len(payload)
    first = 0x80 | opcode
    if n < 126:
        head = struct.pack("!BB", first, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", first, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", first, 0x80 | 127, n)
    return head + key + reference_mask(payload, key)


def parse_frames(data: bytes) -> list[tuple[int, bytes]]:
    """(opcode, unmasked payload) of every complete frame in ``data``; raises on leftovers."""
    out = []
    at = 0
    while at < len(data):
        b0, b1 = data[at], data[at + 1]
        n = b1 & 0x7F
        at += 2
        if n == 126:
            (n,) = struct.unpack_from("!H", data, at)
            at += 2
        elif n == 127:
            (n,) = struct.unpack_from("!Q", data, at)
            at += 8
        key = None
        if b1 & 0x80:
            key = data[at : at + 4]
            at += 4
        payload = bytes(data[at : at + n])
        if len(payload) != n:
            raise ValueError(f"truncated frame: {len(payload)} of {n} payload bytes")
        at += n
        if not b0 & 0x80:
            raise ValueError("unexpected fragment")
        out.append((b0 & 0x0F, reference_mask(payload, key) if key else payload))
    return out
