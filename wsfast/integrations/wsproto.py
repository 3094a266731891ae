"""wsproto: its masker, a frame decoder over wsfast's unmasking and a message decoder that
checks a one-frame text message in one call."""

from __future__ import annotations

import struct
from typing import Any

from ._shared import SCRATCH_FROM, Binding, rebind, scratch_decoder, slice_unmasker

LIBRARY = "wsproto"  # the name wsfast.patch() takes
MODULE = "wsproto"  # the module it imports


def _classes(fp: Any, api: Any) -> tuple[type, type, type]:
    """wsproto's XorMaskerSimple, FrameDecoder and MessageDecoder over wsfast.

    The decoders subclass the originals taken from ``fp`` and keep their attributes, so code
    that looks at a decoder sees what it expects.  Every frame wsproto would emit is emitted,
    with the same opcode, payload and flags, split at the same places; anything outside the
    common case (a header not yet complete, a protocol violation, reserved bits) goes through
    wsproto's own ``parse_header``, so each ``ParseFailed`` keeps its message and code.  On a
    connection with extensions (permessage-deflate), each frame goes through them as in
    wsproto: their say on the header, then the payload and the frame's end, in its order and
    with its errors (the extension itself, its inflating and its limits, are wsproto's own).
    """
    frame_decoder0, message_decoder0 = fp.FrameDecoder, fp.MessageDecoder
    Frame, Header, Opcode, ParseFailed = fp.Frame, fp.Header, fp.Opcode, fp.ParseFailed
    Buffer, XorMaskerNull = fp.Buffer, fp.XorMaskerNull
    invalid_data = fp.CloseReason.INVALID_FRAME_PAYLOAD_DATA
    opcodes = {int(op): op for op in Opcode}
    # first header bytes of a final frame without reserved bits, by opcode
    single_frame_opcodes = {0x80 | op: op for op in Opcode if op != Opcode.CONTINUATION}
    RsvBits, CloseReason = fp.RsvBits, fp.CloseReason
    # first header bytes of a final, compressed (RSV1) text or binary frame
    compressed_opcodes = {0xC0 | op: op for op in (Opcode.TEXT, Opcode.BINARY)}
    from wsproto import extensions as wsproto_extensions

    PerMessageDeflate = wsproto_extensions.PerMessageDeflate
    decompressobj = wsproto_extensions.zlib.decompressobj
    zlib_error = wsproto_extensions.zlib.error
    # the state _inflated keeps as wsproto's does: where it is not there (another wsproto),
    # compressed frames take wsproto's calls
    probe = PerMessageDeflate()
    pmd_known = all(
        hasattr(probe, name)
        for name in ("_inbound_compressed", "_inbound_is_compressible", "_decompressor")
    )
    no_rsv = RsvBits(False, False, False)
    text = Opcode.TEXT
    unpack_q = struct.Struct("!Q").unpack_from
    apply_mask_inplace = api.apply_mask_inplace
    unmask = slice_unmasker(api)
    scratch_text = scratch_decoder(api)
    scratch_from = SCRATCH_FROM  # smaller text frames are not worth its call
    TEXT_OPCODE = Opcode.TEXT

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
        def __init__(self, client: bool, extensions: Any = None) -> None:
            super().__init__(client, extensions)
            self._mask_bit = 0 if client else 0x80
            exts = self.extensions
            # whole frames skip the decoder's state with no extension, or with wsproto's own
            # permessage-deflate alone (its calls done here, see _inflated_frame)
            self._plain = not exts
            self._pmd = (
                exts[0]
                if pmd_known and len(exts) == 1 and type(exts[0]) is PerMessageDeflate
                else None
            )
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
                and (not b0 & 0x70 or self.extensions)
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
                    rsv = no_rsv
                    if self.extensions:  # each one's say on the header, as in wsproto
                        rsv = RsvBits(bool(b0 & 0x40), bool(b0 & 0x20), bool(b0 & 0x10))
                        self.extension_processing(opcode, rsv, length)
                    self._pos = p + size
                    self.masker = masker
                    self.header = Header(bool(b0 & 0x80), rsv, opcode, length, None)
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

        def _whole_frame(self, text: bool = False) -> tuple[Any, Any] | None:
            """``(opcode, payload)`` of the next frame when it is the common case, a whole
            unfragmented frame already received (FIN, no reserved bit but a compressed
            whole message's RSV1, a minimal length) while no frame is open, consumed with
            what wsproto's calls leave behind for it (a compressed one inflated); None,
            consuming nothing, for anything else.  With ``text``, a large masked text
            payload that is valid UTF-8 comes as its str, decoded from a reused buffer
            (``scratch_text``), with no bytes object of it in between."""
            pmd = self._pmd
            if self.header is not None or not (
                self._plain or (pmd is not None and pmd._inbound_compressed is None)
            ):
                return None
            d, p = self._data, self._pos
            avail = len(d) - p
            if avail < 2:
                return None
            b0 = d[p]
            opcode = single_frame_opcodes.get(b0)
            compressed = False
            if opcode is None and pmd is not None:
                opcode = compressed_opcodes.get(b0)
                compressed = True
            b1 = d[p + 1]
            if opcode is None or b1 & 0x80 != self._mask_bit:
                return None
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
            if not size or end > len(d):
                return None
            self._pos = end
            start = end - length
            if b1 & 0x80:
                key = bytes(d[start - 4 : start])
                payload: Any = None
                if (
                    text
                    and length >= scratch_from
                    and opcode is TEXT_OPCODE
                    and not compressed
                    and scratch_text
                ):
                    payload = scratch_text(d, start, length, key)
                if payload is None:  # not such a frame, or invalid UTF-8 (decoded to raise)
                    payload = unmask(d, start, length, key, 0)
            else:
                payload = bytes(d[start:end])
            if pmd is not None:
                if compressed:
                    payload = self._inflated(pmd, payload)
                else:  # what its calls leave behind for this frame
                    pmd._inbound_is_compressible = opcode < 8
            return opcode, payload

        def process_buffer(self) -> Any:
            whole = self._whole_frame()
            if whole is not None:
                # one frame out, no decoder state touched
                return Frame(whole[0], whole[1], True, True)
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
            if self.extensions:
                payload = self._through_extensions(payload, finished, header.fin)

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

        def _inflated(self, pmd: Any, data: bytes) -> bytes:
            # What wsproto's PerMessageDeflate does, call by call, with one compressed text or
            # binary frame that is a whole message, arriving while no message is open: its
            # header call (compressed, a decompressor made with the peer's window bits if
            # there is none), its payload call and its end-of-message call, with the same
            # decompressor, the same order and the same errors.
            pmd._inbound_is_compressible = True
            pmd._inbound_compressed = True
            z = pmd._decompressor
            if z is None:
                bits = pmd.server_max_window_bits if self.client else pmd.client_max_window_bits
                z = pmd._decompressor = decompressobj(-int(bits))
            try:
                out = z.decompress(data)
            except zlib_error:
                raise ParseFailed("error in extension", invalid_data) from None
            try:
                tail = z.decompress(b"\x00\x00\xff\xff")
                tail += z.flush()
            except zlib_error:
                raise ParseFailed("error in extension", invalid_data) from None
            if (
                pmd.server_no_context_takeover
                if self.client
                else pmd.client_no_context_takeover
            ):
                pmd._decompressor = None
            pmd._inbound_compressed = None
            return out + tail

        def _through_extensions(self, payload: Any, finished: bool, fin: bool) -> Any:
            # wsproto's calls, in its order and with its errors: each extension gets the
            # payload, then (at the frame's end) says what it adds
            for extension in self.extensions:
                payload = extension.frame_inbound_payload_data(self, bytes(payload))
                if isinstance(payload, CloseReason):
                    raise ParseFailed("error in extension", payload)
            if finished:
                for extension in self.extensions:
                    result = extension.frame_inbound_complete(self, fin)
                    if isinstance(result, CloseReason):
                        raise ParseFailed("error in extension", result)
                    if result is not None:
                        payload = bytes(payload) + result
            return payload

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


