"""Write the seed corpus of every fuzz target: the RFC 6455 5.7 examples and the test vectors.

    python fuzz/make_corpus.py [OUTDIR]        (default: fuzz/seeds)

Frames are built byte by byte by tests/framing.py, independently of wsfast's own encoder, and each seed is
prefixed with the bytes the harness reads first (configuration, chunking seed, key...).  The
files are named by the SHA-1 of their content, as libFuzzer names its own.
"""

from __future__ import annotations

import hashlib
import os
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
# The tests' hand-built frames (tests/framing.py), with the key of RFC 6455 5.7.
sys.path.insert(0, os.path.dirname(HERE))
from tests.framing import KEY, frame

# RFC 6455 5.7, verbatim.
RFC_5_7 = [
    ("single-frame unmasked text", "810548656c6c6f", True),
    ("single-frame masked text", "818537fa213d7f9f4d5158", False),
    ("fragmented unmasked text", "010348656c80026c6f", True),
    ("unmasked ping", "890548656c6c6f", True),
    ("masked pong", "8a8537fa213d7f9f4d5158", False),
    ("256 bytes binary, 16-bit length", "827e0100" + "00" * 256, True),
    ("64 KiB binary, 64-bit length", "827f0000000000010000" + "00" * 65536, True),
]

# UTF-8: valid text of every length class, and the ways it can fail (Unicode Table 3-7).
UTF8 = [
    b"",
    b"Hello-\xc2\xb5@\xc3\x9f\xc3\xb6\xc3\xa4\xc3\xbc\xc3\xa0\xc3\xa1-UTF-8!!",
    "κόσμε".encode(),
    "日本語のテキスト".encode(),
    "😀 emoji 𝄞".encode(),
    b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80",  # SPEC: position 12
    b"\xed\xa0\x80",  # a surrogate: position 1
    b"\xc0\xaf",  # overlong /
    b"\xe0\x80\xaf",  # overlong /
    b"\xf0\x80\x80\xaf",  # overlong /
    b"\xf4\x8f\xbf\xbf",  # U+10FFFF
    b"\xf5\x80\x80\x80",  # past U+10FFFF
    b"\xef\xbf\xbd\xef\xbf\xbe",  # U+FFFD U+FFFE
    b"\xe2\x82",  # truncated
    b"\x80",  # lone continuation
    b"\xfe\xff",
    b"a" * 40 + "é".encode() + b"b" * 40,
    bytes(range(0x20, 0x7F)) * 2,
]


def conversations(masked: bool) -> list[bytes]:
    """Streams as one side receives them: masked for a server, unmasked for a client."""
    m = KEY if masked else None
    out = [
        frame(1, b"Hello", mask=m)
        + frame(2, bytes(range(256)) * 2, mask=m)
        + frame(1, "κόσ".encode(), fin=False, mask=m)
        + frame(9, b"ping!", mask=m)
        + frame(0, "με".encode(), mask=m)
        + frame(10, b"", mask=m)
        + frame(2, b"", fin=False, mask=m)
        + frame(0, b"abc", fin=False, mask=m)
        + frame(0, b"def", mask=m)
        + frame(8, b"\x03\xe8bye", mask=m),
        frame(8, b"", mask=m),
        frame(8, b"\x03\xe8", mask=m) + frame(1, b"after close", mask=m),
        frame(8, b"\x03\xed", mask=m),  # 1005 on the wire
        frame(8, b"\x0b\xb8" + "ok ✓".encode(), mask=m),  # 3000
        frame(8, b"\x03\xe8\xff", mask=m),  # bad reason
        frame(8, b"\x03", mask=m),  # one byte
        frame(1, "κόσ".encode()[:-1], fin=False, mask=m) + frame(0, "κόσ".encode()[-1:], mask=m),
        frame(3, b"", mask=m),  # reserved opcode
        frame(9, b"", fin=False, mask=m),  # fragmented control
        frame(9, b"x" * 126, mask=m),  # control too long
        frame(0, b"orphan", mask=m),
        frame(1, b"a", fin=False, mask=m) + frame(1, b"b", mask=m),
        frame(1, b"rsv1", rsv=0x40, mask=m) + frame(2, b"rsv2", rsv=0x20, mask=m),
        frame(2, b"x" * 10, encoding=16, mask=m),  # non-minimal 16-bit
        frame(2, b"x" * 200, encoding=64, mask=m),  # non-minimal 64-bit
        frame(2, b"y" * 300, mask=m),
        frame(2, b"", length=2**63 - 1, mask=m),  # claims 2^63-1 bytes
        frame(2, b"", length=2**63, mask=m),  # MSB set
        frame(2, b"", length=2**64 - 1, mask=m),
        frame(2, b"z" * 8, fin=False, mask=m) + frame(0, b"", length=2**63 - 1, mask=m),
        frame(9, b"", length=125, mask=m),  # a ping that never completes
        frame(1, b"x", fin=False, mask=m)
        + b"".join(frame(0, b"y", fin=False, mask=m) for _ in range(40))
        + frame(0, b"", mask=m),
        frame(1, b"", fin=False, mask=m) + frame(9, b"mid", mask=m) + frame(0, b"end", mask=m),
        frame(1, b"x", mask=None if masked else KEY),  # wrong masking direction
    ]
    out += [frame(1, text, mask=m) for text in UTF8]
    out += [frame(1, text[:3], fin=False, mask=m) + frame(0, text[3:], mask=m) for text in UTF8]
    out += [frame(2, b"", mask=m) * 300]  # more records than one array holds
    return out


