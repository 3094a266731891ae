"""permessage-deflate (RFC 7692): the extension's parameters, their negotiation, and the
bounded inflate and the compression of messages.

The zlib module is Python's own, or zlib-ng's (``pip install wsfast[zlib-ng]``), which mirrors
its API and inflates 1.5-2x faster; ``ZLIB`` names the one in use, ``WSFAST_ZLIB=zlib`` forces
the standard library's.  Compression runs in that module, not in wsfast's C file: a message is
one ``decompress`` call either way, and the module's call costs no more than a cffi one would.
"""

from __future__ import annotations

import os
import re
from itertools import repeat
from operator import add
from dataclasses import dataclass, replace
from typing import Any, Iterable, Sequence

from .errors import HandshakeError, PayloadTooBig, ProtocolError


def _choose_zlib() -> tuple[str, Any]:
    choice = os.environ.get("WSFAST_ZLIB", "")
    if choice not in ("", "zlib", "zlib-ng"):
        raise RuntimeError(f"WSFAST_ZLIB: unknown zlib {choice!r}: choose zlib or zlib-ng")
    if choice != "zlib":
        try:
            from zlib_ng import zlib_ng

            return "zlib-ng", zlib_ng
        except ImportError:
            if choice == "zlib-ng":
                raise ImportError(
                    "WSFAST_ZLIB=zlib-ng: zlib-ng is not installed (pip install wsfast[zlib-ng])"
                ) from None
    import zlib

    return "zlib", zlib


ZLIB: str
ZLIB, zlib = _choose_zlib()

NAME = "permessage-deflate"
# RFC 7692 7.2.1: a message's compressed data ends with an empty stored block, 00 00 ff ff,
# which the sender removes and the receiver appends again before inflating.
TAIL = b"\x00\x00\xff\xff"

# Local tuning, chosen by measurement (README, "permessage-deflate"): level 6 costs little more
# than level 1 on small JSON messages and compresses large ones better; memLevel 5 with a
# 12-bit window is the compressor websockets' servers use (about 32 KiB).  Messages shorter than
# the threshold go out uncompressed: below it the deflate header costs more than it saves.
DEFAULT_LEVEL = 6
DEFAULT_MEM_LEVEL = 5
DEFAULT_THRESHOLD = 32
# A server policy that names no window bits asks for this many from clients that let it choose
# (browsers do: they offer a bare client_max_window_bits), and uses it for what it sends.
SERVER_WINDOW_BITS = 12

# A compressed message may be longer on the wire than inflated (stored blocks of incompressible
# data add 5 bytes per 64 KiB, each flush an empty block): the wire limit of a compressed
# message is its inflated limit plus this much.
def wire_limit(limit: int) -> int:
    return limit + (limit >> 8) + 64


