"""The C backend and the pure-Python twin, fed the same random and mutated input, agree exactly.

Conversations are built from valid frames (``build_frame`` and ``Encoder``), then damaged: bits
flipped, bytes inserted or deleted, the stream truncated, extreme headers spliced in (126/127
length forms, non-minimal lengths, 2^63-1, the most significant bit set).  Each backend decodes
them in its own random chunking, down to one byte at a time, on both sides, with small limits
and with strict on and off, and must produce the same events, the same exception (type,
message, close code, UTF-8 position), the same events before it (``exc.events``) and the same
refusal afterwards.  parse_header, apply_mask, apply_mask_inplace, validate_utf8 and
Utf8Validator are compared on random bytes the same way.

The ``both`` fixture imports the C backend directly, so a missing extension fails these tests
in a normal run; with ``WSFAST_NO_EXTENSIONS=1`` there is nothing to compare and they are left
out.  ``WSFAST_LONG=1`` multiplies the number of examples by 50 for a long run on demand.
"""

from __future__ import annotations

import os
import struct
import zlib
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from wsfast import Close, Message, PerMessageDeflate, Ping, Pong, ProtocolError

LONG = os.environ.get("WSFAST_LONG") == "1"
POISON = 0xEE


@pytest.fixture(autouse=True, scope="module")
def poisoned_receive_buffers() -> Any:
    """The C decoder's receive buffers start full of POISON instead of whatever malloc returns
    (often zeros): C must never hand back a byte it did not write (it skips the header bytes
    it parses from the input), and a poisoned byte in a payload shows up as a disagreement."""
    try:
        from wsfast import _cbackend
    except ImportError:  # WSFAST_NO_EXTENSIONS=1: these tests are skipped anyway
        yield
        return
    allocate = _cbackend._new_buffer

    def poisoned(ctype: str, size: int) -> Any:
        buf = allocate(ctype, size)
        _cbackend.ffi.memmove(buf, bytes([POISON]) * size, size)
        return buf

    _cbackend._new_buffer = poisoned
    try:
        yield
    finally:
        _cbackend._new_buffer = allocate


