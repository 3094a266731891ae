"""websockets: ``Frame.parse`` reading straight from its stream reader, and its pure-Python
mask where its compiled one was not built."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from ._shared import Binding, assembler, rebind, slice_unmasker

LIBRARY = "websockets"  # the name wsfast.patch() takes
MODULE = "websockets"  # the module it imports


def _small_mask() -> Callable[[bytes, bytes], bytes] | None:
    """websockets' compiled apply_mask, where it was built: on a small payload one call of it
    costs a fraction of a cffi call, with the same result."""
    try:
        from websockets.speedups import apply_mask
    except ImportError:
        return None
    return apply_mask  # type: ignore[no-any-return]


# Where its compiled mask was built, the patched Frame.parse and the legacy reader leave
# payloads above this size to websockets' own code: taking them over from the buffer did not
# pay in a real server (bench/end_to_end.py, 64 KiB text).  The sans-I/O Protocol.parse
# takes every size, since it reads them where they were received, without the buffer.
LARGE = 8192


# A masked payload still arriving is unmasked into its bytes object, allocated when its header
# comes; a larger one is left to websockets' own code, which buffers it as it comes in (a
# length a header announces is not yet data: with no max_size, 2**62 bytes can be announced)
ARRIVING = 16 * 1024 * 1024


def _largest() -> int | None:
    """The largest payload the patched parsers take: ``LARGE`` when websockets' compiled mask
    is there, no limit (None) when it was not built and its pure-Python mask would run."""
    return LARGE if _small_mask() is not None else None


def _header_reader(
    frames: Any, any_size: bool = False
) -> Callable[..., tuple[Any, int, int] | None]:
    """``header(buf, mask, max_size, pos=0) -> (opcode, header size, payload length)`` for the
    frame at ``buf[pos:]`` (a bytearray, or the bytes of one read) when its header is all there
    and acceptable (a known opcode, the expected masking, a payload within ``max_size``) and
    the patch takes it (payloads up to ``_largest()``, or of any size with ``any_size``); None
    otherwise, for the library's own code to wait for the rest, raise its own error or
    read it as it always does."""
    opcodes = {int(op): op for op in frames.Opcode}
    unpack_q = struct.Struct("!Q").unpack_from
    largest = None if any_size else _largest()

    def header(
        buf: Any, mask: bool, max_size: int | None, pos: int = 0
    ) -> tuple[Any, int, int] | None:
        n = len(buf) - pos
        if n < 2:
            return None
        head2 = buf[pos + 1]
        length = head2 & 0x7F
        size = 6 if mask else 2
        if length == 126:
            size += 2
            if n < 4:
                return None
            length = (buf[pos + 2] << 8) | buf[pos + 3]
        elif length == 127:
            if largest is not None and largest < 0x10000:  # over it, whatever the length
                return None
            size += 8
            if n < 10:
                return None
            (length,) = unpack_q(buf, pos + 2)
        opcode = opcodes.get(buf[pos] & 0x0F)
        if (
            opcode is None
            or (head2 >> 7) != mask
            or n < size
            or (max_size is not None and length > max_size)
            or (largest is not None and length > largest)
        ):
            return None
        return opcode, size, length

    return header


def _decoded(
    make: Any, opcode: Any, data: bytes, head1: int, extensions: Any, max_size: int | None
) -> Any:
    """The frame websockets' parsers return for a payload read: ``make`` (its ``Frame``)
    with the flags of the first header byte, decoded by the connection's extensions
    (permessage-deflate) in their order and with ``max_size``, as the originals do, then
    checked by the frame's own ``check``."""
    frame = make(
        opcode,
        data,
        bool(head1 & 0x80),
        bool(head1 & 0x40),
        bool(head1 & 0x20),
        bool(head1 & 0x10),
    )
    if extensions:
        for extension in reversed(extensions):
            frame = extension.decode(frame, max_size=max_size)
    frame.check()
    return frame


