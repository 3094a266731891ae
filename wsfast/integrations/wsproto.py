"""wsproto: its masker, a frame decoder over wsfast's unmasking and a message decoder that
checks a one-frame text message in one call."""

from __future__ import annotations

import struct
from typing import Any

from ._shared import Binding, rebind, slice_unmasker

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
    no_rsv = RsvBits(False, False, False)
    text = Opcode.TEXT
    unpack_q = struct.Struct("!Q").unpack_from
    apply_mask_inplace = api.apply_mask_inplace
    unmask = slice_unmasker(api)

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
            # 0x100 never matches a mask bit: with an extension, no frame skips its calls
            self._mask_bit = 0x100 if self.extensions else 0 if client else 0x80
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


def enable(b: list[Binding], api: Any) -> None:
    from wsproto import frame_protocol as fp

    masker, frame_decoder, message_decoder = _classes(fp, api)
    rebind(b, fp, "XorMaskerSimple", masker, "wsproto")
    rebind(b, fp, "FrameDecoder", frame_decoder, "wsproto")
    rebind(b, fp, "MessageDecoder", message_decoder, "wsproto")

