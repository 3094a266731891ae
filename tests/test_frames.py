import pytest

from wsfast import FrameHeader, Opcode, ProtocolError

HELLO = b"Hello"
KEY = bytes.fromhex("37fa213d")

# RFC 6455 section 5.7, byte for byte
RFC_UNMASKED_TEXT = bytes.fromhex("810548656c6c6f")
RFC_MASKED_TEXT = bytes.fromhex("818537fa213d7f9f4d5158")
RFC_FRAGMENT_1 = bytes.fromhex("010348656c")
RFC_FRAGMENT_2 = bytes.fromhex("80026c6f")
RFC_PING = bytes.fromhex("890548656c6c6f")
RFC_MASKED_PONG = bytes.fromhex("8a8537fa213d7f9f4d5158")
RFC_256_BINARY_HEAD = bytes.fromhex("827e0100")
RFC_64K_BINARY_HEAD = bytes.fromhex("827f0000000000010000")


def header(fin=True, rsv=(False, False, False), opcode=Opcode.TEXT, mask=None, length=0, size=2):
    return FrameHeader(fin, *rsv, opcode, mask is not None, mask, length, size)


@pytest.mark.parametrize(
    "data, expected",
    [
        (RFC_UNMASKED_TEXT, header(length=5)),
        (RFC_MASKED_TEXT, header(mask=KEY, length=5, size=6)),
        (RFC_FRAGMENT_1, header(fin=False, length=3)),
        (RFC_FRAGMENT_2, header(opcode=Opcode.CONTINUATION, length=2)),
        (RFC_PING, header(opcode=Opcode.PING, length=5)),
        (RFC_MASKED_PONG, header(opcode=Opcode.PONG, mask=KEY, length=5, size=6)),
        (RFC_256_BINARY_HEAD, header(opcode=Opcode.BINARY, length=256, size=4)),
        (RFC_64K_BINARY_HEAD, header(opcode=Opcode.BINARY, length=65536, size=10)),
        # the seed example: a 64-bit length of 0x11223344, header only
        (
            bytes.fromhex("827f0000000011223344"),
            header(opcode=Opcode.BINARY, length=0x11223344, size=10),
        ),
    ],
)
def test_rfc_5_7_examples_parse(api, data, expected):
    got = api.parse_header(data)
    assert got == expected
    assert isinstance(got.opcode, Opcode)


@pytest.mark.parametrize(
    "data",
    [
        RFC_UNMASKED_TEXT,
        RFC_MASKED_TEXT,
        RFC_256_BINARY_HEAD,
        RFC_64K_BINARY_HEAD,
        b"\x82\xfe\x01\x00abcd",
    ],
)
def test_every_incomplete_header_asks_for_more(api, data):
    full = api.parse_header(data)
    for cut in range(full.size):
        assert api.parse_header(data[:cut]) is None


def test_rsv_bits_are_reported(api):
    h = api.parse_header(b"\xf1\x00")
    assert (h.rsv1, h.rsv2, h.rsv3) == (True, True, True)
    h = api.parse_header(b"\xc1\x00")
    assert (h.rsv1, h.rsv2, h.rsv3) == (True, False, False)


@pytest.mark.parametrize("opcode", [3, 4, 5, 6, 7, 11, 12, 13, 14, 15])
def test_reserved_opcodes_are_rejected_with_1002(api, opcode):
    with pytest.raises(ProtocolError) as info:
        api.parse_header(bytes([0x80 | opcode, 0x00]))
    assert info.value.code == 1002
    assert str(info.value) == f"reserved opcode {opcode:#x}"
    # known from the first byte alone
    with pytest.raises(ProtocolError):
        api.parse_header(bytes([0x80 | opcode]))


@pytest.mark.parametrize("opcode", [8, 9, 10])
def test_fragmented_control_frames_are_rejected(api, opcode):
    with pytest.raises(ProtocolError) as info:
        api.parse_header(bytes([opcode, 0x00]))
    assert info.value.code == 1002
    assert str(info.value) == f"fragmented control frame {opcode:#x}"


@pytest.mark.parametrize("opcode", [8, 9, 10])
@pytest.mark.parametrize("length_byte, length", [(126, 126), (127, 127)])
def test_control_frames_over_125_bytes_are_rejected(api, opcode, length_byte, length):
    with pytest.raises(ProtocolError) as info:
        api.parse_header(bytes([0x80 | opcode, length_byte]) + bytes(8))
    assert info.value.code == 1002
    assert str(info.value) == f"control frame payload of {length} bytes exceeds 125"


def test_control_frame_of_125_bytes_is_fine(api):
    assert api.parse_header(bytes([0x89, 125])).length == 125


