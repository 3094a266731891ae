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


# Payloads above this size stay with websockets' own code where its compiled mask was built:
# in a real server (bench/end_to_end.py, 64 KiB text) taking them over cost more server CPU
# than it saved (uvicorn with ws="websockets" 70 -> 100 us per message, websockets' own
# server 0.76-0.94x), though the same frames decode faster in a loop fed by hand.
LARGE = 8192


def _largest() -> int | None:
    """The largest payload the patched parsers take: ``LARGE`` when websockets' compiled mask
    is there, no limit (None) when it was not built and its pure-Python mask would run."""
    return LARGE if _small_mask() is not None else None


def _header_reader(
    frames: Any,
) -> Callable[[Any, bool, int | None], tuple[Any, int, int] | None]:
    """``header(buf, mask, max_size) -> (opcode, header size, payload length)`` for the frame
    at the start of ``buf`` (a bytearray) when its header is all there and acceptable (a known
    opcode, the expected masking, a payload within ``max_size``) and the patch takes it (see
    ``LARGE``); None otherwise, for the library's own code to wait for the rest, raise its own
    error or read it as it always does."""
    opcodes = {int(op): op for op in frames.Opcode}
    unpack_q = struct.Struct("!Q").unpack_from
    largest = _largest()

    def header(
        buf: Any, mask: bool, max_size: int | None
    ) -> tuple[Any, int, int] | None:
        n = len(buf)
        if n < 2:
            return None
        head2 = buf[1]
        length = head2 & 0x7F
        size = 6 if mask else 2
        if length == 126:
            size += 2
            if n < 4:
                return None
            length = (buf[2] << 8) | buf[3]
        elif length == 127:
            if largest is not None and largest < 0x10000:  # over it, whatever the length
                return None
            size += 8
            if n < 10:
                return None
            (length,) = unpack_q(buf, 2)
        opcode = opcodes.get(buf[0] & 0x0F)
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
            if found is not None:
                opcode, size, length = found
                head1 = buf[0]
                end = size + length
                data: Any
                if len(buf) >= end:  # the whole frame is here
                    if mask:
                        data = unmask(buf, size, length, bytes(buf[size - 4 : size]), 0)
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
                return _decoded(cls, opcode, data, head1, extensions, max_size)
        return (
            yield from parse0(
                cls, read_exact, mask=mask, max_size=max_size, extensions=extensions
            )
        )

    parse.__doc__ = parse0.__doc__
    parse.__qualname__ = parse0.__qualname__
    return classmethod(parse)


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
    original does, and checks it with the frame's own ``check``.  Anything else goes to the original, buffer untouched, so every wait,
    limit and error is websockets' own.
    """
    import asyncio

    read0 = framing.Frame.__dict__["read"].__func__
    readexactly0 = asyncio.StreamReader.readexactly
    header = _header_reader(frames)
    unmask = slice_unmasker(api, _small_mask())
    new_frame = frames.Frame

    async def read(
        cls: Any,
        reader: Any,
        *,
        mask: bool,
        max_size: int | None = None,
        extensions: Any = None,
    ) -> Any:
        if getattr(reader, "__func__", None) is readexactly0:
            stream = reader.__self__
            buf = stream._buffer
            if stream._exception is None and type(buf) is bytearray:
                found = header(buf, mask, max_size)
                if found is not None:
                    opcode, size, length = found
                    end = size + length
                    if len(buf) >= end:
                        head1 = buf[0]
                        if mask:
                            data = unmask(
                                buf, size, length, bytes(buf[size - 4 : size]), 0
                            )
                        else:
                            data = bytes(buf[size:end])
                        del buf[:end]
                        stream._maybe_resume_transport()
                        frame = _decoded(
                            new_frame, opcode, data, head1, extensions, max_size
                        )
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


def enable(b: list[Binding], api: Any) -> None:
    import warnings

    import websockets.utils
    import websockets.version
    from websockets import frames, streams

    rebind(b, frames.Frame, "parse", _parse(frames, streams, api), LIBRARY)
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
