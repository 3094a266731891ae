"""Whole messages from received bytes: a sans-I/O decoder (bytes in, events out)."""

from __future__ import annotations

import collections
from itertools import repeat
from operator import itemgetter
from typing import TYPE_CHECKING, Any, NamedTuple, Sequence, Union

from . import _codes as C
from . import deflate
from ._common import readable
from .errors import ProtocolError

_new = tuple.__new__

Buffer = Union[bytes, bytearray, memoryview]


def _item(index: int, doc: str) -> Any:
    """A read-only attribute that reads item ``index`` of the tuple: the descriptor
    namedtuple's fields use where CPython has it (reading ``text`` through it costs about two
    thirds of a property over ``itemgetter``, which calls a second object), else that
    property."""
    getter = getattr(collections, "_tuplegetter", None)
    if getter is None:  # pragma: no cover - not CPython
        return property(itemgetter(index), doc=doc)
    return getter(index, doc)


class _MessageType(type):
    """Gives ``Message(data, is_text=False)`` its signature while the type keeps tuple's own
    constructor, which the decoder calls from C on ``(data, is_text)`` pairs."""

    def __call__(cls, data: bytes, is_text: bool = False) -> Any:
        return _new(cls, (data, is_text))  # type: ignore[arg-type]


class _FirstText:
    """``Message.text``: the payload decoded on first access and kept in the instance's
    ``__dict__``.  Not a property: a descriptor without ``__set__`` is looked up after the
    instance dict, so every later access finds the str there without running Python code."""

    def __get__(self, message: Any, owner: Any = None) -> Any:
        if message is None:
            return self
        text = message.__dict__["text"] = message[0].decode("utf-8")
        return text


class Message(tuple, metaclass=_MessageType):
    """A complete data message, the tuple ``(data, is_text)``.  ``data`` is the payload as
    bytes; ``text`` decodes it on first access and keeps the str (text messages were validated
    as they arrived, so decoding cannot fail).

    A tuple, like the other events, because the decoder makes one per message in C (tuple's
    own constructor mapped over a batch's ``(data, is_text)`` pairs) instead of running an
    ``__init__`` per message.  A decoder with ``decode_text=True`` delivers text messages as
    the tuple ``(text, True)`` instead, equal to this one (see ``_Text``).
    """

    data: bytes
    is_text: bool

    if TYPE_CHECKING:  # the signature _MessageType.__call__ gives it, for type checkers

        def __new__(cls, data: bytes, is_text: bool = False) -> Message: ...

    def __reduce__(self) -> tuple[Any, tuple[bytes, bool]]:
        return (type(self), (self[0], self[1]))

    data = _item(0, "the payload")  # type: ignore[assignment]
    is_text = _item(1, "True for a text message")  # type: ignore[assignment]

    text: str
    text = _FirstText()  # type: ignore[assignment]

    def __repr__(self) -> str:
        data = self[0]
        shown = data if len(data) <= 64 else data[:60] + b"..."
        return f"Message(data={shown!r}, is_text={self[1]})"


def _not_equal(self: Any, other: object) -> Any:
    """``__ne__`` of the messages that define their own ``__eq__``."""
    equal = self.__eq__(other)
    return equal if equal is NotImplemented else not equal


class _Decoded(Message):
    """A text message whose str the decoder made as it delivered it: the tuple ``(data, True,
    text)``, built by tuple's constructor like Message (no ``__dict__`` to fill per message),
    so ``text`` is an item read.  It compares, hashes, iterates and pickles as the Message
    ``(data, True)`` it stands for."""

    text = _item(2, "the message as str")  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, tuple[bytes, bool]]:
        return (Message, (self[0], self[1]))

    def __len__(self) -> int:
        return 2

    def __iter__(self) -> Any:
        return iter((self[0], self[1]))

    def __eq__(self, other: object) -> bool:
        if type(other) is _Text:
            return self[0] == other.data
        if isinstance(other, tuple):
            return len(other) == 2 and self[0] == other[0] and self[1] == other[1]
        return NotImplemented

    __ne__ = _not_equal

    def __hash__(self) -> int:
        return hash((self[0], self[1]))


