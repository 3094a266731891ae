"""Compressed messages (RFC 7692 permessage-deflate) as the dissector meets them: the agreed
parameters read from a handshake response (or given with ``--deflate``), and the codec's own
bounded inflater for each direction."""

from __future__ import annotations

from wsfast import deflate
from wsfast.deflate import Inflater, PerMessageDeflate

CLIENT = "client"
RFC_FIELDS = (
    "server_no_context_takeover",
    "client_no_context_takeover",
    "server_max_window_bits",
    "client_max_window_bits",
)


def parse_extensions(value: str) -> tuple[PerMessageDeflate | None, list[str]]:
    """The permessage-deflate parameters a response's Sec-WebSocket-Extensions value agrees
    on, and what is wrong with it."""
    try:
        names = [name.lower() for name, _ in deflate.parse_extensions([value])]
    except ValueError as exc:
        return None, [str(exc)]
    agreed = deflate.agreed_from_response(value)
    if agreed is None and deflate.NAME in names:
        return None, [f"invalid permessage-deflate parameters in {value!r}"]
    if names.count(deflate.NAME) > 1:
        return agreed, ["permessage-deflate agreed twice"]
    return agreed, []


def inflater(agreed: PerMessageDeflate, sender: str) -> Inflater:
    """The inflater for what ``sender`` compressed under ``agreed``."""
    return Inflater(*agreed.sending(client=sender == CLIENT))


def fields(agreed: PerMessageDeflate) -> dict[str, object]:
    return {name: getattr(agreed, name) for name in RFC_FIELDS}


def describe(agreed: PerMessageDeflate) -> str:
    parts = ["permessage-deflate"]
    for side in ("client", "server"):
        bits, reset = agreed.sending(client=side == CLIENT)
        parts.append(f"{side}: window {bits} bits, context {'reset' if reset else 'kept'}")
    return ", ".join(parts)