def _whole_reader(
    frames: Any, api: Any, kind: type = bytearray
) -> tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any]]:
    """``(whole, from_header, at)``.

    ``whole(cls, buf, mask, max_size, extensions, consumed=None)``: the frame at the start of
    ``buf`` (a stream reader's bytearray) when it is all there and ``header`` takes it,
    consumed from ``buf`` (then ``consumed()``, when given) and decoded as websockets'
    ``Frame.parse`` returns it (``cls`` the class it is called on; the payload unmasked out of
    the buffer, or, unmasked, copied as ``kind``: a bytearray, as ``read_exact`` returns it, or
    bytes, as asyncio's ``readexactly`` does); None, consuming nothing, otherwise.
    ``from_header(cls, buf, found, mask, ...)`` is the same for a header ``header`` has
    already read (``found``), so that a caller that needs it anyway reads it once.
    ``at(cls, data, pos, found, mask, max_size, extensions)``: the same frame read from
    ``data[pos:]`` (the bytes of one read), all there, consuming nothing."""
    header = _header_reader(frames)
    unmask = slice_unmasker(api, _small_mask())

    def payload_at(data: Any, pos: int, found: tuple[Any, int, int], mask: bool) -> Any:
        _, size, length = found
        start = pos + size
        if mask:
            return unmask(data, start, length, bytes(data[start - 4 : start]), 0)
        with memoryview(data) as view:  # released before a bytearray is resized
            return kind(view[start : start + length])

    def whole(
        cls: Any,
        buf: Any,
        mask: bool,
        max_size: int | None,
        extensions: Any,
        consumed: Callable[[], Any] | None = None,
    ) -> Any:
        found = header(buf, mask, max_size)
        if found is None:
            return None
        return from_header(cls, buf, found, mask, max_size, extensions, consumed)

    def from_header(
        cls: Any,
        buf: Any,
        found: tuple[Any, int, int],
        mask: bool,
        max_size: int | None,
        extensions: Any,
        consumed: Callable[[], Any] | None = None,
    ) -> Any:
        end = found[1] + found[2]
        if len(buf) < end:
            return None
        head1 = buf[0]
        data = payload_at(buf, 0, found, mask)
        del buf[:end]
        if consumed is not None:
            consumed()
        return _decoded(cls, found[0], data, head1, extensions, max_size)

    def at(
        cls: Any,
        data: Any,
        pos: int,
        found: tuple[Any, int, int],
        mask: bool,
        max_size: int | None,
        extensions: Any,
    ) -> Any:
        payload = payload_at(data, pos, found, mask)
        return _decoded(cls, found[0], payload, data[pos], extensions, max_size)

    return whole, from_header, at


def _arriving(
    reader: Any,
    write: Callable[[Any, int, int, int], None],
    length: int,
    got: int,
    data: Any,
    idle: Callable[[bool], None],
) -> Any:
    """A generator reading the rest of a masked payload of ``length`` bytes of which ``got``
    are written (``write(source, start, n, at)``, see ``assembler``) as it comes: from
    ``data``, bytes handed over while the reader's buffer is empty, or from the buffer,
    waiting (a ``yield``) where ``read_exact`` would, with its ``EOFError`` at the end of the
    stream.  ``idle(True)`` and ``idle(False)`` come around each wait, which receives the next
    bytes handed over (None: look in the buffer).  Returns ``(pos, data)``: where the bytes
    handed over last were left, ``data`` None when all were taken."""
    pos = 0
    buf = reader.buffer
    while True:
        if data is not None:  # the buffer is empty
            take = min(len(data), length - got)
            write(data, 0, take, got)
            pos = take
            if take == len(data):
                data = None
        else:
            take = min(len(buf), length - got)
            if take:
                write(buf, 0, take, got)
                del buf[:take]
        got += take
        if got == length:
            return pos, data
        if reader.eof:
            raise EOFError(f"stream ends after {got} bytes, expected {length} bytes")
        idle(True)
        data = yield
        idle(False)
        buf = reader.buffer


def _never_idle(waiting: bool) -> None:
    """``_arriving``'s ``idle`` where nothing hands bytes over."""


