"""Drop-in acceleration for the WebSocket libraries people already run.

``wsfast.patch()`` rebinds, inside each installed library, the names through which it looks up
its masker and UTF-8 validator (and, for wsproto and websockets, its frame parser) to
wsfast-backed versions with the same signatures, results and errors.  ``wsfast.unpatch()`` puts
every original back.

Only module and class attributes are rebound: objects a library created before the patch
(a connection, a frame decoder) keep the implementation they were built with.  The
replacements call the backend wsfast runs on (``wsfast.BACKEND``) at the time of the patch.
"""

from __future__ import annotations

import importlib.util
import struct
from collections.abc import Callable
from typing import Any

__all__ = [
    "LIBRARIES",
    "LibraryNotInstalled",
    "UnsupportedVersion",
    "check_patched",
    "patch",
    "patched",
    "unpatch",
]


class LibraryNotInstalled(ImportError):
    """``patch`` was asked for a library it knows but that cannot be imported here."""


class UnsupportedVersion(ImportError):
    """The installed version of a library does not look its accelerators up where wsfast
    expects (a name wsfast would rebind is missing), so patching it would do nothing."""


# (owner, attribute, original, replacement) for every name a patch rebound, per library.
_Binding = tuple[Any, str, Any, Any]
# library -> (the wsfast API its replacements call, its bindings)
_patched: dict[str, tuple[Any, list[_Binding]]] = {}


def _current(owner: Any, name: str) -> Any:
    # a class attribute as stored (a classmethod object, not the bound method it gives)
    return owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)


def _rebind(
    bindings: list[_Binding], owner: Any, name: str, value: Any, library: str
) -> None:
    try:
        original = _current(owner, name)
    except (KeyError, AttributeError):
        where = getattr(owner, "__qualname__", None) or getattr(
            owner, "__name__", repr(owner)
        )
        raise UnsupportedVersion(
            f"{library} {_version(library)} has no {where}.{name} to patch"
        ) from None
    bindings.append((owner, name, original, value))
    setattr(owner, name, value)


def _version(library: str) -> str:
    try:
        from importlib.metadata import version

        return version(library)
    except Exception:  # noqa: BLE001  # pragma: no cover - metadata missing in odd installs
        return "(unknown version)"


def _default_api() -> Any:
    """The public functions of the backend wsfast runs on."""
    from . import _api  # type: ignore[attr-defined]

    return _api


# ---------------------------------------------------------------------------------------------
# Maskers and validators with the interfaces the peers (and wsaccel) define, over one backend.


class KeyedMasker:
    """A masker that keeps its key phase across calls, as autobahn's and wsaccel's do:
    ``process(data) -> bytes``, ``pointer()`` (bytes processed so far), ``reset()``."""

    __slots__ = ("_mask", "_ptr")
    _apply_mask: Callable[..., bytes]

    def __init__(
        self, mask: bytes | bytearray | memoryview, length: int | None = None
    ) -> None:
        mask = bytes(mask)
        if len(mask) != 4:
            raise ValueError("mask must contain 4 bytes")
        self._mask = mask
        self._ptr = 0

    def pointer(self) -> int:
        return self._ptr

    def reset(self) -> None:
        self._ptr = 0

    def process(self, data: Any) -> bytes:
        out = self._apply_mask(data, self._mask, self._ptr & 3)
        self._ptr += len(out)
        return out


class NullMasker:
    """The masker for unmasked frames: data through unchanged, ``pointer()`` still counted."""

    __slots__ = ("_ptr",)

    def __init__(self, mask: Any = None, length: int | None = None) -> None:
        self._ptr = 0

    def pointer(self) -> int:
        return self._ptr

    def reset(self) -> None:
        self._ptr = 0

    def process(self, data: Any) -> Any:
        self._ptr += len(data)
        return data


