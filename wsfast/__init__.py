"""wsfast: a fast and strict WebSocket (RFC 6455) frame codec.

The hot path is C bound through cffi; a pure-Python twin with identical behaviour takes over
when the extension is missing or ``WSFAST_NO_EXTENSIONS=1``.  ``BACKEND`` says which one runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import _backend
from ._version import __version__
from .decoder import Close, Event, Message, Ping, Pong
from .deflate import ZLIB
from .errors import HandshakeError, InvalidUTF8, PayloadTooBig, ProtocolError, WebSocketError
from .frames import CloseCode, FrameHeader, Opcode
from .handshake import *  # noqa: F403
from .handshake import __all__ as _handshake_all

BACKEND: str
HAS_C: bool
BACKEND, _impl, HAS_C = _backend.choose()
# CPU kernels per operation, e.g. {"mask": "avx2", "utf8": "avx2"}; empty on the Python backend.
KERNELS: dict[str, str] = getattr(_impl, "KERNELS", {})

if TYPE_CHECKING:
    from .decoder import Decoder as Decoder
    from .encoder import Encoder as Encoder
    from .frames import Buffer
    from .utf8 import Utf8Validator as Utf8Validator

    def apply_mask(data: Buffer, mask: Buffer, offset: int = 0) -> bytes: ...
    def apply_mask_inplace(buffer: Buffer, mask: Buffer, offset: int = 0) -> None: ...
    def validate_utf8(data: Buffer) -> bool: ...
    def parse_header(data: Buffer, *, strict: bool = True) -> FrameHeader | None: ...
    def build_frame(
        opcode: int,
        payload: Buffer | str,
        *,
        fin: bool = True,
        rsv1: bool = False,
        mask: Buffer | None = None,
    ) -> bytes: ...

else:
    _api = _backend.bind(_impl)
    apply_mask = _api.apply_mask
    apply_mask_inplace = _api.apply_mask_inplace
    validate_utf8 = _api.validate_utf8
    Utf8Validator = _api.Utf8Validator
    parse_header = _api.parse_header
    build_frame = _api.build_frame
    Decoder = _api.Decoder
    Encoder = _api.Encoder

# after the API above: the integrations build their replacements from it
from .integrations import patch, unpatch  # noqa: E402

__all__ = [
    "BACKEND",
    "HAS_C",
    "KERNELS",
    "ZLIB",
    "__version__",
    "apply_mask",
    "apply_mask_inplace",
    "validate_utf8",
    "Utf8Validator",
    "Opcode",
    "CloseCode",
    "FrameHeader",
    "parse_header",
    "build_frame",
    "Decoder",
    "Encoder",
    "Event",
    "Message",
    "Ping",
    "Pong",
    "Close",
    "WebSocketError",
    "ProtocolError",
    "InvalidUTF8",
    "PayloadTooBig",
    "HandshakeError",
    "patch",
    "unpatch",
    *_handshake_all,
]
