"""Frames from messages: the sending half of the sans-I/O core."""

from __future__ import annotations

import os
from typing import Any, Union

from ._common import readable
from ._pure import build_header, close_code_valid

Buffer = Union[bytes, bytearray, memoryview]


class Encoder:
    """Builds the frames one endpoint sends.

    ``client=True`` masks every frame with a fresh key from ``os.urandom`` (RFC 6455 5.3);
    servers send unmasked frames.
    """

    _backend: Any

    def __init__(self, *, client: bool = False) -> None:
        self.client = bool(client)
        # Masking keys come from os.urandom (5.3: unpredictable), drawn 1 KiB at a time: one
        # system call per 256 frames instead of one per frame.
        self._keys = b""
        self._next_key = 0
        self._mask = self._backend.mask

    def _frame(self, opcode: int, payload: Any, fin: bool = True) -> bytes:
        # The header is built in Python for both backends: at 2-14 bytes a cffi call would
        # cost more than it does.  Short frames (the common case) take the inline path.
        n = len(payload)
        first = opcode | 0x80 if fin else opcode
        if self.client:
            i = self._next_key
            if i >= len(self._keys):
                self._keys, i = os.urandom(1024), 0
            self._next_key = i + 4
            key = self._keys[i : i + 4]
            if n < 126:
                return bytes((first, 0x80 | n)) + key + self._mask(payload, key, 0)
            return build_header(fin, 0, opcode, n, key) + self._mask(payload, key, 0)
        if n < 126:
            return bytes((first, n)) + payload
        return build_header(fin, 0, opcode, n, None) + payload

    def message(self, data: str | Buffer, *, fragment_size: int | None = None) -> bytes:
        """A text message for ``str``, a binary one for bytes-like data, optionally split into
        frames of at most ``fragment_size`` payload bytes."""
        if type(data) is str or isinstance(data, str):
            opcode, payload = 0x1, data.encode("utf-8")
        else:
            opcode, payload = 0x2, data if type(data) is bytes else readable(data)
        if fragment_size is None or len(payload) <= fragment_size:
            return self._frame(opcode, payload)
        if type(fragment_size) is not int or fragment_size < 1:
            raise ValueError(f"fragment_size must be a positive integer, not {fragment_size!r}")
        view = memoryview(payload)
        frames = []
        for start in range(0, len(view), fragment_size):
            chunk = view[start : start + fragment_size]
            last = start + fragment_size >= len(view)
            frames.append(self._frame(opcode if start == 0 else 0x0, chunk, fin=last))
        return b"".join(frames)

    def _control(self, opcode: int, payload: Buffer | str) -> bytes:
        data = payload.encode("utf-8") if isinstance(payload, str) else readable(payload)
        if len(data) > 125:
            raise ValueError(f"control frame payload of {len(data)} bytes exceeds 125")
        return self._frame(opcode, data)

    def ping(self, payload: Buffer | str = b"") -> bytes:
        return self._control(0x9, payload)

    def pong(self, payload: Buffer | str = b"") -> bytes:
        return self._control(0xA, payload)

    def close(self, code: int | None = 1000, reason: str = "") -> bytes:
        """A close frame (5.5.1): ``code`` must be one allowed on the wire (7.4), the reason at
        most 123 bytes of UTF-8; ``code=None`` sends an empty close payload."""
        if code is None:
            if reason:
                raise ValueError("a close reason needs a close code")
            return self._frame(0x8, b"")
        if type(code) is not int and not hasattr(code, "__index__"):
            raise TypeError(f"close code must be an integer, not {type(code).__name__}")
        code = int(code)
        if not close_code_valid(code):
            raise ValueError(f"invalid close code {code}")
        encoded = reason.encode("utf-8")
        if len(encoded) > 123:
            raise ValueError(f"close reason of {len(encoded)} bytes exceeds 123")
        return self._frame(0x8, code.to_bytes(2, "big") + encoded)