class QuadUtf8Validator:
    """Incremental UTF-8 validation with the quad API of autobahn, ws4py and wsaccel.

    ``validate(buf) -> (valid, endsOnCodePoint, currentIndex, totalIndex)``: while valid,
    ``currentIndex`` is ``len(buf)`` and ``totalIndex`` the bytes consumed since ``reset()``; at
    the first byte that makes the input invalid, ``(False, False, i, total)`` with ``i`` that
    byte's offset in ``buf`` and ``total`` its offset since ``reset()``.  A rejected validator
    stays rejected (``(False, False, 0, total)``; an empty chunk, which they never scan, gives
    ``(True, False, 0, total)`` as in wsaccel and autobahn) until ``reset()``.
    """

    __slots__ = ("_index", "_rejected", "_validator")
    _Validator: Callable[[], Any]

    def __init__(self) -> None:
        self._validator = self._Validator()
        self._index = 0
        self._rejected = False

    def reset(self) -> None:
        self._validator.reset()
        self._index = 0
        self._rejected = False

    def validate(self, ba: Any) -> tuple[bool, bool, int, int]:
        from .errors import InvalidUTF8

        n = (
            len(ba)
            if type(ba) is bytes or type(ba) is bytearray
            else memoryview(ba).nbytes
        )
        if self._rejected:
            # wsaccel and autobahn scan no byte of an empty chunk, so they call it valid
            return not n, False, 0, self._index
        try:
            self._validator.feed(ba)
        except InvalidUTF8 as exc:
            here = exc.position - self._index
            self._index = exc.position
            self._rejected = True
            return False, False, here, self._index
        self._index += n
        return True, self._validator.complete, n, self._index


def quad_classes(
    api: Any,
) -> tuple[type[KeyedMasker], type[NullMasker], type[QuadUtf8Validator]]:
    """KeyedMasker, NullMasker and QuadUtf8Validator calling ``api`` (a bound backend)."""
    masker = type(
        "KeyedMasker",
        (KeyedMasker,),
        {
            "__slots__": (),
            "_apply_mask": staticmethod(api.apply_mask),
            "__module__": __name__,
        },
    )
    validator = type(
        "QuadUtf8Validator",
        (QuadUtf8Validator,),
        {"__slots__": (), "_Validator": api.Utf8Validator, "__module__": __name__},
    )
    masker.__doc__, validator.__doc__ = KeyedMasker.__doc__, QuadUtf8Validator.__doc__
    return masker, NullMasker, validator


# ---------------------------------------------------------------------------------------------
# One function per library: rebind its lookup names, return the bindings to restore.


def _c_fill(api: Any) -> tuple[Callable[[int], bytes], Any, Any] | None:
    """``(new, c_mask, from_buffer)`` where the backend can mask straight into a new bytes
    object (the C backend on CPython: ``new(n)`` is uninitialized bytes, filled by ``c_mask``
    before anything else sees it, as its apply_mask fills its output); None elsewhere."""
    backend = api.backend
    if not getattr(backend, "_FILL_BYTES", False):
        return None
    lib, ffi = backend.lib, backend.ffi  # C backend only
    return backend._output, lib.wsfast_mask, ffi.from_buffer  # C backend only


def _slice_unmasker(
    api: Any, small: Callable[[bytes, bytes], bytes] | None = None
) -> Callable[[Any, int, int, bytes, int], bytes]:
    """``unmask(data, start, n, key, phase) -> bytes``: ``data[start:start + n]`` unmasked,
    read from ``data`` (bytes or bytearray), which nothing refers to afterwards (a bytearray
    can be resized).  Up to 2 KiB the slice is copied and masked by ``apply_mask`` (or by
    ``small(chunk, key)`` at phase 0, a peer's own compiled masker where one call of it costs
    less than a cffi call); above, with the C backend on CPython, one cffi call reads the
    slice in place into a new bytes object, as the backend's apply_mask fills its output;
    elsewhere apply_mask on a view."""
    apply_mask = api.apply_mask
    fill = _c_fill(api)

    def unmask(data: Any, start: int, n: int, key: bytes, phase: int) -> bytes:
        if n <= 2048:
            chunk = data[start : start + n]
            if type(chunk) is not bytes:
                chunk = bytes(chunk)
            if small is not None and not phase & 3:
                return small(chunk, key)
            return apply_mask(chunk, key, phase)
        if fill is not None:  # C backend only
            new, c_mask, from_buffer = fill
            out = new(n)
            # the cdata dies with this call, releasing a bytearray's buffer (CPython only)
            c_mask(from_buffer(data) + start, out, n, key, phase & 3)
            return out
        with memoryview(data) as view:
            return apply_mask(view[start : start + n], key, phase)

    return unmask


