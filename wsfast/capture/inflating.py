"""Compressed messages (RFC 7692 permessage-deflate) as the dissector meets them: the agreed
parameters read from a handshake response (or given on the command line), and one inflater per
direction.

``wsfast.deflate`` is the codec's own implementation; until a checkout has it, a small stand-in
over the standard library's zlib does the same job with the same interface.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any, Protocol

from wsfast.errors import PayloadTooBig, ProtocolError

CLIENT, SERVER = "client", "server"

# RFC 7692 7.2.2: the 4 bytes a sender strips from the end of every compressed message
_TAIL = b"\x00\x00\xff\xff"


class Inflater(Protocol):
    def inflate(self, data: bytes, fin: bool, limit: int) -> bytes: ...


@dataclass(frozen=True)
class Agreed:
    """The RFC 7692 parameters a handshake agreed on (window bits resolved to 8-15)."""

    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False
    server_max_window_bits: int = 15
    client_max_window_bits: int = 15


class _StandInInflater:
    """One direction's inflater: frame payloads in, the message's bytes out (RFC 7692 7.2.2)."""

    def __init__(self, window_bits: int = 15, no_context_takeover: bool = False) -> None:
        # a window at least as large as the sender's always inflates its output, and zlib
        # compresses with 9 bits when asked for 8
        self.window_bits = max(9, window_bits)
        self.no_context_takeover = no_context_takeover
        self._inflate = zlib.decompressobj(-self.window_bits)

    def inflate(self, data: bytes, fin: bool, limit: int) -> bytes:
        try:
            out = self._inflate.decompress(data + _TAIL if fin else data, limit + 1)
        except zlib.error as exc:
            raise ProtocolError(f"invalid compressed data: {exc}", 1007) from None
        if len(out) > limit or self._inflate.unconsumed_tail:
            raise PayloadTooBig(f"message inflates to more than {limit} bytes")
        if fin and self.no_context_takeover:
            self._inflate = zlib.decompressobj(-self.window_bits)
        return out


def _codec() -> Any:
    """``wsfast.deflate`` when this checkout has it, else None."""
    try:
        from wsfast import deflate  # type: ignore[attr-defined]
    except ImportError:
        return None
    return deflate  # pragma: no cover - until permessage-deflate lands


def parse_extensions(value: str) -> tuple[Agreed | None, list[str]]:
    """The permessage-deflate parameters in a response's Sec-WebSocket-Extensions value, and
    what is wrong with it (RFC 7692 7.1: each parameter at most once, window bits 8-15)."""
    codec = _codec()
    if codec is not None:  # pragma: no cover - until permessage-deflate lands
        try:
            agreed = codec.agreed_from_response(value)
        except Exception as exc:  # noqa: BLE001 - any refusal is a problem to show
            return None, [str(exc)]
        if agreed is None:
            return None, []
        return (
            Agreed(
                bool(agreed.server_no_context_takeover),
                bool(agreed.client_no_context_takeover),
                agreed.server_max_window_bits or 15,
                agreed.client_max_window_bits or 15,
            ),
            [],
        )
    problems: list[str] = []
    agreed = None
    for offer in value.split(","):
        name, *params = [part.strip() for part in offer.split(";")]
        if name.lower() != "permessage-deflate":
            if name:
                problems.append(f"unknown extension {name!r}")
            continue
        if agreed is not None:
            problems.append("permessage-deflate agreed twice")
            continue
        fields: dict[str, Any] = {}
        for param in params:
            key, _, raw = param.partition("=")
            key, raw = key.strip().lower(), raw.strip().strip('"')
            if key in fields:
                problems.append(f"duplicated parameter {key}")
            elif key in ("server_no_context_takeover", "client_no_context_takeover") and not raw:
                fields[key] = True
            elif key in ("server_max_window_bits", "client_max_window_bits"):
                if not raw and key == "client_max_window_bits":
                    problems.append("client_max_window_bits without a value in a response")
                elif not (raw.isdigit() and 8 <= int(raw) <= 15):
                    problems.append(f"invalid {key} {raw!r}")
                else:
                    fields[key] = int(raw)
            else:
                problems.append(f"unknown permessage-deflate parameter {param!r}")
        agreed = Agreed(**fields)
    return agreed, problems


def inflater(agreed: Agreed, sender: str) -> Inflater:
    """The inflater for what ``sender`` compressed under ``agreed``."""
    if sender == CLIENT:
        bits, reset = agreed.client_max_window_bits, agreed.client_no_context_takeover
    else:
        bits, reset = agreed.server_max_window_bits, agreed.server_no_context_takeover
    codec = _codec()
    if codec is not None:  # pragma: no cover - until permessage-deflate lands
        made: Inflater = codec.Inflater(window_bits=bits, no_context_takeover=reset)
        return made
    return _StandInInflater(bits, reset)


def describe(agreed: Agreed) -> str:
    parts = ["permessage-deflate"]
    for side in ("client", "server"):
        bits = getattr(agreed, f"{side}_max_window_bits")
        reset = getattr(agreed, f"{side}_no_context_takeover")
        parts.append(f"{side}: window {bits} bits, context {'reset' if reset else 'kept'}")
    return ", ".join(parts)
