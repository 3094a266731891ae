"""Whole messages from received bytes: a sans-I/O decoder (bytes in, events out)."""

from __future__ import annotations

from itertools import repeat
from operator import itemgetter
from typing import TYPE_CHECKING, Any, NamedTuple, Sequence, Union

from . import _codes as C
from ._common import readable
from .errors import ProtocolError

_new = tuple.__new__

Buffer = Union[bytes, bytearray, memoryview]


class _MessageType(type):
    """Gives ``Message(data, is_text=False)`` its signature while the type keeps tuple's own
    constructor, which the decoder calls from C on ``(data, is_text)`` pairs."""

    def __call__(cls, data: bytes, is_text: bool = False) -> Any:
        return _new(cls, (data, is_text))  # type: ignore[arg-type]


class Message(tuple, metaclass=_MessageType):
    """A complete data message, the tuple ``(data, is_text)``.  ``data`` is the payload as
    bytes; ``text`` decodes it on first access and keeps the str (text messages were validated
    as they arrived, so decoding cannot fail).

    A tuple, like the other events, because the decoder makes one per message in C (tuple's
    own constructor mapped over a batch's ``(data, is_text)`` pairs) instead of running an
    ``__init__`` per message.
    """

    data: bytes
    is_text: bool

    if TYPE_CHECKING:  # the signature _MessageType.__call__ gives it, for type checkers

        def __new__(cls, data: bytes, is_text: bool = False) -> Message: ...

    def __reduce__(self) -> tuple[Any, tuple[bytes, bool]]:
        return (type(self), (self[0], self[1]))

    data = property(itemgetter(0), doc="the payload")  # type: ignore[assignment]
    is_text = property(itemgetter(1), doc="True for a text message")  # type: ignore[assignment]

    @property
    def text(self) -> str:
        cache = self.__dict__
        try:
            return cache["text"]
        except KeyError:
            cache["text"] = text = self[0].decode("utf-8")
            return text

    def __repr__(self) -> str:
        data = self[0]
        shown = data if len(data) <= 64 else data[:60] + b"..."
        return f"Message(data={shown!r}, is_text={self[1]})"


class Ping(NamedTuple):
    payload: bytes


class Pong(NamedTuple):
    payload: bytes


class Close(NamedTuple):
    """A close frame: ``code`` is None when its payload was empty."""

    code: int | None
    reason: str


Event = Union[Message, Ping, Pong, Close]
# tuple's constructor as Message's type slot holds it: called by map on (data, is_text) pairs it
# runs no Python code (the metaclass only serves calls made from Python)
_make = type.__call__.__get__(Message)

_SINGLE_TEXT = C.R_TEXT | C.R_FIRST | C.R_FIN | 0x1
_SINGLE_BINARY = C.R_FIRST | C.R_FIN | 0x2
# a batch of one of these kinds is all whole messages: their is_text
_WHOLE_MESSAGES = {_SINGLE_TEXT: True, _SINGLE_BINARY: False}
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
            0,
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
        for same, payloads, records in batches:
            is_text = _WHOLE_MESSAGES.get(same)
            if is_text is None:
                self._events(records, payloads, events.append)
            elif len(payloads) == 1:  # one message per read, the usual case on a live socket
                events.append(_make((payloads[0], is_text)))
            else:
                events += map(_make, zip(payloads, repeat(is_text)))
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

    def _events(self, records: Any, payloads: Any, append: Any) -> None:
        for (_, _, kind, code), payload in zip(records, payloads):
            if kind == _SINGLE_TEXT:
                append(_make((payload, True)))
            elif kind == _SINGLE_BINARY:
                append(_make((payload, False)))
            elif kind == _PING:
                append(Ping(payload))
            elif kind == _PONG:
                append(Pong(payload))
            elif kind == _CLOSE:
                append(Close(code or None, str(payload[2:], "utf-8")))
            else:
                # a fragment of a data message (5.4)
                if kind & C.R_FIRST:
                    self._parts = [payload]
                    self._is_text = bool(kind & C.R_TEXT)
                else:
                    self._parts.append(payload)
                if kind & C.R_FIN:
                    append(Message(b"".join(self._parts), self._is_text))
                    self._parts = []