def _parse(frames: Any, streams: Any, api: Any) -> classmethod:
    """websockets' ``Frame.parse`` reading straight from its ``StreamReader``.

    The original reads a frame with four ``read_exact`` sub-generators, each slicing and
    deleting the front of the reader's buffer, then masks a copy of the payload; a payload
    that spans reads sits in the buffer meanwhile, and every read appended to it reallocates
    and copies it.  This one looks at the buffered bytes once: when the header is complete and
    acceptable, it consumes it, and unmasks the payload out of the buffer as it arrives
    (pausing exactly when ``read_exact(length)`` would, with the same ``EOFError`` at the end of
    the stream), so the buffer never holds more than one read.  Anything else (a header still
    arriving, an invalid opcode or masking, a payload over ``max_size``, another reader) goes
    to the original, untouched buffer and all, so every error is websockets' own.  A
    connection's extensions (permessage-deflate) decode each frame as the original has them
    do, in the same order, with the same ``max_size``; then the frame's own ``check``.
    """
    parse0 = frames.Frame.__dict__["parse"].__func__
    read_exact0 = streams.StreamReader.read_exact
    header = _header_reader(frames)
    unmask = slice_unmasker(api, _small_mask())
    assemble = assembler(api, unmask)
    _, whole_from_header, _ = _whole_reader(frames, api)

    def parse(
        cls: Any,
        read_exact: Any,
        *,
        mask: bool,
        max_size: int | None = None,
        extensions: Any = None,
    ) -> Any:
        if getattr(read_exact, "__func__", None) is read_exact0:
            reader: Any = read_exact.__self__
            buf = reader.buffer
            found = header(buf, mask, max_size) if type(buf) is bytearray else None
            if found is not None and (not mask or found[2] <= ARRIVING):
                frame = whole_from_header(cls, buf, found, mask, max_size, extensions)
                if frame is not None:  # the whole frame was here
                    return frame
                opcode, size, length = found
                head1 = buf[0]
                data: Any
                if not mask:
                    del buf[:size]
                    data = yield from read_exact(length)
                else:
                    key = bytes(buf[size - 4 : size])
                    del buf[:size]
                    write, finish = assemble(length, key)
                    yield from _arriving(reader, write, length, 0, None, _never_idle)
                    data = finish()
                return _decoded(cls, opcode, data, head1, extensions, max_size)
        return (
            yield from parse0(
                cls, read_exact, mask=mask, max_size=max_size, extensions=extensions
            )
        )

    parse.__doc__ = parse0.__doc__
    parse.__qualname__ = parse0.__qualname__
    return classmethod(parse)


# every name websockets' Protocol.parse reads or calls, in the version the replacement
# follows (websockets 17): another version's parse, reading anything else, stays as it is
_PARSE_NAMES = frozenset(
    {
        "ABNORMAL_CLOSURE", "AssertionError", "CloseCode", "EOFError", "Exception", "Frame",
        "INTERNAL_ERROR", "INVALID_DATA", "MESSAGE_TOO_BIG", "PROTOCOL_ERROR", "PayloadTooBig",
        "ProtocolError", "SERVER", "UnicodeDecodeError", "at_eof", "current_size", "debug",
        "error", "extensions", "fail", "logger", "max_fragment_size", "max_message_size",
        "min", "parse", "parser_exc", "read_exact", "reader", "reason", "recv_frame",
        "set_current_size", "side", "start", "str",
    }
)



def _frame_limit(protocol: Any) -> int | None:
    """The largest payload the next frame may have, as websockets' Protocol.parse computes it:
    what is left of max_message_size for the message in progress, and max_fragment_size."""
    max_size = None
    if protocol.max_message_size is not None:
        if protocol.current_size is None:
            max_size = protocol.max_message_size
        else:
            max_size = protocol.max_message_size - protocol.current_size
    if protocol.max_fragment_size is not None:
        if max_size is None:
            max_size = protocol.max_fragment_size
        else:
            max_size = min(max_size, protocol.max_fragment_size)
    return max_size


# the names websockets' Protocol.receive_data reads, in the version the replacement follows
_RECEIVE_NAMES = frozenset({"reader", "feed_data", "next", "parser"})

# Compressed reads: on a compressed connection (any extension) the patched receive_data and
# the legacy data_received hand nothing over: every read goes to the buffer, as in websockets, and the
# frames are read from there.  A read of compressed 64 KiB messages holds about 37 of them,
# inflated to 2.4 MB before the application reads the first; handed over, the servers' heap
# was trimmed and faulted in again for nearly every message (bench/end_to_end.py --servers
# websockets at e9baaab: 13.9 faults a message against 5.6 unpatched, 0.81x), through the
# buffer as unpatched (6.1, 0.91-1.13x over runs, as README gives it).