def _builder(cls: Any, fields: tuple[str, ...]) -> Any:
    """``build(*values)``: an instance of ``cls``, one of wsproto's frozen dataclass events,
    equal in every respect to ``cls(**dict(zip(fields, values)))`` (same type, same
    ``__dict__`` in the same order), made without its generated ``__init__``, which sets each
    field through ``object.__setattr__`` and costs several times the object.  Where ``cls``
    is not such a plain dataclass (other fields, instances without a ``__dict__``,
    ``__post_init__``, another ``__init__``, a probe built both ways that differs), its own
    constructor."""
    import dataclasses

    def call(*values: Any) -> Any:
        return cls(**dict(zip(fields, values)))

    plain = (
        isinstance(cls, type)
        and dataclasses.is_dataclass(cls)
        and tuple(f.name for f in dataclasses.fields(cls)) == fields
        and all(f.init for f in dataclasses.fields(cls))
        and not hasattr(cls, "__post_init__")
        and getattr(cls.__init__, "__qualname__", None) == f"{cls.__qualname__}.__init__"
        and cls.__new__ is object.__new__
        and cls.__setattr__ is not object.__setattr__  # frozen: __init__ goes around it
    )
    if not plain:
        return call
    new = object.__new__
    build: Any
    if len(fields) == 1:
        (only,) = fields

        def build1(value: Any) -> Any:
            event = new(cls)
            event.__dict__[only] = value
            return event

        build = build1
    elif len(fields) == 3:
        first, second, third = fields

        def build3(a: Any, b: Any, c: Any) -> Any:
            event = new(cls)
            d = event.__dict__
            d[first] = a
            d[second] = b
            d[third] = c
            return event

        build = build3
    else:
        return call
    probe = tuple(object() for _ in fields)
    try:
        made, want = build(*probe), call(*probe)
        same = list(vars(made).items()) == list(vars(want).items()) and made == want
    except (AttributeError, TypeError):  # pragma: no cover - instances without a __dict__
        same = False
    return build if same else call


