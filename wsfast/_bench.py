"""``python -m wsfast bench``: wsfast against every installed peer, interleaved in one run.

Every library gets the same input bytes.  Before anything is timed, each library's result is
checked once against a reference that does not use wsfast (a big-integer XOR for masking, the
text the input was encoded from for UTF-8 and decoding, a small independent frame parser for
encoding); a library whose result is wrong is left out of the table with the reason.

Timing: for each workload every library is first calibrated to a loop that takes at least
``--min-time`` milliseconds; then ``--rounds`` rounds take one sample of each library in turn
(the order rotates every round), so slow drifts of a shared machine hit every library alike.
The table shows the median per operation; ratios are wsfast's throughput over the peer's.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import statistics
import struct
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from itertools import repeat
from typing import Any

import wsfast

GROUPS = ("mask", "utf8", "decode", "encode")
KEY = bytes.fromhex("37fa213d")
KiB = 1024
MiB = 1024 * 1024
LIMIT = 16 * MiB  # message size limit given to every decoder
TEXT_KINDS = ("ascii", "cjk", "emoji-greek")
# columns of the tables, wsfast first, the yardsticks last
ORDER = (
    "wsfast",
    "wsfast .text",
    "websockets",
    "aiohttp",
    "wsproto",
    "wsaccel",
    "autobahn-nvx",
    "bytes.decode",
    "copy",
)


# --------------------------------------------------------------------------------------------
# Inputs and independent references


def size_label(n: int) -> str:
    if n >= MiB and n % MiB == 0:
        return f"{n // MiB} MiB"
    if n >= KiB and n % KiB == 0:
        return f"{n // KiB} KiB"
    return f"{n} B"


def reference_mask(data: bytes, mask: bytes) -> bytes:
    """RFC 6455 5.3 with Python integers: byte i XOR mask[i % 4]."""
    n = len(data)
    key = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(key, "little")).to_bytes(
        n, "little"
    )


_POOLS: dict[str, list[str]] = {
    "ascii": list("abcdefghijklmnopqrstuvwxyz") * 4
    + list("ABCDEFGHIJ0123456789 ,.:;!?-\"'{}[]")
    + [" "] * 20,
    # CJK Unified Ideographs (3 bytes each) with a few ideographic punctuation marks
    "cjk": [chr(c) for c in range(0x4E00, 0x9FA6, 7)] + ["\u3001", "\u3002", "\uff0c"],
    # Greek letters (2 bytes), emoji (4 bytes) and spaces (1 byte)
    "emoji-greek": [chr(c) for c in range(0x03B1, 0x03CA)]
    + [chr(c) for c in range(0x1F600, 0x1F650)]
    + [chr(c) for c in range(0x1F300, 0x1F330)]
    + [" "] * 8,
}


def make_text(kind: str, size: int, rng: random.Random) -> bytes:
    """Valid UTF-8 of exactly ``size`` bytes drawn from one kind of text."""
    pool = _POOLS[kind]
    width = {"ascii": 1, "cjk": 3, "emoji-greek": 2}[kind]
    chars = "".join(rng.choices(pool, k=size // width + 8))
    data = chars.encode("utf-8")[:size]
    # cut back to a code point boundary, then pad with ASCII to the exact size
    cut = len(data)
    while cut and (data[cut - 1] & 0xC0) == 0x80:
        cut -= 1
    if cut and data[cut - 1] >= 0xC0:
        lead = data[cut - 1]
        need = 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4
        if len(data) - (cut - 1) < need:
            cut -= 1
        else:
            cut = len(data)
    data = data[:cut] + b" " * (size - cut)
    data.decode("utf-8")  # valid by construction
    return data


def masked_frame(opcode: int, payload: bytes, key: bytes) -> bytes:
    """A complete, masked (client-to-server) frame built without wsfast."""
    n = len(payload)
    first = 0x80 | opcode
    if n < 126:
        head = struct.pack("!BB", first, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", first, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", first, 0x80 | 127, n)
    return head + key + reference_mask(payload, key)


def parse_frames(data: bytes) -> list[tuple[int, bytes]]:
    """(opcode, unmasked payload) of every complete frame in ``data``; raises on leftovers."""
    out = []
    at = 0
    while at < len(data):
        b0, b1 = data[at], data[at + 1]
        n = b1 & 0x7F
        at += 2
        if n == 126:
            (n,) = struct.unpack_from("!H", data, at)
            at += 2
        elif n == 127:
            (n,) = struct.unpack_from("!Q", data, at)
            at += 8
        key = None
        if b1 & 0x80:
            key = data[at : at + 4]
            at += 4
        payload = bytes(data[at : at + n])
        if len(payload) != n:
            raise ValueError(f"truncated frame: {len(payload)} of {n} payload bytes")
        at += n
        if not b0 & 0x80:
            raise ValueError("unexpected fragment")
        out.append((b0 & 0x0F, reference_mask(payload, key) if key else payload))
    return out


# --------------------------------------------------------------------------------------------
# Workloads


@dataclass
class Entry:
    """One library's way to do a workload: ``fn(*args)`` is one timed operation; ``check()``
    returns None when the result is right, else why it is not."""

    library: str
    fn: Callable[..., Any]
    args: tuple
    check: Callable[[], str | None]


@dataclass
class Workload:
    group: str
    name: str
    unit: str  # "GB/s" or "msg/s"
    amount: int  # bytes (GB/s) or messages (msg/s) per operation
    entries: list[Entry] = field(default_factory=list)
    note: str = ""


def _expect(got: Any, want: Any, what: str) -> str | None:
    if got == want:
        return None
    return f"{what} differs from the reference"


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


def mask_workloads(
    sizes: Sequence[int], peers: Peers, rng: random.Random
) -> list[Workload]:
    out = []
    for n in sizes:
        data = rng.randbytes(n)
        want = reference_mask(data, KEY)
        source = bytearray(data)

        w = Workload("mask", f"copy {size_label(n)}", "GB/s", n)
        w.entries.append(
            Entry(
                "wsfast",
                wsfast.apply_mask,
                (data, KEY),
                lambda d=data, want=want: _expect(
                    wsfast.apply_mask(d, KEY), want, "apply_mask"
                ),
            )
        )
        ws = peers.get("websockets")
        if ws:
            am = ws["apply_mask"]
            w.entries.append(
                Entry(
                    "websockets",
                    am,
                    (data, KEY),
                    lambda am=am, d=data, want=want: _expect(
                        am(d, KEY), want, "speedups.apply_mask"
                    ),
                )
            )
        acc = peers.get("wsaccel")
        if acc:
            Masker = acc["XorMaskerSimple"]

            def wsaccel_mask(d: bytes, m: bytes, Masker: Any = Masker) -> bytes:
                return Masker(m).process(
                    d
                )  # one masker per frame, as wsaccel's users do

            w.entries.append(
                Entry(
                    "wsaccel",
                    wsaccel_mask,
                    (data, KEY),
                    lambda f=wsaccel_mask, d=data, want=want: _expect(
                        bytes(f(d, KEY)), want, "XorMaskerSimple"
                    ),
                )
            )
        nvx = peers.get("autobahn-nvx")
        if nvx:
            create = nvx["create_xor_masker"]

            def nvx_mask(d: bytes, m: bytes, create: Any = create) -> bytes:
                return create(m, len(d)).process(
                    d
                )  # autobahn makes one masker per frame

            w.entries.append(
                Entry(
                    "autobahn-nvx",
                    nvx_mask,
                    (data, KEY),
                    lambda f=nvx_mask, d=data, want=want: _expect(
                        bytes(f(d, KEY)), want, "create_xor_masker"
                    ),
                )
            )
        w.entries.append(
            Entry(
                "copy",
                bytes,
                (source,),
                lambda s=source, d=data: _expect(bytes(s), d, "bytes(bytearray)"),
            )
        )
        w.note = (
            "copy = bytes(bytearray), the memory-speed limit; wsaccel and autobahn-nvx make one"
            " masker per frame, as their users do"
        )
        out.append(w)

    for n in sizes:
        data = rng.randbytes(n)
        want = reference_mask(data, KEY)
        w = Workload("mask", f"in place {size_label(n)}", "GB/s", n)

        def check_inplace(
            f: Callable[[bytearray], None],
            what: str,
            d: bytes = data,
            want: bytes = want,
        ) -> str | None:
            buf = bytearray(d)
            f(buf)
            return _expect(bytes(buf), want, what)

        w.entries.append(
            Entry(
                "wsfast",
                wsfast.apply_mask_inplace,
                (bytearray(data), KEY),
                lambda c=check_inplace: c(
                    lambda b: wsfast.apply_mask_inplace(b, KEY), "apply_mask_inplace"
                ),
            )
        )
        aio = peers.get("aiohttp")
        if aio:
            wm = aio["mask"]
            w.entries.append(
                Entry(
                    "aiohttp",
                    wm,
                    (KEY, bytearray(data)),
                    lambda c=check_inplace, wm=wm: c(
                        lambda b: wm(KEY, b), "websocket_mask"
                    ),
                )
            )
        out.append(w)
    return out


def utf8_workloads(
    sizes: Sequence[int], peers: Peers, rng: random.Random
) -> list[Workload]:
    out = []
    acc = peers.get("wsaccel")
    nvx = peers.get("autobahn-nvx")
    for kind in TEXT_KINDS:
        for n in sizes:
            data = make_text(kind, n, rng)
            # an invalid copy: 0xFF (never valid in UTF-8) in the middle must be rejected
            bad = data[: n // 2] + b"\xff" + data[n // 2 + 1 :]
            w = Workload("utf8", f"{kind} {size_label(n)}", "GB/s", n)

            def check(
                valid: Callable[[bytes], bool], d: bytes = data, bad: bytes = bad
            ) -> str | None:
                if valid(d) is not True:
                    return "valid text rejected"
                if valid(bad) is not False:
                    return "invalid text accepted"
                return None

            w.entries.append(
                Entry(
                    "wsfast",
                    wsfast.validate_utf8,
                    (data,),
                    lambda c=check: c(wsfast.validate_utf8),
                )
            )

            def decodes(d: bytes) -> bool:
                try:
                    d.decode("utf-8")
                except UnicodeDecodeError:
                    return False
                return True

            w.entries.append(
                Entry(
                    "bytes.decode",
                    bytes.decode,
                    (data, "utf-8"),
                    lambda c=check: c(decodes),
                )
            )
            for name, peer in (("wsaccel", acc), ("autobahn-nvx", nvx)):
                if not peer:
                    continue
                Validator = peer["Utf8Validator"]

                def fresh_valid(d: bytes, V: Any = Validator) -> bool:
                    return bool(V().validate(d)[0])

                # one validator kept across calls: on complete valid text it returns to its
                # start state, as it does between the messages of a connection
                timed = Validator()
                w.entries.append(
                    Entry(
                        name,
                        timed.validate,
                        (data,),
                        lambda c=check, f=fresh_valid: c(f),
                    )
                )
            out.append(w)
    return out


def _decode_stream(
    kind: str, msg_size: int, count: int, rng: random.Random
) -> tuple[list[bytes], list[bytes], int]:
    """(originals, frames, opcode): ``count`` masked messages of ``msg_size`` bytes."""
    opcode = 2 if kind == "binary" else 1
    if kind == "binary":
        msgs = [rng.randbytes(msg_size) for _ in range(count)]
    else:
        msgs = [make_text(kind, msg_size, rng) for _ in range(count)]
    frames = [masked_frame(opcode, m, rng.randbytes(4)) for m in msgs]
    return msgs, frames, opcode


class _Protocol:
    """The transport-side protocol aiohttp's queue and writer expect; never paused."""

    _reading_paused = False
    _paused = False

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


