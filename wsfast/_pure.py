"""The pure-Python backend: the specification the C backend (csrc/wsfast.c) must match.

Every function here has a C twin with the same name in wsfast/_cbackend.py and gives the same
results, the same status codes and the same positions.  Inputs are already checked by the
public layer (wsfast/_common.py): data is a contiguous buffer, a mask 4 bytes, a phase 0..3.
"""

from __future__ import annotations

import struct
from typing import Any

from . import _codes as C

# ---------------------------------------------------------------------------------------------
# Masking (RFC 6455 5.3).  Twin of mask_scalar: the whole buffer as one integer, XORed at once.
# ---------------------------------------------------------------------------------------------


def _key_for(mask: bytes, phase: int, n: int) -> int:
    key = mask[phase:] + mask[:phase]
    return int.from_bytes((key * ((n >> 2) + 1))[:n], "little")


def mask(data: Any, mask: bytes, phase: int) -> bytes:
    n = len(data)
    if n == 0:
        return b""
    return (int.from_bytes(data, "little") ^ _key_for(mask, phase, n)).to_bytes(n, "little")


def mask_inplace(view: memoryview, mask_: bytes, phase: int) -> None:
    """``view`` is a writable, contiguous, one-dimensional byte view."""
    if len(view):
        view[:] = mask(view, mask_, phase)


# ---------------------------------------------------------------------------------------------
# UTF-8 (Unicode Table 3-7).  Twin of utf8_class / utf8_next in csrc/wsfast.c.
# ---------------------------------------------------------------------------------------------

ACCEPT = 0
# the record kind of a whole (single-frame) text message
WHOLE_TEXT = C.R_TEXT | C.R_FIRST | C.R_FIN | 0x1
REJECT = 8


def _classes() -> bytes:
    table = bytearray(256)
    for b in range(256):
        if b < 0x80:
            c = 0
        elif b < 0x90:
            c = 1
        elif b < 0xA0:
            c = 2
        elif b < 0xC0:
            c = 3
        elif b < 0xC2 or b > 0xF4:
            c = 4
        elif b < 0xE0:
            c = 5
        elif b == 0xE0:
            c = 6
        elif b == 0xED:
            c = 8
        elif b < 0xF0:
            c = 7
        elif b == 0xF0:
            c = 9
        elif b < 0xF4:
            c = 10
        else:
            c = 11
        table[b] = c
    return bytes(table)


_UTF8_CLASS = _classes()
_R = REJECT
# state -> byte class -> next state; 0 boundary, 1 one continuation due, 2 two due, 3 after E0
# (A0..BF next), 4 after ED (80..9F next), 5 three due, 6 after F0 (90..BF), 7 after F4 (80..8F).
_UTF8_NEXT = (
    (0, _R, _R, _R, _R, 1, 3, 2, 4, 6, 5, 7),
    (_R, 0, 0, 0, _R, _R, _R, _R, _R, _R, _R, _R),
    (_R, 1, 1, 1, _R, _R, _R, _R, _R, _R, _R, _R),
    (_R, _R, _R, 1, _R, _R, _R, _R, _R, _R, _R, _R),
    (_R, 1, 1, _R, _R, _R, _R, _R, _R, _R, _R, _R),
    (_R, 2, 2, 2, _R, _R, _R, _R, _R, _R, _R, _R),
    (_R, _R, 2, 2, _R, _R, _R, _R, _R, _R, _R, _R),
    (_R, 2, _R, _R, _R, _R, _R, _R, _R, _R, _R, _R),
    (_R,) * 12,
)


def _dfa(state: int, data: Any, start: int, stop: int) -> tuple[int, int]:
    """Run the DFA over data[start:stop]: (state, index of the rejecting byte or -1)."""
    for i in range(start, stop):
        state = _UTF8_NEXT[state][_UTF8_CLASS[data[i]]]
        if state == REJECT:
            return REJECT, i
    return state, -1


