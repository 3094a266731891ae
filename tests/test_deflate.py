"""permessage-deflate (RFC 7692): receiving, sending, limits, zlib modules.

Compressed frames are built here with the zlib module directly (raw deflate, a sync flush, the
trailing 00 00 ff ff removed, as RFC 7692 7.2.1 describes), not with wsfast's Encoder, so the
decoder is checked against an independent sender.  Every test runs on both backends and under
every zlib module installed (the standard library's and zlib-ng's).
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import subprocess
import sys
import time
import tracemalloc
import zlib as stdlib_zlib

import pytest

import wsfast
from wsfast import PerMessageDeflate, deflate

from .framing import client_frame, server_frame

ZLIBS = ["zlib"] + (["zlib-ng"] if importlib.util.find_spec("zlib_ng") else [])
AGREED = PerMessageDeflate(server_max_window_bits=15, client_max_window_bits=15)
MiB = 1 << 20


@pytest.fixture(params=ZLIBS, autouse=True)
def zlib_module(request, monkeypatch):
    """Run the test with wsfast's inflate and deflate on this zlib module."""
    module = stdlib_zlib if request.param == "zlib" else importlib.import_module("zlib_ng.zlib_ng")
    monkeypatch.setattr(deflate, "zlib", module)
    return module


def raw_compressor(bits: int = 15, level: int = 6):
    return stdlib_zlib.compressobj(level, stdlib_zlib.DEFLATED, -bits)


