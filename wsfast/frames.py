"""Frame-level names (RFC 6455 5.2, 7.4.1): opcodes, close codes, the parsed header."""

from __future__ import annotations

import enum
import operator
from typing import Any, Callable, NamedTuple, Union

from . import _codes, _pure
from ._common import check_mask, readable

Buffer = Union[bytes, bytearray, memoryview]


class Opcode(enum.IntEnum):
    """RFC 6455 5.2 opcodes; 3-7 and 11-15 are reserved."""

    CONTINUATION = 0x0
    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8
    PING = 0x9
    PONG = 0xA


class CloseCode(enum.IntEnum):
    """RFC 6455 7.4.1 status codes, with the IANA registry's names."""

    NORMAL_CLOSURE = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    UNSUPPORTED_DATA = 1003
    NO_STATUS_RCVD = 1005
    ABNORMAL_CLOSURE = 1006
    INVALID_DATA = 1007
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    MANDATORY_EXTENSION = 1010
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013
    BAD_GATEWAY = 1014
    TLS_HANDSHAKE = 1015


class FrameHeader(NamedTuple):
    """A parsed frame header; ``size`` is the header's own length (2..14 bytes)."""

    fin: bool
    rsv1: bool
    rsv2: bool
    rsv3: bool
    opcode: Opcode
    masked: bool
    mask: bytes | None
    length: int
    size: int


_OPCODES = {int(op): op for op in Opcode}


def header_from_fields(fields: tuple) -> FrameHeader:
    fin, rsv, opcode, masked, key, length, size = fields
    return FrameHeader(
        bool(fin),
        bool(rsv & 0x40),
        bool(rsv & 0x20),
        bool(rsv & 0x10),
        _OPCODES[opcode],
        bool(masked),
        key if masked else None,
        length,
        size,
    )


def bind(backend: Any) -> tuple[Callable[..., FrameHeader | None], Callable[..., bytes]]:
    """parse_header and build_frame over one backend."""
    # Headers are built in Python for both backends (cheaper than a cffi call at 2-14 bytes);
    # the C twin, wsfast_build_header, is held to the same bytes by the tests.
    b_parse, b_build, b_mask = backend.parse_header, _pure.build_header, backend.mask

    def parse_header(data: Buffer, *, strict: bool = True) -> FrameHeader | None:
        """Parse the frame header at the start of ``data``; None until it is complete.

        Raises ProtocolError for a reserved opcode, a fragmented or over-long control frame,
        a 64-bit length with its top bit set and (strict) a length not minimally encoded.
        """
        status, value, fields = b_parse(readable(data), bool(strict))
        if status == _codes.OK:
            return header_from_fields(fields)
        if status == _codes.NEED_MORE:
            return None
        raise _codes.error(status, value)

    def build_frame(
        opcode: int,
        payload: Buffer | str,
        *,
        fin: bool = True,
        rsv1: bool = False,
        mask: Buffer | None = None,
    ) -> bytes:
        """One frame: header with minimal length encoding, then the payload (masked if
        ``mask`` is a 4-byte key, as client frames must be)."""
        opcode = check_opcode(opcode)
        if isinstance(payload, str):
            payload = payload.encode("utf-8")
        data = readable(payload)
        if opcode >= 8:
            if not fin:
                raise ValueError(f"control frame {opcode:#x} cannot be fragmented")
            if len(data) > 125:
                raise ValueError(f"control frame payload of {len(data)} bytes exceeds 125")
        key = None if mask is None else check_mask(mask)
        head = b_build(fin, 0x40 if rsv1 else 0, opcode, len(data), key)
        if key is None:
            return head + data
        return head + b_mask(data, key, 0)

    return parse_header, build_frame


def check_opcode(opcode: Any) -> Opcode:
    try:
        return _OPCODES[operator.index(opcode)]
    except KeyError:
        raise ValueError(f"reserved opcode {opcode:#x}") from None
    except TypeError:
        raise TypeError(f"opcode must be an integer, not {type(opcode).__name__}") from None