def utf8_feed(state: int, data: Any) -> tuple[int, int]:
    """Advance ``state`` over ``data``: (new state, index of the rejecting byte or -1).

    Twin of wsfast_utf8_feed.  The DFA finishes a sequence left open by the previous call and
    checks the last, possibly incomplete, sequence; CPython's strict decoder does the bulk in
    between, and on its error the DFA, restarted at the sequence it blamed, finds the byte.
    """
    if state == REJECT:
        return REJECT, 0
    n = len(data)
    i = 0
    while state != ACCEPT and i < n:
        state = _UTF8_NEXT[state][_UTF8_CLASS[data[i]]]
        if state == REJECT:
            return REJECT, i
        i += 1
    if i == n:
        return state, -1
    # Hold back the last sequence if it may be incomplete: its lead is one of the last 4 bytes.
    j = n
    k = n - 1
    while k > i and k >= n - 3 and 0x80 <= data[k] < 0xC0:
        k -= 1
    if data[k] >= 0xC0:
        j = k
    if j > i:
        view = memoryview(data)[i:j]
        try:
            str(view, "utf-8")
        except UnicodeDecodeError as exc:
            return _dfa(ACCEPT, data, i + exc.start, n)
    return _dfa(ACCEPT, data, j, n)


# ---------------------------------------------------------------------------------------------
# Frame headers (RFC 6455 5.2).  Twin of read_header: checks in byte order, each as soon as its
# byte is there, so the first violation never depends on how the input was split.
# ---------------------------------------------------------------------------------------------

# (status, fin, rsv, opcode, masked, mask, length, size, value)
Header = tuple


def read_header(data: Any, start: int, avail: int, strict: bool, dec: Any = None) -> tuple:
    """Parse a header at data[start:start+avail].

    Returns (status, value, fields) where fields is (fin, rsv, opcode, masked, mask, length,
    size) when status is OK.  ``dec`` is a Scanner for the decoder's own checks, or None.
    """
    if avail < 1:
        return C.NEED_MORE, 0, None
    b0 = data[start]
    fin = b0 >> 7
    rsv = b0 & 0x70
    opcode = b0 & 0x0F
    control = opcode >= 8
    if 3 <= opcode <= 7 or opcode >= 11:
        return C.E_RESERVED_OPCODE, opcode, None
    if control and not fin:
        return C.E_CONTROL_FRAGMENTED, opcode, None
    if dec is not None:
        allowed = 0 if (control or opcode == 0) else dec.rsv_allowed
        if rsv & ~allowed:
            return C.E_RSV, rsv & ~allowed, None
        if opcode == 0 and dec.message_opcode == 0:
            return C.E_UNEXPECTED_CONTINUATION, 0, None
        if opcode in (1, 2) and dec.message_opcode != 0:
            return C.E_EXPECTED_CONTINUATION, opcode, None

    if avail < 2:
        return C.NEED_MORE, 0, None
    b1 = data[start + 1]
    masked = b1 >> 7
    len7 = b1 & 0x7F
    if dec is not None:
        if not dec.client and not masked:
            return C.E_UNMASKED, 0, None
        if dec.client and masked:
            return C.E_MASKED, 0, None
    if control and len7 > 125:
        return C.E_CONTROL_TOO_LONG, len7, None

    if len7 == 126:
        if avail < 4:
            return C.NEED_MORE, 0, None
        length = int.from_bytes(data[start + 2 : start + 4], "big")
        size = 4
        if strict and length < 126:
            return C.E_NON_MINIMAL_LENGTH, length, None
    elif len7 == 127:
        if avail < 10:
            return C.NEED_MORE, 0, None
        length = int.from_bytes(data[start + 2 : start + 10], "big")
        size = 10
        if length >> 63:
            return C.E_LENGTH_MSB, length, None
        if strict and length < 65536:
            return C.E_NON_MINIMAL_LENGTH, length, None
    else:
        length = len7
        size = 2

    if dec is not None:
        if length > dec.max_frame:
            return C.E_FRAME_TOO_BIG, length, None
        if not control:
            total = dec.message_size + length if opcode == 0 else length
            compressed = dec.message_rsv1 if opcode == 0 else rsv & 0x40
            if total > (dec.max_compressed if compressed else dec.max_message):
                return C.E_MESSAGE_TOO_BIG, min(total, 2**64 - 1), None

    if masked:
        if avail < size + 4:
            return C.NEED_MORE, 0, None
        key = bytes(data[start + size : start + size + 4])
        size += 4
    else:
        key = b"\x00\x00\x00\x00"
    return C.OK, 0, (fin, rsv, opcode, masked, key, length, size)