class _FirstData:
    """``data`` of a :class:`_Text`: the str encoded on first access and kept in the instance's
    ``__dict__`` (a non-data descriptor, as :class:`_FirstText`)."""

    def __get__(self, message: Any, owner: Any = None) -> Any:
        if message is None:
            return self
        data = message.__dict__["data"] = tuple.__getitem__(message, 0).encode("utf-8")
        return data


def _plain(value: Any) -> Any:
    """A message as the plain tuple ``(data, is_text)`` it stands for (other values as they
    are), for the tuple operations of :class:`_Text`."""
    return (value.data, True) if type(value) is _Text else value


class _Text(Message):
    """A text message decoded as it was delivered (``decode_text=True``), its str made straight
    from the validated payload with no bytes object between: stored as the tuple
    ``(text, True)``, so ``text`` is an item read; ``data``, its UTF-8 bytes, is encoded on
    first access and kept.  Everything else a tuple does (iterating and unpacking, comparing,
    hashing, ``in``, ``count``, ``index``, ``+``, pickling and copying) is that of the Message
    ``(data, True)`` it stands for.  Only indexing (``message[0]``) reads the stored items, so
    that ``text`` stays one C-level item read: a Python ``__getitem__`` would make every
    ``.text`` a Python call, three times its cost."""

    text = _item(0, "the message as str")  # type: ignore[assignment]
    data = _FirstData()  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, tuple[bytes, bool]]:
        return (Message, (self.data, True))

    def __iter__(self) -> Any:
        return iter((self.data, True))

    def __contains__(self, value: object) -> bool:
        return value in (self.data, True)

    def count(self, value: Any) -> int:
        return (self.data, True).count(value)

    def index(self, value: Any, *args: Any) -> int:
        return (self.data, True).index(value, *args)

    def __add__(self, other: Any) -> Any:
        return (self.data, True) + _plain(other)

    def __radd__(self, other: Any) -> Any:
        return _plain(other) + (self.data, True)

    def __mul__(self, n: Any) -> Any:
        return (self.data, True) * n

    __rmul__ = __mul__

    def __eq__(self, other: object) -> bool:
        if type(other) is _Text:
            return tuple.__getitem__(self, 0) == tuple.__getitem__(other, 0)  # type: ignore[arg-type]
        if isinstance(other, tuple):
            return len(other) == 2 and other[1] == True and self.data == other[0]  # noqa: E712
        return NotImplemented

    __ne__ = _not_equal

    def __lt__(self, other: Any) -> bool:
        return (self.data, True) < _plain(other)

    def __le__(self, other: Any) -> bool:
        return (self.data, True) <= _plain(other)

    def __gt__(self, other: Any) -> bool:
        return (self.data, True) > _plain(other)

    def __ge__(self, other: Any) -> bool:
        return (self.data, True) >= _plain(other)

    def __hash__(self) -> int:
        return hash((self.data, True))

    def __repr__(self) -> str:
        return Message.__repr__(Message(self.data, True))


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
_make_decoded = type.__call__.__get__(_Decoded)  # on (data, True, text) triples
_make_text = type.__call__.__get__(_Text)  # on (text, True) pairs
# bytes.decode with no argument: UTF-8 without looking the codec name up (map(str, payloads,
# repeat("utf-8")) costs about twice as many instructions per message)
_decode = bytes.decode