@dataclass(frozen=True, kw_only=True)
class PerMessageDeflate:
    """The permessage-deflate extension (RFC 7692).

    As a policy it says what a client offers or what a server accepts; negotiation returns
    one with every RFC parameter resolved (window bits as numbers, 15 where nothing was said),
    to hand to :class:`~wsfast.Decoder` and :class:`~wsfast.Encoder`.

    - ``server_no_context_takeover`` / ``client_no_context_takeover``: that side compresses
      each message on its own (its peer may then inflate each with a fresh state).
    - ``server_max_window_bits`` / ``client_max_window_bits``: the largest LZ77 window (8-15)
      that side compresses with.  A client policy's ``client_max_window_bits=None`` still tells
      the server it may choose one (RFC 7692 7.1.2.2, as browsers do).
    - ``compress_level`` (0-9), ``mem_level`` (1-9): zlib's settings for what this side sends;
      ``threshold``: messages shorter than this many bytes are sent uncompressed unless
      ``Encoder.message(..., compress=True)``.
    """

    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False
    server_max_window_bits: int | None = None
    client_max_window_bits: int | None = None
    compress_level: int = DEFAULT_LEVEL
    mem_level: int = DEFAULT_MEM_LEVEL
    threshold: int = DEFAULT_THRESHOLD

    name = NAME

    def __post_init__(self) -> None:
        for field in ("server_no_context_takeover", "client_no_context_takeover"):
            if type(getattr(self, field)) is not bool:
                raise TypeError(f"{field} must be a bool, not {getattr(self, field)!r}")
        for field in ("server_max_window_bits", "client_max_window_bits"):
            bits = getattr(self, field)
            if bits is not None and (type(bits) is not int or not 8 <= bits <= 15):
                raise ValueError(f"{field} must be None or an integer from 8 to 15, not {bits!r}")
        _check_int("compress_level", self.compress_level, 0, 9)
        _check_int("mem_level", self.mem_level, 1, 9)
        _check_int("threshold", self.threshold, 0, None)

    # --- negotiation -------------------------------------------------------------------------

    def offer(self) -> str:
        """The client's offer, an element of Sec-WebSocket-Extensions."""
        params = [NAME]
        if self.server_no_context_takeover:
            params.append("server_no_context_takeover")
        if self.client_no_context_takeover:
            params.append("client_no_context_takeover")
        if self.server_max_window_bits is not None:
            params.append(f"server_max_window_bits={self.server_max_window_bits}")
        if self.client_max_window_bits is not None:
            params.append(f"client_max_window_bits={self.client_max_window_bits}")
        else:
            params.append("client_max_window_bits")
        return "; ".join(params)

    def accept(
        self, params: Sequence[tuple[str, str | None]]
    ) -> tuple[PerMessageDeflate, str] | None:
        """Server side: the agreed parameters for one offer and the response element that
        states them, or None to decline the offer (an unknown, duplicated or invalid
        parameter: RFC 7692 5 and 7.1)."""
        offer = _read_params(params)
        if offer is None:
            return None
        server_nct, client_nct, server_bits, client_bits = offer
        # 7.1.2.1: a server may always limit its own window, and answers an offered limit with
        # the same or a smaller value.
        own = self.server_max_window_bits or SERVER_WINDOW_BITS
        server = min(server_bits, own) if type(server_bits) is int else own
        # 7.1.2.2: it may limit the client's window only when the client offered the parameter
        if client_bits is None:
            client = 15
        elif client_bits is True:
            client = self.client_max_window_bits or SERVER_WINDOW_BITS
        else:
            client = min(client_bits, self.client_max_window_bits or 15)
        agreed = replace(
            self,
            server_no_context_takeover=server_nct or self.server_no_context_takeover,
            client_no_context_takeover=client_nct or self.client_no_context_takeover,
            server_max_window_bits=server,
            client_max_window_bits=client,
        )
        answer = [NAME]
        if agreed.server_no_context_takeover:
            answer.append("server_no_context_takeover")
        if agreed.client_no_context_takeover:
            answer.append("client_no_context_takeover")
        # an offered parameter is answered even at 15: websockets' client requires it
        if server < 15 or server_bits is not None:
            answer.append(f"server_max_window_bits={server}")
        if client_bits is not None:
            answer.append(f"client_max_window_bits={client}")
        return agreed, "; ".join(answer)

    def check(self, params: Sequence[tuple[str, str | None]]) -> PerMessageDeflate:
        """Client side: the agreed parameters from the server's answer to this offer; raises
        HandshakeError when the answer breaks it (RFC 7692 5 and 7.1)."""
        answer = _read_params(params)
        if answer is None:
            shown = "; ".join(n if v is None else f"{n}={v}" for n, v in params)
            raise HandshakeError(f"invalid permessage-deflate parameters {shown!r}")
        server_nct, client_nct, server_bits, client_bits = answer
        if self.server_no_context_takeover and not server_nct:
            raise HandshakeError("permessage-deflate answer lacks server_no_context_takeover")
        if server_bits is True:
            raise HandshakeError("server_max_window_bits without a value in the answer")
        if self.server_max_window_bits is not None:
            if server_bits is None:
                raise HandshakeError("permessage-deflate answer lacks server_max_window_bits")
            if server_bits > self.server_max_window_bits:
                raise HandshakeError(
                    f"server_max_window_bits={server_bits} exceeds the offered "
                    f"{self.server_max_window_bits}"
                )
        if client_bits is True:
            raise HandshakeError("client_max_window_bits without a value in the answer")
        if client_bits is not None and self.client_max_window_bits is not None:
            if client_bits > self.client_max_window_bits:
                raise HandshakeError(
                    f"client_max_window_bits={client_bits} exceeds the offered "
                    f"{self.client_max_window_bits}"
                )
        return replace(
            self,
            server_no_context_takeover=server_nct,
            client_no_context_takeover=client_nct or self.client_no_context_takeover,
            server_max_window_bits=server_bits or 15,
            client_max_window_bits=client_bits or self.client_max_window_bits or 15,
        )

    # --- what each direction uses ------------------------------------------------------------

    def sending(self, client: bool) -> tuple[int, bool]:
        """(window bits, no context takeover) of what the ``client`` side (or the server) sends,
        for agreed parameters."""
        if client:
            return self.client_max_window_bits or 15, self.client_no_context_takeover
        return self.server_max_window_bits or 15, self.server_no_context_takeover