def _wsproto_classes(fp: Any, api: Any) -> tuple[type, type, type]:
    """wsproto's XorMaskerSimple, FrameDecoder and MessageDecoder over wsfast.

    The decoders subclass the originals taken from ``fp`` and keep their attributes, so code
    that looks at a decoder sees what it expects.  Every frame wsproto would emit is emitted,
    with the same opcode, payload and flags, split at the same places; anything outside the
    common case (a header not yet complete, a protocol violation, reserved bits) goes through
    wsproto's own ``parse_header``, so each ``ParseFailed`` keeps its message and code.  A
    connection with an extension (permessage-deflate) gets wsproto's own FrameDecoder, which
    then masks with the masker below.
    """
    frame_decoder0, message_decoder0 = fp.FrameDecoder, fp.MessageDecoder
    Frame, Header, Opcode, ParseFailed = fp.Frame, fp.Header, fp.Opcode, fp.ParseFailed
    Buffer, XorMaskerNull = fp.Buffer, fp.XorMaskerNull
    invalid_data = fp.CloseReason.INVALID_FRAME_PAYLOAD_DATA
    opcodes = {int(op): op for op in Opcode}
    # first header bytes of a final frame without reserved bits, by opcode
    single_frame_opcodes = {0x80 | op: op for op in Opcode if op != Opcode.CONTINUATION}
    no_rsv = fp.RsvBits(False, False, False)
    text = Opcode.TEXT
    unpack_q = struct.Struct("!Q").unpack_from
    apply_mask_inplace = api.apply_mask_inplace
    unmask = _slice_unmasker(api)

    class XorMaskerSimple:
        """wsproto's masker: ``process(data) -> bytearray``, key phase kept across calls."""

        __slots__ = ("_key", "_phase")

        def __init__(self, masking_key: bytes | bytearray) -> None:
            self._key = bytes(masking_key)
            self._phase = 0

        def process(self, data: Any) -> bytearray:
            data = bytearray(data)
            if data:
                apply_mask_inplace(data, self._key, self._phase)
                self._phase = (self._phase + len(data)) & 3
            return data

    class FrameDecoder(frame_decoder0):  # type: ignore[misc, valid-type]
        # Received bytes live in ``_data`` from ``_pos`` on: consuming a frame moves ``_pos``
        # instead of deleting from the front of a bytearray (wsproto's Buffer.commit), which
        # made each frame cost a copy of everything behind it.
        def __new__(cls, client: bool, extensions: Any = None) -> Any:
            if extensions:
                # an extension sees every frame's payload in wsproto's own order of calls
                return frame_decoder0(client, extensions)
            return super().__new__(cls)

        def __init__(self, client: bool, extensions: Any = None) -> None:
            super().__init__(client, extensions)
            self._mask_bit = 0 if client else 0x80
            self._data: bytes | bytearray = b""
            self._pos = 0

        def receive_bytes(self, data: Any) -> None:
            d, p = self._data, self._pos
            if p == len(d):
                self._data = data if type(data) is bytes else bytes(data)
                self._pos = 0
            elif type(d) is bytearray and not p:
                d += data
            else:
                self._data = bytearray(d[p:]) + data
                self._pos = 0

        def parse_header(self) -> bool:
            d, p = self._data, self._pos
            avail = len(d) - p
            if avail < 2:  # wsproto's parser, too, waits for two bytes before anything
                return False
            b0, b1 = d[p], d[p + 1]
            opcode = opcodes.get(b0 & 0x0F)
            masked = b1 & 0x80
            # No reserved bits, a masked frame from the client only, no fragmented control
            # frame: anything else is wsproto's to reject, with its own message.
            if (
                opcode is not None
                and not b0 & 0x70
                and (not masked) is self.client
                and (b0 & 0x80 or opcode < 8)
            ):
                length = b1 & 0x7F
                size = 2
                ok = True
                if length == 126:
                    if avail >= 4:
                        length = (d[p + 2] << 8) | d[p + 3]
                        size = 4
                        ok = length > 125 and opcode < 8
                    else:
                        ok = False
                elif length == 127:
                    if avail >= 10:
                        (length,) = unpack_q(d, p + 2)
                        size = 10
                        ok = 0xFFFF < length < 2**63 and opcode < 8
                    else:
                        ok = False
                if ok and masked:
                    if avail >= size + 4:
                        masker: Any = XorMaskerSimple(d[p + size : p + size + 4])
                        size += 4
                    else:
                        ok = False
                elif ok:
                    masker = XorMaskerNull()
                if ok:
                    self._pos = p + size
                    self.masker = masker
                    self.header = Header(bool(b0 & 0x80), no_rsv, opcode, length, None)
                    self.effective_opcode = opcode
                    self.payload_required = length if opcode >= 8 else 0
                    self.payload_consumed = 0
                    return True
            return self._parse_header_as_wsproto()

        def _parse_header_as_wsproto(self) -> bool:
            # wsproto's own parser, over a Buffer holding no more than a header (14 bytes):
            # it raises the ParseFailed for a header refused above, or waits for the rest.
            p = self._pos
            buffer = Buffer(self._data[p : p + 14])
            held = len(buffer)
            self.buffer = buffer
            try:
                done = frame_decoder0.parse_header(self)
            finally:
                self.buffer = Buffer()
            # what it committed: a whole header if it took one, else nothing
            self._pos = p + held - len(buffer)
            return done

        def process_buffer(self) -> Any:
            if self.header is None:
                # The common case, a whole unfragmented frame already received: one frame
                # out, no decoder state touched.
                d, p = self._data, self._pos
                avail = len(d) - p
                if avail >= 2:
                    opcode = single_frame_opcodes.get(d[p])
                    b1 = d[p + 1]
                    if opcode is not None and b1 & 0x80 == self._mask_bit:
                        length = b1 & 0x7F
                        size = 2
                        if length == 126:
                            if opcode < 8 and avail >= 4:
                                length = (d[p + 2] << 8) | d[p + 3]
                                size = 4 if length > 125 else 0
                            else:
                                size = 0
                        elif length == 127:
                            if opcode < 8 and avail >= 10:
                                (length,) = unpack_q(d, p + 2)
                                size = 10 if 0xFFFF < length < 2**63 else 0
                            else:
                                size = 0
                        end = p + size + (4 if b1 & 0x80 else 0) + length
                        if size and end <= len(d):
                            self._pos = end
                            start = end - length
                            if b1 & 0x80:
                                payload = unmask(
                                    d, start, length, bytes(d[start - 4 : start]), 0
                                )
                            else:
                                payload = bytes(d[start:end])
                            return Frame(opcode, payload, True, True)
            if not self.header and not self.parse_header():
                return None
            header = self.header
            d, p = self._data, self._pos
            avail = len(d) - p
            if avail < self.payload_required:
                return None
            length = header.payload_len
            take = length - self.payload_consumed
            take = min(take, avail)
            if not take and length > 0:
                return None
            self._pos = p + take
            self.payload_consumed += take
            finished = self.payload_consumed == length

            masker = self.masker
            if type(masker) is XorMaskerSimple:
                payload = unmask(d, p, take, masker._key, masker._phase)
                masker._phase = (masker._phase + take) & 3
            else:
                payload = masker.process(bytearray(d[p : p + take]))

            frame = Frame(
                self.effective_opcode,
                payload if type(payload) is bytes else bytes(payload),
                finished,
                header.fin,
            )
            if finished:
                self.header = None
                self.effective_opcode = None
                self.masker = None
            else:
                self.effective_opcode = Opcode.CONTINUATION
            return frame

    class MessageDecoder(message_decoder0):  # type: ignore[misc, valid-type]
        # A text message in one frame is decoded at once (bytes.decode raises the same
        # UnicodeDecodeError as a fresh incremental decoder given the whole input with
        # final=True, so ParseFailed keeps its message); everything else is wsproto's own.
        def process_frame(self, frame: Any) -> Any:
            if (
                frame.opcode is text
                and self.opcode is None
                and frame.frame_finished
                and frame.message_finished
            ):
                try:
                    data = frame.payload.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise ParseFailed(str(exc), invalid_data)
                return Frame(text, data, True, True)
            return message_decoder0.process_frame(self, frame)

    return XorMaskerSimple, FrameDecoder, MessageDecoder