class _Transport:
    def __init__(self, keep: bool) -> None:
        self.written: list[bytes] = []
        self.write = self.written.append if keep else self._drop

    @staticmethod
    def _drop(data: Any) -> None:
        pass

    def is_closing(self) -> bool:
        return False


def _as_bytes(x: Any) -> bytes:
    return x.encode("utf-8") if isinstance(x, str) else bytes(x)


Runner = tuple[str, Callable[[list[bytes]], Any], Callable[[Any], list[Any]]]


def decode_runners(peers: Peers) -> list[Runner]:
    """(library, run, extract): ``run(chunks)`` decodes one stream the way the library's users
    get validated messages; ``extract`` turns its result into payloads, outside the timing."""

    def wsfast_run(chunks: list[bytes], Decoder: Any = wsfast.Decoder) -> list[Any]:
        feed = Decoder(client=False, max_message_size=LIMIT).feed
        events: list[Any] = []
        for c in chunks:
            events += feed(c)
        return events

    def wsfast_extract(events: list[Any]) -> list[bytes]:
        return [m.data for m in events]

    def wsfast_text_run(chunks: list[bytes]) -> list[Any]:
        return [m.text if m.is_text else m.data for m in wsfast_run(chunks)]

    runners: list[Runner] = [
        ("wsfast", wsfast_run, wsfast_extract),
        ("wsfast .text", wsfast_text_run, list),
    ]

    ws = peers.get("websockets")
    if ws:
        Protocol, Side, State, TEXT = (
            ws["Protocol"],
            ws["Side"],
            ws["State"],
            ws["Opcode"].TEXT,
        )

        def websockets_run(chunks: list[bytes]) -> list[Any]:
            p = Protocol(Side.SERVER, state=State.OPEN, max_size=LIMIT)
            out: list[Any] = []
            for c in chunks:
                p.receive_data(c)
                for f in p.events_received():
                    # its connection layer decodes text frames; that is its UTF-8 check
                    out.append(f.data.decode("utf-8") if f.opcode is TEXT else f.data)
            if p.parser_exc is not None:
                raise p.parser_exc
            return out

        runners.append(("websockets", websockets_run, list))

    aio = peers.get("aiohttp")
    if aio:
        Queue, Reader = aio["Queue"], aio["Reader"]

        def aiohttp_run(chunks: list[bytes]) -> Any:
            queue = Queue(_Protocol(), 2**30, loop=None)
            feed = Reader(queue, LIMIT, compress=False, decode_text=True).feed_data
            for c in chunks:
                feed(c)
            if queue.exception() is not None:
                raise queue.exception()
            return queue._buffer

        def aiohttp_extract(buffer: Any) -> list[Any]:
            return [msg.data for msg, _size in buffer]

        runners.append(("aiohttp", aiohttp_run, aiohttp_extract))

    wp = peers.get("wsproto")
    if wp:
        FrameProtocol = wp["FrameProtocol"]

        def wsproto_run(chunks: list[bytes]) -> list[Any]:
            p = FrameProtocol(client=False, extensions=[])
            frames: list[Any] = []
            for c in chunks:
                p.receive_bytes(c)
                frames.extend(p.received_frames())
            return frames

        def wsproto_extract(frames: list[Any]) -> list[Any]:
            out, parts = [], []
            for f in frames:
                parts.append(f.payload)
                if f.message_finished:
                    out.append(parts[0][:0].join(parts))
                    parts = []
            return out

        runners.append(("wsproto", wsproto_run, wsproto_extract))
    return runners


