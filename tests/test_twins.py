"""Corner cases of the backend functions (wsfast/_pure.py and its C twin) that the public API
never reaches but that both twins promise in csrc/wsfast.h: a rejected UTF-8 state stays
rejected, an extension's RSV1 marks a compressed message, and a scanner that failed stays
failed.  Each is checked on both backends, against what the header documents."""

from __future__ import annotations

import pytest

from wsfast import _codes as C

from .framing import client_frame

UNLIMITED = 2**64 - 1
REJECT = 8  # WSFAST_UTF8_REJECT


def records(batches: list) -> list[tuple[int, bytes]]:
    """(kind, payload) of every frame in a scanner's batches."""
    out = []
    for same, payloads, recs in batches:
        kinds = [same] * len(payloads) if recs is None else [r[2] for r in recs]
        out += zip(kinds, payloads)
    return out


def test_a_rejected_utf8_state_stays_rejected_at_the_first_byte(api):
    for data in (b"", b"abc", "\u00e9".encode()):
        assert api.backend.utf8_feed(REJECT, data) == (REJECT, 0)


def test_a_negotiated_rsv1_marks_every_frame_of_a_compressed_message(api):
    scanner = api.backend.Scanner(False, True, 0x40, UNLIMITED, UNLIMITED, UNLIMITED)
    compressed = b"\xf2\x48\xcd\xc9\xc9\x07\x00"  # deflate output: not UTF-8, not validated
    stream = client_frame(1, compressed[:4], fin=False, rsv=0x40) + client_frame(0, compressed[4:])
    got = records(scanner.feed(stream))
    assert scanner.error is None
    text_first = C.R_TEXT | C.R_RSV1 | C.R_FIRST | 0x1
    text_last = C.R_TEXT | C.R_RSV1 | C.R_FIN | 0x0
    assert got == [(text_first, compressed[:4]), (text_last, compressed[4:])]


def test_rsv1_on_a_continuation_is_refused_even_with_the_extension(api):
    scanner = api.backend.Scanner(False, True, 0x40, UNLIMITED, UNLIMITED, UNLIMITED)
    stream = client_frame(2, b"a", fin=False, rsv=0x40) + client_frame(0, b"b", rsv=0x40)
    assert [kind & 0x0F for kind, _ in records(scanner.feed(stream))] == [2]
    assert scanner.error == (C.E_RSV, 0x40, 0)


def test_a_failed_scanner_returns_nothing_more_and_keeps_its_first_error(api):
    scanner = api.backend.Scanner(False, True, 0, UNLIMITED, UNLIMITED, UNLIMITED)
    assert scanner.feed(b"\x83\x80") == []  # reserved opcode 3
    assert scanner.error == (C.E_RESERVED_OPCODE, 3, 0)
    assert scanner.feed(client_frame(1, b"fine")) == []
    assert scanner.error == (C.E_RESERVED_OPCODE, 3, 0)


def test_a_compressed_message_is_held_to_its_own_wire_limit(api):
    # max_message for plain messages, max_compressed for RSV1 ones, on every fragment
    scanner = api.backend.Scanner(False, True, 0x40, UNLIMITED, 4, 6)
    stream = client_frame(1, b"abc", fin=False, rsv=0x40) + client_frame(0, b"def")
    assert len(records(scanner.feed(stream))) == 2
    assert scanner.feed(client_frame(2, b"abcde")) == []
    assert scanner.error == (C.E_MESSAGE_TOO_BIG, 5, 0)
    scanner = api.backend.Scanner(False, True, 0x40, UNLIMITED, 4, 6)
    stream = client_frame(1, b"abc", fin=False, rsv=0x40) + client_frame(0, b"defg")
    assert len(records(scanner.feed(stream))) == 1
    assert scanner.error == (C.E_MESSAGE_TOO_BIG, 7, 0)


def test_client_frame_writes_header_key_and_masked_payload_as_build_frame_does(api):
    key = b"\x37\xfa\x21\x3d"
    for n in (0, 1, 2, 125, 126, 127, 65535, 65536, 70001):
        payload = bytes(range(256)) * (n // 256) + bytes(range(n % 256))
        for first, opcode, fin, rsv1 in ((0x81, 1, True, False), (0x42, 2, False, True)):
            want = api.build_frame(opcode, payload, fin=fin, rsv1=rsv1, mask=key)
            keys = b"\x00" * 8 + key + b"\xff" * 4  # the key at an offset in its block
            assert api.backend.client_frame(first, payload, keys, 8) == want
            view = memoryview(b"xx" + payload)[2:]  # not bytes: a buffer at an offset
            assert api.backend.client_frame(first, view, keys, 8) == want


def test_client_frame_refuses_a_key_offset_past_its_block(api):
    for keys, at in ((b"\x01\x02", 0), (b"\x01\x02\x03\x04", 1), (b"\x00" * 8, -1)):
        with pytest.raises(ValueError, match="no 4-byte key"):
            api.backend.client_frame(0x82, b"abc", keys, at)
