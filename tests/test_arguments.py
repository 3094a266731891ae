"""Argument checks of the public masking functions that the masking tests leave out."""

from __future__ import annotations

import pytest

from .framing import KEY


class Index:
    """An integer-like object (as numpy's integers are): it has ``__index__``, it is no int."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __index__(self) -> int:
        return self.value


def masked(data: bytes, offset: int) -> bytes:
    """RFC 6455 5.3, byte by byte."""
    return bytes(b ^ KEY[(offset + i) % 4] for i, b in enumerate(data))


def test_an_integer_like_offset_is_accepted(api):
    data = bytes(range(40))
    assert api.apply_mask(data, KEY, Index(7)) == masked(data, 7)
    buf = bytearray(data)
    api.apply_mask_inplace(buf, KEY, Index(6))
    assert buf == masked(data, 6)


def test_a_float_offset_is_a_type_error(api):
    with pytest.raises(TypeError, match="^offset must be an integer, not float$"):
        api.apply_mask(b"data", KEY, 1.0)


@pytest.mark.parametrize("buffer", ["text", 12, None])
def test_inplace_refuses_what_is_not_a_buffer(api, buffer):
    name = type(buffer).__name__
    with pytest.raises(
        TypeError, match=f"^buffer must be a writable bytes-like object, not {name}$"
    ):
        api.apply_mask_inplace(buffer, KEY)