def _patch_wsproto(b: list[_Binding], api: Any) -> None:
    from wsproto import frame_protocol as fp

    masker, frame_decoder, message_decoder = _wsproto_classes(fp, api)
    _rebind(b, fp, "XorMaskerSimple", masker, "wsproto")
    _rebind(b, fp, "FrameDecoder", frame_decoder, "wsproto")
    _rebind(b, fp, "MessageDecoder", message_decoder, "wsproto")


_Pieces = tuple[Callable[[Any, int, int, int], None], Callable[[], bytes]]


def _assembler(
    api: Any, unmask: Callable[[Any, int, int, bytes, int], bytes]
) -> Callable[[int, bytes], _Pieces]:
    """``start(length, key) -> (write, finish)`` for a masked payload of ``length`` bytes that
    arrives in pieces: ``write(data, start, n, at)`` unmasks ``data[start:start + n]`` as the
    payload's bytes from offset ``at`` (key phase ``at``), ``finish()`` returns the payload.
    With the C backend on CPython the pieces are unmasked straight into the bytes object
    returned (no join afterwards); elsewhere each is unmasked by ``unmask`` and they are joined."""
    fill = _c_fill(api)
    if fill is None:

        def start(length: int, key: bytes) -> _Pieces:
            parts: list[bytes] = []

            def write(data: Any, start: int, n: int, at: int) -> None:
                parts.append(unmask(data, start, n, key, at))

            return write, lambda: b"".join(parts)

        return start

    new, c_mask, from_buffer = fill  # C backend only

    def start_in_place(length: int, key: bytes) -> _Pieces:  # C backend only
        out = new(length)
        dst = from_buffer("uint8_t[]", out)

        def write(data: Any, start: int, n: int, at: int) -> None:
            # the cdata dies with this call, releasing a bytearray's buffer (CPython only)
            c_mask(from_buffer(data) + start, dst + at, n, key, at & 3)

        return write, lambda: out

    return start_in_place  # C backend only


