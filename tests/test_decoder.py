import random

import pytest

from wsfast import Close, InvalidUTF8, Message, PayloadTooBig, Ping, Pong, ProtocolError

from .framing import KEY, client_frame, frame, server_frame


def feed_all(decoder, data, chunks):
    """Feed ``data`` cut at the given chunk sizes; return events and the error, if any."""
    events, i = [], 0
    try:
        for size in chunks:
            events += decoder.feed(data[i : i + size])
            i += size
        events += decoder.feed(data[i:])
    except ProtocolError as exc:
        return events + exc.events, exc
    return events, None


def chunkings(n, rng):
    yield []  # all at once
    yield [1] * n  # one byte at a time
    for _ in range(6):
        yield [rng.randint(1, 9) for _ in range(n)]


CONVERSATION = (
    client_frame(1, b"Hello")
    + client_frame(2, bytes(range(256)) * 2)
    + client_frame(1, "κόσ".encode(), fin=False)
    + client_frame(9, b"ping!")
    + client_frame(0, "με".encode())
    + client_frame(10, b"")
    + client_frame(2, b"", fin=False)
    + client_frame(0, b"abc", fin=False)
    + client_frame(0, b"def")
    + client_frame(1, "日本".encode() * 4000)
    + client_frame(8, b"\x03\xe8bye")
)

EXPECTED = [
    Message(b"Hello", True),
    Message(bytes(range(256)) * 2, False),
    Ping(b"ping!"),
    Message("κόσμε".encode(), True),
    Pong(b""),
    Message(b"abcdef", False),
    Message("日本".encode() * 4000, True),
    Close(1000, "bye"),
]


def test_rfc_5_7_frames_decode_on_the_client_side(api):
    d = api.Decoder(client=True)
    data = bytes.fromhex("810548656c6c6f010348656c80026c6f890548656c6c6f")
    assert d.feed(data) == [Message(b"Hello", True), Message(b"Hello", True), Ping(b"Hello")]
    assert d.feed(bytes.fromhex("827e0100") + bytes(256)) == [Message(bytes(256), False)]


def test_rfc_5_7_masked_frames_decode_on_the_server_side(api):
    d = api.Decoder()
    assert d.feed(bytes.fromhex("818537fa213d7f9f4d5158")) == [Message(b"Hello", True)]
    assert d.feed(bytes.fromhex("8a8537fa213d7f9f4d5158")) == [Pong(b"Hello")]


def test_any_chunking_gives_the_same_events(api):
    rng = random.Random(6455)
    for chunks in chunkings(len(CONVERSATION), rng):
        events, error = feed_all(api.Decoder(), CONVERSATION, chunks)
        assert error is None
        assert events == EXPECTED


def test_one_byte_at_a_time(api):
    data = client_frame(1, "héllo wörld".encode()) + client_frame(9, b"x") + client_frame(8, b"")
    d = api.Decoder()
    events = []
    for i in range(len(data)):
        events += d.feed(data[i : i + 1])
    assert events == [Message("héllo wörld".encode(), True), Ping(b"x"), Close(None, "")]


def test_message_data_is_bytes_and_text_decodes_lazily(api):
    [m] = api.Decoder().feed(client_frame(1, "ünï".encode()))
    assert type(m.data) is bytes and m.is_text
    assert m.text == "ünï"
    assert m.text is m.text


def test_feed_accepts_bytearray_and_memoryview(api):
    d = api.Decoder()
    assert d.feed(bytearray(client_frame(2, b"ab"))) == [Message(b"ab", False)]
    assert d.feed(memoryview(client_frame(2, b"cd"))) == [Message(b"cd", False)]
    assert d.feed(b"") == []
    with pytest.raises(TypeError):
        d.feed("text")


def test_buffer_grows_for_a_large_frame_and_large_chunks(api):
    payload = bytes(range(256)) * 8192  # 2 MiB
    data = client_frame(2, payload) * 3
    d = api.Decoder()
    events = []
    for i in range(0, len(data), 100_000):
        events += d.feed(data[i : i + 100_000])
    assert events == [Message(payload, False)] * 3
    assert api.Decoder().feed(data) == [Message(payload, False)] * 3


def test_many_small_frames_in_one_chunk(api):
    data = b"".join(client_frame(1, str(i).encode()) for i in range(2000))
    events = api.Decoder().feed(data)
    assert [m.text for m in events] == [str(i) for i in range(2000)]


# --- roles ---------------------------------------------------------------------------------------


def test_server_rejects_unmasked_frames(api):
    with pytest.raises(ProtocolError) as info:
        api.Decoder().feed(server_frame(1, b"hi"))
    assert info.value.code == 1002
    assert str(info.value) == "unmasked frame from client"


def test_client_rejects_masked_frames(api):
    with pytest.raises(ProtocolError) as info:
        api.Decoder(client=True).feed(client_frame(1, b"hi"))
    assert info.value.code == 1002
    assert str(info.value) == "masked frame from server"


# --- fragmentation (5.4) -----------------------------------------------------------------------


