"""Large frames that arrive in pieces.

On CPython the C backend receives a data frame of 64 KiB or more that is still arriving straight
into the bytes object the user gets (unmasked and validated on the way) instead of the receive
buffer.  These tests hold every backend and kernel to the same events and errors for such frames:
any chunking, text and binary, fragments, both roles, the bytes that follow the frame, errors
inside it.  Expected values are built from the payloads the tests choose, never from a decoder.
"""

from __future__ import annotations

import random

import pytest

from wsfast import InvalidUTF8, Message, PayloadTooBig

from .framing import client_frame, server_frame

BIG = 150_000  # above the 64 KiB threshold, and above the initial 64 KiB receive buffer
TEXT = ("wsfast ünïcödé 中文字符 🚀 " * 6000)[: BIG // 2]
TEXT_BYTES = TEXT.encode()
BINARY = random.Random(7).randbytes(BIG)


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def feed_all(decoder, chunks):
    events = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    return events


@pytest.mark.parametrize("size", [997, 4096, 65536, 1 << 20])
@pytest.mark.parametrize("client", [False, True])
def test_large_messages_in_any_chunking(api, size, client):
    frame = server_frame if client else client_frame
    stream = frame(1, TEXT_BYTES) + frame(2, BINARY) + frame(1, b"tail") + frame(9, b"p")
    events = feed_all(api.Decoder(client=client), chunked(stream, size))
    assert events[:3] == [Message(TEXT_BYTES, True), Message(BINARY, False), Message(b"tail", True)]
    assert events[0].text == TEXT
    assert type(events[1].data) is bytes and events[3].payload == b"p"


def test_large_frame_then_more_than_the_buffer_holds_in_one_chunk(api):
    # The chunk that completes the large frame carries 300 small messages after it (more than
    # the receive buffer's initial capacity): they must all come out, in order.
    small = [client_frame(2, bytes([i % 256]) * 1000) for i in range(300)]
    stream = client_frame(2, BINARY) + b"".join(small)
    d = api.Decoder()
    first = d.feed(stream[:1000])
    rest = d.feed(stream[1000:])
    events = first + rest
    assert len(events) == 301
    assert events[0] == Message(BINARY, False)
    assert [e.data for e in events[1:]] == [bytes([i % 256]) * 1000 for i in range(300)]


def test_large_fragments_join(api):
    half = len(BINARY) // 2
    stream = (
        client_frame(2, BINARY[:half], fin=False)
        + client_frame(9, b"between")
        + client_frame(0, BINARY[half:])
    )
    events = feed_all(api.Decoder(), chunked(stream, 5000))
    assert [type(e).__name__ for e in events] == ["Ping", "Message"]
    assert events[1] == Message(BINARY, False)


@pytest.mark.parametrize("size", [1000, 65536])
def test_invalid_utf8_inside_a_large_frame_fails_where_it_is(api, size):
    bad_at = 100_000
    payload = bytearray(b"a" * BIG)
    payload[bad_at] = 0xFF
    stream = client_frame(1, bytes(payload))
    d = api.Decoder()
    with pytest.raises(InvalidUTF8) as e:
        feed_all(d, chunked(stream, size))
    assert e.value.position == bad_at and e.value.code == 1007
    with pytest.raises(Exception):
        d.feed(b"\x81")


def test_invalid_utf8_in_a_large_continuation_counts_from_the_message_start(api):
    first = b"x" * 70_000
    second = bytearray(b"y" * 70_000)
    second[12_345] = 0xC0
    stream = client_frame(1, first, fin=False) + client_frame(0, bytes(second))
    with pytest.raises(InvalidUTF8) as e:
        feed_all(api.Decoder(), chunked(stream, 8192))
    assert e.value.position == 70_000 + 12_345


def test_a_large_claim_within_limits_allocates_as_bytes_arrive(api):
    # A header claiming 200 MB (under a 256 MiB limit) and then silence: the decoder waits,
    # and the claim is only checked against the limit, not paid for up front (a frame goes
    # straight into its own bytes object only up to 16 MiB).
    import tracemalloc

    claim = 200_000_000
    header = bytes([0x82, 0xFF]) + claim.to_bytes(8, "big") + b"\x01\x02\x03\x04"
    d = api.Decoder(max_message_size=256 << 20)
    tracemalloc.start()
    try:
        assert d.feed(header + b"\x00" * 1000) == []
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20


def test_a_large_frame_over_the_limit_fails_before_its_payload(api):
    d = api.Decoder(max_message_size=100_000)
    with pytest.raises(PayloadTooBig):
        d.feed(client_frame(2, BINARY)[:20])
