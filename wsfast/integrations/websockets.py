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


def _parse(frames: Any, streams: Any, api: Any) -> classmethod:
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


def enable(b: list[Binding], api: Any) -> None:
    import websockets.utils
    import websockets.version
    from websockets import frames, streams

    rebind(
        b, frames.Frame, "parse", _parse(frames, streams, api), "websockets"
    )
    # Its compiled apply_mask (websockets.speedups) costs less per call than a cffi call and
    # masks as fast: only the pure-Python fallback, used where speedups was not built, is
    # replaced, in the modules that bound it at import.
    pure_mask = websockets.utils.apply_mask

    def apply_mask(data: Any, mask: Any) -> bytes:
        return api.apply_mask(data, mask)

    if frames.apply_mask is pure_mask:
        rebind(b, frames, "apply_mask", apply_mask, "websockets")
        try:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                from websockets.legacy import framing
        except ImportError:  # pragma: no cover - a websockets without legacy/
            return
        if framing.apply_mask is pure_mask:
            rebind(b, framing, "apply_mask", apply_mask, "websockets")

