"""The exception hierarchy.

Every protocol violation is a :class:`ProtocolError` carrying the close code the peer should be
sent (RFC 6455 7.4.1).  Messages are lowercase, end without a period and name the offending value.
"""

from __future__ import annotations

__all__ = [
    "WebSocketError",
    "ProtocolError",
    "InvalidUTF8",
    "PayloadTooBig",
    "HandshakeError",
]


class WebSocketError(Exception):
    """Base class of every error wsfast raises on purpose."""


class ProtocolError(WebSocketError):
    """The peer broke RFC 6455; ``code`` is the close code to answer with."""

    code: int

    def __init__(self, message: str, code: int = 1002) -> None:
        super().__init__(message)
        self.code = code


class InvalidUTF8(ProtocolError):
    """Text that can no longer be valid UTF-8; ``position`` is the first byte that proved it."""

    position: int

    def __init__(self, message: str, position: int, code: int = 1007) -> None:
        super().__init__(message, code)
        self.position = position


class PayloadTooBig(ProtocolError):
    """A frame or message over the configured limit (close code 1009)."""

    def __init__(self, message: str, code: int = 1009) -> None:
        super().__init__(message, code)


class HandshakeError(WebSocketError):
    """An opening handshake (RFC 6455 section 4) that cannot be accepted."""
