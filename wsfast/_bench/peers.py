"""The peers the benchmark compares with: what could be imported, and why the rest could not."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any


@dataclass
class Peers:
    """The peer callables that could be imported, and why the others are missing."""

    available: dict[str, Any] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> Any:
        return self.available.get(name)


def load_peers() -> Peers:
    peers = Peers()

    def attempt(name: str, loader: Callable[[], Any]) -> None:
        try:
            peer = loader()
            try:  # the installed distribution's version (modules' own strings can lag)
                peer["version"] = metadata.version(name.split("-")[0])
            except metadata.PackageNotFoundError:
                pass
            peers.available[name] = peer
        except Exception as exc:  # noqa: BLE001 - an ImportError, or a broken build's error
            peers.skipped[name] = f"{type(exc).__name__}: {exc}".splitlines()[0]

    def websockets_peer() -> Any:
        import websockets
        from websockets.frames import Frame, Opcode
        from websockets.protocol import Protocol, Side, State
        from websockets.speedups import apply_mask

        return {
            "version": websockets.version.version,
            "apply_mask": apply_mask,
            "Frame": Frame,
            "Opcode": Opcode,
            "Protocol": Protocol,
            "Side": Side,
            "State": State,
        }

    def aiohttp_peer() -> Any:
        import aiohttp
        from aiohttp._websocket.mask import _websocket_mask_cython
        from aiohttp._websocket.reader_c import WebSocketDataQueue, WebSocketReader
        from aiohttp._websocket.writer import WebSocketWriter

        return {
            "version": aiohttp.__version__,
            "mask": _websocket_mask_cython,
            "Queue": WebSocketDataQueue,
            "Reader": WebSocketReader,
            "Writer": WebSocketWriter,
        }

    def wsproto_peer() -> Any:
        import wsproto
        from wsproto.frame_protocol import FrameProtocol

        return {
            "version": getattr(wsproto, "__version__", "?"),
            "FrameProtocol": FrameProtocol,
        }

    def wsaccel_peer() -> Any:
        import wsaccel
        from wsaccel.utf8validator import Utf8Validator
        from wsaccel.xormask import XorMaskerSimple

        return {
            "version": wsaccel.__version__,
            "Utf8Validator": Utf8Validator,
            "XorMaskerSimple": XorMaskerSimple,
        }

    def nvx_peer() -> Any:
        # the compiled cffi modules themselves, not autobahn's pure-Python fallback
        import _nvx_utf8validator  # noqa: F401
        import _nvx_xormasker  # noqa: F401
        import autobahn
        from autobahn.nvx._utf8validator import Utf8Validator
        from autobahn.nvx._xormasker import create_xor_masker

        return {
            "version": autobahn.__version__,
            "Utf8Validator": Utf8Validator,
            "create_xor_masker": create_xor_masker,
        }

    attempt("websockets", websockets_peer)
    attempt("aiohttp", aiohttp_peer)
    attempt("wsproto", wsproto_peer)
    attempt("wsaccel", wsaccel_peer)
    attempt("autobahn-nvx", nvx_peer)
    return peers