_SINGLE_TEXT = C.R_TEXT | C.R_FIRST | C.R_FIN | 0x1
_SINGLE_BINARY = C.R_FIRST | C.R_FIN | 0x2
# a batch of one of these kinds is all whole messages: their is_text
_WHOLE_MESSAGES = {_SINGLE_TEXT: True, _SINGLE_BINARY: False}
# ... and of these, all whole compressed messages
_WHOLE_COMPRESSED = {_SINGLE_TEXT | C.R_RSV1: True, _SINGLE_BINARY | C.R_RSV1: False}
ACCEPT_STATE = 0  # the UTF-8 state on a code point boundary (WSFAST_UTF8_ACCEPT)


def _invalid_text(position: int) -> ProtocolError:
    return C.error(C.E_INVALID_UTF8, 0, position)


def _decoded(payload: bytes) -> Any:
    """A validated text message with its str made now (``decode_text=True``)."""
    return _make_text((payload.decode("utf-8"), True))


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
        decode_text: bool = False,
    ) -> None:
        self.client = bool(client)
        self.max_frame_size = max_frame_size
        self.max_message_size = max_message_size
        self.decode_text = bool(decode_text)
        limit = _limit("max_message_size", max_message_size)
        # permessage-deflate: what the peer sends is inflated with its agreed parameters
        agreed = deflate.find(extensions)
        self._inflater: deflate.Inflater | None = None
        if agreed is not None:
            self._inflater = deflate.Inflater(*agreed.sending(not self.client))
        self._limit = None if limit == _UNLIMITED else limit  # inflated size; None: none
        self._scanner = self._backend.Scanner(
            self.client,
            bool(strict),
            0x40 if agreed is not None else 0,
            _limit("max_frame_size", max_frame_size),
            limit,
            deflate.wire_limit(limit) if agreed is not None else 0,
            self.decode_text,
        )
        self._parts: list[bytes] = []
        self._is_text = False
        self._utf8 = ACCEPT_STATE  # UTF-8 state of an inflated text message in progress
        self._utf8_at = 0
        # the message and close code of the violation that stopped the decoder (not the
        # exception: its traceback holds the frame of ``feed``, and so this decoder, in a cycle)
        self._error: tuple[str, int] | None = None

    def feed(self, data: Buffer) -> list[Event]:
        """Decode ``data`` (the next bytes received) into the events it completes."""
        if self._error is not None:
            message, code = self._error
            raise ProtocolError(f"decoder stopped by an earlier error: {message}", code)
        return self._events_of(self._scanner.feed(data if type(data) is bytes else readable(data)))

    def _events_of(self, batches: list) -> list[Event]:
        """The events of the scanner's batches for one feed; raises what it found wrong."""
        events: list[Event] = []
        try:
            for same, payloads, records in batches:
                is_text = _WHOLE_MESSAGES.get(same)
                if is_text is None:
                    if same in _WHOLE_COMPRESSED:
                        self._whole_compressed(payloads, _WHOLE_COMPRESSED[same], events)
                    else:
                        self._events(records, payloads, events)
                elif len(payloads) == 1:  # one message per read, the usual case on a live socket
                    if is_text and self.decode_text:  # (the scanner made text payloads str)
                        events.append(_make_text((payloads[0], True)))
                    else:
                        events.append(_make((payloads[0], is_text)))
                elif is_text and self.decode_text:
                    # the scanner made these payloads str, batch-wise; map and zip run no
                    # Python code per message
                    events += map(_make_text, zip(payloads, repeat(True)))
                else:
                    events += map(_make, zip(payloads, repeat(is_text)))
        except ProtocolError as exc:
            # inflating failed: the violation is this layer's, found after the scanner's
            raise self._stop_with(exc, events) from None
        error = self._scanner.error
        if error is not None:
            # No local of this frame refers to the exception: the traceback refers to the frame,
            # and a cycle through it would keep the decoder's buffers alive until a collection.
            raise self._stop(error, events)
        return events

    def _stop(self, error: tuple[int, int, int], events: list[Event]) -> ProtocolError:
        status, value, position = error
        exc = C.error(status, value, position, self.max_frame_size or 0, self.max_message_size or 0)
        return self._stop_with(exc, events)

    def _stop_with(self, exc: ProtocolError, events: list[Event]) -> ProtocolError:
        exc.events = events  # type: ignore[attr-defined]
        self._error = (str(exc), exc.code)
        self._parts = []
        self._inflater = None
        return exc

    def _whole_compressed(self, payloads: Any, is_text: bool, events: list[Event]) -> None:
        """Single-frame compressed messages: inflated, text validated."""
        inflated: list[bytes] = []
        try:
            self._inflater.whole_messages(payloads, self._limit, inflated)  # type: ignore[union-attr]
        except ProtocolError:
            self._deliver(inflated, is_text, events)  # the messages before the failing one
            raise
        self._deliver(inflated, is_text, events)

    def _deliver(self, inflated: list[bytes], is_text: bool, events: list[Event]) -> None:
        if not is_text:
            events += map(_make, zip(inflated, repeat(False)))
            return
        # decoding validates, and the str is kept: nothing is decoded twice
        before = len(events)
        try:
            if self.decode_text:
                events += map(_make_text, zip(map(_decode, inflated), repeat(True)))
            else:
                events += map(_make_decoded, zip(inflated, repeat(True), map(_decode, inflated)))
        except UnicodeDecodeError:
            # the messages before the invalid one were appended: they are events
            raise self._invalid(inflated[len(events) - before]) from None

    def _invalid(self, data: bytes) -> ProtocolError:
        """The fail-fast position of invalid UTF-8 in a whole message (SPEC: the first byte
        after which it could no longer be valid), found by the backend's validator."""
        _, at = self._backend.utf8_feed(ACCEPT_STATE, data)
        return _invalid_text(at if at >= 0 else len(data))

    def _inflated_fragment(self, payload: bytes, first: bool, fin: bool, is_text: bool) -> bytes:
        """One frame of a fragmented compressed message: inflated, text validated as it comes
        (fail fast: positions index the inflated message)."""
        data = self._inflater.inflate(payload, fin, self._limit)  # type: ignore[union-attr]
        if is_text:
            if first:
                self._utf8, self._utf8_at = ACCEPT_STATE, 0
            state, at = self._backend.utf8_feed(self._utf8, data)
            if at >= 0:
                raise _invalid_text(self._utf8_at + at)
            self._utf8_at += len(data)
            self._utf8 = state
            if fin and state != ACCEPT_STATE:
                raise _invalid_text(self._utf8_at)
        return data

    def _events(self, records: Any, payloads: Any, events: list[Event]) -> None:
        append = events.append
        for (_, _, kind, code), payload in zip(records, payloads):
            if kind == _SINGLE_TEXT:
                append(_decoded(payload) if self.decode_text else _make((payload, True)))
            elif kind == _SINGLE_BINARY:
                append(_make((payload, False)))
            elif kind == _PING:
                append(Ping(payload))
            elif kind == _PONG:
                append(Pong(payload))
            elif kind == _CLOSE:
                append(Close(code or None, str(payload[2:], "utf-8")))
            else:
                if kind & C.R_RSV1:
                    # a frame of a compressed message (RFC 7692 6.2): inflated, then assembled
                    # as any other
                    if kind & C.R_FIRST and kind & C.R_FIN:
                        self._whole_compressed((payload,), bool(kind & C.R_TEXT), events)
                        continue
                    payload = self._inflated_fragment(
                        payload, bool(kind & C.R_FIRST), bool(kind & C.R_FIN), bool(kind & C.R_TEXT)
                    )
                # a fragment of a data message (5.4)
                if kind & C.R_FIRST:
                    self._parts = [payload]
                    self._is_text = bool(kind & C.R_TEXT)
                else:
                    self._parts.append(payload)
                if kind & C.R_FIN:
                    data = b"".join(self._parts)
                    self._parts = []
                    if self.decode_text and self._is_text:
                        append(_decoded(data))
                    else:
                        append(_make((data, self._is_text)))