def test_continuation_without_a_message_is_an_error(api):
    with pytest.raises(ProtocolError) as info:
        api.Decoder().feed(client_frame(0, b"x"))
    assert info.value.code == 1002
    assert "continuation" in str(info.value)


@pytest.mark.parametrize("opcode", [1, 2])
def test_new_data_frame_inside_a_fragmented_message_is_an_error(api, opcode):
    d = api.Decoder()
    assert d.feed(client_frame(1, b"a", fin=False)) == []
    with pytest.raises(ProtocolError) as info:
        d.feed(client_frame(opcode, b"b"))
    assert info.value.code == 1002
    assert str(info.value) == f"expected a continuation frame, got opcode {opcode:#x}"


def test_control_frames_between_fragments_are_delivered_at_once(api):
    d = api.Decoder()
    assert d.feed(client_frame(2, b"a", fin=False)) == []
    assert d.feed(client_frame(9, b"p")) == [Ping(b"p")]
    assert d.feed(client_frame(0, b"b", fin=False)) == []
    assert d.feed(client_frame(10, b"q")) == [Pong(b"q")]
    assert d.feed(client_frame(0, b"c")) == [Message(b"abc", False)]


# --- text validation -----------------------------------------------------------------------------


def test_invalid_text_fails_with_1007_and_its_position(api):
    with pytest.raises(InvalidUTF8) as info:
        api.Decoder().feed(client_frame(1, b"abc\xed\xa0\x80def"))
    assert info.value.code == 1007
    assert info.value.position == 4


def test_text_fails_fast_inside_a_frame_that_arrives_in_pieces(api):
    payload = b"a" * 1000 + b"\xc0" + b"b" * 1000
    data = client_frame(1, payload)
    d = api.Decoder()
    d.feed(data[:500])
    with pytest.raises(InvalidUTF8) as info:
        d.feed(data[500:1010])  # the frame is not complete, but the text already is invalid
    assert info.value.position == 1000


def test_text_fails_fast_across_fragments(api):
    d = api.Decoder()
    d.feed(client_frame(1, b"abc\xf4", fin=False))
    with pytest.raises(InvalidUTF8) as info:
        d.feed(client_frame(0, b"\x90\x80\x80", fin=False))  # > U+10FFFF: fails before the end
    assert info.value.position == 4


def test_code_point_split_across_fragments_is_fine(api):
    d = api.Decoder()
    euro = "€".encode()
    assert d.feed(client_frame(1, euro[:1], fin=False)) == []
    assert d.feed(client_frame(0, euro[1:2], fin=False)) == []
    assert d.feed(client_frame(0, euro[2:])) == [Message(euro, True)]


def test_text_message_ending_inside_a_code_point_is_invalid(api):
    with pytest.raises(InvalidUTF8) as info:
        api.Decoder().feed(client_frame(1, b"ab\xe2\x82"))
    assert info.value.position == 4


def test_binary_messages_are_not_validated(api):
    assert api.Decoder().feed(client_frame(2, b"\xff\xfe")) == [Message(b"\xff\xfe", False)]


# --- reserved bits ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rsv, name", [(0x40, "rsv1"), (0x20, "rsv2"), (0x10, "rsv3"), (0x70, "rsv1+rsv2+rsv3")]
)
def test_rsv_bits_without_an_extension_are_1002(api, rsv, name):
    with pytest.raises(ProtocolError) as info:
        api.Decoder().feed(client_frame(1, b"x", rsv=rsv))
    assert info.value.code == 1002
    assert str(info.value) == f"reserved bits {name} set without an extension"


def test_an_extension_other_than_permessage_deflate_is_refused(api):
    with pytest.raises(TypeError, match="unsupported extension"):
        api.Decoder(extensions=[object()])
    with pytest.raises(TypeError, match="unsupported extension"):
        api.Encoder(extensions=["permessage-deflate"])


# --- limits ----------------------------------------------------------------------------------------


def test_frame_over_max_frame_size_fails_before_its_payload(api):
    d = api.Decoder(max_frame_size=100)
    with pytest.raises(PayloadTooBig) as info:
        d.feed(client_frame(2, bytes(101))[:8])  # header only
    assert info.value.code == 1009
    assert str(info.value) == "frame of 101 bytes exceeds max_frame_size 100"


def test_huge_declared_frame_fails_at_once(api):
    d = api.Decoder()
    with pytest.raises(PayloadTooBig) as info:
        d.feed(frame(2, length=2**40)[:14])
    assert info.value.code == 1009
    assert "1099511627776" in str(info.value)


def test_message_over_max_message_size_through_fragments(api):
    d = api.Decoder(max_message_size=10)
    d.feed(client_frame(2, bytes(6), fin=False))
    with pytest.raises(PayloadTooBig) as info:
        d.feed(client_frame(0, bytes(5))[:6])
    assert info.value.code == 1009
    assert str(info.value) == "message of 11 bytes exceeds max_message_size 10"