def _websockets_small_mask() -> Callable[[bytes, bytes], bytes] | None:
    """websockets' compiled apply_mask, where it was built: on a small payload one call of it
    costs a fraction of a cffi call, with the same result."""
    try:
        from websockets.speedups import apply_mask
    except ImportError:
        return None
    return apply_mask  # type: ignore[no-any-return]


def _websockets_parse(frames: Any, streams: Any, api: Any) -> classmethod:
    """websockets' ``Frame.parse`` reading straight from its ``StreamReader``.

    The original reads a frame with four ``read_exact`` sub-generators, each slicing and
    deleting the front of the reader's buffer, then masks a copy of the payload; a payload
    that spans reads sits in the buffer meanwhile, and every read appended to it reallocates
    and copies it.  This one looks at the buffered bytes once: when the header is complete and
    acceptable, it consumes it, and unmasks the payload out of the buffer as it arrives
    (pausing exactly when ``read_exact(length)`` would, with the same ``EOFError`` at the end of
    the stream), so the buffer never holds more than one read.  Anything else (a header still
    arriving, an invalid opcode or masking, a payload over ``max_size``, another reader, a
    connection with an extension such as permessage-deflate) goes to the original, untouched
    buffer and all, so every error is websockets' own.  Frames are checked by the frame's own
    ``check``.
    """
    parse0 = frames.Frame.__dict__["parse"].__func__
    read_exact0 = streams.StreamReader.read_exact
    opcodes = {int(op): op for op in frames.Opcode}
    unpack_q = struct.Struct("!Q").unpack_from
    unmask = _slice_unmasker(api, _websockets_small_mask())
    assemble = _assembler(api, unmask)

    def parse(
        cls: Any,
        read_exact: Any,
        *,
        mask: bool,
        max_size: int | None = None,
        extensions: Any = None,
    ) -> Any:
        reader: Any = getattr(read_exact, "__self__", None)
        buf = getattr(reader, "buffer", None)
        if (
            getattr(read_exact, "__func__", None) is read_exact0
            and type(buf) is bytearray
        ):
            n = len(buf)
            if n >= 2:
                head1, head2 = buf[0], buf[1]
                opcode = opcodes.get(head1 & 0x0F)
                length = head2 & 0x7F
                size = 6 if mask else 2
                if length == 126:
                    size += 2
                    length = (buf[2] << 8) | buf[3] if n >= 4 else -1
                elif length == 127:
                    size += 8
                    length = unpack_q(buf, 2)[0] if n >= 10 else -1
                if (
                    opcode is not None
                    and (head2 >> 7) == mask
                    and n >= size
                    and length >= 0
                    and (max_size is None or length <= max_size)
                    and not extensions
                ):
                    end = size + length
                    data: Any
                    if n >= end:  # the whole frame is here
                        if mask:
                            data = unmask(
                                buf, size, length, bytes(buf[size - 4 : size]), 0
                            )
                        else:
                            data = buf[size:end]
                        del buf[:end]
                    elif not mask:
                        del buf[:size]
                        data = yield from read_exact(length)
                    else:
                        key = bytes(buf[size - 4 : size])
                        del buf[:size]
                        write, finish = assemble(length, key)
                        got = 0
                        while True:
                            take = min(len(buf), length - got)
                            if take:
                                write(buf, 0, take, got)
                                del buf[:take]
                                got += take
                            if got == length:
                                break
                            if reader.eof:
                                raise EOFError(
                                    f"stream ends after {got} bytes, expected {length} bytes"
                                )
                            yield
                            buf = reader.buffer
                        data = finish()
                    frame = cls(
                        opcode,
                        data,
                        bool(head1 & 0x80),
                        bool(head1 & 0x40),
                        bool(head1 & 0x20),
                        bool(head1 & 0x10),
                    )
                    frame.check()
                    return frame
        return (
            yield from parse0(
                cls, read_exact, mask=mask, max_size=max_size, extensions=extensions
            )
        )

    parse.__doc__ = parse0.__doc__
    parse.__qualname__ = parse0.__qualname__
    return classmethod(parse)