def compress(data: bytes, compressor=None) -> bytes:
    """A message's compressed payload (RFC 7692 7.2.1)."""
    c = compressor or raw_compressor()
    out = c.compress(data) + c.flush(stdlib_zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


def fragments(opcode: int, payload: bytes, size: int, **kw) -> bytes:
    """``payload`` in frames of ``size`` bytes, RSV1 on the first (a compressed message)."""
    pieces = [payload[i : i + size] for i in range(0, len(payload), size)] or [b""]
    out = b""
    for i, piece in enumerate(pieces):
        out += client_frame(
            opcode if i == 0 else 0,
            piece,
            fin=i == len(pieces) - 1,
            rsv=0x40 if i == 0 else 0,
            **kw,
        )
    return out


def server(api, agreed=AGREED, **kw) -> wsfast.Decoder:
    return api.Decoder(extensions=[agreed], **kw)


def values(events):
    return [e.text if isinstance(e, wsfast.Message) and e.is_text else e for e in events]


# --- receiving ---------------------------------------------------------------------------------


def test_a_compressed_text_message_is_inflated_and_its_text_is_ready(api):
    text = "h\u00e9llo w\u00f6rld \u6f22\u5b57 \U0001f600 " * 20
    events = server(api).feed(client_frame(1, compress(text.encode()), rsv=0x40))
    assert values(events) == [text]
    assert events[0].data == text.encode() and events[0].is_text


def test_a_compressed_binary_message_and_an_empty_one(api):
    data = bytes(range(256)) * 40
    stream = client_frame(2, compress(data), rsv=0x40) + client_frame(2, b"\x00", rsv=0x40)
    assert server(api).feed(stream) == [wsfast.Message(data, False), wsfast.Message(b"", False)]


def test_compressed_and_plain_messages_and_control_frames_mix(api):
    c = raw_compressor()
    first, second = b"one " * 50, b"two " * 50
    d = server(api)
    stream = client_frame(1, compress(first, c), rsv=0x40) + client_frame(1, b"plain")
    assert values(d.feed(stream)) == [first.decode(), "plain"]
    payload = compress(second, c)
    stream = (
        client_frame(2, payload[:5], fin=False, rsv=0x40)
        + client_frame(9, b"ping")
        + client_frame(0, payload[5:])
    )
    assert d.feed(stream) == [wsfast.Ping(b"ping"), wsfast.Message(second, False)]


def test_a_fragmented_compressed_message_arrives_whole(api):
    text = "fragmented \u00e9 " * 100
    assert values(server(api).feed(fragments(1, compress(text.encode()), 10))) == [text]


def test_context_takeover_keeps_the_history_across_messages(api):
    c = raw_compressor()
    messages = [json.dumps({"n": i, "name": "alice", "tags": ["a", "b"]}).encode() for i in range(50)]
    payloads = [compress(m, c) for m in messages]
    # later messages are shorter than the first: they refer back to it
    assert len(payloads[-1]) < len(payloads[0]) // 2
    stream = b"".join(client_frame(1, p, rsv=0x40) for p in payloads)
    assert values(server(api).feed(stream)) == [m.decode() for m in messages]


def test_without_context_takeover_each_message_is_inflated_afresh(api):
    # A sender that keeps its history although it agreed not to: its second message refers to
    # the first, which an inflater reset per message (as agreed) does not have.
    c = raw_compressor()
    first, second = compress(b"abcdefgh" * 20, c), compress(b"abcdefgh" * 20, c)
    agreed = PerMessageDeflate(client_no_context_takeover=True, client_max_window_bits=15)
    d = server(api, agreed)
    assert d.feed(client_frame(2, first, rsv=0x40)) == [wsfast.Message(b"abcdefgh" * 20, False)]
    with pytest.raises(wsfast.ProtocolError) as info:
        d.feed(client_frame(2, second, rsv=0x40))
    assert info.value.code == 1007
    assert str(info.value).startswith("invalid compressed data")
    # the same stream with context takeover agreed is fine
    d = server(api)
    assert len(d.feed(client_frame(2, first, rsv=0x40) + client_frame(2, second, rsv=0x40))) == 2


def test_window_bits_of_each_direction_are_used(api):
    for bits in range(9, 16):
        data = os.urandom(200) * 40
        payload = compress(data, raw_compressor(bits))
        agreed = PerMessageDeflate(client_max_window_bits=bits, server_max_window_bits=15)
        assert server(api, agreed).feed(client_frame(2, payload, rsv=0x40)) == [
            wsfast.Message(data, False)
        ]
        # the client side inflates what the server sends with server_max_window_bits
        agreed = PerMessageDeflate(client_max_window_bits=15, server_max_window_bits=bits)
        d = api.Decoder(client=True, extensions=[agreed])
        assert d.feed(server_frame(2, payload, rsv=0x40)) == [wsfast.Message(data, False)]


def test_rsv1_without_a_negotiated_extension_is_a_protocol_error(api):
    with pytest.raises(wsfast.ProtocolError) as info:
        api.Decoder().feed(client_frame(1, compress(b"x"), rsv=0x40))
    assert info.value.code == 1002
    assert str(info.value) == "reserved bits rsv1 set without an extension"


def test_rsv1_on_a_continuation_or_a_control_frame_is_a_protocol_error(api):
    payload = compress(b"hello hello hello")
    stream = client_frame(1, payload[:3], fin=False, rsv=0x40) + client_frame(
        0, payload[3:], rsv=0x40
    )
    with pytest.raises(wsfast.ProtocolError) as info:
        server(api).feed(stream)
    assert (info.value.code, str(info.value)) == (1002, "reserved bits rsv1 set without an extension")
    for opcode in (8, 9, 10):
        with pytest.raises(wsfast.ProtocolError) as info:
            server(api).feed(client_frame(opcode, b"", rsv=0x40))
        assert info.value.code == 1002


def test_rsv2_and_rsv3_stay_refused_with_compression(api):
    for rsv in (0x20, 0x10, 0x60):
        with pytest.raises(wsfast.ProtocolError) as info:
            server(api).feed(client_frame(1, b"x", rsv=rsv))
        assert info.value.code == 1002


def test_invalid_compressed_data_fails_with_1007(api):
    events = []
    d = server(api)
    with pytest.raises(wsfast.ProtocolError) as info:
        events = d.feed(client_frame(1, b"ok") + client_frame(1, b"\xff\xff\xff\xff", rsv=0x40))
    assert info.value.code == 1007
    assert info.value.events == [wsfast.Message(b"ok", True)]
    assert events == []
    with pytest.raises(wsfast.ProtocolError, match="decoder stopped by an earlier error"):
        d.feed(client_frame(1, b"more"))


def test_text_is_validated_after_inflation_with_the_position_in_the_inflated_message(api):
    good = "\u00e9t\u00e9 ".encode() * 30
    bad = good + b"\xed\xa0\x80" + b"rest"  # a surrogate: invalid from its second byte
    with pytest.raises(wsfast.InvalidUTF8) as info:
        server(api).feed(client_frame(1, compress(bad), rsv=0x40))
    assert info.value.position == len(good) + 1
    assert info.value.code == 1007
    # a message that ends inside a code point
    with pytest.raises(wsfast.InvalidUTF8) as info:
        server(api).feed(client_frame(1, compress(good + b"\xe6\xbc"), rsv=0x40))
    assert info.value.position == len(good) + 2


def test_invalid_text_fails_on_the_fragment_that_carries_it(api):
    # Fail fast across fragments: the message's second frame inflates to the invalid byte; the
    # error comes as that frame arrives, before the message ends.
    c = raw_compressor()
    part1 = c.compress(b"valid text " * 20) + c.flush(stdlib_zlib.Z_SYNC_FLUSH)
    part2 = c.compress(b"then \xc0\xaf") + c.flush(stdlib_zlib.Z_SYNC_FLUSH)
    d = server(api)
    assert d.feed(client_frame(1, part1, fin=False, rsv=0x40)) == []
    with pytest.raises(wsfast.InvalidUTF8) as info:
        d.feed(client_frame(0, part2, fin=False))
    assert info.value.position == len(b"valid text " * 20) + 5


def test_any_chunking_gives_the_same_events(api):
    c = raw_compressor()
    texts = ["\u043f\u0440\u0438\u0432\u0435\u0442 " * n for n in (1, 10, 100)]
    stream = b"".join(fragments(1, compress(t.encode(), c), 13) for t in texts)
    stream += client_frame(2, compress(b"\x00" * 3000, c), rsv=0x40) + client_frame(8, b"\x03\xe8")
    whole = values(server(api).feed(stream))
    assert whole == [*texts, wsfast.Message(b"\x00" * 3000, False), wsfast.Close(1000, "")]
    for size in (1, 2, 7, 64):
        d = server(api)
        got = []
        for i in range(0, len(stream), size):
            got += d.feed(stream[i : i + size])
        assert values(got) == whole


# --- the size limit while inflating ------------------------------------------------------------


@functools.cache
def zeros_256_mib() -> bytes:
    """A 256 MiB message of zeros, compressed: about 250 KB."""
    zeros = bytes(1 << 20)
    c = raw_compressor()
    payload = b"".join(c.compress(zeros) for _ in range(256)) + c.flush(stdlib_zlib.Z_SYNC_FLUSH)
    return payload[:-4]


@pytest.mark.parametrize("fragment", [None, 1000])
def test_a_256_mib_message_of_zeros_fails_fast_and_small_under_a_1_mib_limit(api, fragment):
    payload = zeros_256_mib()
    assert len(payload) < 300_000
    stream = (
        client_frame(2, payload, rsv=0x40)
        if fragment is None
        else fragments(2, payload, fragment)
    )
    d = server(api, max_message_size=MiB)
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(wsfast.PayloadTooBig) as info:
            d.feed(stream)
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert info.value.code == 1009
    assert str(info.value) == f"message inflates to more than max_message_size {MiB} bytes"
    assert elapsed < 0.5
    assert peak < 6 * MiB  # the 1 MiB allowed, the stream, a few copies: never the 256 MiB


@pytest.mark.parametrize("fragment", [None, 4096])
def test_a_message_of_exactly_the_limit_passes_and_one_or_two_bytes_more_fail(api, fragment):
    limit = 100_000
    for size, ok in ((limit - 1, True), (limit, True), (limit + 1, False), (limit + 2, False)):
        for data in (bytes(size), os.urandom(size)):
            payload = compress(data)
            stream = (
                client_frame(2, payload, rsv=0x40)
                if fragment is None
                else fragments(2, payload, fragment)
            )
            d = server(api, max_message_size=limit)
            if ok:
                assert d.feed(stream) == [wsfast.Message(data, False)]
            else:
                with pytest.raises(wsfast.PayloadTooBig):
                    d.feed(stream)


def test_incompressible_data_at_the_limit_is_longer_on_the_wire_and_still_passes(api):
    data = os.urandom(70_000)
    payload = compress(data, raw_compressor(level=0))
    assert len(payload) > len(data)  # stored blocks add their headers
    d = server(api, max_message_size=len(data))
    assert d.feed(client_frame(2, payload, rsv=0x40)) == [wsfast.Message(data, False)]


def test_a_compressed_message_far_larger_on_the_wire_than_the_limit_fails_on_its_header(api):
    d = server(api, max_message_size=1000)
    header = client_frame(2, b"", rsv=0x40, length=200_000)
    with pytest.raises(wsfast.PayloadTooBig) as info:
        d.feed(header)
    assert info.value.code == 1009


def test_many_final_blocks_in_one_frame_are_inflated_and_bounded(api):
    # RFC 7692 7.2.3.4: a sender may use BFINAL blocks; what follows one starts a new stream
    def final(data: bytes) -> bytes:
        c = raw_compressor()
        return c.compress(data) + c.flush(stdlib_zlib.Z_FINISH)

    payload = final(b"first ") + final(b"second")
    assert server(api).feed(client_frame(1, payload, rsv=0x40)) == [
        wsfast.Message(b"first second", True)
    ]
    empty = final(b"")
    with pytest.raises(wsfast.ProtocolError) as info:
        server(api).feed(client_frame(2, empty * 1100, rsv=0x40))
    assert info.value.code == 1007
    assert "final deflate blocks" in str(info.value)


# --- sending -----------------------------------------------------------------------------------


def inflate_frames(wire: bytes, bits: int = 15) -> tuple[list[tuple[int, int, bool]], bytes]:
    """Parse unmasked frames by hand: ([(first byte flags, opcode, fin)], inflated message)."""
    heads, payload, i = [], b"", 0
    while i < len(wire):
        b0, b1 = wire[i], wire[i + 1]
        n, i = b1 & 0x7F, i + 2
        if n == 126:
            n, i = int.from_bytes(wire[i : i + 2], "big"), i + 2
        elif n == 127:
            n, i = int.from_bytes(wire[i : i + 8], "big"), i + 8
        heads.append((b0 & 0x70, b0 & 0x0F, bool(b0 & 0x80)))
        payload += wire[i : i + n]
        i += n
    d = stdlib_zlib.decompressobj(-bits)
    return heads, d.decompress(payload + b"\x00\x00\xff\xff")


def test_sent_messages_are_sync_flushed_with_the_tail_removed_and_rsv1_on_the_first_frame(api):
    encoder = api.Encoder(extensions=[AGREED])
    text = "s\u00e9nd " + os.urandom(1500).hex()  # hex digits: compressed, still > 1 KB
    wire = encoder.message(text, fragment_size=100)
    heads, inflated = inflate_frames(wire)
    assert inflated == text.encode()
    assert heads[0] == (0x40, 1, False)
    assert all(h == (0, 0, False) for h in heads[1:-1]) and heads[-1] == (0, 0, True)
    assert len(heads) > 3
    single = encoder.message(b"\x01" * 1000)
    assert not single.endswith(b"\x00\x00\xff\xff")


def test_compress_none_follows_the_threshold_and_true_or_false_force_it(api):
    agreed = PerMessageDeflate(threshold=100, client_max_window_bits=15, server_max_window_bits=15)
    encoder = api.Encoder(extensions=[agreed])
    assert encoder.message(b"x" * 99) == server_frame(2, b"x" * 99)
    assert encoder.message(b"x" * 100)[0] == 0xC2
    assert encoder.message(b"x" * 99, compress=True)[0] == 0xC2
    assert encoder.message(b"x" * 1000, compress=False) == server_frame(2, b"x" * 1000)
    with pytest.raises(ValueError, match="compress=True needs a negotiated permessage-deflate"):
        api.Encoder().message(b"x", compress=True)
    with pytest.raises(TypeError):
        encoder.message(b"x", compress="yes")
    assert api.Encoder().message(b"x", compress=False) == server_frame(2, b"x")


def test_an_empty_message_compresses_to_one_zero_byte(api):
    encoder = api.Encoder(extensions=[AGREED])
    assert encoder.message(b"", compress=True) == bytes([0xC2, 0x01, 0x00])


def test_what_the_encoder_sends_the_decoder_receives_in_every_configuration(api):
    for client_nct in (False, True):
        for bits in (8, 9, 12, 15):
            agreed = PerMessageDeflate(
                client_no_context_takeover=client_nct,
                server_no_context_takeover=not client_nct,
                client_max_window_bits=bits,
                server_max_window_bits=bits,
                compress_level=1 if bits < 12 else 9,
                mem_level=1 if bits < 12 else 9,
                threshold=0,
            )
            for client in (False, True):
                encoder = api.Encoder(client=client, extensions=[agreed])
                decoder = api.Decoder(client=not client, extensions=[agreed])
                messages = ["\u00e9" * 300, b"\x00" * 5000, os.urandom(2000), "", "a" * 70000]
                wire = b"".join(encoder.message(m, fragment_size=1000) for m in messages)
                assert values(decoder.feed(wire)) == [
                    m if isinstance(m, str) else wsfast.Message(m, False) for m in messages
                ]


def test_without_context_takeover_each_sent_message_stands_alone(api):
    agreed = PerMessageDeflate(server_no_context_takeover=True, server_max_window_bits=15)
    encoder = api.Encoder(extensions=[agreed])
    first = encoder.message(b"repeat me please " * 10)
    second = encoder.message(b"repeat me please " * 10)
    assert first == second  # nothing of the first message is referred to by the second
    # each inflates on its own
    assert inflate_frames(second)[1] == b"repeat me please " * 10


def test_a_window_of_8_bits_is_sent_so_that_an_8_bit_inflater_takes_it(api):
    agreed = PerMessageDeflate(server_max_window_bits=8, client_max_window_bits=8)
    encoder = api.Encoder(extensions=[agreed])
    data = os.urandom(64) * 200 + bytes(range(256)) * 20
    wire = encoder.message(data, compress=True)
    assert inflate_frames(wire, bits=8)[1] == data


def test_message_parts_join_to_the_message_and_keep_a_plain_payload_uncopied(api):
    payload = os.urandom(70000)
    encoder = api.Encoder()
    parts = encoder.message_parts(payload)
    assert parts[-1] is payload
    assert b"".join(parts) == encoder.message(payload)
    for n in (0, 125, 126, 1000, 65535, 65536):
        data = os.urandom(n)
        assert b"".join(encoder.message_parts(data)) == encoder.message(data)
        if n >= 126:
            assert encoder.message_parts(data)[-1] is data
    for text in ("", "t\u00e9xt", "x" * 125, "\u00e9" * 63, "y" * 126, "\u20ac" * 30000, "z" * 70000):
        parts = encoder.message_parts(text)
        assert b"".join(parts) == encoder.message(text)
        if len(text.encode()) >= 126:  # the UTF-8 is one piece, not copied into the frame
            assert parts[-1] == text.encode() and len(parts) == 2
    fragmented = encoder.message_parts(payload, fragment_size=30000)
    assert b"".join(fragmented) == encoder.message(payload, fragment_size=30000)
    fragmented = encoder.message_parts("w" * 70000, fragment_size=30000)
    assert b"".join(fragmented) == encoder.message("w" * 70000, fragment_size=30000)
    compressed = api.Encoder(extensions=[AGREED])
    reference = api.Encoder(extensions=[AGREED])
    for data in ("abc" * 100, b"\x00" * 5000):
        assert b"".join(compressed.message_parts(data)) == reference.message(data)
        assert b"".join(compressed.message_parts(data, fragment_size=7)) == reference.message(
            data, fragment_size=7
        )
    client = api.Encoder(client=True)
    assert all(p[1] & 0x80 for p in client.message_parts("masked " * 40, fragment_size=100))


def test_policy_values_are_checked():
    for bad in (dict(server_max_window_bits=7), dict(client_max_window_bits=16),
                dict(server_max_window_bits="15"), dict(compress_level=10),
                dict(mem_level=0), dict(threshold=-1)):
        with pytest.raises(ValueError):
            PerMessageDeflate(**bad)
    with pytest.raises(TypeError):
        PerMessageDeflate(server_no_context_takeover=1)


# --- the zlib module ---------------------------------------------------------------------------


def run_python(code: str, **env: str) -> str:
    environment = dict(os.environ, **env)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment, check=False
    )
    return (done.stdout + done.stderr).strip()


