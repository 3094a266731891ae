"""Opening handshake helpers (RFC 6455 section 4).  Placeholder until the handshake lands."""

from __future__ import annotations

import base64
import hashlib

__all__ = ["accept_key"]

_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def accept_key(key: str | bytes) -> str:
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 1.3)."""
    if isinstance(key, bytes):
        key = key.decode("ascii")
    return base64.b64encode(hashlib.sha1((key + _GUID).encode("ascii")).digest()).decode("ascii")