def _check_int(name: str, value: Any, low: int, high: int | None) -> None:
    if type(value) is not int or value < low or (high is not None and value > high):
        upper = f" to {high}" if high is not None else " or more"
        raise ValueError(f"{name} must be an integer from {low}{upper}, not {value!r}")


_BITS = re.compile(r"[1-9][0-9]?")


def _bits(value: str | None) -> int | bool | None:
    """A window-bits value: an int 8-15, True for no value; None when invalid."""
    if value is None:
        return True
    if not _BITS.fullmatch(value) or not 8 <= int(value) <= 15:
        return None
    return int(value)


def _read_params(
    params: Sequence[tuple[str, str | None]],
) -> tuple[bool, bool, int | bool | None, int | bool | None] | None:
    """(server_nct, client_nct, server_bits, client_bits) of a parameter list, each bits None
    when absent, True when present without a value; None for an unknown, duplicated or invalid
    parameter."""
    seen = set()
    server_nct = client_nct = False
    server_bits: int | bool | None = None
    client_bits: int | bool | None = None
    for name, value in params:
        if name in seen:
            return None
        seen.add(name)
        if name in ("server_no_context_takeover", "client_no_context_takeover"):
            if value is not None:
                return None
            if name[0] == "s":
                server_nct = True
            else:
                client_nct = True
        elif name in ("server_max_window_bits", "client_max_window_bits"):
            bits = _bits(value)
            if bits is None or (bits is True and name[0] == "s"):
                return None
            if name[0] == "s":
                server_bits = bits
            else:
                client_bits = bits
        else:
            return None
    return server_nct, client_nct, server_bits, client_bits


# --- Sec-WebSocket-Extensions (RFC 6455 9.1) --------------------------------------------------

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_PARAM = re.compile(
    r"\s*([!#$%&'*+\-.^_`|~0-9A-Za-z]+)\s*(?:=\s*(?:([!#$%&'*+\-.^_`|~0-9A-Za-z]+)"
    r'|"((?:[^"\\]|\\.)*)"))?\s*'
)