def parse_header(data: Any, strict: bool) -> tuple:
    """Twin of wsfast_parse_header: (status, value, fields)."""
    return read_header(data, 0, len(data), strict)


_HEAD16 = struct.Struct("!BBH").pack
_HEAD64 = struct.Struct("!BBQ").pack


def build_header(fin: bool, rsv: int, opcode: int, length: int, mask_: bytes | None) -> bytes:
    """Twin of wsfast_build_header: minimal length encoding."""
    first = (0x80 if fin else 0) | (rsv & 0x70) | (opcode & 0x0F)
    flag = 0x80 if mask_ is not None else 0
    if length < 126:
        head = bytes((first, flag | length))
    elif length < 65536:
        head = _HEAD16(first, flag | 126, length)
    else:
        head = _HEAD64(first, flag | 127, length)
    return head if mask_ is None else head + mask_


def client_frame(first: int, payload: Any, keys: bytes, at: int) -> bytes:
    """Twin of wsfast_client_frame: header (first byte ``first``), the key keys[at:at + 4],
    the payload masked with it."""
    if not 0 <= at <= len(keys) - 4:
        raise ValueError(f"no 4-byte key at offset {at} of {len(keys)} bytes")
    key = keys[at : at + 4]
    n = len(payload)
    return build_header(bool(first >> 7), first & 0x70, first & 0x0F, n, key) + mask(payload, key, 0)


def close_code_valid(code: int) -> bool:
    """RFC 6455 7.4.1 and 7.4.2: the codes an endpoint may put on the wire."""
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


# ---------------------------------------------------------------------------------------------
# The batch decoder.  Twin of wsfast_decode: same state, same records, same errors.
# ---------------------------------------------------------------------------------------------


