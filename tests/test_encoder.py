import pytest

from wsfast import Close, Message, Ping, Pong

from .framing import server_frame


def test_server_frames_are_unmasked_and_byte_exact(api):
    e = api.Encoder()
    assert e.message("Hello") == server_frame(1, b"Hello")
    assert e.message(b"\x00\x01") == server_frame(2, b"\x00\x01")
    assert e.message(bytearray(300)) == server_frame(2, bytes(300))
    assert e.ping(b"p") == server_frame(9, b"p")
    assert e.pong() == server_frame(10, b"")
    assert e.close() == server_frame(8, b"\x03\xe8")
    assert e.close(4000, "bye") == server_frame(8, b"\x0f\xa0bye")
    assert e.close(None) == server_frame(8, b"")


def test_client_frames_are_masked_with_a_fresh_key_each(api):
    e = api.Encoder(client=True)
    frames = [e.message("same text") for _ in range(20)]
    keys = {api.parse_header(f).mask for f in frames}
    assert len(keys) > 15  # 20 random 32-bit keys: a repeat is vanishingly unlikely
    d = api.Decoder()  # a server decodes what a client sends
    assert d.feed(b"".join(frames)) == [Message(b"same text", True)] * 20


def test_fragmented_message_round_trips(api):
    text = "fragmented ünïcode " * 10
    for client in (False, True):
        frames = api.Encoder(client=client).message(text, fragment_size=7)
        d = api.Decoder(client=not client)
        assert d.feed(frames) == [Message(text.encode(), True)]
        first = api.parse_header(frames)
        assert (first.fin, first.opcode, first.length) == (False, 1, 7)


def test_fragment_size_must_be_positive(api):
    with pytest.raises(ValueError):
        api.Encoder().message(b"abc", fragment_size=0)
    assert api.Encoder().message(b"abc", fragment_size=3) == server_frame(2, b"abc")


def test_control_frames_round_trip_through_the_decoder(api):
    e = api.Encoder(client=True)
    d = api.Decoder()
    data = e.ping(b"a") + e.pong("b") + e.close(1001, "going")
    assert d.feed(data) == [Ping(b"a"), Pong(b"b"), Close(1001, "going")]


@pytest.mark.parametrize("code", [999, 1004, 1005, 1006, 1015, 2000, 5000])
def test_close_refuses_codes_not_allowed_on_the_wire(api, code):
    with pytest.raises(ValueError, match=f"^invalid close code {code}$"):
        api.Encoder().close(code)


def test_close_reason_is_limited_to_123_bytes(api):
    api.Encoder().close(1000, "x" * 123)
    with pytest.raises(ValueError, match="124 bytes"):
        api.Encoder().close(1000, "x" * 124)
    with pytest.raises(ValueError):
        api.Encoder().close(None, "reason without code")
    with pytest.raises(TypeError):
        api.Encoder().close("1000")


def test_ping_payload_is_limited_to_125_bytes(api):
    api.Encoder().ping(bytes(125))
    with pytest.raises(ValueError):
        api.Encoder().ping(bytes(126))


def test_message_refuses_non_buffers(api):
    with pytest.raises(TypeError):
        api.Encoder().message(12345)