def budget(n: int) -> settings:
    return settings(
        max_examples=n * 50 if LONG else n,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# ---------------------------------------------------------------------------------------------
# What a call did, in a form two backends can be compared on
# ---------------------------------------------------------------------------------------------


def describe(exc: BaseException) -> tuple:
    return (
        type(exc).__name__,
        str(exc),
        getattr(exc, "code", None),
        getattr(exc, "position", None),
    )


def outcome(call: Any, *args: Any, **kwargs: Any) -> tuple:
    try:
        return ("returned", call(*args, **kwargs))
    except (ProtocolError, ValueError, TypeError) as exc:
        return describe(exc)


def event_key(event: Any) -> tuple:
    """Ping, Pong and Close are tuples: compare their type too, not only their fields."""
    if isinstance(event, Message):
        return ("Message", event.data, event.is_text, event.text if event.is_text else None)
    assert isinstance(event, (Ping, Pong, Close)), event
    return (type(event).__name__, *event)


def decode(api: Any, data: bytes, cuts: list[int], options: dict) -> tuple:
    """Events (with those of ``exc.events``), the error, and what a further feed does."""
    d = api.Decoder(**options)
    events: list = []
    prev = 0
    try:
        for cut in [*cuts, len(data)]:
            events += d.feed(data[prev:cut])
            prev = cut
    except ProtocolError as exc:
        events += exc.events  # type: ignore[attr-defined]
        return [event_key(e) for e in events], describe(exc), outcome(d.feed, b"\x81\x80")
    return [event_key(e) for e in events], None, None


# ---------------------------------------------------------------------------------------------
# Conversations: valid frames, then damage
# ---------------------------------------------------------------------------------------------

CLOSE_CODES = [1000, 1001, 1003, 1007, 1011, 1014, 3000, 4999]
BAD_CLOSE_CODES = [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535]
BIG_SIZES = [125, 126, 127, 65535, 65536, 70000]
# RFC 6455 5.2 length forms at their edges: (7-bit field, extended length)
EXTREME_LENGTHS = [
    (126, 0),
    (126, 125),  # non-minimal
    (126, 126),
    (126, 65535),
    (127, 0),
    (127, 65535),  # non-minimal
    (127, 65536),
    (127, 2**63 - 1),  # the largest length there is
    (127, 2**63),  # most significant bit set
    (127, 2**64 - 1),
    (125, None),
]


def raw_header(
    opcode: int, fin: bool, rsv: int, len7: int, extended: int | None, key: bytes | None
):
    """A header written byte by byte (RFC 6455 5.2), whatever the length form says."""
    head = bytes([(0x80 if fin else 0) | rsv | opcode, (0x80 if key else 0) | len7])
    if len7 == 126:
        head += struct.pack("!H", extended)
    elif len7 == 127:
        head += struct.pack("!Q", extended)
    return head + (key or b"")


extreme_headers = st.builds(
    lambda opcode, fin, rsv, form, key: raw_header(opcode, fin, rsv, *form, key),
    st.sampled_from([0, 1, 2, 8, 9, 10, 3, 11, 15]),
    st.booleans(),
    st.sampled_from([0, 0, 0, 0x40, 0x20, 0x10]),
    st.sampled_from(EXTREME_LENGTHS),
    st.none() | st.binary(min_size=4, max_size=4),
)


@st.composite
def payloads(draw: Any, text: bool) -> bytes:
    if draw(st.integers(0, 15)) == 0:
        # a large payload: a unit repeated (cheap to generate, still cut anywhere below)
        size = draw(st.sampled_from(BIG_SIZES))
        unit = (
            draw(st.text(min_size=1, max_size=3)).encode()
            if text
            else draw(st.binary(min_size=1, max_size=3))
        )
        return (unit * (size // len(unit) + 1))[:size]
    if text:
        return draw(st.text(max_size=30)).encode()
    return draw(st.binary(max_size=30))


@st.composite
def control_frame(draw: Any) -> tuple:
    kind = draw(st.sampled_from(["ping", "pong", "close"]))
    if kind != "close":
        size = draw(st.sampled_from([None, None, 0, 125]))
        payload = draw(st.binary(max_size=20)) if size is None else b"p" * size
        return (9 if kind == "ping" else 10, payload)
    shape = draw(st.sampled_from(["empty", "code", "code", "bad code", "one byte", "bad reason"]))
    if shape == "empty":
        return (8, b"")
    if shape == "one byte":
        return (8, b"\x03")
    code = draw(st.sampled_from(BAD_CLOSE_CODES if shape == "bad code" else CLOSE_CODES))
    reason = draw(st.text(max_size=20)).encode()[:120]
    if shape == "bad reason":
        reason += draw(st.sampled_from([b"\xff", b"\xe2\x82", b"\xed\xa0\x80", b"\xc0\xaf"]))
    return (8, code.to_bytes(2, "big") + reason)


@st.composite
def frame_list(draw: Any) -> list[tuple]:
    """(opcode, payload, fin, rsv1) for a conversation: messages, fragmented or not, with
    control frames between their fragments, perhaps a close (not always last)."""
    frames: list[tuple] = []
    for _ in range(draw(st.integers(0, 5))):
        if draw(st.integers(0, 3)) == 0:
            frames.append((*draw(control_frame()), True, False))
            continue
        text = draw(st.booleans())
        payload = draw(payloads(text))
        if text and draw(st.integers(0, 7)) == 0:
            payload += draw(
                st.sampled_from([b"\xff", b"\xf4\x90\x80\x80", b"\xe2\x82", b"\xed\xa0\x80"])
            )
        cuts = sorted(set(draw(st.lists(st.integers(0, len(payload)), max_size=4))))
        pieces = [payload[a:b] for a, b in zip([0, *cuts], [*cuts, len(payload)])]
        rsv1 = draw(st.integers(0, 15)) == 0
        for i, piece in enumerate(pieces):
            frames.append(
                (0 if i else (1 if text else 2), piece, i == len(pieces) - 1, rsv1 and i == 0)
            )
            if i < len(pieces) - 1 and draw(st.integers(0, 3)) == 0:
                frames.append((*draw(control_frame()), True, False))
    return frames


def build(frames: list[tuple], keys: list[bytes] | None, api: Any) -> bytes:
    out = []
    for i, (opcode, payload, fin, rsv1) in enumerate(frames):
        key = keys[i % len(keys)] if keys else None
        out.append(api.build_frame(opcode, payload, fin=fin, rsv1=rsv1, mask=key))
    return b"".join(out)


mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 2**20), st.integers(0, 7)),
    st.tuples(st.just("truncate"), st.integers(0, 2**20)),
    st.tuples(
        st.just("insert"),
        st.integers(0, 2**20),
        st.binary(min_size=1, max_size=6) | extreme_headers,
    ),
    st.tuples(st.just("delete"), st.integers(0, 2**20), st.integers(1, 8)),
    st.tuples(st.just("overwrite"), st.integers(0, 2**20), extreme_headers),
)