def _connection(
    fp: Any, cn: Any, ev: Any, frame_decoder: Any, message_decoder: Any
) -> tuple[type, Any]:
    """wsproto's FrameProtocol over its frame and message decoders, and ``Connection.events``
    reading whole messages from them in one loop.

    wsproto turns received frames into events through three generators stacked
    (``Connection.events`` over ``FrameProtocol.received_frames`` over ``_parse_more_gen``),
    a ``Frame`` from the frame decoder, another from the message decoder, then the event.
    The FrameProtocol here keeps the state of its ``_parse_more_gen`` generator (started: the
    extensions filtered; finished: after a close frame or an error) in two attributes, one
    turn of its loop per call (``_step``), so that ``received_frames`` and ``events`` go on
    from the same place.  ``events`` takes a whole unfragmented text or binary frame while no message
    is open straight to its event (text decoded at once, with the ``ParseFailed`` wsproto's
    message decoder raises for invalid UTF-8), and everything else through ``_step`` and the
    dispatch of wsproto's ``events``: the same events, in the same order, with the same
    connection states and errors.
    """
    frame_protocol0 = fp.FrameProtocol
    events0 = cn.Connection.events
    Frame, Opcode, ParseFailed = fp.Frame, fp.Opcode, fp.ParseFailed
    TEXT, BINARY, CLOSE = Opcode.TEXT, Opcode.BINARY, Opcode.CLOSE
    PING, PONG = Opcode.PING, Opcode.PONG
    LOCAL_CLOSING, CLOSED = cn.ConnectionState.LOCAL_CLOSING, cn.ConnectionState.CLOSED
    REMOTE_CLOSING = cn.ConnectionState.REMOTE_CLOSING
    invalid_data = fp.CloseReason.INVALID_FRAME_PAYLOAD_DATA
    message_fields = ("data", "frame_finished", "message_finished")
    text_message = _builder(ev.TextMessage, message_fields)
    bytes_message = _builder(ev.BytesMessage, message_fields)
    Ping, Pong, CloseConnection = ev.Ping, ev.Pong, ev.CloseConnection
    end = object()  # what _step returns once wsproto's generator would have ended

    class FrameProtocol(frame_protocol0):  # type: ignore[misc, valid-type]
        def __init__(self, client: bool, extensions: Any) -> None:
            self._started = False
            self._finished = False
            super().__init__(client, extensions)

        def _start(self) -> None:
            # what wsproto's generator does when first resumed
            self._started = True
            extensions: list[Any] = self.extensions  # type: ignore[has-type]
            self.extensions = [ext for ext in extensions if ext.enabled()]

        def _step(self, frame: Any = None) -> Any:
            """One turn of wsproto's ``_parse_more_gen`` loop: the next frame (a data frame
            through the message decoder, a close frame's payload parsed) or None when more
            bytes are needed, given ``frame`` when the caller has read it already; ``end``
            once the generator would have finished (after a close frame or an error)."""
            if self._finished:
                return end
            try:
                if not self._started:
                    self._start()
                if frame is None:
                    frame = self._frame_decoder.process_buffer()
                if frame is not None:
                    if not frame.opcode.iscontrol():
                        frame = self._message_decoder.process_frame(frame)
                    elif frame.opcode == CLOSE:
                        self._finished = True
                        frame = self._process_close(frame)
            except BaseException:
                self._finished = True
                raise
            return frame

        def _parse_more_gen(self) -> Any:
            while True:
                frame = self._step()
                if frame is end:
                    return
                yield frame

    def events(self: Any) -> Any:
        pending = self._events
        while pending:
            yield pending.popleft()
        proto = self._proto
        if type(proto) is not FrameProtocol:
            yield from events0(self)
            return
        decoder: Any = proto._frame_decoder
        messages: Any = proto._message_decoder
        whole_frame = (
            decoder._whole_frame
            if type(decoder) is frame_decoder and type(messages) is message_decoder
            else None
        )
        try:
            while True:
                frame = None
                if (
                    whole_frame is not None
                    and proto._started
                    and not proto._finished
                    and messages.opcode is None
                ):
                    # a whole unfragmented frame while no message is open: a data message
                    # straight to its event
                    try:
                        whole = whole_frame(True)
                        if whole is not None:
                            opcode, payload = whole
                            if opcode is TEXT:
                                try:
                                    if type(payload) is not str:
                                        payload = payload.decode("utf-8")
                                    frame = text_message(payload, True, True)
                                except UnicodeDecodeError as exc:
                                    raise ParseFailed(str(exc), invalid_data)
                            elif opcode is BINARY:
                                frame = bytes_message(payload, True, True)
                            else:
                                frame = Frame(opcode, payload, True, True)
                    except BaseException:
                        proto._finished = True  # as wsproto's generator ends on an error
                        raise
                if frame is None:
                    frame = proto._step()
                elif type(frame) is Frame:
                    frame = proto._step(frame)  # a control frame
                else:
                    yield frame
                    continue
                if frame is None or frame is end:
                    return
                opcode = frame.opcode
                if opcode is PING:
                    yield Ping(payload=frame.payload)
                elif opcode is PONG:
                    yield Pong(payload=frame.payload)
                elif opcode is CLOSE:
                    code, reason = frame.payload
                    if self.state is LOCAL_CLOSING:
                        self._state = CLOSED
                    else:
                        self._state = REMOTE_CLOSING
                    yield CloseConnection(code=code, reason=reason)
                elif opcode is TEXT:
                    yield text_message(
                        frame.payload, frame.frame_finished, frame.message_finished
                    )
                elif opcode is BINARY:
                    yield bytes_message(
                        frame.payload, frame.frame_finished, frame.message_finished
                    )
        except ParseFailed as exc:
            yield CloseConnection(code=exc.code, reason=str(exc))

    events.__doc__ = events0.__doc__
    events.__qualname__ = events0.__qualname__
    return FrameProtocol, events


def enable(b: list[Binding], api: Any) -> None:
    from wsproto import frame_protocol as fp

    masker, frame_decoder, message_decoder = _classes(fp, api)
    rebind(b, fp, "XorMaskerSimple", masker, "wsproto")
    rebind(b, fp, "FrameDecoder", frame_decoder, "wsproto")
    rebind(b, fp, "MessageDecoder", message_decoder, "wsproto")
    from wsproto import connection as cn
    from wsproto import events as ev

    frame_protocol, events = _connection(fp, cn, ev, frame_decoder, message_decoder)
    rebind(b, fp, "FrameProtocol", frame_protocol, "wsproto")
    # wsproto.connection imported it by name, and builds each connection's from there
    rebind(b, cn, "FrameProtocol", frame_protocol, "wsproto")
    rebind(b, cn.Connection, "events", events, "wsproto")