def test_64_bit_length_with_msb_set_is_rejected(api):
    with pytest.raises(ProtocolError) as info:
        api.parse_header(b"\x82\x7f\x80" + bytes(7))
    assert info.value.code == 1002
    assert "most significant bit" in str(info.value)
    with pytest.raises(ProtocolError):
        api.parse_header(b"\x82\x7f\xff\xff\xff\xff\xff\xff\xff\xff", strict=False)


def test_largest_legal_64_bit_length_parses(api):
    h = api.parse_header(b"\x82\x7f\x7f\xff\xff\xff\xff\xff\xff\xff")
    assert h.length == 2**63 - 1


@pytest.mark.parametrize(
    "data, length",
    [
        (b"\x82\x7e\x00\x00", 0),
        (b"\x82\x7e\x00\x7d", 125),
        (b"\x82\x7f" + (0).to_bytes(8, "big"), 0),
        (b"\x82\x7f" + (125).to_bytes(8, "big"), 125),
        (b"\x82\x7f" + (65535).to_bytes(8, "big"), 65535),
    ],
)
def test_non_minimal_lengths_are_rejected_only_in_strict_mode(api, data, length):
    with pytest.raises(ProtocolError) as info:
        api.parse_header(data)
    assert info.value.code == 1002
    assert str(info.value) == f"payload length {length} not in minimal encoding"
    assert api.parse_header(data, strict=False).length == length


def test_boundary_lengths_in_their_minimal_encoding(api):
    assert api.parse_header(b"\x82\x7e\x00\x7e").length == 126
    assert api.parse_header(b"\x82\x7e\xff\xff").length == 65535
    assert api.parse_header(b"\x82\x7f" + (65536).to_bytes(8, "big")).length == 65536


def test_parse_header_accepts_every_buffer_type(api):
    assert api.parse_header(bytearray(RFC_MASKED_TEXT)).mask == KEY
    assert api.parse_header(memoryview(RFC_MASKED_TEXT)).length == 5
    with pytest.raises(TypeError):
        api.parse_header("\x81\x05")


# --- building ----------------------------------------------------------------------------------


def test_build_frame_reproduces_the_rfc_examples(api):
    assert api.build_frame(Opcode.TEXT, b"Hello") == RFC_UNMASKED_TEXT
    assert api.build_frame(Opcode.TEXT, "Hello", mask=KEY) == RFC_MASKED_TEXT
    assert api.build_frame(Opcode.TEXT, b"Hel", fin=False) == RFC_FRAGMENT_1
    assert api.build_frame(Opcode.CONTINUATION, b"lo") == RFC_FRAGMENT_2
    assert api.build_frame(Opcode.PING, b"Hello") == RFC_PING
    assert api.build_frame(Opcode.PONG, b"Hello", mask=KEY) == RFC_MASKED_PONG
    assert api.build_frame(Opcode.BINARY, bytes(256)) == RFC_256_BINARY_HEAD + bytes(256)
    assert api.build_frame(Opcode.BINARY, bytes(65536)) == RFC_64K_BINARY_HEAD + bytes(65536)


@pytest.mark.parametrize(
    "size, head_size", [(0, 2), (125, 2), (126, 4), (127, 4), (65535, 4), (65536, 10)]
)
def test_build_frame_uses_minimal_length_encoding(api, size, head_size):
    frame = api.build_frame(2, bytes(size))
    assert len(frame) == head_size + size
    h = api.parse_header(frame)  # strict parsing accepts it
    assert (h.length, h.size) == (size, head_size)
    masked = api.build_frame(2, bytes(size), mask=KEY)
    assert api.parse_header(masked).size == head_size + 4


def test_build_frame_sets_rsv1(api):
    assert api.parse_header(api.build_frame(1, b"x", rsv1=True)).rsv1


@pytest.mark.parametrize("opcode", [3, 7, 11, 15, 16, -1])
def test_build_frame_refuses_reserved_opcodes(api, opcode):
    with pytest.raises(ValueError):
        api.build_frame(opcode, b"")


def test_build_frame_refuses_invalid_control_frames(api):
    with pytest.raises(ValueError, match="exceeds 125"):
        api.build_frame(Opcode.PING, bytes(126))
    with pytest.raises(ValueError, match="fragmented"):
        api.build_frame(Opcode.CLOSE, b"", fin=False)
    with pytest.raises(ValueError, match="4 bytes"):
        api.build_frame(Opcode.TEXT, b"x", mask=b"abc")
    with pytest.raises(TypeError):
        api.build_frame("text", b"x")