def mutate(data: bytes, mutations: list[tuple]) -> bytes:
    buf = bytearray(data)
    for m in mutations:
        at = m[1] % (len(buf) + 1)
        if m[0] == "flip" and buf:
            buf[at % len(buf)] ^= 1 << m[2]
        elif m[0] == "truncate":
            del buf[at:]
        elif m[0] == "insert":
            buf[at:at] = m[2]
        elif m[0] == "delete":
            del buf[at : at + m[2]]
        elif m[0] == "overwrite":
            buf[at : at + len(m[2])] = m[2]
    return bytes(buf)


chunkings = st.one_of(
    st.just("whole"),
    st.just("bytes"),
    st.lists(st.integers(0, 2**20), max_size=8),
)


def cuts_for(chunking: Any, n: int) -> list[int]:
    if chunking == "whole":
        return []
    if chunking == "bytes":
        # one byte at a time over the first 2000 bytes (each a call on both backends), then
        # the rest at once
        return list(range(1, min(n, 2000)))
    return sorted(c % (n + 1) for c in chunking)


LIMITS = [None, 0, 1, 2, 5, 125, 126, 127, 65535, 65536, 2**63 - 1, 2**64]
decoder_options = st.fixed_dictionaries(
    {
        "client": st.booleans(),
        "strict": st.booleans(),
        "max_frame_size": st.sampled_from(LIMITS) | st.integers(0, 200),
        "max_message_size": st.sampled_from([*LIMITS, 16 * 2**20]) | st.integers(0, 300),
    }
)


def keys_for(options: dict, draw_keys: list[bytes], wrong_direction: bool) -> list[bytes] | None:
    """Masked frames for a server (client=False), unmasked for a client, unless told wrong."""
    server = not options["client"]
    return draw_keys if server != wrong_direction else None


# ---------------------------------------------------------------------------------------------
# The decoder
# ---------------------------------------------------------------------------------------------


@budget(300)
@given(
    frames=frame_list(),
    options=decoder_options,
    keys=st.lists(st.binary(min_size=4, max_size=4), min_size=1, max_size=3),
    wrong_direction=st.integers(0, 15).map(lambda n: n == 0),
    mutations=st.lists(mutation, max_size=3),
    c_chunking=chunkings,
    py_chunking=chunkings,
)
def test_decoders_agree_on_mutated_conversations(
    both, frames, options, keys, wrong_direction, mutations, c_chunking, py_chunking
):
    c, py = both
    data = mutate(build(frames, keys_for(options, keys, wrong_direction), py), mutations)
    assert decode(c, data, cuts_for(c_chunking, len(data)), options) == decode(
        py, data, cuts_for(py_chunking, len(data)), options
    )


@budget(200)
@given(
    options=decoder_options,
    data=st.binary(max_size=64),
    headers=st.lists(extreme_headers, max_size=3),
    c_chunking=chunkings,
    py_chunking=chunkings,
)
def test_decoders_agree_on_random_bytes_and_extreme_headers(
    both, options, data, headers, c_chunking, py_chunking
):
    c, py = both
    stream = b"".join(headers) + data
    assert decode(c, stream, cuts_for(c_chunking, len(stream)), options) == decode(
        py, stream, cuts_for(py_chunking, len(stream)), options
    )


@budget(60)
@given(
    client=st.booleans(),
    messages=st.lists(st.text(max_size=40) | st.binary(max_size=40), max_size=4),
    fragment_size=st.none() | st.integers(1, 9),
    chunking=chunkings,
)
def test_decoders_agree_on_what_the_encoder_sends(both, client, messages, fragment_size, chunking):
    c, py = both
    enc = c.Encoder(client=not client)  # the peer of the decoding side
    data = b"".join(enc.message(m, fragment_size=fragment_size) for m in messages)
    data += enc.ping(b"p") + enc.close(1000, "bye")
    options = {"client": client}
    result = decode(c, data, cuts_for(chunking, len(data)), options)
    assert result == decode(py, data, [], options)
    assert result[1] is None
    assert len(result[0]) == len(messages) + 2