def test_zlib_ng_is_used_when_installed_and_wsfast_zlib_forces_the_standard_library():
    expected = "zlib-ng" if "zlib-ng" in ZLIBS else "zlib"
    assert run_python("import wsfast; print(wsfast.ZLIB)") == expected
    assert run_python("import wsfast; print(wsfast.ZLIB)", WSFAST_ZLIB="zlib") == "zlib"
    out = run_python("import wsfast", WSFAST_ZLIB="zstd")
    assert "WSFAST_ZLIB: unknown zlib 'zstd': choose zlib or zlib-ng" in out


# --- batches: many whole messages in one read ----------------------------------------------------


def batch(messages: list[bytes], compressor=None) -> bytes:
    c = compressor or raw_compressor()
    return b"".join(client_frame(1, compress(m, c), rsv=0x40) for m in messages)


def test_a_large_batch_of_whole_messages_with_a_final_block_in_the_middle(api):
    c = raw_compressor()
    messages = [f"message {i} ".encode() * 3 for i in range(40)]
    frames = [client_frame(1, compress(m, c), rsv=0x40) for m in messages[:20]]
    # message 20 ends its stream with a final block; 21.. start a new stream (no history)
    last = raw_compressor()
    frames.append(client_frame(1, last.compress(messages[20]) + last.flush(stdlib_zlib.Z_FINISH), rsv=0x40))
    fresh = raw_compressor()
    frames += [client_frame(1, compress(m, fresh), rsv=0x40) for m in messages[21:]]
    assert values(server(api).feed(b"".join(frames))) == [m.decode() for m in messages]