def _patch_websockets(b: list[_Binding], api: Any) -> None:
    import websockets.utils
    import websockets.version
    from websockets import frames, streams

    _rebind(
        b, frames.Frame, "parse", _websockets_parse(frames, streams, api), "websockets"
    )
    # Its compiled apply_mask (websockets.speedups) costs less per call than a cffi call and
    # masks as fast: only the pure-Python fallback, used where speedups was not built, is
    # replaced, in the modules that bound it at import.
    pure_mask = websockets.utils.apply_mask

    def apply_mask(data: Any, mask: Any) -> bytes:
        return api.apply_mask(data, mask)

    if frames.apply_mask is pure_mask:
        _rebind(b, frames, "apply_mask", apply_mask, "websockets")
        try:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                from websockets.legacy import framing
        except ImportError:  # pragma: no cover - a websockets without legacy/
            return
        if framing.apply_mask is pure_mask:
            _rebind(b, framing, "apply_mask", apply_mask, "websockets")


def _patch_tornado(b: list[_Binding], api: Any) -> None:
    from tornado import util, websocket

    apply_mask = api.apply_mask

    def _websocket_mask(mask: bytes, data: bytes) -> bytes:
        return apply_mask(data, mask)

    _rebind(b, websocket, "_websocket_mask", _websocket_mask, "tornado")
    _rebind(b, util, "_websocket_mask", _websocket_mask, "tornado")


def _patch_autobahn(b: list[_Binding], api: Any) -> None:
    from autobahn.websocket import protocol

    masker, null_masker, validator = quad_classes(api)

    def create_xor_masker(mask: Any, length: int | None = None) -> KeyedMasker:
        return masker(mask)

    _rebind(b, protocol, "Utf8Validator", validator, "autobahn")
    _rebind(b, protocol, "XorMaskerNull", null_masker, "autobahn")
    _rebind(b, protocol, "create_xor_masker", create_xor_masker, "autobahn")