@pytest.mark.parametrize(
    "header",
    [
        raw_header(2, True, 0, 127, 2**63 - 1, b"\x01\x02\x03\x04"),
        raw_header(2, True, 0, 127, 2**63, b"\x01\x02\x03\x04"),
        raw_header(2, True, 0, 127, 2**64 - 1, None),
        raw_header(1, True, 0, 127, 65535, b"\x01\x02\x03\x04"),
        raw_header(1, True, 0, 126, 125, b"\x01\x02\x03\x04"),
        raw_header(9, True, 0, 126, 200, b"\x01\x02\x03\x04"),
        raw_header(0, True, 0, 127, 2**63 - 1, b"\x01\x02\x03\x04"),
    ],
)
@pytest.mark.parametrize("client", [False, True])
@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize("limit", [None, 0, 125, 2**63 - 2])
def test_decoders_agree_on_each_extreme_header_byte_by_byte(both, header, client, strict, limit):
    c, py = both
    options = {
        "client": client,
        "strict": strict,
        "max_frame_size": limit,
        "max_message_size": limit,
    }
    data = header + b"\x00" * 20
    assert decode(c, data, list(range(1, len(data))), options) == decode(py, data, [], options)


# ---------------------------------------------------------------------------------------------
# Frames, masking, UTF-8
# ---------------------------------------------------------------------------------------------


def views(data: bytes) -> list:
    """The same bytes as every kind of buffer the public functions take."""
    doubled = bytes(b for x in data for b in (x, 0))
    return [data, bytearray(data), memoryview(data), memoryview(doubled)[::2]]


@budget(300)
@given(
    data=st.binary(max_size=20) | st.tuples(extreme_headers, st.binary(max_size=6)).map(b"".join),
    strict=st.booleans(),
)
@example(data=raw_header(2, True, 0, 127, 2**63 - 1, None), strict=True)
@example(data=raw_header(2, True, 0, 127, 2**63, None), strict=True)
def test_parse_header_agrees_on_every_prefix(both, data, strict):
    c, py = both
    for n in range(len(data) + 1):
        for buf in views(data[:n]):
            assert outcome(c.parse_header, buf, strict=strict) == outcome(
                py.parse_header, buf, strict=strict
            )


mask_offsets = st.integers(-8, 8) | st.integers(-(2**70), 2**70)


