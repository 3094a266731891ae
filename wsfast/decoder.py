"""Whole messages from received bytes: a sans-I/O decoder (bytes in, events out)."""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence, Union

from . import _codes as C
from ._common import readable
from .errors import ProtocolError

Buffer = Union[bytes, bytearray, memoryview]


class Message:
    """A complete data message.  ``data`` is the payload as bytes; ``text`` decodes it on first
    access (text messages were validated as they arrived, so decoding cannot fail)."""

    __slots__ = ("data", "is_text", "_text")

    data: bytes
    is_text: bool
    _text: str

    def __init__(self, data: bytes, is_text: bool) -> None:
        self.data = data
        self.is_text = is_text

    @property
    def text(self) -> str:
        try:
            return self._text
        except AttributeError:
            self._text = text = self.data.decode("utf-8")
            return text

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Message):
            return self.data == other.data and self.is_text == other.is_text
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.data, self.is_text))

    def __repr__(self) -> str:
        shown = self.data if len(self.data) <= 64 else self.data[:60] + b"..."
        return f"Message(data={shown!r}, is_text={self.is_text})"


class Ping(NamedTuple):
    payload: bytes


class Pong(NamedTuple):
    payload: bytes


class Close(NamedTuple):
    """A close frame: ``code`` is None when its payload was empty."""

    code: int | None
    reason: str


Event = Union[Message, Ping, Pong, Close]

_SINGLE_TEXT = C.R_TEXT | C.R_FIRST | C.R_FIN | 0x1
_SINGLE_BINARY = C.R_FIRST | C.R_FIN | 0x2
_PING = C.R_FIN | 0x9
_PONG = C.R_FIN | 0xA
_CLOSE = C.R_FIN | 0x8
_UNLIMITED = 2**64 - 1


def _limit(name: str, value: int | None) -> int:
    if value is None:
        return _UNLIMITED
    if type(value) is not int or value < 0:
        raise ValueError(f"{name} must be None or a non-negative integer, not {value!r}")
    return value


class Decoder:
    """Turns the bytes received on one connection into events.

    ``client=False`` (we are the server) requires every frame to be masked; ``client=True``
    forbids masking.  ``feed`` accepts any chunking, down to single bytes, with the same
    events.  A violation raises a :class:`ProtocolError` subclass whose ``code`` is the close
    code to send, with the events decoded before it in that call as its ``events`` attribute;
    after it, and after a Close, the decoder refuses further bytes.
    """

    _backend: Any

    def __init__(
        self,
        *,
        client: bool = False,
        max_frame_size: int | None = None,
        max_message_size: int | None = 16 * 2**20,
        strict: bool = True,
        extensions: Sequence[Any] = (),
    ) -> None:
        if tuple(extensions):
            raise ValueError("extensions are not supported yet: pass extensions=()")
        self.client = bool(client)
        self.max_frame_size = max_frame_size
        self.max_message_size = max_message_size
        self._scanner = self._backend.Scanner(
            self.client,
            bool(strict),
            0,
            _limit("max_frame_size", max_frame_size),
            _limit("max_message_size", max_message_size),
        )
        self._parts: list[bytes] = []
        self._is_text = False
        # the message and close code of the violation that stopped the decoder (not the
        # exception: its traceback holds the frame of ``feed``, and so this decoder, in a cycle)
        self._error: tuple[str, int] | None = None

    def feed(self, data: Buffer) -> list[Event]:
        """Decode ``data`` (the next bytes received) into the events it completes."""
        if self._error is not None:
            message, code = self._error
            raise ProtocolError(f"decoder stopped by an earlier error: {message}", code)
        batches = self._scanner.feed(data if type(data) is bytes else readable(data))
        events: list[Event] = []
        append = events.append
        for records, blob, base in batches:
            self._events(records, blob, base, append)
        error = self._scanner.error
        if error is not None:
            # No local of this frame refers to the exception: the traceback refers to the frame,
            # and a cycle through it would keep the decoder's buffers alive until a collection.
            raise self._stop(error, events)
        return events

    def _stop(self, error: tuple[int, int, int], events: list[Event]) -> ProtocolError:
        status, value, position = error
        exc = C.error(status, value, position, self.max_frame_size or 0, self.max_message_size or 0)
        exc.events = events  # type: ignore[attr-defined]
        self._error = (str(exc), exc.code)
        self._parts = []
        return exc

    def _events(self, records: Any, blob: bytes, base: int, append: Any) -> None:
        for offset, length, kind, code in records:
            start = offset - base
            if kind == _SINGLE_TEXT:
                append(Message(blob[start : start + length], True))
            elif kind == _SINGLE_BINARY:
                append(Message(blob[start : start + length], False))
            elif kind == _PING:
                append(Ping(blob[start : start + length]))
            elif kind == _PONG:
                append(Pong(blob[start : start + length]))
            elif kind == _CLOSE:
                append(Close(code or None, str(blob[start + 2 : start + length], "utf-8")))
            else:
                # a fragment of a data message (5.4)
                payload = blob[start : start + length]
                if kind & C.R_FIRST:
                    self._parts = [payload]
                    self._is_text = bool(kind & C.R_TEXT)
                else:
                    self._parts.append(payload)
                if kind & C.R_FIN:
                    append(Message(b"".join(self._parts), self._is_text))
                    self._parts = []
