import os

import pytest

KEY = b"\x37\xfa\x21\x3d"
SIZES = list(range(18)) + [31, 32, 33, 63, 64, 65, 125, 126, 127, 1000, 65535, 65536, 2**20]


def reference_mask(data: bytes, mask: bytes, offset: int = 0) -> bytes:
    # byte-by-byte RFC 6455 5.3, the definition itself
    return bytes(b ^ mask[(offset + i) % 4] for i, b in enumerate(data))


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("offset", [0, 1, 2, 3, 5])
def test_apply_mask_matches_the_rfc_definition_for_every_size_and_phase(api, size, offset):
    data = os.urandom(size)
    expected = reference_mask(data, KEY, offset) if size <= 65536 else None
    out = api.apply_mask(data, KEY, offset)
    assert type(out) is bytes and len(out) == size
    if expected is not None:
        assert out == expected
    assert api.apply_mask(out, KEY, offset) == data


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("offset", [0, 1, 2, 3])
def test_apply_mask_inplace_equals_apply_mask(api, size, offset):
    data = os.urandom(size)
    buf = bytearray(data)
    assert api.apply_mask_inplace(buf, KEY, offset) is None
    assert bytes(buf) == api.apply_mask(data, KEY, offset)


def test_rfc_example_hello_is_masked_as_in_section_5_7(api):
    assert api.apply_mask(b"Hello", KEY) == bytes.fromhex("7f9f4d5158")


def test_masking_does_not_touch_its_input(api):
    data = bytes(range(200))
    api.apply_mask(data, KEY)
    assert data == bytes(range(200))


def test_apply_mask_accepts_bytearray_memoryview_and_non_contiguous_views(api):
    raw = bytes(range(256)) * 3
    expected = reference_mask(raw[::3], KEY)
    assert api.apply_mask(bytearray(raw[::3]), KEY) == expected
    assert api.apply_mask(memoryview(raw)[::3], KEY) == expected
    assert api.apply_mask(memoryview(raw)[3:50], KEY) == reference_mask(raw[3:50], KEY)
    assert api.apply_mask(raw[:8], bytearray(KEY)) == reference_mask(raw[:8], KEY)
    assert api.apply_mask(raw[:8], memoryview(KEY)) == reference_mask(raw[:8], KEY)


def test_apply_mask_handles_multibyte_item_views(api):
    import array

    words = array.array("I", range(100))
    raw = words.tobytes()
    assert api.apply_mask(words, KEY) == reference_mask(raw, KEY)
    api.apply_mask_inplace(words, KEY)
    assert words.tobytes() == reference_mask(raw, KEY)


def test_apply_mask_inplace_on_a_slice_of_a_larger_buffer(api):
    buf = bytearray(range(100))
    api.apply_mask_inplace(memoryview(buf)[10:27], KEY, 2)
    expected = bytearray(range(100))
    expected[10:27] = reference_mask(bytes(range(10, 27)), KEY, 2)
    assert buf == expected


@pytest.mark.parametrize("mask", [b"", b"abc", b"abcde", bytearray(5)])
def test_wrong_mask_length_is_a_value_error(api, mask):
    with pytest.raises(ValueError, match="^mask must contain 4 bytes$"):
        api.apply_mask(b"data", mask)
    with pytest.raises(ValueError, match="^mask must contain 4 bytes$"):
        api.apply_mask_inplace(bytearray(b"data"), mask)


@pytest.mark.parametrize("data", ["text", 12, None, [1, 2]])
def test_non_buffer_data_is_a_type_error(api, data):
    with pytest.raises(TypeError):
        api.apply_mask(data, KEY)


def test_non_buffer_mask_is_a_type_error(api):
    with pytest.raises(TypeError):
        api.apply_mask(b"data", "abcd")
    with pytest.raises(TypeError):
        api.apply_mask(b"data", KEY, "1")


def test_inplace_refuses_read_only_and_non_contiguous_buffers(api):
    with pytest.raises(TypeError):
        api.apply_mask_inplace(b"read only", KEY)
    with pytest.raises(TypeError):
        api.apply_mask_inplace(memoryview(b"read only"), KEY)
    with pytest.raises(ValueError):
        api.apply_mask_inplace(memoryview(bytearray(10))[::2], KEY)


def test_masking_keeps_shared_bytes_objects_intact(api):
    # results are fresh objects: cached empty and one-byte bytes must stay what they are
    for size in (0, 1, 2):
        api.apply_mask(b"\x00" * size, KEY)
    assert bytes(1) == b"\x00" and b"" == bytes() and bytes(2) == b"\x00\x00"
    assert api.apply_mask(b"\x00", KEY) == b"\x37"