@pytest.mark.parametrize("bad", ["limit", "deflate", "utf8"])
def test_a_failure_inside_a_large_batch_keeps_the_messages_before_it(api, bad):
    c = raw_compressor()
    messages = [f"message {i} ".encode() * 3 for i in range(40)]
    frames = [client_frame(1, compress(m, c), rsv=0x40) for m in messages[:25]]
    if bad == "limit":
        frames.append(client_frame(1, compress(b"x" * 2000, c), rsv=0x40))
    elif bad == "deflate":
        frames.append(client_frame(1, b"\xff\xff\xff", rsv=0x40))
    else:
        frames.append(client_frame(1, compress(b"ok \xff", c), rsv=0x40))
    frames += [client_frame(1, compress(m, c), rsv=0x40) for m in messages[26:]]
    d = server(api, max_message_size=1000)
    with pytest.raises(wsfast.ProtocolError) as info:
        d.feed(b"".join(frames))
    assert info.value.code == {"limit": 1009, "deflate": 1007, "utf8": 1007}[bad]
    if bad == "utf8":
        assert info.value.position == 3
    assert values(info.value.events) == [m.decode() for m in messages[:25]]


def test_a_large_batch_equals_the_same_messages_one_read_each(api):
    c = raw_compressor()
    messages = [os.urandom(30).hex().encode() for _ in range(100)]
    stream = batch(messages, c)
    d = server(api)
    assert values(d.feed(stream)) == [m.decode() for m in messages]
    d, got = server(api), []
    for frame_start in range(0, len(stream), 67):
        got += d.feed(stream[frame_start : frame_start + 67])
    assert values(got) == [m.decode() for m in messages]