def _protocol_parse(
    protocol: Any, frames: Any, streams: Any, api: Any
) -> tuple[Any, Any] | None:
    """``(parse, receive_data)``: websockets' sans-I/O ``Protocol.parse`` reading every whole
    frame received in one loop, and a ``receive_data`` that hands it each read's bytes where
    they were received (None where ``receive_data`` is not the one followed here, for the
    original to stay).

    The original runs, for each frame, the reader's ``at_eof`` and the frame's ``parse`` as
    generators (``yield from``), each call a new generator object; and ``receive_data`` first
    appends every read to the reader's bytearray.  A server's reads are up to 256 KiB
    (asyncio's), so that bytearray is as large, allocated and copied for every read: at 64 KiB
    messages its growth and release make glibc give the heap's top back to the system and
    fault it in again for every read, in whichever process the heap's layout draws it.

    This one does what the original loop does, in its order, from three places:

    - the bytes ``receive_data`` handed over while this waited at a frame boundary or in a
      payload (``_wsfast_idle`` names the generator waiting; the reader's buffer is empty
      then): every whole frame ``Frame.parse`` (patched) would read at once, of any size, is
      read where it was received; what is left (the start of a frame) goes to the buffer, as
      the original's ``feed_data`` has it;
    - the buffer: every whole frame in it, the same way;
    - a masked frame whose header is buffered and whose payload is still arriving: unmasked
      as it arrives, from the buffer or from the bytes handed over.

    Every frame is read with the same ``max_size`` (from the message and fragment limits and
    the size of the message so far, computed as the original does before each frame), logged
    when debugging and handed to ``recv_frame``.  When a frame makes ``recv_frame`` replace the
    parser (a close frame starts ``discard``), the rest of the bytes handed over is dropped, as
    ``discard`` drops the original's buffer.  Any other frame (a header still arriving, an
    error to raise, an unmasked payload still arriving) goes through the original loop body,
    ``at_eof`` and ``Frame.parse`` and all.  Exceptions end the loop as the original's do: the
    same close codes, ``parser_exc`` and the one ``yield`` after them.  Returns None where
    ``Protocol.parse`` does not read the names this one follows (another websockets version),
    for the original to stay.
    """
    parse0 = protocol.Protocol.parse
    if set(parse0.__code__.co_names) != _PARSE_NAMES:
        return None
    Frame, StreamReader, SERVER = protocol.Frame, streams.StreamReader, protocol.SERVER
    ProtocolError, PayloadTooBig = protocol.ProtocolError, protocol.PayloadTooBig
    CloseCode = protocol.CloseCode
    whole, _, read_at = _whole_reader(frames, api)
    header = _header_reader(frames, any_size=True)
    assemble = assembler(api, slice_unmasker(api, _small_mask()))

    def parse(self: Any) -> Any:
        me = self.parser  # Protocol.__init__ binds the generator before starting it

        def idle(waiting: bool) -> None:
            # receive_data hands bytes over to the generator waiting, named here
            self._wsfast_idle = me if waiting else None

        data: bytes | None = None  # what receive_data handed over, read from ``pos`` on
        pos = 0
        arriving: Any = None  # a masked frame whose payload is still arriving, and its state
        try:
            while True:
                reader = self.reader
                if type(reader) is StreamReader and type(reader.buffer) is bytearray:
                    mask = self.side is SERVER
                    if data is not None:
                        # every whole frame handed over, read where it was received
                        end = len(data)
                        while pos < end:
                            max_size = _frame_limit(self)
                            found = header(data, mask, max_size, pos)
                            if found is None:
                                break
                            opcode, size, length = found
                            start = pos + size
                            if end - start < length:
                                if mask and length <= ARRIVING:  # its payload, as it comes
                                    write, finish = assemble(length, data[start - 4 : start])
                                    if end > start:
                                        write(data, start, end - start, 0)
                                    arriving = (
                                        opcode, length, data[pos], write, finish,
                                        end - start, max_size, self.extensions,
                                    )
                                    pos = end
                                break
                            frame = read_at(Frame, data, pos, found, mask, max_size, self.extensions)
                            pos = start + length
                            if self.debug:
                                self.logger.debug("< %s", frame)
                            self.recv_frame(frame)
                            if self.parser is not me:  # discard() drops what is left
                                pos = end
                        if pos < end:
                            reader.feed_data(data[pos:] if pos else data)
                        data = None

                    # every whole frame already buffered, without a generator per frame
                    buf = reader.buffer
                    while buf:
                        max_size = _frame_limit(self)
                        frame = whole(Frame, buf, mask, max_size, self.extensions)
                        if frame is None:
                            break
                        if self.debug:
                            self.logger.debug("< %s", frame)
                        self.recv_frame(frame)

                    if arriving is None and mask:  # a buffered header, its payload to come
                        max_size = _frame_limit(self)
                        found = header(buf, mask, max_size)
                        if found is not None and found[2] <= ARRIVING:
                            opcode, size, length = found
                            write, finish = assemble(length, bytes(buf[size - 4 : size]))
                            arriving = (
                                opcode, length, buf[0], write, finish, 0, max_size,
                                self.extensions,
                            )
                            del buf[:size]

                    # a masked frame whose payload is still arriving, unmasked as it comes
                    if arriving is not None:
                        # the extensions and limit of when its header came, as the original
                        # calls Frame.parse with them then
                        opcode, length, head1, write, finish, got, max_size, exts = arriving
                        arriving = None
                        pos, data = yield from _arriving(reader, write, length, got, data, idle)
                        frame = _decoded(Frame, opcode, finish(), head1, exts, max_size)
                        if self.debug:
                            self.logger.debug("< %s", frame)
                        self.recv_frame(frame)
                        if self.parser is not me:
                            data = None
                        continue

                    if not buf and not reader.eof:
                        # the original's at_eof, waiting: receive_data may hand the bytes over
                        idle(True)
                        data = yield
                        idle(False)
                        pos = 0
                        continue

                # the original loop body, for a frame that is not all there
                if (yield from self.reader.at_eof()):
                    if self.debug:
                        self.logger.debug("< EOF")
                    raise EOFError("unexpected end of stream")

                max_size = _frame_limit(self)

                frame = yield from Frame.parse(
                    self.reader.read_exact,
                    mask=self.side is SERVER,
                    max_size=max_size,
                    extensions=self.extensions,
                )
                if self.debug:
                    self.logger.debug("< %s", frame)
                self.recv_frame(frame)

        except ProtocolError as exc:
            self.fail(CloseCode.PROTOCOL_ERROR, str(exc))
            self.parser_exc = exc

        except EOFError as exc:
            self.fail(CloseCode.ABNORMAL_CLOSURE, str(exc))
            self.parser_exc = exc

        except UnicodeDecodeError as exc:
            self.fail(CloseCode.INVALID_DATA, f"{exc.reason} at position {exc.start}")
            self.parser_exc = exc

        except PayloadTooBig as exc:
            exc.set_current_size(self.current_size)
            self.fail(CloseCode.MESSAGE_TOO_BIG, str(exc))
            self.parser_exc = exc

        except Exception as exc:
            self.logger.error("parser failed", exc_info=True)  # noqa: G201 - the original's call
            # as the original: no exception details, which may be security-sensitive
            self.fail(CloseCode.INTERNAL_ERROR)
            self.parser_exc = exc

        yield
        raise AssertionError("parse() shouldn't step after error")

    parse.__doc__ = parse0.__doc__
    parse.__qualname__ = parse0.__qualname__

    receive0 = protocol.Protocol.receive_data
    if set(receive0.__code__.co_names) != _RECEIVE_NAMES:
        return parse, None

    def receive_data(self: Any, data: Any) -> None:
        parser: Any = self.parser
        waiting: Any = getattr(self, "_wsfast_idle", None)  # the generator waiting, if any
        if type(data) is bytes and data and not self.extensions and waiting is parser:
            # the parser reads them where they are (see parse; and "Compressed reads" above)
            parser.send(data)
        else:
            self.reader.feed_data(data)
            next(parser)

    receive_data.__doc__ = receive0.__doc__
    receive_data.__qualname__ = receive0.__qualname__
    return parse, receive_data


