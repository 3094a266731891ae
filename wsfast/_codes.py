"""Status codes shared with csrc/wsfast.h, and the one table that turns them into exceptions.

Both backends report violations as (status, value, position); ``error`` builds the exception, so
the two can never word an error differently.
"""

from __future__ import annotations

from .errors import InvalidUTF8, PayloadTooBig, ProtocolError

OK = 0
NEED_MORE = 1

E_RESERVED_OPCODE = -1
E_CONTROL_FRAGMENTED = -2
E_CONTROL_TOO_LONG = -3
E_LENGTH_MSB = -4
E_NON_MINIMAL_LENGTH = -5
E_RSV = -6
E_UNMASKED = -7
E_MASKED = -8
E_FRAME_TOO_BIG = -9
E_MESSAGE_TOO_BIG = -10
E_UNEXPECTED_CONTINUATION = -11
E_EXPECTED_CONTINUATION = -12
E_INVALID_UTF8 = -13
E_CLOSE_LENGTH = -14
E_CLOSE_CODE = -15
E_CLOSE_UTF8 = -16
E_AFTER_CLOSE = -17

R_FIN = 0x10
R_RSV1 = 0x20
R_FIRST = 0x40
R_TEXT = 0x80
MIXED_KINDS = 0xFFFFFFFF  # a batch's same_kind when its records differ


def _rsv_names(bits: int) -> str:
    return "+".join(
        name for bit, name in ((0x40, "rsv1"), (0x20, "rsv2"), (0x10, "rsv3")) if bits & bit
    )


def error(
    status: int, value: int = 0, position: int = 0, max_frame: int = 0, max_message: int = 0
) -> ProtocolError:
    """The exception for a violation reported by either backend."""
    if status == E_RESERVED_OPCODE:
        return ProtocolError(f"reserved opcode {value:#x}")
    if status == E_CONTROL_FRAGMENTED:
        return ProtocolError(f"fragmented control frame {value:#x}")
    if status == E_CONTROL_TOO_LONG:
        return ProtocolError(f"control frame payload of {value} bytes exceeds 125")
    if status == E_LENGTH_MSB:
        return ProtocolError(f"64-bit payload length {value:#x} has its most significant bit set")
    if status == E_NON_MINIMAL_LENGTH:
        return ProtocolError(f"payload length {value} not in minimal encoding")
    if status == E_RSV:
        return ProtocolError(f"reserved bits {_rsv_names(value)} set without an extension")
    if status == E_UNMASKED:
        return ProtocolError("unmasked frame from client")
    if status == E_MASKED:
        return ProtocolError("masked frame from server")
    if status == E_FRAME_TOO_BIG:
        return PayloadTooBig(f"frame of {value} bytes exceeds max_frame_size {max_frame}")
    if status == E_MESSAGE_TOO_BIG:
        return PayloadTooBig(f"message of {value} bytes exceeds max_message_size {max_message}")
    if status == E_UNEXPECTED_CONTINUATION:
        return ProtocolError("continuation frame without a message in progress")
    if status == E_EXPECTED_CONTINUATION:
        return ProtocolError(f"expected a continuation frame, got opcode {value:#x}")
    if status == E_INVALID_UTF8:
        return InvalidUTF8(f"invalid utf-8 in text message at byte {position}", position)
    if status == E_CLOSE_LENGTH:
        return ProtocolError("close frame payload of 1 byte")
    if status == E_CLOSE_CODE:
        return ProtocolError(f"invalid close code {value}")
    if status == E_CLOSE_UTF8:
        return InvalidUTF8(f"invalid utf-8 in close reason at byte {position}", position)
    if status == E_AFTER_CLOSE:
        return ProtocolError("data after close frame")
    raise AssertionError(f"unknown status {status}")  # pragma: no cover - a backend bug
