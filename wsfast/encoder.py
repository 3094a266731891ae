"""Frames from messages: the sending half of the sans-I/O core."""

from __future__ import annotations

import os
from typing import Any, Sequence, Union

from . import deflate
from ._common import readable
from ._pure import _HEAD16, _HEAD64, build_header, close_code_valid

Buffer = Union[bytes, bytearray, memoryview]

# Masking keys are drawn from os.urandom this many bytes at a time (256 keys a system call).
_KEY_BLOCK = 1024
# The 2-byte headers of unmasked single-frame text (0x81), binary (0x82) and compressed text
# (0xc1: RSV1) messages under 126 bytes, made once: a lookup costs less than bytes((first, n)).
_HEADS = {first: tuple(bytes((first, n)) for n in range(126)) for first in (0x81, 0x82, 0xC1)}


class Encoder:
    """Builds the frames one endpoint sends.

    ``client=True`` masks every frame with a fresh key from ``os.urandom`` (RFC 6455 5.3);
    servers send unmasked frames.  ``extensions``: the agreed permessage-deflate parameters
    (``HandshakeResponse.extensions``); messages are then compressed as the policy's threshold
    says, or as ``compress=`` forces.
    """

    _backend: Any

    def __init__(self, *, client: bool = False, extensions: Sequence[Any] = ()) -> None:
        self.client = bool(client)
        # Masking keys come from os.urandom (5.3: unpredictable), drawn 1 KiB at a time: one
        # system call per 256 frames instead of one per frame.
        self._keys = b""
        self._next_key = _KEY_BLOCK
        self._client_frame = self._backend.client_frame
        # the C function itself, where a new bytes object may be filled in place (CPython)
        self._fill = getattr(self._backend, "fill_client_frame", None)
        agreed = deflate.find(extensions)
        self._compressor: deflate.Compressor | None = None
        self._threshold = 0
        if agreed is not None:
            bits, no_takeover = agreed.sending(self.client)
            self._compressor = deflate.Compressor(
                bits, no_takeover, agreed.compress_level, agreed.mem_level
            )
            self._threshold = agreed.threshold
        # message() takes its short path when nothing is to be compressed, message_parts()
        # when moreover nothing is masked
        self._plain = self._compressor is None
        self._bare = self._plain and not self.client

    def _key(self) -> int:
        """The offset in ``self._keys`` of the next frame's key (a fresh block when used up)."""
        i = self._next_key
        if i >= _KEY_BLOCK:
            self._keys, i = os.urandom(_KEY_BLOCK), 0
        self._next_key = i + 4
        return i

    def _frame(self, opcode: int, payload: Any, fin: bool = True, rsv: int = 0) -> bytes:
        # Server frames: the header built in Python (at 2-14 bytes a cffi call would cost more
        # than it does), one concatenation.  Client frames: one C call writes the whole frame.
        first = (opcode | 0x80 if fin else opcode) | rsv
        if self.client:
            at = self._key()
            return self._client_frame(first, payload, self._keys, at)
        n = len(payload)
        if n < 126:
            return bytes((first, n)) + payload
        return build_header(fin, rsv, opcode, n, None) + payload

    def _payload(self, data: str | Buffer, compress: bool | None) -> tuple[int, Any, int]:
        """(opcode, payload to frame, RSV bits of its first frame)."""
        if type(data) is str or isinstance(data, str):
            opcode, payload = 0x1, data.encode("utf-8")
        else:
            opcode, payload = 0x2, data if type(data) is bytes else readable(data)
        c = self._compressor
        if compress is None:
            if c is None or len(payload) < self._threshold:
                return opcode, payload, 0
        elif compress is True:
            if c is None:
                raise ValueError("compress=True needs a negotiated permessage-deflate")
        elif compress is False:
            return opcode, payload, 0
        else:
            raise TypeError(f"compress must be None, True or False, not {compress!r}")
        # RFC 7692 6.1: the message is compressed whole; RSV1 on its first frame only
        return opcode, c.compress(payload), 0x40  # type: ignore[union-attr]

    def _split(
        self, opcode: int, payload: Any, rsv: int, fragment_size: int | None
    ) -> list[tuple[int, Any, bool, int]]:
        """(opcode, payload, fin, rsv) of each frame of a message: one, or fragments of at most
        ``fragment_size`` bytes (5.4; RSV1 on the first only, RFC 7692 6.1)."""
        if fragment_size is None or len(payload) <= fragment_size:
            return [(opcode, payload, True, rsv)]
        if type(fragment_size) is not int or fragment_size < 1:
            raise ValueError(f"fragment_size must be a positive integer, not {fragment_size!r}")
        view = memoryview(payload)
        return [
            (0x0 if start else opcode, view[start : start + fragment_size],
             start + fragment_size >= len(view), 0 if start else rsv)
            for start in range(0, len(view), fragment_size)
        ]

    def message(
        self,
        data: str | Buffer,
        *,
        fragment_size: int | None = None,
        compress: bool | None = None,
    ) -> bytes:
        """A text message for ``str``, a binary one for bytes-like data, optionally split into
        frames of at most ``fragment_size`` payload bytes (compressed bytes, when compressed).
        ``compress``: None follows the permessage-deflate policy, True or False force it."""
        if fragment_size is None and self._plain and compress is None:
            # the common case, inline: one frame, nothing to compress
            if type(data) is str:
                payload: Any = data.encode()
                first = 0x81
            elif type(data) is bytes:
                payload, first = data, 0x82
            else:
                return self._message(data, fragment_size, compress)
            if self.client:
                # the key: the next 4 bytes of a block from os.urandom, inline
                at = self._next_key
                if at >= _KEY_BLOCK:
                    self._keys, at = os.urandom(_KEY_BLOCK), 0
                self._next_key = at + 4
                n = len(payload)
                if n < 126 and self._fill is not None:
                    # a small frame: allocated here and written by the C call itself, without
                    # the wrapper's Python frame (about a tenth of the cost of a 125 B frame)
                    out = bytes(n + 6)
                    self._fill(out, first, payload, n, self._keys, at)
                    return out
                return self._client_frame(first, payload, self._keys, at)
            n = len(payload)
            if n < 126:
                return _HEADS[first][n] + payload
            return build_header(True, 0, first & 0x0F, n, None) + payload
        if (
            fragment_size is None
            and (compress is None or compress is True)
            and type(data) is str
            and self._compressor is not None
            and not self.client
        ):
            # a server's compressed text message, inline (the flush is most of its cost; this
            # saves the calls around it)
            payload = data.encode()
            if compress or len(payload) >= self._threshold:
                body = self._compressor.compress(payload)
                n = len(body)
                if n < 126:
                    return _HEADS[0xC1][n] + body
                return build_header(True, 0x40, 0x1, n, None) + body
        return self._message(data, fragment_size, compress)

    def _message(self, data: Any, fragment_size: int | None, compress: bool | None) -> bytes:
        frames = self._split(*self._payload(data, compress), fragment_size)
        if len(frames) == 1:
            return self._frame(*frames[0])
        return b"".join([self._frame(*frame) for frame in frames])

    def message_parts(
        self,
        data: str | Buffer,
        *,
        fragment_size: int | None = None,
        compress: bool | None = None,
    ) -> list[Any]:
        """The bytes of ``message(...)`` as pieces for ``writelines`` / ``sendmsg``: a
        bytes-like payload sent unmasked and uncompressed is one of the pieces as given, not
        copied into its frame."""
        if fragment_size is None and compress is None and self._bare:
            # the cases it exists for, inline: a server's message in one frame, nothing to
            # compress; the payload (the caller's bytes, or the str's UTF-8, a new object of
            # ours) is handed over as it is
            payload: Any
            if type(data) is bytes:
                first, payload = 0x82, data
            elif type(data) is str:
                first, payload = 0x81, data.encode()
            else:
                first, payload = 0, None
            if first:
                n = len(payload)
                if n < 126:
                    return [_HEADS[first][n] + payload]  # a copy this small costs less than a piece
                if n < 65536:
                    return [_HEAD16(first, 126, n), payload]
                return [_HEAD64(first, 127, n), payload]
        opcode, body, rsv = self._payload(data, compress)
        frames = self._split(opcode, body, rsv, fragment_size)
        if self.client:
            # masked: each frame written whole (nothing of the payload can be handed over)
            return [self._frame(*frame) for frame in frames]
        parts: list[Any] = []
        for op, chunk, fin, rsv in frames:
            parts += (build_header(fin, rsv, op, len(chunk), None), chunk)
        return parts

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