def decode_workloads(quick: bool, peers: Peers, rng: random.Random) -> list[Workload]:
    chunk = 1000 if quick else 64 * KiB
    small_total = 6 * KiB if quick else 256 * KiB
    big = 4 * KiB if quick else MiB
    big_count = 2 if quick else 4
    specs = [
        ("ascii", 16, small_total // 22),
        ("ascii", 125, small_total // 131),
        ("ascii", 1000, small_total // 1008),
        ("ascii", big, big_count),
        ("cjk", big, big_count),
        ("binary", big, big_count),
    ]
    runners = decode_runners(peers)
    out = []
    for kind, msg_size, count in specs:
        msgs, frames, opcode = _decode_stream(kind, msg_size, count, rng)
        stream = b"".join(frames)
        chunks = [stream[i : i + chunk] for i in range(0, len(stream), chunk)]
        small = msg_size <= 4096
        what = "binary" if kind == "binary" else f"{kind} text"
        name = f"{len(msgs)} x {size_label(msg_size)} {what}"
        amount = len(msgs) if small else len(msgs) * msg_size
        w = Workload("decode", name, "msg/s" if small else "GB/s", amount)
        w.note = (
            f"masked client frames fed to a server-side decoder in {size_label(chunk)} chunks;"
            " each library's path to a validated message: wsfast Message (bytes), wsfast .text"
            " (then str), websockets Frame + decode as its connection does, aiohttp str"
            " (decode_text=True), wsproto str"
        )

        def check(
            run: Callable[[list[bytes]], Any],
            extract: Callable[[Any], list[Any]],
            msgs: list[bytes] = msgs,
            chunks: list[bytes] = chunks,
        ) -> str | None:
            got = [_as_bytes(x) for x in extract(run(chunks))]
            if len(got) != len(msgs):
                return f"{len(got)} messages instead of {len(msgs)}"
            return _expect(got, msgs, "decoded payloads")

        for library, run, extract in runners:
            if library == "wsfast .text" and opcode != 1:
                continue
            w.entries.append(
                Entry(
                    library, run, (chunks,), lambda c=check, r=run, e=extract: c(r, e)
                )
            )
        out.append(w)
    return out


def encode_workloads(quick: bool, peers: Peers, rng: random.Random) -> list[Workload]:
    big = 4 * KiB if quick else MiB
    specs = [
        ("server", "ascii", 16),
        ("server", "ascii", 125),
        ("server", "cjk", 1000),
        ("server", "cjk", 64 * KiB),
        ("client", "binary", 125),
        ("client", "binary", big),
    ]
    out = []
    for side, kind, n in specs:
        client = side == "client"
        if kind == "binary":
            payload: Any = rng.randbytes(n)
            opcode = 2
        else:
            payload = make_text(kind, n, rng).decode("utf-8")
            opcode = 1
        want = [(opcode, _as_bytes(payload))]
        what = "binary, masked" if client else f"{kind} text"
        w = Workload("encode", f"{side} {size_label(n)} {what}", "GB/s", n)
        w.note = "one message in one frame; client frames get a fresh random key"

        def check(
            frame: Callable[[], Any],
            want: list[tuple[int, bytes]] = want,
            client: bool = client,
        ) -> str | None:
            data = bytes(frame())
            if bool(data[1] & 0x80) != client:
                return "masking bit wrong for this side"
            return _expect(parse_frames(data), want, "encoded frame")

        enc = wsfast.Encoder(client=client)
        w.entries.append(
            Entry(
                "wsfast",
                enc.message,
                (payload,),
                lambda c=check, e=enc, p=payload: c(lambda: e.message(p)),
            )
        )

        ws = peers.get("websockets")
        if ws:
            Frame, Opcode = ws["Frame"], ws["Opcode"]
            op = Opcode(opcode)

            def websockets_frame(
                p: Any, Frame: Any = Frame, op: Any = op, client: bool = client
            ) -> bytes:
                data = p.encode("utf-8") if type(p) is str else p
                return Frame(op, data).serialize(mask=client)

            w.entries.append(
                Entry(
                    "websockets",
                    websockets_frame,
                    (payload,),
                    lambda c=check, f=websockets_frame, p=payload: c(lambda: f(p)),
                )
            )

        aio = peers.get("aiohttp")
        if aio:
            Writer = aio["Writer"]
            writer = Writer(_Protocol(), _Transport(keep=False), use_mask=client)

            def aiohttp_frame(
                p: Any, write: Any = writer._write_websocket_frame, op: int = opcode
            ) -> None:
                # what send_str / send_bytes do before their (here never needed) drain
                write(p.encode("utf-8") if type(p) is str else p, op, 0)

            def aiohttp_check_frame(
                p: Any = payload,
                client: bool = client,
                Writer: Any = Writer,
                op: int = opcode,
            ) -> bytes:
                transport = _Transport(keep=True)
                Writer(_Protocol(), transport, use_mask=client)._write_websocket_frame(
                    _as_bytes(p), op, 0
                )
                return b"".join(transport.written)

            w.entries.append(
                Entry(
                    "aiohttp",
                    aiohttp_frame,
                    (payload,),
                    lambda c=check, f=aiohttp_check_frame: c(f),
                )
            )

        wp = peers.get("wsproto")
        if wp:
            proto = wp["FrameProtocol"](client=client, extensions=[])
            w.entries.append(
                Entry(
                    "wsproto",
                    proto.send_data,
                    (payload,),
                    lambda c=check, s=proto.send_data, p=payload: c(lambda: s(p)),
                )
            )
        out.append(w)
    return out


# --------------------------------------------------------------------------------------------
# Timing


def _loop(fn: Callable[..., Any], args: tuple, n: int) -> int:
    """Nanoseconds for ``n`` calls of ``fn(*args)``; no per-call unpacking for 1-2 arguments."""
    counter = time.perf_counter_ns
    if len(args) == 1:
        (a,) = args
        t0 = counter()
        for _ in repeat(None, n):
            fn(a)
        return counter() - t0
    if len(args) == 2:
        a, b = args
        t0 = counter()
        for _ in repeat(None, n):
            fn(a, b)
        return counter() - t0
    t0 = counter()
    for _ in repeat(None, n):
        fn(*args)
    return counter() - t0


def _sample(fn: Callable[..., Any], args: tuple, n: int) -> float:
    """One sample: ns per call over ``n`` calls, with the garbage collector held off."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _loop(fn, args, n) / n
    finally:
        if enabled:
            gc.enable()


def _calibrate(fn: Callable[..., Any], args: tuple, min_ns: int) -> int:
    """Calls per sample so that one sample lasts at least ``min_ns``."""
    n = 1
    while True:
        took = _loop(fn, args, n)
        if took >= min_ns or n >= 1 << 24:
            return n
        # grow towards the target, at most tenfold per step
        n = max(n + 1, min(n * 10, int(n * 1.2 * min_ns / max(took, 1))))


@dataclass
class Result:
    group: str
    workload: str
    library: str
    unit: str
    amount: int
    calls_per_sample: int
    samples_ns: list[float]

    @property
    def median_ns(self) -> float:
        return statistics.median(self.samples_ns)

    @property
    def throughput(self) -> float:
        """GB/s (bytes per ns) or messages per second."""
        if self.unit == "GB/s":
            return self.amount / self.median_ns
        return self.amount * 1e9 / self.median_ns


def run_workload(w: Workload, rounds: int, min_ns: int, out: Any) -> list[Result]:
    calls = {e.library: _calibrate(e.fn, e.args, min_ns) for e in w.entries}
    samples: dict[str, list[float]] = {e.library: [] for e in w.entries}
    for r in range(rounds):
        shift = r % len(w.entries)
        for e in w.entries[shift:] + w.entries[:shift]:
            samples[e.library].append(_sample(e.fn, e.args, calls[e.library]))
        out.write(".")
        out.flush()
    return [
        Result(
            w.group,
            w.name,
            e.library,
            w.unit,
            w.amount,
            calls[e.library],
            samples[e.library],
        )
        for e in w.entries
    ]


# --------------------------------------------------------------------------------------------
# Report


def _fmt(value: float, unit: str) -> str:
    if unit == "msg/s":
        if value >= 1e6:
            return f"{value / 1e6:.2f} M/s"
        return f"{value / 1e3:.1f} k/s"
    if value >= 10:
        return f"{value:.1f} GB/s"
    if value >= 0.1:
        return f"{value:.2f} GB/s"
    return f"{value * 1000:.1f} MB/s"


def table(results: list[Result], group: str) -> str:
    rows = [r for r in results if r.group == group]
    if not rows:
        return ""
    present = {r.library for r in rows}
    libraries = [lib for lib in ORDER if lib in present] + sorted(present - set(ORDER))
    workloads: list[str] = []
    for r in rows:
        if r.workload not in workloads:
            workloads.append(r.workload)
    by = {(r.workload, r.library): r for r in rows}
    header = ["workload"] + libraries
    lines = []
    for name in workloads:
        base = by.get((name, "wsfast"))
        cells = [name]
        for lib in libraries:
            found = by.get((name, lib))
            if found is None:
                cells.append("-")
            elif lib == "wsfast" or base is None:
                cells.append(_fmt(found.throughput, found.unit))
            else:
                cells.append(
                    f"{_fmt(found.throughput, found.unit)}"
                    f" ({base.throughput / found.throughput:.2f}x)"
                )
        lines.append(cells)
    widths = [max(len(row[i]) for row in [header] + lines) for i in range(len(header))]
    text = ["  ".join(h.ljust(wd) for h, wd in zip(header, widths))]
    text.append("  ".join("-" * wd for wd in widths))
    for row in lines:
        text.append(
            "  ".join(
                [row[0].ljust(widths[0])]
                + [c.rjust(wd) for c, wd in zip(row[1:], widths[1:])]
            )
        )
    return "\n".join(text)


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    if hasattr(os, "getloadavg"):
        info["loadavg"] = [round(x, 2) for x in os.getloadavg()]
    return info


def plot(results: list[Result], groups: Iterable[str], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # one panel per group and unit, so messages/s and GB/s never share an axis
    panels = [
        (g, u)
        for g in groups
        for u in ("msg/s", "GB/s")
        if any(r.group == g and r.unit == u for r in results)
    ]
    fig, axes = plt.subplots(
        len(panels), 1, figsize=(12, 3.6 * len(panels)), squeeze=False
    )
    for ax, (group, unit) in zip(axes[:, 0], panels):
        rows = [r for r in results if r.group == group and r.unit == unit]
        workloads = list(dict.fromkeys(r.workload for r in rows))
        present = {r.library for r in rows}
        libraries = [lib for lib in ORDER if lib in present] + sorted(
            present - set(ORDER)
        )
        width = 0.8 / len(libraries)
        by = {(r.workload, r.library): r for r in rows}
        for i, lib in enumerate(libraries):
            xs, ys = [], []
            for j, name in enumerate(workloads):
                if (name, lib) in by:
                    xs.append(j + (i - (len(libraries) - 1) / 2) * width)
                    ys.append(by[(name, lib)].throughput)
            ax.bar(xs, ys, width, label=lib)
        ax.set_yscale("log")
        ax.set_xticks(range(len(workloads)))
        ax.set_xticklabels(workloads, rotation=20, ha="right", fontsize=8)
        ax.set_ylabel(unit)
        ax.set_title(
            f"{group}, {unit} (median of interleaved rounds; higher is better)",
            fontsize=10,
        )
        ax.legend(fontsize=7, ncol=5)
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------------------------------
# Entry point


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m wsfast bench", description=__doc__.split("\n\n")[0]
    )
    p.add_argument(
        "--quick", action="store_true", help="tiny sizes, one round: a smoke run"
    )
    p.add_argument(
        "--only",
        action="append",
        metavar="GROUP",
        help=f"run only these groups ({', '.join(GROUPS)}); repeat or comma-separate",
    )
    p.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="interleaved rounds (default 7, quick 1)",
    )
    p.add_argument(
        "--min-time",
        type=float,
        default=None,
        metavar="MS",
        help="minimum duration of one sample in ms (default 20, quick 0.2)",
    )
    p.add_argument(
        "--plot", metavar="FILE.png", help="write a chart (needs matplotlib)"
    )
    p.add_argument(
        "--json",
        metavar="FILE",
        help="write every sample and the machine details as JSON",
    )
    return p.parse_args(list(argv))


def main(argv: Sequence[str] | None = None, out: Any = None) -> int:
    out = out or sys.stdout
    args = parse_args(sys.argv[1:] if argv is None else argv)
    groups = list(GROUPS)
    if args.only:
        wanted = [g.strip() for item in args.only for g in item.split(",") if g.strip()]
        unknown = [g for g in wanted if g not in GROUPS]
        if unknown:
            out.write(
                f"unknown group {unknown[0]!r}: choose from {', '.join(GROUPS)}\n"
            )
            return 2
        groups = [g for g in GROUPS if g in wanted]
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            out.write(
                "--plot needs matplotlib, which is not installed: pip install 'wsfast[plot]'\n"
            )
            return 2
    rounds = args.rounds if args.rounds is not None else (1 if args.quick else 7)
    min_ns = int(
        (args.min_time if args.min_time is not None else (0.2 if args.quick else 20.0))
        * 1e6
    )
    if rounds < 1 or min_ns < 0:
        out.write(f"rounds must be at least 1, not {rounds}\n")
        return 2

    kernels = getattr(wsfast, "KERNELS", None)
    info = machine()
    out.write(
        f"wsfast {wsfast.__version__}  backend={wsfast.BACKEND}  kernels={kernels}\n"
    )
    out.write(
        f"{info.get('implementation')} {info.get('python')} on {info.get('cpu', info.get('platform'))}"
        f", {info.get('cpus')} CPUs, load {info.get('loadavg')}\n"
    )
    peers = load_peers()
    for name, peer in peers.available.items():
        out.write(f"  peer {name} {peer.get('version', '?')}\n")
    for name, reason in peers.skipped.items():
        out.write(f"  peer {name} skipped: {reason}\n")

    rng = random.Random(6455)
    sizes = [16, 125, 1000] if args.quick else [16, 125, 1000, 64 * KiB, MiB]
    builders = {
        "mask": lambda: mask_workloads(sizes, peers, rng),
        "utf8": lambda: utf8_workloads(sizes, peers, rng),
        "decode": lambda: decode_workloads(args.quick, peers, rng),
        "encode": lambda: encode_workloads(args.quick, peers, rng),
    }
    workloads = [w for g in groups for w in builders[g]()]

    # every result checked once, before any timing
    failures: dict[str, str] = {}
    for w in workloads:
        kept: list[Entry] = []
        for e in w.entries:
            try:
                why = e.check()
            except Exception as exc:  # noqa: BLE001 - a crash is a failed check, reported
                why = f"{type(exc).__name__}: {exc}"
            if why is None:
                kept.append(e)
            else:
                failures[f"{w.group}/{w.name}/{e.library}"] = why
                out.write(
                    f"  check failed, left out: {w.group} {w.name} {e.library}: {why}\n"
                )
        w.entries = kept
    checked = sum(len(w.entries) for w in workloads)
    out.write(
        f"checked {checked} results against independent references"
        f" ({len(failures)} failed); timing {len(workloads)} workloads x {rounds} rounds\n"
    )

    results: list[Result] = []
    started = time.perf_counter()
    for i, w in enumerate(workloads, 1):
        out.write(f"[{i:2d}/{len(workloads)}] {w.group:6s} {w.name:34s} ")
        out.flush()
        t0 = time.perf_counter()
        if w.entries:
            results.extend(run_workload(w, rounds, min_ns, out))
        out.write(f" {time.perf_counter() - t0:.1f}s\n")
    out.write(
        f"done in {time.perf_counter() - started:.1f}s; medians of {rounds} interleaved rounds;"
        " (Nx) = wsfast's throughput / the library's\n"
    )

    for g in groups:
        notes = sorted({w.note for w in workloads if w.group == g and w.note})
        out.write(f"\n{g}" + (f" ({'; '.join(notes)})" if notes else "") + "\n")
        out.write(table(results, g) + "\n")
    if peers.skipped:
        out.write(
            "\nnot measured: "
            + "; ".join(f"{k} ({v})" for k, v in peers.skipped.items())
            + "\n"
        )

    if args.json:
        report = {
            "wsfast": wsfast.__version__,
            "backend": wsfast.BACKEND,
            "kernels": kernels,
            "machine": info,
            "rounds": rounds,
            "min_sample_ns": min_ns,
            "quick": args.quick,
            "peers": {k: v.get("version", "?") for k, v in peers.available.items()},
            "skipped": peers.skipped,
            "checked": checked,
            "check_failures": failures,
            "results": [
                {
                    "group": r.group,
                    "workload": r.workload,
                    "library": r.library,
                    "unit": r.unit,
                    "amount": r.amount,
                    "calls_per_sample": r.calls_per_sample,
                    "samples_ns": r.samples_ns,
                    "median_ns": r.median_ns,
                    "throughput": r.throughput,
                }
                for r in results
            ],
        }
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
        out.write(f"wrote {args.json}\n")
    if args.plot:
        plot(results, groups, args.plot)
        out.write(f"wrote {args.plot}\n")
    # a wrong result from wsfast itself is a failure of the run
    return 1 if any(k.endswith(("/wsfast", "/wsfast .text")) for k in failures) else 0