def _patch_ws4py(b: list[_Binding], api: Any) -> None:
    from ws4py import framing, streaming

    apply_mask_inplace = api.apply_mask_inplace

    def mask(self: Any, data: Any) -> bytearray:
        out = bytearray(data)
        apply_mask_inplace(out, self.masking_key)
        return out

    mask.__doc__ = framing.Frame.mask.__doc__
    _rebind(b, streaming, "Utf8Validator", quad_classes(api)[2], "ws4py")
    _rebind(b, framing.Frame, "mask", mask, "ws4py")
    _rebind(b, framing.Frame, "unmask", mask, "ws4py")


def _patch_aiohttp(b: list[_Binding], api: Any) -> None:
    # The Cython reader (reader_c) took its mask at compile time: only the pure-Python reader
    # and the writer look it up by name.  The Cython mask beats a cffi call on small frames,
    # so where aiohttp already uses it, it stays; only the pure-Python mask is replaced.
    from aiohttp._websocket import helpers, reader_py, writer

    python_mask = getattr(helpers, "_websocket_mask_python", None)
    if python_mask is None:
        raise UnsupportedVersion(
            f"aiohttp {_version('aiohttp')} has no _websocket._websocket_mask_python to replace"
        )
    apply_mask_inplace = api.apply_mask_inplace

    def websocket_mask(mask: bytes, data: bytearray) -> None:
        apply_mask_inplace(data, mask)

    for module in (helpers, reader_py, writer):
        if (
            getattr(module, "websocket_mask", None) is python_mask
            or module is reader_py
        ):
            _rebind(b, module, "websocket_mask", websocket_mask, "aiohttp")


_PATCHERS: dict[str, Callable[[list[_Binding], Any], None]] = {
    "wsproto": _patch_wsproto,
    "websockets": _patch_websockets,
    "tornado": _patch_tornado,
    "autobahn": _patch_autobahn,
    "ws4py": _patch_ws4py,
    "aiohttp": _patch_aiohttp,
}

LIBRARIES: tuple[str, ...] = tuple(_PATCHERS)


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # pragma: no cover - a broken parent package
        return False


def patch(*names: str) -> list[str]:
    """Make the named libraries use wsfast; with no names, every installed one.

    Returns the names patched (including ones an earlier call had patched: patching twice
    changes nothing).  An unknown name raises ValueError; a known library that is not
    installed raises :class:`LibraryNotInstalled` (an ImportError), and one whose installed
    version lacks a name wsfast rebinds raises :class:`UnsupportedVersion`.  When a library
    fails, the ones before it in the same call stay patched.
    """
    return _patch(_default_api(), names)


def _patch(api: Any, names: tuple[str, ...]) -> list[str]:
    """``patch(*names)`` with replacements calling ``api`` (a backend bound by
    ``wsfast._backend.bind``); the tests use it to patch with each backend in turn."""
    for name in names:
        if name not in _PATCHERS:
            known = ", ".join(LIBRARIES)
            raise ValueError(f"unknown library {name!r} (wsfast can patch {known})")
    explicit = bool(names)
    if not explicit:
        names = tuple(name for name in LIBRARIES if _installed(name))
    done = []
    for name in dict.fromkeys(names):
        if name not in _patched:
            if explicit and not _installed(name):
                raise LibraryNotInstalled(
                    f"library {name!r} is not installed", name=name
                )
            bindings: list[_Binding] = []
            try:
                _PATCHERS[name](bindings, api)
            except BaseException:
                _restore(bindings)
                raise
            _patched[name] = (api, bindings)
        done.append(name)
    return done


def _restore(bindings: list[_Binding]) -> None:
    for owner, name, original, _ in reversed(bindings):
        setattr(owner, name, original)


def unpatch() -> None:
    """Restore every name any ``patch()`` call rebound, in every library."""
    while _patched:
        _restore(_patched.popitem()[1][1])


def patched() -> list[str]:
    """The libraries currently patched."""
    return list(_patched)


def check_patched(*names: str) -> None:
    """Raise RuntimeError unless every name wsfast rebound in these libraries still points at
    wsfast (something may have rebound it since, or re-imported the module)."""
    for library in names:
        if library not in _patched:
            raise RuntimeError(f"{library} is not patched")
        for owner, name, _, value in _patched[library][1]:
            if _current(owner, name) is not value:
                where = getattr(owner, "__qualname__", None) or owner.__name__
                raise RuntimeError(
                    f"{library}: {where}.{name} no longer points at wsfast"
                )
