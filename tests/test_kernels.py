"""The vector kernels at their edges: 64-byte blocks, partial last blocks, sequences split across
blocks and calls, errors at every position around a block boundary, and masks whose lengths and
alignments walk through every vector width.  Run under the ``api`` fixture, so once per CPU
kernel and once on the pure twin; expected answers come from tests/utf8_reference.py (an
independent brute-force reading of Unicode Table 3-7) and from a byte-by-byte XOR written here.
"""

from __future__ import annotations

import random

import pytest

from wsfast import InvalidUTF8

from .utf8_reference import fail_position

BACKGROUNDS = {
    "ascii": "plain ascii text, ",
    "cjk": "中文字符和漢字",
    "emoji": "🚀🎉 Ελληνικά ",
    "mixed": "aé中🚀",
}
# Bytes that break UTF-8 in different ways: stray continuation, overlong lead, surrogate start,
# beyond U+10FFFF, a lead cut short by ASCII, a 4-byte lead cut short.
BREAKERS = [b"\x80", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe4\xb8a", b"\xf0\x9f"]


def text_of(kind: str, size: int) -> bytes:
    unit = BACKGROUNDS[kind].encode()
    out = unit * (size // len(unit) + 2)
    # cut on a code point boundary at or before size
    cut = size
    while cut > 0 and (out[cut] & 0xC0) == 0x80:
        cut -= 1
    return out[:cut]


@pytest.mark.parametrize("kind", sorted(BACKGROUNDS))
def test_errors_at_every_position_around_block_boundaries(api, kind):
    # the AVX2 kernel takes 128-byte blocks, then 64-byte ones: an error in each vector of both
    base = text_of(kind, 300)
    for breaker in BREAKERS:
        for at in range(0, 260):
            data = base[:at] + breaker + base[at:]
            want = fail_position(data)
            validator = api.Utf8Validator()
            if want is None:  # valid, or valid so far and unfinished at the end
                validator.feed(data)
                complete = data.decode("utf-8", "replace").encode() == data
                assert api.validate_utf8(data) is complete
                continue
            with pytest.raises(InvalidUTF8) as e:
                validator.feed(data)
            assert e.value.position == want, (kind, breaker, at)
            assert api.validate_utf8(data) is False


@pytest.mark.parametrize("kind", sorted(BACKGROUNDS))
def test_valid_text_of_every_length_split_anywhere(api, kind):
    rng = random.Random(kind)
    for size in list(range(56, 140)) + [191, 192, 193, 255, 256, 257, 4096 + 3]:
        data = text_of(kind, size)
        assert api.validate_utf8(data) is True
        for _ in range(3):
            cut = rng.randrange(len(data) + 1)
            validator = api.Utf8Validator()
            validator.feed(data[:cut])
            validator.feed(data[cut:])
            validator.finish()


@pytest.mark.parametrize("boundary", [64, 128, 192, 256])
def test_an_ascii_block_is_checked_after_an_unfinished_sequence(api, boundary):
    # ASCII whose last byte before a block boundary is a lead, then ASCII: the block after it
    # (whole, or a partial last one) looks all-ASCII, but the sequence before it is cut short.
    for lead in (b"\xc3", b"\xe4\xb8", b"\xf0\x9f\x9a"):
        for tail in range(1, 200):
            data = b"a" * (boundary - len(lead)) + lead + b"b" * tail
            with pytest.raises(InvalidUTF8) as e:
                api.Utf8Validator().feed(data)
            assert e.value.position == boundary, (lead, tail)


def reference_mask(data: bytes, key: bytes, offset: int) -> bytes:
    return bytes(b ^ key[(offset + i) % 4] for i, b in enumerate(data))


def test_masks_of_every_width_alignment_and_phase(api):
    rng = random.Random(5)
    key = bytes([0x37, 0xFA, 0x21, 0x3D])
    source = rng.randbytes(1100)
    # from 512 bytes the AVX2 kernel aligns its stores: a scalar head of any length below 32,
    # then the key rotated by it, so large sizes go through every head length (start)
    large = [511, 512, 513, 700, 1000]
    for size in list(range(0, 70)) + [127, 128, 129, 255, 256, 257, 300] + large:
        for start in range(33) if size in large else (0, 1, 3):
            for offset in range(4):
                data = source[start : start + size]
                want = reference_mask(data, key, offset)
                assert api.apply_mask(data, key, offset) == want
                buffer = bytearray(b"\xee" * 2 + data + b"\xee" * 2)
                api.apply_mask_inplace(memoryview(buffer)[2 : 2 + size], key, offset)
                assert buffer == b"\xee" * 2 + want + b"\xee" * 2