def _legacy_whole(frames: Any, api: Any) -> Callable[[Any, bool, int | None, Any], Any]:
    """``whole(stream, mask, max_size, extensions)``: the frame at the start of an asyncio
    ``StreamReader``'s buffer when no error is pending there and the frame is all there with
    a header ``header`` takes, as a ``websockets.frames.Frame`` decoded and checked as the
    legacy ``Frame.read`` does, consumed as ``readexactly`` would (resuming a paused
    transport); None, the buffer untouched, otherwise."""
    read, _, _ = _whole_reader(frames, api, bytes)
    new_frame = frames.Frame

    def whole(stream: Any, mask: bool, max_size: int | None, extensions: Any) -> Any:
        buf = stream._buffer
        if stream._exception is not None or type(buf) is not bytearray:
            return None
        return read(new_frame, buf, mask, max_size, extensions, stream._maybe_resume_transport)

    return whole


def _legacy_read(framing: Any, frames: Any, api: Any) -> classmethod:
    """The legacy protocol's ``Frame.read`` (``websockets.legacy``, which uvicorn runs with
    ``ws="websockets"``), taking a frame already received straight from asyncio's
    ``StreamReader``.

    The original awaits ``readexactly`` three or four times per frame (header, length, key,
    payload), each a coroutine that slices a copy out of the reader's buffer, then masks a copy
    of the payload.  When ``reader`` is a ``StreamReader``'s ``readexactly`` with no error
    pending, and the buffer already holds the whole frame with an acceptable header, this one
    unmasks the payload straight out of the buffer, consumes the frame as ``readexactly``
    would (resuming a paused transport), has the connection's extensions decode it as the
    original does, and checks it with the frame's own ``check``.  Anything else goes to the
    original, buffer untouched, so every wait, limit and error is websockets' own.
    """
    import asyncio

    read0 = framing.Frame.__dict__["read"].__func__
    readexactly0 = asyncio.StreamReader.readexactly
    whole = _legacy_whole(frames, api)

    async def read(
        cls: Any,
        reader: Any,
        *,
        mask: bool,
        max_size: int | None = None,
        extensions: Any = None,
    ) -> Any:
        if getattr(reader, "__func__", None) is readexactly0:
            frame = whole(reader.__self__, mask, max_size, extensions)
            if frame is not None:
                return cls(
                    frame.fin,
                    frame.opcode,
                    frame.data,
                    frame.rsv1,
                    frame.rsv2,
                    frame.rsv3,
                )
        return await read0(
            cls, reader, mask=mask, max_size=max_size, extensions=extensions
        )

    read.__doc__ = read0.__doc__
    read.__qualname__ = read0.__qualname__
    return classmethod(read)