def decoder_seeds() -> list[bytes]:
    # harness bytes: configuration (bit 0 client, bit 1 strict, bit 2 rsv1 allowed, bits 3-4
    # frame limit, bits 5-6 message limit), the chunking, scratch space and kernel seed, the
    # sinks and keep buffers (bits 0-1 sink threshold: none, 1, 126, 1000 bytes; bit 2 largest:
    # 300 bytes or 1 MiB; bit 3 sinks refused; bit 4 keep buffers of the whole frame's length)
    seeds = []
    for client, masked in ((0, True), (1, False)):
        for stream in conversations(masked):
            for config, chunking, sinks in (
                (2 | client, 0, 0),
                (client, 0x0D, 0x06),
                (2 | client | 4, 0x22, 0x05),
                (2 | client, 0x61, 0x07),
                (2 | client, 0x45, 0x0D),
                (client, 0x1A, 0x16),
            ):
                seeds.append(bytes([config, chunking, sinks]) + stream)
        for i, (_, hexdata, unmasked) in enumerate(RFC_5_7):
            if unmasked == bool(client):
                seeds.append(bytes([2 | client, i, i & 3]) + bytes.fromhex(hexdata))
    seeds.append(bytes([2 | 0x28, 3, 0]) + frame(2, b"q" * 130))  # frame limit 125
    seeds.append(
        bytes([2 | 0x40, 5, 6]) + frame(2, b"q" * 150, fin=False) + frame(0, b"q" * 60)
    )
    return seeds


def header_seeds() -> list[bytes]:
    seeds = []
    for strict in (0, 1):
        for _, hexdata, _ in RFC_5_7:
            seeds.append(bytes([strict]) + bytes.fromhex(hexdata)[:14])
        for stream in conversations(True) + conversations(False):
            seeds.append(bytes([strict]) + stream[:16])
    return seeds


def utf8_seeds() -> list[bytes]:
    return [bytes([i]) + text for i, text in enumerate(UTF8)]


def mask_seeds() -> list[bytes]:
    payloads = [b"", b"H", b"Hello", bytes(range(256)), b"x" * 33, b"\xff" * 100]
    return [
        bytes([phase]) + KEY + bytes([split]) + payload
        for phase in (0, 1, 2, 3, 7)
        for split, payload in zip((0, 1, 9, 200, 17, 50), payloads)
    ]


def compressed_stream(masked: bool) -> bytes:
    """Compressed messages (RFC 7692): whole, fragmented, an empty one, one ending in a final
    block, between plain frames; a stream the atheris harness decodes with the extension
    agreed once its CRC says so (see deflate_seed)."""
    key = KEY if masked else None
    c = zlib.compressobj(6, zlib.DEFLATED, -9)
    out = b""
    for text in (b"hello hello hello", "\u00e9t\u00e9 \u6f22\u5b57".encode() * 4, b""):
        payload = (c.compress(text) + c.flush(zlib.Z_SYNC_FLUSH))[:-4]
        out += frame(1, payload, mask=key, rsv=0x40)
    payload = (c.compress(b"fragmented " * 10) + c.flush(zlib.Z_SYNC_FLUSH))[:-4]
    out += frame(2, payload[:5], fin=False, mask=key, rsv=0x40)
    out += frame(9, b"between", mask=key) + frame(0, payload[5:], mask=key)
    final = zlib.compressobj(6, zlib.DEFLATED, -9)
    out += frame(1, final.compress(b"last") + final.flush(zlib.Z_FINISH), mask=key, rsv=0x40)
    return out + frame(1, b"plain", mask=key)


def deflate_seed(config: int, stream: bytes) -> bytes:
    """An atheris input whose stream the harness decodes with permessage-deflate agreed: a
    padding ping's payload is varied until the stream's CRC has its low two bits clear."""
    key = None if config & 1 else KEY
    for n in range(1000):
        candidate = stream + frame(9, n.to_bytes(2, "big"), mask=key)
        if zlib.crc32(candidate) & 3 == 0:
            return bytes([config]) + candidate
    raise AssertionError("no padding found")  # pragma: no cover - 1 in 4 try succeeds


def atheris_seeds() -> list[bytes]:
    # the atheris harness reads one configuration byte, then the stream
    seeds = []
    for seed in decoder_seeds():
        seeds.append(seed[:1] + seed[3:])
    for client in (0, 1):
        for chunking in (0, 0x40, 0x80):
            seeds.append(deflate_seed(client | 2 | chunking, compressed_stream(not client)))
    return seeds


TARGETS = {
    "decoder": decoder_seeds,
    "header": header_seeds,
    "utf8": utf8_seeds,
    "mask": mask_seeds,
    "atheris": atheris_seeds,
}


def main(argv: list[str]) -> int:
    outdir = argv[1] if len(argv) > 1 else os.path.join(HERE, "seeds")
    for name, make in TARGETS.items():
        folder = os.path.join(outdir, name)
        os.makedirs(folder, exist_ok=True)
        seeds = make()
        for seed in seeds:
            path = os.path.join(folder, hashlib.sha1(seed).hexdigest())
            with open(path, "wb") as f:
                f.write(seed)
        print(f"{name}: {len(seeds)} seeds in {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
