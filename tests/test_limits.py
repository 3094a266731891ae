"""Resource limits: what a peer claims never decides what we allocate.

Every hostile case fails on the byte that makes it hostile (the header field that claims too
much, the fragment that tips the message over ``max_message_size``), with the close code the
RFC asks for, while the memory the decoder holds stays bounded by what actually arrived.  A
long-lived decoder does not grow, and one dropped mid-message releases what it buffered.

Memory is measured with tracemalloc, which sees every Python allocation of both backends (the C
backend's receive buffer is a bytearray, its state an ``ffi.new`` object).  PyPy has no
tracemalloc: there the behaviour is checked and the byte counts are not.
"""

from __future__ import annotations

import gc
import platform
import struct
import tracemalloc
import weakref

import pytest

from wsfast import Message, PayloadTooBig, Ping, ProtocolError

from .framing import KEY, client_frame, server_frame

MiB = 2**20
CPYTHON = platform.python_implementation() == "CPython"
# What a decoder may hold on to for a hostile header: its state and its initial receive buffer
# (64 KiB in the C backend), never anything sized by the claimed length.
SMALL = 512 * 1024


class Memory:
    """Traced allocations since ``start``: ``peak`` and ``current`` in bytes."""

    def __init__(self) -> None:
        self.peak = self.current = 0

    def __enter__(self) -> Memory:
        gc.collect()
        if CPYTHON:
            tracemalloc.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if CPYTHON:
            self.current, self.peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()

    def now(self) -> int:
        return tracemalloc.get_traced_memory()[0] if CPYTHON else 0


def header(opcode: int, length: int, *, fin: bool = True, mask: bytes | None = KEY) -> bytes:
    """A frame header declaring ``length`` in the 64-bit form, whatever its value."""
    flag = 0x80 if mask is not None else 0
    head = bytes([(0x80 if fin else 0) | opcode, flag | 127]) + struct.pack("!Q", length)
    return head if mask is None else head + mask


def fail_point(decoder, data: bytes) -> tuple[int, ProtocolError]:
    """Feed ``data`` one byte at a time: (index of the byte that raised, the exception)."""
    for i in range(len(data)):
        try:
            assert decoder.feed(data[i : i + 1]) == []
        except ProtocolError as exc:
            return i, exc
    raise AssertionError("no error")


# --- a frame claiming 2^63 - 1 bytes ---------------------------------------------------------


@pytest.mark.parametrize(
    "limits",
    [{}, {"max_frame_size": 1000, "max_message_size": None}],
    ids=["message-limit", "frame-limit"],
)
def test_a_frame_claiming_2_63_minus_1_bytes_fails_on_its_last_length_byte(api, limits):
    claim = 2**63 - 1
    with Memory() as memory:
        d = api.Decoder(**limits)
        at, exc = fail_point(d, header(2, claim))
    assert at == 9  # 2 bytes, then the 8-byte length: its last byte completes the claim
    assert isinstance(exc, PayloadTooBig) and exc.code == 1009
    assert str(claim) in str(exc)
    assert memory.peak < SMALL


def test_a_frame_claiming_2_63_bytes_is_a_protocol_error(api):
    at, exc = fail_point(api.Decoder(max_message_size=None), header(2, 2**63))
    assert at == 9
    assert type(exc) is ProtocolError and exc.code == 1002
    assert "most significant bit" in str(exc)