def _legacy_read_message(legacy: Any, frames: Any, api: Any) -> tuple[Any, Any]:
    """``(read_message, data_received)``: the legacy protocol's ``read_message``, taking a
    whole unfragmented data message in one step, read where it was received, and a
    ``data_received`` that hands it a read's bytes while it waits (None where the original
    ``data_received`` is not the one followed here, for it to stay).

    The original awaits ``read_data_frame``, which awaits ``read_frame``, which awaits
    ``Frame.read``: three coroutines per message before the payload is decoded, each
    ``readexactly`` slicing a copy out of asyncio's ``StreamReader`` buffer, to which
    ``data_received`` first appends every read (up to 256 KiB).  Where the connection reads
    from an asyncio ``StreamReader``, does not log frames (``debug``) and has no extension but
    websockets' permessage-deflate (which keeps a frame's FIN), this one takes a text or binary
    frame with FIN and a header the patched ``Frame.read`` takes (with the connection's
    ``max_size``, as ``read_message`` passes it) and returns what ``read_message`` returns for
    it: the text decoded (the same ``UnicodeDecodeError``) or the bytes, after its extensions
    decode it and its ``check`` runs.  It reads from:

    - the bytes ``data_received`` handed over while this waited with the buffer empty
      (``_wsfast_idle``): frame after frame, where they were received; the first that is not
      such a whole frame, and what follows it, go to the buffer, where the original has them;
    - the buffer, a whole frame at its start;
    - a masked frame whose header is buffered and whose payload is still arriving: unmasked as
      it arrives, from the buffer or from the bytes handed over, waiting as ``readexactly``
      does (the same ``IncompleteReadError`` at the end of the stream, the stream's exception).

    Reading pauses and resumes the transport as ``feed_data`` and ``readexactly`` do on those
    bytes.  Control frames, fragments, errors and anything else go through the original, every
    byte not read yet in the buffer first.
    """
    import asyncio

    protocol = legacy.WebSocketCommonProtocol
    read_message0 = protocol.read_message
    data_received0 = protocol.data_received
    StreamReader = asyncio.StreamReader
    IncompleteReadError = asyncio.IncompleteReadError
    whole = _legacy_whole(frames, api)
    _, _, at = _whole_reader(frames, api, bytes)
    header = _header_reader(frames, any_size=True)
    assemble = assembler(api, slice_unmasker(api, _small_mask()))
    new_frame = frames.Frame
    TEXT, BINARY = frames.Opcode.TEXT, frames.Opcode.BINARY
    from websockets.extensions.permessage_deflate import PerMessageDeflate

    def message(frame: Any) -> Any:
        # what read_message returns for a data frame with FIN
        if frame.opcode is TEXT:
            return frame.data.decode()
        if frame.opcode is BINARY:
            return bytes(frame.data)
        raise AssertionError("a data frame changed opcode")  # pragma: no cover

    def flush(self: Any, stream: Any) -> None:
        # the bytes handed over and not read yet, to the buffer, where the original has them
        # (its feed_data paused the transport for them when they came, as data_received did)
        data = self._wsfast_pending
        if data is not None:
            self._wsfast_pending = None
            pos = self._wsfast_pos
            stream._buffer += memoryview(data)[pos:] if pos else data

    def consumed(self: Any, stream: Any) -> None:
        # readexactly's flow control after a read, the bytes held here counted as buffered
        data = getattr(self, "_wsfast_pending", None)
        if data is None or len(data) - self._wsfast_pos <= stream._limit:
            stream._maybe_resume_transport()

    def from_pending(self: Any, stream: Any, mask: bool) -> Any:
        """The message of the whole data frame with FIN at the start of the bytes handed
        over, consumed; for a masked one whose payload is still arriving, its header consumed
        and ``(opcode, length, first header byte, key)`` for ``arriving``; None (all of them
        flushed to the buffer) for anything else."""
        data, pos = self._wsfast_pending, self._wsfast_pos
        # with an error pending the original's next readexactly raises it
        if stream._exception is None and data[pos] & 0x8F in (0x81, 0x82):
            found = header(data, mask, self.max_size, pos)
            if found is not None:
                opcode, size, length = found
                start = pos + size
                end = start + length
                if end > len(data) and mask and length <= ARRIVING:
                    if start == len(data):
                        self._wsfast_pending = None
                    else:
                        self._wsfast_pos = start
                    return opcode, length, data[pos], data[start - 4 : start], self.extensions
                if end <= len(data):
                    if end == len(data):
                        self._wsfast_pending = None
                    else:
                        self._wsfast_pos = end
                    consumed(self, stream)
                    return message(
                        at(new_frame, data, pos, found, mask, self.max_size, self.extensions)
                    )
        flush(self, stream)
        return None

    async def wait(self: Any, stream: Any) -> None:
        # readexactly's wait, where data_received may hand the bytes over
        self._wsfast_idle = True
        try:
            await stream._wait_for_data("readexactly")
        finally:
            self._wsfast_idle = False

    async def arriving(
        self: Any, stream: Any, opcode: Any, length: int, head1: int, key: bytes, exts: Any
    ) -> Any:
        """The message of the masked data frame with FIN whose header was read (``exts``: the
        extensions then), its payload unmasked as it arrives (from the bytes handed over, or
        the buffer)."""
        buf = stream._buffer
        write, finish = assemble(length, key)
        got = 0
        while True:
            data = getattr(self, "_wsfast_pending", None)
            if data is not None:  # the buffer is empty
                pos = self._wsfast_pos
                take = min(len(data) - pos, length - got)
                write(data, pos, take, got)
                if pos + take == len(data):
                    self._wsfast_pending = None
                else:
                    self._wsfast_pos = pos + take
            else:
                take = min(len(buf), length - got)
                if take:
                    write(buf, 0, take, got)
                    del buf[:take]
            got += take
            if got == length:
                break
            if stream._eof:
                # readexactly's error: the payload's bytes as they came (masked)
                partial = api.apply_mask(bytes(finish()[:got]), key)
                raise IncompleteReadError(partial, length)
            await wait(self, stream)
            buf = stream._buffer
        consumed(self, stream)
        frame = _decoded(new_frame, opcode, finish(), head1, exts, self.max_size)
        return message(frame)

    async def read_message(self: Any) -> Any:
        stream: Any = self.reader
        asyncio_reader = type(stream) is StreamReader  # its private state read as readexactly does
        if (
            asyncio_reader
            and not self.debug
            # extensions that keep a frame's FIN (none, or websockets' permessage-deflate)
            and all(type(e) is PerMessageDeflate for e in self.extensions)
        ):
            mask = not self.is_client
            while True:
                if getattr(self, "_wsfast_pending", None) is not None:
                    got = from_pending(self, stream, mask)
                    if type(got) is tuple:
                        return await arriving(self, stream, *got)
                    if got is not None:
                        return got
                buf = stream._buffer
                if buf:
                    # a data frame (text or binary) with FIN, the one read_message decodes
                    if buf[0] & 0x8F in (0x81, 0x82):
                        frame = whole(stream, mask, self.max_size, self.extensions)
                        if frame is not None:
                            return message(frame)
                        found = header(buf, mask, self.max_size) if mask else None
                        if (
                            found is not None
                            and found[2] <= ARRIVING
                            and stream._exception is None
                        ):
                            opcode, size, length = found
                            head1, key = buf[0], bytes(buf[size - 4 : size])
                            del buf[:size]
                            return await arriving(
                                self, stream, opcode, length, head1, key, self.extensions
                            )
                elif stream._exception is None and not stream._eof:
                    await wait(self, stream)
                    continue
                break
        return await read_message0(self)

    read_message.__doc__ = read_message0.__doc__
    read_message.__qualname__ = read_message0.__qualname__

    if set(data_received0.__code__.co_names) != {"reader", "feed_data"}:
        return read_message, None

    def data_received(self: Any, data: Any) -> None:
        stream: Any = self.reader
        asyncio_reader = type(stream) is StreamReader  # its private state read as readexactly does
        if getattr(self, "_wsfast_pending", None) is not None:
            flush(self, stream)  # what came before, first
        elif (
            getattr(self, "_wsfast_idle", False)
            and type(data) is bytes
            and data
            and not self.extensions  # see "Compressed reads" above
            and asyncio_reader
            and not stream._buffer
            and not stream._eof
            and stream._exception is None
        ):
            # read_message waits in readexactly's place: it reads them where they are
            self._wsfast_pending, self._wsfast_pos = data, 0
            stream._wakeup_waiter()
            # feed_data's flow control, on the bytes held here instead of in the buffer
            if (
                stream._transport is not None
                and not stream._paused
                and len(data) > 2 * stream._limit
            ):
                try:
                    stream._transport.pause_reading()
                except NotImplementedError:
                    stream._transport = None
                else:
                    stream._paused = True
            return
        data_received0(self, data)

    data_received.__doc__ = data_received0.__doc__
    data_received.__qualname__ = data_received0.__qualname__
    return read_message, data_received