def parse_extensions(values: Iterable[str]) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """The extensions listed by Sec-WebSocket-Extensions header values: (name, [(param,
    value)]) in order, empty list elements skipped (RFC 7230 7).  Raises ValueError on a
    malformed value; a quoted parameter value must unquote to a token (RFC 6455 9.1)."""
    result: list[tuple[str, list[tuple[str, str | None]]]] = []
    for text in values:
        for element in text.split(","):
            if not element.strip():
                continue
            name, *rest = element.split(";")
            if not _TOKEN.fullmatch(name.strip()):
                raise ValueError(f"malformed sec-websocket-extensions {text!r}")
            params: list[tuple[str, str | None]] = []
            for item in rest:
                m = _PARAM.fullmatch(item)
                if m is None:
                    raise ValueError(f"malformed sec-websocket-extensions {text!r}")
                value = m[2]
                if m[3] is not None:
                    value = re.sub(r"\\(.)", r"\1", m[3])
                    if not _TOKEN.fullmatch(value):
                        raise ValueError(f"malformed sec-websocket-extensions {text!r}")
                params.append((m[1], value))
            result.append((name.strip(), params))
    return result


def agreed_from_response(value: str) -> PerMessageDeflate | None:
    """The agreed parameters a server's Sec-WebSocket-Extensions value states, without the
    offer it answers (for dissecting captured traffic); None when it has no valid
    permessage-deflate."""
    try:
        extensions = parse_extensions([value])
    except ValueError:
        return None
    for name, params in extensions:
        if name.lower() == NAME:
            answer = _read_params(params)
            if answer is None:
                return None
            server_nct, client_nct, server_bits, client_bits = answer
            return PerMessageDeflate(
                server_no_context_takeover=server_nct,
                client_no_context_takeover=client_nct,
                server_max_window_bits=server_bits if type(server_bits) is int else 15,
                client_max_window_bits=client_bits if type(client_bits) is int else 15,
            )
    return None


def checked(extensions: Iterable[Any]) -> tuple[PerMessageDeflate, ...]:
    """``extensions`` as a tuple; TypeError for anything but PerMessageDeflate."""
    out = tuple(extensions)
    for ext in out:
        if not isinstance(ext, PerMessageDeflate):
            raise TypeError(f"unsupported extension {ext!r}: wsfast implements permessage-deflate")
    return out


def find(extensions: Sequence[Any]) -> PerMessageDeflate | None:
    """The PerMessageDeflate among agreed extensions (None without one); TypeError for
    anything else, ValueError for two."""
    found = checked(extensions)
    if len(found) > 1:
        raise ValueError("permessage-deflate given twice")
    return found[0] if found else None


# --- inflating (receiving) ---------------------------------------------------------------------