class Scanner:
    """Bytes in, complete frames out: (offset, length, kind, close_code) records.

    ``kind`` is the opcode with the R_* flags of wsfast.h.  On a violation ``feed`` returns the
    records before it and sets ``error`` to (status, value, position), which stays.
    """

    def __init__(
        self,
        client: bool,
        strict: bool,
        rsv_allowed: int,
        max_frame: int,
        max_message: int,
        max_compressed: int,
        text: bool = False,
    ) -> None:
        self.client = client
        self.text = text  # a batch of whole text messages: their payloads as str
        self.strict = strict
        self.rsv_allowed = rsv_allowed
        self.max_frame = max_frame
        self.max_message = max_message
        self.max_compressed = max_compressed
        self.buffer = bytearray()
        self.begin = 0
        # the open frame
        self.frame_open = False
        self.frame_payload = 0
        self.frame_length = 0
        self.frame_done = 0
        self.frame_kind = 0
        self.frame_mask = b""
        # the message in progress
        self.message_opcode = 0
        self.message_rsv1 = False
        self.message_size = 0
        self.utf8_state = ACCEPT
        self.utf8_offset = 0
        self.closed = False
        self.error: tuple[int, int, int] | None = None

    def _fail(self, status: int, value: int = 0, position: int = 0) -> bool:
        self.error = (status, value, position)
        return False

    def _open_frame(self) -> int:
        if self.closed:
            self._fail(C.E_AFTER_CLOSE)
            return C.E_AFTER_CLOSE
        buf = self.buffer
        status, value, fields = read_header(
            buf, self.begin, len(buf) - self.begin, self.strict, self
        )
        if status == C.NEED_MORE:
            return status
        if status != C.OK:
            self._fail(status, value)
            return status
        fin, rsv, opcode, _masked, key, length, size = fields
        kind = opcode | (C.R_FIN if fin else 0)
        if opcode < 8:
            if opcode != 0:
                self.message_opcode = opcode
                self.message_rsv1 = bool(rsv & 0x40)
                self.message_size = length
                self.utf8_state = ACCEPT
                self.utf8_offset = 0
                kind |= C.R_FIRST
            else:
                self.message_size += length
            if self.message_opcode == 1:
                kind |= C.R_TEXT
            if self.message_rsv1:
                kind |= C.R_RSV1
        self.frame_open = True
        self.frame_payload = self.begin + size
        self.frame_length = length
        self.frame_done = 0
        self.frame_kind = kind
        self.frame_mask = key
        return C.OK

    def _advance_payload(self) -> bool:
        arrived = len(self.buffer) - self.frame_payload
        upto = min(arrived, self.frame_length)
        n = upto - self.frame_done
        if n <= 0:
            return True
        start = self.frame_payload + self.frame_done
        if not self.client:
            view = memoryview(self.buffer)
            mask_inplace(view[start : start + n], self.frame_mask, self.frame_done & 3)
            view.release()
        if self.frame_kind & (C.R_TEXT | C.R_RSV1) == C.R_TEXT:
            state, at = utf8_feed(self.utf8_state, memoryview(self.buffer)[start : start + n])
            self.utf8_state = state
            if at >= 0:
                return self._fail(C.E_INVALID_UTF8, 0, self.utf8_offset + at)
            self.utf8_offset += n
        self.frame_done = upto
        return True

    def _finish_frame(self, records: list) -> bool:
        kind = self.frame_kind
        opcode = kind & 0x0F
        start = self.frame_payload
        length = self.frame_length
        close_code = 0
        if opcode == 8:
            if length == 1:
                return self._fail(C.E_CLOSE_LENGTH, 1)
            if length >= 2:
                payload = bytes(self.buffer[start : start + length])
                close_code = int.from_bytes(payload[:2], "big")
                if not close_code_valid(close_code):
                    return self._fail(C.E_CLOSE_CODE, close_code)
                state, at = utf8_feed(ACCEPT, payload[2:])
                if at >= 0:
                    return self._fail(C.E_CLOSE_UTF8, 0, at)
                if state != ACCEPT:
                    return self._fail(C.E_CLOSE_UTF8, 0, length - 2)
            self.closed = True
        elif opcode < 8 and kind & C.R_FIN:
            if kind & (C.R_TEXT | C.R_RSV1) == C.R_TEXT and self.utf8_state != ACCEPT:
                return self._fail(C.E_INVALID_UTF8, 0, self.utf8_offset)
            self.message_opcode = 0
            self.message_rsv1 = False
            self.message_size = 0
            self.utf8_state = ACCEPT
            self.utf8_offset = 0
        records.append((start, length, kind, close_code))
        return True

    def feed(self, data: Any) -> list:
        """Decode what ``data`` completes: a list of (same_kind, payloads, records) batches.

        ``payloads`` holds each frame's payload as bytes (as str when ``text`` is set and every
        frame is a whole text message); ``records`` the matching
        (offset, length, kind, close_code) tuples; ``same_kind`` the kind they all share, or
        MIXED_KINDS.  (The C twin returns one batch per filled record array, and no records
        when every frame is a whole text or binary message; here there is one batch.)
        """
        records: list = []
        if self.error is not None:
            return []
        if len(data):
            if self.begin:
                # Drop what earlier calls consumed (the twin of the C buffer's compaction).
                del self.buffer[: self.begin]
                if self.frame_open:
                    self.frame_payload -= self.begin
                self.begin = 0
            self.buffer += data
        buf = self.buffer
        while True:
            if not self.frame_open:
                if self.begin == len(buf):
                    break
                if self._open_frame() != C.OK:
                    break
            if not self._advance_payload():
                break
            if self.frame_done < self.frame_length:
                break
            if not self._finish_frame(records):
                break
            self.begin = self.frame_payload + self.frame_length
            self.frame_open = False
        if not records:
            return []
        kinds = {kind for _, _, kind, _ in records}
        same = kinds.pop() if len(kinds) == 1 else C.MIXED_KINDS
        if self.text and same == WHOLE_TEXT:
            payloads: list = [
                str(buf[offset : offset + length], "utf-8") for offset, length, _, _ in records
            ]
        else:
            payloads = [bytes(buf[offset : offset + length]) for offset, length, _, _ in records]
        return [(same, payloads, records)]