@budget(200)
@given(
    size=st.integers(0, 40) | st.sampled_from([63, 64, 65, 125, 126, 4095, 4096, 4097, 2**20]),
    fill=st.binary(min_size=1, max_size=7),
    key=st.binary(min_size=4, max_size=4),
    offset=mask_offsets,
)
def test_masking_agrees_for_every_size_phase_and_buffer_type(both, size, fill, key, offset):
    c, py = both
    data = (fill * (size // len(fill) + 1))[:size]
    expected = py.apply_mask(data, key, offset)
    for buf in views(data):
        assert c.apply_mask(buf, key, offset) == expected
        assert py.apply_mask(buf, key, offset) == expected
    for api in (c, py):
        target = bytearray(data)
        api.apply_mask_inplace(target, key, offset)
        assert target == expected
        window = memoryview(bytearray(b"\xaa" + data + b"\xbb"))[1:-1]
        api.apply_mask_inplace(window, key, offset)
        assert window.obj == b"\xaa" + expected + b"\xbb"


@budget(100)
@given(
    data=st.binary(max_size=8),
    key=st.binary(max_size=6) | st.sampled_from([None, "abcd", 1234, [1, 2, 3, 4]]),
    offset=st.sampled_from([0, 1, -1, 2**65, 1.0, "0", None, True]),
)
def test_masking_rejects_bad_arguments_with_the_same_errors(both, data, key, offset):
    c, py = both
    assert outcome(c.apply_mask, data, key, offset) == outcome(py.apply_mask, data, key, offset)
    for make in (bytearray, bytes, lambda d: memoryview(bytearray(d * 2))[::2]):
        a, b = make(data), make(data)
        assert outcome(c.apply_mask_inplace, a, key, offset) == outcome(
            py.apply_mask_inplace, b, key, offset
        )
        assert bytes(a) == bytes(b)


UTF8_DAMAGE = [
    b"\x80",
    b"\xbf",
    b"\xc0",
    b"\xc1\x80",
    b"\xe0\x80",
    b"\xed\xa0",
    b"\xf0\x8f",
    b"\xf4\x90",
    b"\xf5",
    b"\xff",
    b"\xe2\x82",
    b"\xf0\x9f\x98",
]


@budget(300)
@given(
    data=st.binary(max_size=64)
    | st.tuples(st.text(max_size=30), st.sampled_from(UTF8_DAMAGE), st.text(max_size=30)).map(
        lambda t: t[0].encode() + t[1] + t[2].encode()
    )
    | st.text(max_size=200).map(str.encode)
    | st.sampled_from([b"a" * 5000 + b"\xff", "é".encode() * 3000, b"x" * 4096, b"x" * 4097]),
    cuts=st.lists(st.integers(0, 10_000), max_size=6),
)
def test_utf8_validation_agrees_whole_and_in_pieces(both, data, cuts):
    c, py = both
    for buf in views(data):
        assert c.validate_utf8(buf) == py.validate_utf8(buf)
    points = sorted(x % (len(data) + 1) for x in cuts)
    results = []
    for api in (c, py):
        v = api.Utf8Validator()
        steps = []
        for _round in range(2):  # the second round after reset() must behave like the first
            prev = 0
            for cut in [*points, len(data)]:
                steps.append(outcome(v.feed, memoryview(data)[prev:cut]))
                steps.append(v.complete)
                prev = cut
            steps.append(outcome(v.finish))
            v.reset()
        results.append(steps)
    assert results[0] == results[1]


# ---------------------------------------------------------------------------------------------
# permessage-deflate: compressed conversations
# ---------------------------------------------------------------------------------------------

DEFLATE_AGREEMENTS = [
    PerMessageDeflate(server_max_window_bits=15, client_max_window_bits=15),
    PerMessageDeflate(client_no_context_takeover=True, server_no_context_takeover=True,
                      client_max_window_bits=9, server_max_window_bits=9),
]
compressible_text = st.one_of(
    st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")),  # some invalid
    st.sampled_from([b"abc" * 100, "\u00e9\u6f22\U0001f600".encode() * 50, b"", b"\xff\xfe"]),
)


@st.composite
def compressed_conversation(draw: Any) -> list[tuple]:
    """(opcode, payload, fin, rsv1) frames: messages compressed on one context (or each on its
    own), split into fragments, controls between them, some sent uncompressed."""
    c = zlib.compressobj(draw(st.sampled_from([1, 6, 9])), zlib.DEFLATED, -9)
    frames: list[tuple] = []
    for _ in range(draw(st.integers(1, 6))):
        data = draw(compressible_text)
        opcode = draw(st.sampled_from([1, 2]))
        compressed = draw(st.integers(0, 4)) > 0
        flush = zlib.Z_FINISH if draw(st.integers(0, 9)) == 0 else zlib.Z_SYNC_FLUSH
        payload = c.compress(data) + c.flush(flush) if compressed else data
        if compressed and flush == zlib.Z_SYNC_FLUSH:
            payload = payload[:-4]
        if flush == zlib.Z_FINISH:
            c = zlib.compressobj(6, zlib.DEFLATED, -9)
        size = draw(st.integers(1, max(1, len(payload))))
        pieces = [payload[i : i + size] for i in range(0, len(payload), size)] or [b""]
        for i, piece in enumerate(pieces):
            frames.append((opcode if i == 0 else 0, piece, i == len(pieces) - 1,
                           compressed and i == 0))
            if draw(st.integers(0, 5)) == 0:
                frames.append((9, b"ping", True, False))
    return frames


@budget(200)
@given(
    frames=compressed_conversation(),
    agreed=st.sampled_from(DEFLATE_AGREEMENTS),
    limit=st.sampled_from([None, 0, 1, 299, 300, 301, 16 * 2**20]),
    key=st.binary(min_size=4, max_size=4),
    mutations=st.lists(mutation, max_size=2),
    c_chunking=chunkings,
    py_chunking=chunkings,
)
def test_decoders_agree_on_compressed_conversations(
    both, frames, agreed, limit, key, mutations, c_chunking, py_chunking
):
    c, py = both
    data = mutate(build(frames, [key], py), mutations)
    options = {"client": False, "max_message_size": limit, "extensions": [agreed]}
    assert decode(c, data, cuts_for(c_chunking, len(data)), options) == decode(
        py, data, cuts_for(py_chunking, len(data)), options
    )
