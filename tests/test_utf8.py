import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wsfast import InvalidUTF8, ProtocolError

from .utf8_reference import fail_position

VALID = [
    b"",
    b"hello",
    "κόσμε".encode(),
    "日本語のテキスト".encode(),
    "😀🎉 emoji".encode(),
    b"\x7f",
    b"\xc2\x80",  # U+0080, smallest 2-byte
    b"\xdf\xbf",  # U+07FF
    b"\xe0\xa0\x80",  # U+0800, smallest 3-byte
    b"\xed\x9f\xbf",  # U+D7FF, just below the surrogates
    b"\xee\x80\x80",  # U+E000, just above them
    b"\xef\xbf\xbf",  # U+FFFF
    b"\xf0\x90\x80\x80",  # U+10000
    b"\xf4\x8f\xbf\xbf",  # U+10FFFF, the last code point
    b"\x00" * 40,
    ("a" * 63 + "é" + "b" * 100).encode(),
]

# (bytes, fail-fast position): each position worked out by hand from Unicode Table 3-7
INVALID = [
    (b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80", 12),  # > U+10FFFF
    (b"\xed\xa0\x80", 1),  # surrogate U+D800
    (b"\xed\xbf\xbf", 1),  # surrogate U+DFFF
    (b"\xc0\x80", 0),  # overlong NUL
    (b"\xc1\xbf", 0),  # overlong 2-byte
    (b"\xe0\x80\x80", 1),  # overlong 3-byte
    (b"\xe0\x9f\xbf", 1),
    (b"\xf0\x80\x80\x80", 1),  # overlong 4-byte
    (b"\xf0\x8f\xbf\xbf", 1),
    (b"\xf4\x90\x80\x80", 1),  # U+110000
    (b"\xf5\x80\x80\x80", 0),  # F5..FF never appear
    (b"\xff", 0),
    (b"\xfe", 0),
    (b"\x80", 0),  # stray continuation
    (b"abc\xbf", 3),
    (b"\xc2\x41", 1),  # lead then ASCII
    (b"\xe1\x80\x41", 2),
    (b"\xf1\x80\x80\x41", 3),
    (b"\xc2\xc2", 1),  # lead then lead
    (b"a" * 70 + b"\xed\xa0\x80", 71),
    ("€".encode() * 20 + b"\xe2\x82\xe2", 62),
    (b"\xe2\x82\xac\x80", 3),  # complete sequence then a stray continuation
]

TRUNCATED = [b"\xc2", b"\xe2\x82", b"\xf0\x9f\x98", b"abc\xf4\x8f\xbf", b"\xe0", b"\xed\x9f"]


def test_reference_agrees_with_the_hand_worked_positions():
    for data, position in INVALID:
        assert fail_position(data) == position, data


@pytest.mark.parametrize("data", VALID)
def test_valid_utf8_is_accepted(api, data):
    assert api.validate_utf8(data) is True
    v = api.Utf8Validator()
    v.feed(data)
    v.finish()
    assert v.complete


@pytest.mark.parametrize("data, position", INVALID)
def test_invalid_utf8_fails_at_the_first_byte_that_proves_it(api, data, position):
    assert api.validate_utf8(data) is False
    v = api.Utf8Validator()
    with pytest.raises(InvalidUTF8) as info:
        v.feed(data)
    assert info.value.position == position
    assert info.value.code == 1007
    assert isinstance(info.value, ProtocolError)
    assert str(info.value) == f"invalid utf-8 at byte {position}"


@pytest.mark.parametrize("data, position", INVALID)
def test_invalid_utf8_fails_fast_at_every_split_point(api, data, position):
    for split in range(len(data) + 1):
        v = api.Utf8Validator()
        first, second = data[:split], data[split:]
        if split > position:
            with pytest.raises(InvalidUTF8) as info:
                v.feed(first)
        else:
            v.feed(first)
            with pytest.raises(InvalidUTF8) as info:
                v.feed(second)
        assert info.value.position == position


@pytest.mark.parametrize("data", VALID)
def test_valid_utf8_fed_byte_by_byte_and_at_every_split(api, data):
    v = api.Utf8Validator()
    for i in range(len(data)):
        v.feed(data[i : i + 1])
    v.finish()
    for split in range(len(data) + 1):
        v.reset()
        v.feed(data[:split])
        v.feed(data[split:])
        v.finish()


@pytest.mark.parametrize("data", TRUNCATED)
def test_truncated_sequence_is_incomplete_not_invalid(api, data):
    assert api.validate_utf8(data) is False
    v = api.Utf8Validator()
    v.feed(data)
    assert not v.complete
    with pytest.raises(InvalidUTF8) as info:
        v.finish()
    assert info.value.position == len(data)


def test_validator_stays_failed_until_reset(api):
    v = api.Utf8Validator()
    v.feed(b"ab")
    with pytest.raises(InvalidUTF8):
        v.feed(b"\xff")
    with pytest.raises(InvalidUTF8) as info:
        v.feed(b"ok")
    assert info.value.position == 2
    with pytest.raises(InvalidUTF8):
        v.finish()
    v.reset()
    v.feed(b"ok")
    v.finish()


def test_positions_count_from_the_last_reset(api):
    v = api.Utf8Validator()
    v.feed(b"x" * 10)
    v.reset()
    v.feed(b"abc")
    with pytest.raises(InvalidUTF8) as info:
        v.feed(b"\xed\xa0")
    assert info.value.position == 4


def test_validation_accepts_every_buffer_type(api):
    text = "ünïcödé".encode()
    assert api.validate_utf8(bytearray(text))
    assert api.validate_utf8(memoryview(text))
    assert api.validate_utf8(memoryview(b"a\xffb\xffc")[::2])
    with pytest.raises(TypeError):
        api.validate_utf8("str")


def test_large_valid_text_of_each_kind(api):
    for text in ("ascii " * 50000, "日本語" * 40000, "😀κ" * 30000):
        data = text.encode()
        assert api.validate_utf8(data)
        bad = data[: len(data) // 2] + b"\xc0" + data[len(data) // 2 :]
        assert not api.validate_utf8(bad)
        v = api.Utf8Validator()
        with pytest.raises(InvalidUTF8) as info:
            v.feed(bad)
        assert info.value.position == fail_position(bad)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40), st.integers(min_value=0, max_value=40))
def test_random_bytes_match_the_reference(api, data, split):
    expected = fail_position(data)
    v = api.Utf8Validator()
    try:
        v.feed(data[:split])
        v.feed(data[split:])
    except InvalidUTF8 as exc:
        assert exc.position == expected
    else:
        assert expected is None
    try:
        data.decode("utf-8")
        decodes = True
    except UnicodeDecodeError:
        decodes = False
    assert api.validate_utf8(data) is decodes


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30), st.binary(max_size=6), st.lists(st.integers(0, 200), max_size=4))
def test_text_with_noise_matches_the_reference_in_any_chunking(api, text, noise, cuts):
    data = text.encode() + noise + text.encode()
    expected = fail_position(data)
    points = sorted({min(c, len(data)) for c in cuts})
    v = api.Utf8Validator()
    got = None
    prev = 0
    try:
        for p in points + [len(data)]:
            v.feed(data[prev:p])
            prev = p
    except InvalidUTF8 as exc:
        got = exc.position
    assert got == expected