class Inflater:
    """Inflates the frames of compressed messages, never past a size limit.

    ``window_bits`` is the sender's agreed window (a larger inflate window accepts data made
    with any smaller one; zlib inflates raw deflate from 9 bits up); ``no_context_takeover``:
    the sender starts every message afresh, so the state is dropped after each message and no
    memory is held while idle.
    """

    __slots__ = ("_wbits", "_reset", "_z", "produced")

    def __init__(self, window_bits: int = 15, no_context_takeover: bool = False) -> None:
        self._wbits = -max(window_bits, 9)
        self._reset = no_context_takeover
        self._z: Any = None
        self.produced = 0  # bytes of the message in progress inflated so far

    def inflate(self, data: bytes, fin: bool, limit: int | None) -> bytes:
        """One frame's payload of a compressed message, inflated; with ``fin`` the message
        ends here.  ``limit``: the most the whole message may inflate to (None: no limit).
        Raises PayloadTooBig as soon as the output passes it (inflating no further) and
        ProtocolError (1007) for invalid compressed data; either leaves the inflater unusable
        for the rest of the connection, as the decoder that raised it."""
        if fin:
            data += TAIL
        z = self._z or zlib.decompressobj(self._wbits)
        out = self._run(z, data, self.produced, limit)
        if fin:
            self.produced = 0
            if self._reset:
                self._z = None
        else:
            self.produced += len(out)
        return out

    def whole_messages(
        self, payloads: Sequence[bytes], limit: int | None, out: list[bytes]
    ) -> None:
        """Single-frame messages' payloads, inflated into ``out``: ``inflate(payload, True,
        limit)`` for each, in one pass (the common case of small compressed messages).  On an
        error ``out`` holds the messages before the one that raised it."""
        if self._reset or self.produced or len(payloads) < _MAPPED_FROM:
            for payload in payloads:
                out.append(self.inflate(payload, True, limit))
            return
        z = self._z or zlib.decompressobj(self._wbits)
        saved = z.copy()
        cap = 0 if limit is None else limit + 1
        try:
            # no Python code per message; what it cannot see (a final block, a message past
            # the limit) is checked after, and then the batch is done again one by one
            inflated = list(map(z.decompress, map(add, payloads, repeat(TAIL)), repeat(cap)))
        except zlib.error:
            inflated = None
        if inflated is None or z.eof or (limit is not None and max(map(len, inflated)) > limit):
            self._z = saved
            for payload in payloads:
                out.append(self.inflate(payload, True, limit))
            return
        self._z = z
        out += inflated

    def _run(self, z: Any, data: bytes, produced: int, limit: int | None) -> bytes:
        """Inflate ``data`` on ``z``, the message having produced ``produced`` bytes so far;
        leaves the stream to go on with in ``self._z``."""
        try:
            # one byte more than the limit allows: output of that size is an error, output
            # below it means the input is used up (websockets #1715: at exactly the limit,
            # more output may be pending)
            out = z.decompress(data, 0 if limit is None else limit - produced + 1)
            if z.eof or (limit is not None and produced + len(out) > limit):
                return self._finish(z, out, produced, limit)
        except zlib.error as exc:
            raise ProtocolError(f"invalid compressed data ({exc})", 1007) from None
        self._z = z
        return out

    def _finish(self, z: Any, out: bytes, produced: int, limit: int | None) -> bytes:
        """After ``z.decompress`` gave ``out``: fail past the limit; after a final block, go on
        with a new stream (RFC 7692 7.2.3.4: what follows a BFINAL block starts one).  At most
        MEMBERS final blocks per frame, so that a frame of empty ones costs bounded time."""
        parts = [out]
        produced += len(out)
        for _ in range(MEMBERS):
            if limit is not None and produced > limit:
                self._z = None
                raise PayloadTooBig(f"message inflates to more than max_message_size {limit} bytes")
            if not z.eof:
                break
            data = z.unused_data
            z = zlib.decompressobj(self._wbits)
            if not data or data == TAIL:
                break  # the tail appended at the message's end ends nothing after a final block
            piece = z.decompress(data, 0 if limit is None else limit - produced + 1)
            parts.append(piece)
            produced += len(piece)
        else:
            raise ProtocolError(f"more than {MEMBERS} final deflate blocks in a frame", 1007)
        self._z = z
        return b"".join(parts)


MEMBERS = 1024
# From this many messages in one batch, inflating them through map (about 70 ns less per
# message) outweighs the copy of the inflate state (0.2-0.5 us) that lets the rare case redo it.
_MAPPED_FROM = 8


# --- compressing (sending) -------------------------------------------------------------------


class Compressor:
    """Compresses whole messages for one direction of agreed parameters."""

    __slots__ = ("_compress", "_flush", "_mode")

    def __init__(self, window_bits: int, no_context_takeover: bool, level: int, mem_level: int):
        # zlib refuses an 8-bit raw deflate window; its 9-bit output never reaches back more
        # than 256 bytes (the window less the lookahead), so a peer's 8-bit inflater takes it
        z = zlib.compressobj(level, zlib.DEFLATED, -max(window_bits, 9), mem_level)
        self._compress = z.compress
        self._flush = z.flush
        # 7.2.1: an empty stored block ends each message (and is removed); Z_FULL_FLUSH also
        # forgets the history, which no context takeover requires
        self._mode = zlib.Z_FULL_FLUSH if no_context_takeover else zlib.Z_SYNC_FLUSH

    def compress(self, data: Any) -> bytes:
        out = self._compress(data) + self._flush(self._mode)
        return out[:-4]  # the flush always ends with 00 00 ff ff
