"""UTF-8 validation (RFC 3629; Unicode Table 3-7: no overlongs, surrogates or values past
U+10FFFF), whole or incremental, failing at the first byte that makes the input invalid."""

from __future__ import annotations

from typing import Any, Callable, Union

from ._common import readable
from .errors import InvalidUTF8

Buffer = Union[bytes, bytearray, memoryview]

_ACCEPT = 0
_REJECT = 8
# Up to this size CPython's own ASCII check costs less than a call into either backend.
_SMALL = 4096
# Up to this size validating non-ASCII text by decoding it (CPython's decoder is as strict:
# no overlongs, surrogates or values past U+10FFFF) costs less than a call into either backend.
_DECODE = 512


class Utf8Validator:
    """Incremental validator for text split across fragments and reads.

    ``feed`` raises :class:`InvalidUTF8` as soon as the bytes fed since the last ``reset`` can
    no longer begin valid UTF-8; its ``position`` is the index of the byte that proved it.
    """

    _feed: Callable[[int, Any], tuple[int, int]]

    def __init__(self) -> None:
        self._state = _ACCEPT
        self._size = 0
        self._failed_at = -1

    def feed(self, data: Buffer) -> None:
        if self._failed_at >= 0:
            raise self._invalid(self._failed_at)
        data = readable(data)
        if (
            self._state == _ACCEPT
            and len(data) <= _SMALL
            and type(data) is not memoryview
            and data.isascii()
        ):
            self._size += len(data)
            return
        state, at = self._feed(self._state, data)
        if at >= 0:
            self._state = _REJECT
            self._failed_at = self._size + at
            raise self._invalid(self._failed_at)
        self._state = state
        self._size += len(data)

    def finish(self) -> None:
        """Raise :class:`InvalidUTF8` unless the bytes fed end on a code point boundary."""
        if self._failed_at >= 0:
            raise self._invalid(self._failed_at)
        if self._state != _ACCEPT:
            raise InvalidUTF8(f"truncated utf-8 sequence at byte {self._size}", self._size)

    def reset(self) -> None:
        self._state = _ACCEPT
        self._size = 0
        self._failed_at = -1

    @property
    def complete(self) -> bool:
        """True when the bytes fed so far are valid and end on a code point boundary."""
        return self._state == _ACCEPT

    @staticmethod
    def _invalid(position: int) -> InvalidUTF8:
        return InvalidUTF8(f"invalid utf-8 at byte {position}", position)


def bind(backend: Any) -> tuple[Callable[[Buffer], bool], type[Utf8Validator]]:
    """validate_utf8 and Utf8Validator over one backend."""
    b_feed = backend.utf8_feed

    def validate_utf8(data: Buffer) -> bool:
        """True if ``data`` is complete, well-formed UTF-8."""
        data = readable(data)
        if len(data) <= _SMALL and type(data) is not memoryview:
            if data.isascii():
                return True
            if len(data) <= _DECODE:
                try:
                    data.decode()
                except UnicodeDecodeError:
                    return False
                return True
        return b_feed(_ACCEPT, data) == (_ACCEPT, -1)

    validator = type("Utf8Validator", (Utf8Validator,), {"_feed": staticmethod(b_feed)})
    validator.__module__ = Utf8Validator.__module__
    return validate_utf8, validator