# every name the asyncio Assembler.get of websockets 17 reads or calls
_GET_NAMES = frozenset(
    {
        "BINARY", "CONT", "CancelledError", "ConcurrencyError", "MAX_FRAGMENTS", "TEXT",
        "TooManyFragments", "append", "asyncio", "closed", "decode", "fin", "frames", "get",
        "get_in_progress", "join", "len", "maybe_resume", "opcode", "put_back",
    }
)


def _assembler_get(messages: Any, frames: Any) -> Any:
    """The asyncio ``Assembler.get`` (what ``recv()`` and ``async for message in ws`` await in
    websockets' asyncio server), taking a one-frame message already queued in one step.

    The original marks a get in progress, awaits the frame queue's ``get``, collects the
    message's frames in a list and joins their payloads through a generator before decoding.
    When no get is in progress and the first queued frame is a whole message (FIN), of any
    size (the patched ``Protocol.parse`` reads frames of every size), this one takes it off
    the queue as that ``get`` would, lets the reader resume as the original does
    (``maybe_resume``), and returns what it returns: the payload as bytes (a bytearray or
    memoryview copied, as ``b"".join`` does), decoded when ``decode`` says so or, by default,
    for a text frame (the same ``UnicodeDecodeError``).  Anything else (an empty queue to
    wait on, a fragmented message, a get already running) goes to the original.  Returns
    None where ``Assembler.get`` reads other names than websockets 17's, for it to stay.
    """
    get0 = messages.Assembler.get
    if set(get0.__code__.co_names) != _GET_NAMES:
        return None
    TEXT, BINARY = frames.Opcode.TEXT, frames.Opcode.BINARY

    async def get(self: Any, decode: bool | None = None) -> Any:
        if not self.get_in_progress:
            queue = self.frames.queue
            if queue and queue[0].fin:
                frame = queue.popleft()
                self.maybe_resume()
                opcode = frame.opcode
                assert opcode is TEXT or opcode is BINARY
                data = frame.data
                if type(data) is not bytes:
                    data = bytes(data)
                if decode is None:
                    decode = opcode is TEXT
                return data.decode() if decode else data
        return await get0(self, decode)

    get.__doc__ = get0.__doc__
    get.__qualname__ = get0.__qualname__
    return get