def test_without_limits_a_huge_claim_buffers_only_what_arrived(api):
    # Unlimited by configuration: the frame is accepted, and memory follows the bytes received,
    # not the 2^63 - 1 the header claims.
    arrived = 4 * MiB
    chunk = bytes(64 * 1024)
    with Memory() as memory:
        d = api.Decoder(client=True, max_frame_size=None, max_message_size=None)
        assert d.feed(header(2, 2**63 - 1, mask=None)) == []
        for _ in range(arrived // len(chunk)):
            assert d.feed(chunk) == []
    # the received bytes, plus at most one growth step of the buffer holding them
    assert memory.peak < 3 * arrived + SMALL


# --- a message growing past max_message_size through small fragments --------------------------


def fragments(payloads: list[bytes], opcode: int = 2) -> list[bytes]:
    """Client frames carrying one message, one payload per fragment."""
    last = len(payloads) - 1
    return [client_frame(opcode if i == 0 else 0, p, fin=i == last) for i, p in enumerate(payloads)]


def test_a_message_growing_past_max_message_size_fails_on_the_tipping_fragment(api):
    limit, size = 64 * 1024, 100
    tipping = limit // size  # fragments 0..tipping-1 fit exactly up to tipping * size <= limit
    frames = fragments([bytes([i % 251]) * size for i in range(tipping + 5)])
    with Memory() as memory:
        d = api.Decoder(max_message_size=limit)
        assert d.feed(b"".join(frames[:tipping])) == []
        at, exc = fail_point(d, frames[tipping])
    assert at == 1  # the 7-bit length is in byte 1: nothing of the payload was needed
    assert isinstance(exc, PayloadTooBig) and exc.code == 1009
    assert f"message of {(tipping + 1) * size} bytes" in str(exc)
    assert f"max_message_size {limit}" in str(exc)
    # what arrived (the decoder holds the fragments so far) and a small constant
    assert memory.peak < 3 * limit + SMALL


def test_the_fragment_landing_exactly_on_the_limit_is_accepted(api):
    limit, size = 1000, 10
    payloads = [bytes([i]) * size for i in range(limit // size)]
    d = api.Decoder(max_message_size=limit)
    assert d.feed(b"".join(fragments(payloads))) == [Message(b"".join(payloads), False)]


def test_fed_at_once_the_fragments_before_the_limit_give_no_event(api):
    limit, size = 5000, 50
    frames = fragments([b"x" * size] * 300)
    d = api.Decoder(max_message_size=limit)
    with pytest.raises(PayloadTooBig) as info:
        d.feed(b"".join(frames))
    assert info.value.code == 1009
    assert info.value.events == []
    with pytest.raises(ProtocolError):
        d.feed(b"")  # the decoder refuses further input


def test_control_frames_between_fragments_do_not_count_towards_the_message(api):
    limit = 300
    frames = fragments([b"a" * 100, b"b" * 100, b"c" * 100])
    pings = [client_frame(9, b"p" * 125)] * 3
    stream = frames[0] + pings[0] + frames[1] + pings[1] + pings[2] + frames[2]
    events = api.Decoder(max_message_size=limit).feed(stream)
    assert events == [Ping(b"p" * 125)] * 3 + [Message(b"a" * 100 + b"b" * 100 + b"c" * 100, False)]


# --- 100 000 one-byte fragments ----------------------------------------------------------------

HUNDRED_THOUSAND = 100_000
# 100 000 bytes of text whose 3-byte characters are cut by every fragment boundary
TEXT = "a\u20ac" * (HUNDRED_THOUSAND // 4)
TEXT_BYTES = TEXT.encode()
ONE_BYTE_FRAGMENTS = fragments([TEXT_BYTES[i : i + 1] for i in range(HUNDRED_THOUSAND)], 1)


def test_100_000_one_byte_fragments_make_one_message_in_bounded_memory(api):
    stream = b"".join(ONE_BYTE_FRAGMENTS)  # 700 000 bytes, received in 64 KiB reads
    events = []
    with Memory() as memory:
        d = api.Decoder()
        for i in range(0, len(stream), 65536):
            events += d.feed(stream[i : i + 65536])
    assert len(events) == 1 and events[0].is_text
    assert events[0].text == TEXT
    # Per fragment: a reference in the list of parts, and the Py_buffer (80 bytes) CPython's
    # bytes.join takes for each part; per read: the records of the frames it completed.
    assert memory.peak < 128 * HUNDRED_THOUSAND + 32 * 65536


def test_100_000_one_byte_fragments_past_the_limit_fail_on_the_last_header(api):
    d = api.Decoder(max_message_size=HUNDRED_THOUSAND - 1)
    assert d.feed(b"".join(ONE_BYTE_FRAGMENTS[:-1])) == []
    at, exc = fail_point(d, ONE_BYTE_FRAGMENTS[-1])
    assert at == 1
    assert isinstance(exc, PayloadTooBig) and exc.code == 1009
    assert f"message of {HUNDRED_THOUSAND} bytes" in str(exc)


def test_invalid_utf8_in_the_middle_of_100_000_fragments_fails_at_its_byte(api):
    bad = HUNDRED_THOUSAND // 2 + 2  # the second byte of a euro sign (0x82) replaced
    payload = bytearray(TEXT_BYTES)
    assert payload[bad] == 0x82
    payload[bad] = 0x41
    frames = fragments([bytes(payload[i : i + 1]) for i in range(HUNDRED_THOUSAND)], 1)
    d = api.Decoder()
    assert d.feed(b"".join(frames[:bad])) == []
    with pytest.raises(ProtocolError) as info:
        d.feed(b"".join(frames[bad:]))
    assert info.value.code == 1007
    assert info.value.position == bad


# --- a 16 MiB ping claimed -----------------------------------------------------------------


@pytest.mark.parametrize("opcode", [8, 9, 10], ids=["close", "ping", "pong"])
@pytest.mark.parametrize("client", [False, True], ids=["server", "client"])
def test_a_16_mib_control_frame_fails_on_its_second_byte(api, opcode, client):
    mask = None if client else KEY
    with Memory() as memory:
        at, exc = fail_point(api.Decoder(client=client), header(opcode, 16 * MiB, mask=mask))
    assert at == 1  # byte 1 says 127: a control payload over 125 bytes (5.5)
    assert type(exc) is ProtocolError and exc.code == 1002
    assert "control frame payload of 127 bytes exceeds 125" in str(exc)
    assert memory.peak < SMALL


def test_a_16_mib_ping_on_the_wire_fails_and_yields_nothing(api):
    # The whole frame arrives in one call: nothing of its payload becomes an event.
    ping = header(9, 16 * MiB) + bytes(16 * MiB)
    d = api.Decoder()
    with pytest.raises(ProtocolError) as info:
        d.feed(client_frame(1, b"before") + ping)
    assert info.value.code == 1002
    assert info.value.events == [Message(b"before", True)]


@pytest.mark.parametrize("length", [126, 65535])
def test_a_control_frame_with_a_16_bit_length_fails_on_its_second_byte(api, length):
    data = bytes([0x89, 0x80 | 126]) + struct.pack("!H", length) + KEY
    at, exc = fail_point(api.Decoder(), data)
    assert at == 1
    assert exc.code == 1002
    assert "126 bytes exceeds 125" in str(exc)


# --- a long-lived decoder does not grow -----------------------------------------------------

GiB = 2**30


def block() -> tuple[bytes, list]:
    """4 MiB of server frames (a client's decoder) and the events they decode to: a 1 MiB
    binary message, a 1 MiB text message in four fragments with a ping between them, and many
    small messages."""
    binary = bytes(range(256)) * 4096
    text = ("wsfast \u00e9\u20ac\U0001f600 " * 65536).encode()[:MiB]
    while text[-1] & 0xC0 == 0x80 or text[-1] >= 0xC0:  # end on a character boundary
        text = text[:-1]
    quarter = len(text) // 4
    parts = [text[i * quarter : (i + 1) * quarter if i < 3 else len(text)] for i in range(4)]
    small = [bytes([i]) * (i * 37 % 4000) for i in range(64)]
    frames = [server_frame(2, binary)]
    frames += [server_frame(1 if i == 0 else 0, p, fin=i == 3) for i, p in enumerate(parts[:2])]
    frames += [server_frame(9, b"keepalive")]
    frames += [server_frame(0, p, fin=i == 1) for i, p in enumerate(parts[2:])]
    frames += [server_frame(2, s) for s in small]
    data = b"".join(frames)
    data += server_frame(2, bytes(4 * MiB - len(data) - 10))  # pad the block to 4 MiB exactly
    events = [Message(binary, False), Ping(b"keepalive"), Message(text, True)]
    events += [Message(s, False) for s in small]
    events += [Message(bytes(4 * MiB - len(b"".join(frames)) - 10), False)]
    return data, events


BLOCK, BLOCK_EVENTS = block()


def test_one_gib_of_messages_through_one_decoder_does_not_grow_memory(api):
    assert len(BLOCK) == 4 * MiB
    view = memoryview(BLOCK)
    chunk = 256 * 1024
    rounds = GiB // len(BLOCK)
    d = api.Decoder(client=True)
    fed = 0

    def one_block() -> None:
        nonlocal fed
        events = []
        for i in range(0, len(BLOCK), chunk):
            events += d.feed(view[i : i + chunk])
        fed += len(BLOCK)
        assert events == BLOCK_EVENTS

    with Memory() as memory:
        for _ in range(4):  # warm up: buffers reach their working size
            one_block()
        settled = memory.now()
        for _ in range(rounds - 4):
            one_block()
        after = memory.now()
    assert fed == GiB
    # nothing accumulates: what is held after 1 GiB is what was held after 16 MiB
    assert after - settled < 64 * 1024
    # the largest message (1 MiB) a few times over, never anything like what went through
    assert memory.peak < 8 * MiB


def test_a_decoder_dropped_mid_message_frees_its_buffers(api):
    fragment = bytes(range(256)) * 4096  # 1 MiB
    with Memory() as memory:
        before = memory.now()
        d = api.Decoder(client=True)
        # two complete fragments held for the message, and half of a third frame buffered
        stream = server_frame(2, fragment, fin=False) + server_frame(0, fragment, fin=False)
        third = server_frame(0, fragment, fin=False)
        assert d.feed(stream + third[: len(third) // 2]) == []
        del stream, third
        holding = memory.now() - before
        alive = weakref.ref(d)
        del d
        if not CPYTHON:
            gc.collect()  # pragma: no cover - PyPy frees on collection, not on the last reference
        assert alive() is None  # no reference cycle keeps it: freed with its last reference
        released = memory.now() - before
    assert not CPYTHON or holding > 2 * MiB  # the decoder did hold the message so far
    assert released < 16 * 1024


def test_a_decoder_dropped_after_an_error_frees_its_buffers(api):
    with Memory() as memory:
        before = memory.now()
        d = api.Decoder(client=True, max_message_size=3 * MiB)
        big = server_frame(2, bytes(2 * MiB), fin=False)
        with pytest.raises(PayloadTooBig):
            d.feed(big + server_frame(0, bytes(2 * MiB)))
        del big
        alive = weakref.ref(d)
        del d
        if not CPYTHON:
            gc.collect()  # pragma: no cover - PyPy frees on collection, not on the last reference
        assert alive() is None
        released = memory.now() - before
    assert released < 16 * 1024


def test_a_decoder_that_took_one_large_read_gives_the_memory_back(api):
    # 9.5 MB of small messages in one read: the receive buffer grows to hold it, and is not
    # kept at that size once the decoder is idle again (at the latest after the next read)
    read = b"".join(server_frame(2, bytes([i % 256]) * 1000) for i in range(9500))
    with Memory() as memory:
        before = memory.now()
        d = api.Decoder(client=True)
        events = d.feed(read)
        assert len(events) == 9500 and events[-1] == Message(bytes([9499 % 256]) * 1000, False)
        del events
        assert d.feed(server_frame(1, b"next")) == [Message(b"next", True)]
        held = memory.now() - before
    assert not CPYTHON or held < MiB


def test_many_differently_shaped_batches_decode_and_stay_bounded(api):
    # every read a different shape of batch (the C backend caches one unpacking format per
    # shape, a cache that must not grow without end)
    d = api.Decoder(client=True)
    with Memory() as memory:
        for n in range(1, 1201):
            payloads = [bytes([n % 251]) * n, bytes([n % 13]) * (n % 7)]
            frames = b"".join(server_frame(2, p) for p in payloads)
            assert d.feed(frames) == [Message(p, False) for p in payloads]
    assert memory.peak < SMALL + 64 * 1024