def test_limits_at_the_boundary_are_accepted(api):
    d = api.Decoder(max_frame_size=5, max_message_size=10)
    assert d.feed(client_frame(2, bytes(5), fin=False) + client_frame(0, bytes(5))) == [
        Message(bytes(10), False)
    ]
    d = api.Decoder(max_message_size=None)
    assert d.feed(client_frame(2, bytes(70000))) == [Message(bytes(70000), False)]


def test_invalid_limits_are_rejected(api):
    with pytest.raises(ValueError):
        api.Decoder(max_frame_size=-1)
    with pytest.raises(ValueError):
        api.Decoder(max_message_size="big")


def test_non_strict_decoder_accepts_non_minimal_lengths(api):
    data = b"\x82\xfe\x00\x03" + KEY + bytes(b ^ KEY[i] for i, b in enumerate(b"abc"))
    with pytest.raises(ProtocolError):
        api.Decoder().feed(data)
    assert api.Decoder(strict=False).feed(data) == [Message(b"abc", False)]


# --- close frames (5.5.1, 7.4) ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "code", [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999]
)
def test_valid_close_codes(api, code):
    assert api.Decoder().feed(client_frame(8, code.to_bytes(2, "big") + b"ok")) == [
        Close(code, "ok")
    ]


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535])
def test_invalid_close_codes_are_1002(api, code):
    with pytest.raises(ProtocolError) as info:
        api.Decoder().feed(client_frame(8, code.to_bytes(2, "big")))
    assert info.value.code == 1002
    assert str(info.value) == f"invalid close code {code}"


def test_close_with_one_byte_payload_is_1002(api):
    with pytest.raises(ProtocolError) as info:
        api.Decoder().feed(client_frame(8, b"\x03"))
    assert info.value.code == 1002


def test_close_with_invalid_reason_is_1007(api):
    with pytest.raises(InvalidUTF8) as info:
        api.Decoder().feed(client_frame(8, b"\x03\xe8ok\xff"))
    assert info.value.code == 1007
    assert info.value.position == 2
    with pytest.raises(InvalidUTF8) as info:
        api.Decoder().feed(client_frame(8, b"\x03\xe8ok\xe2\x82"))
    assert info.value.position == 4


def test_empty_close_has_no_code(api):
    assert api.Decoder().feed(client_frame(8)) == [Close(None, "")]


def test_data_after_close_is_an_error(api):
    d = api.Decoder()
    with pytest.raises(ProtocolError) as info:
        d.feed(client_frame(8, b"\x03\xe8") + client_frame(9, b""))
    assert str(info.value) == "data after close frame"
    assert info.value.events == [Close(1000, "")]
    d = api.Decoder()
    d.feed(client_frame(8, b""))
    assert d.feed(b"") == []
    with pytest.raises(ProtocolError):
        d.feed(b"\x00")


# --- errors ----------------------------------------------------------------------------------------


def test_decoder_refuses_input_after_an_error(api):
    d = api.Decoder()
    with pytest.raises(ProtocolError):
        d.feed(b"\x83\x80")
    with pytest.raises(ProtocolError) as info:
        d.feed(client_frame(1, b"fine"))
    assert info.value.code == 1002


def test_events_before_an_error_travel_with_it(api):
    d = api.Decoder()
    with pytest.raises(ProtocolError) as info:
        d.feed(client_frame(1, b"one") + client_frame(9, b"two") + b"\x83\x80")
    assert info.value.events == [Message(b"one", True), Ping(b"two")]


def test_errors_are_the_same_in_any_chunking(api):
    bad = [
        client_frame(1, b"ok") + b"\x83\x80",
        client_frame(1, b"ok") + client_frame(1, b"ab\xed\xa0\x80"),
        client_frame(2, b"a", fin=False) + client_frame(2, b"b"),
        client_frame(8, b"\x03\xed"),
        client_frame(9, bytes(126)),
    ]
    rng = random.Random(7)
    for data in bad:
        outcomes = set()
        for chunks in chunkings(len(data), rng):
            events, error = feed_all(api.Decoder(), data, chunks)
            assert error is not None
            outcomes.add((tuple(map(repr, events)), type(error), str(error), error.code))
        assert len(outcomes) == 1, outcomes


def test_error_after_many_frames_keeps_every_earlier_event(api):
    data = b"".join(client_frame(2, bytes([i % 256])) for i in range(700)) + b"\x83\x80"
    with pytest.raises(ProtocolError) as info:
        api.Decoder().feed(data)
    assert info.value.events == [Message(bytes([i % 256]), False) for i in range(700)]


def test_decoder_keeps_working_after_a_message_larger_than_8_mib(api):
    big = bytes(range(256)) * (9 * 4096)  # 9 MiB: the receive buffer grows, then is released
    d = api.Decoder(client=True, max_message_size=None)
    frame_ = server_frame(2, big)
    events = []
    for i in range(0, len(frame_), 1 << 20):
        events += d.feed(frame_[i : i + (1 << 20)])
    assert events == [Message(big, False)]
    assert d.feed(server_frame(1, b"after")) == [Message(b"after", True)]