@pytest.mark.parametrize("many", [False, True])
def test_a_limit_of_zero_lets_only_empty_messages_through(api, many):
    # 0 is a limit like any other (not "none"): found by the atheris harness
    c = raw_compressor()
    count = 40 if many else 1  # one message, or a batch large enough for the mapped path
    empty = b"".join(client_frame(1, compress(b"", c), rsv=0x40) for _ in range(count))
    d = server(api, max_message_size=0)
    assert d.feed(empty) == [wsfast.Message(b"", True)] * count
    with pytest.raises(wsfast.PayloadTooBig):
        d.feed(client_frame(1, compress(b"x", c), rsv=0x40))


def test_compressed_text_takes_the_same_frames_on_every_path(api):
    # message() has a short path for a server's compressed text: the same bytes as the general
    # one (fragmented messages and bytes take the general path), the same errors
    agreed = PerMessageDeflate(threshold=10, server_max_window_bits=15, client_max_window_bits=15)
    short, general = api.Encoder(extensions=[agreed]), api.Encoder(extensions=[agreed])
    for text in ("", "tiny", "just over ten", "x" * 200, "\u00e9" * 40000):
        for compress in (None, True):
            want = b"".join(general.message_parts(text, compress=compress))
            assert short.message(text, compress=compress) == want
    with pytest.raises(TypeError):
        short.message("some text here", compress="yes")