def enable(b: list[Binding], api: Any) -> None:
    import warnings

    import websockets.utils
    import websockets.version
    from websockets import frames, protocol, streams

    rebind(b, frames.Frame, "parse", _parse(frames, streams, api), LIBRARY)
    readers = _protocol_parse(protocol, frames, streams, api)
    if readers is not None:
        protocol_parse, receive_data = readers
        rebind(b, protocol.Protocol, "parse", protocol_parse, LIBRARY)
        if receive_data is not None:
            rebind(b, protocol.Protocol, "receive_data", receive_data, LIBRARY)
    try:
        from websockets.asyncio import messages
    except ImportError:  # pragma: no cover - a websockets without its asyncio implementation
        pass
    else:
        get = _assembler_get(messages, frames)
        if get is not None:
            rebind(b, messages.Assembler, "get", get, LIBRARY)
    masked_by = [frames]  # the modules that bound apply_mask at import
    try:
        # its deprecation notice is for its users' imports, not for this one
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            from websockets.legacy import framing
    except ImportError:  # pragma: no cover - a websockets without legacy/
        pass
    else:
        rebind(b, framing.Frame, "read", _legacy_read(framing, frames, api), LIBRARY)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            from websockets.legacy import protocol as legacy
        read_message, data_received = _legacy_read_message(legacy, frames, api)
        common = legacy.WebSocketCommonProtocol
        rebind(b, common, "read_message", read_message, LIBRARY)
        if data_received is not None:
            rebind(b, common, "data_received", data_received, LIBRARY)
        masked_by.append(framing)
    # Its compiled apply_mask (websockets.speedups) costs less per call than a cffi call and
    # masks as fast: only the pure-Python fallback, used where speedups was not built, is
    # replaced, in the modules that bound it at import.
    pure_mask = websockets.utils.apply_mask

    def apply_mask(data: Any, mask: Any) -> bytes:
        return api.apply_mask(data, mask)

    for module in masked_by:
        if module.apply_mask is pure_mask:
            rebind(b, module, "apply_mask", apply_mask, LIBRARY)
