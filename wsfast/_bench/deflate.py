"""The permessage-deflate workloads (``--only deflate``): streams of masked, compressed JSON
text messages decoded as a server receives them, and compressed messages encoded.

Decoding: context takeover, 15-bit windows, the stream read in 64 KiB pieces, each a fresh
bytes object (sliced inside the timed run, as a socket hands them over), every message's str
read (``.text``: the peers return str).  Peers: aiohttp's ``reader_c`` with ``compress=True``
and ``decode_text=True``, websockets' sans-I/O ``Protocol`` with its ``PerMessageDeflate``.
Encoding: websockets' ``Protocol.send_text`` against ``Encoder.message`` with the same
settings (12-bit window, memLevel 5, level 6: websockets' defaults), so the frames are
byte-identical when both use the same zlib.

wsfast runs once with the zlib module it picked (``wsfast.ZLIB``) and, when that is zlib-ng,
once more with the standard library's (the peers always use the standard library's).
"""

from __future__ import annotations

import json
import random
import zlib as stdlib_zlib
from collections.abc import Callable
from typing import Any

import wsfast
from wsfast import deflate as wsdeflate

from .inputs import LIMIT, KiB, masked_frame, size_label
from .peers import Peers
from .workloads import Entry, Workload, _expect, _Protocol

CHUNK = 64 * KiB


def json_message(i: int, size: int, rng: random.Random) -> str:
    """JSON as applications send it: the same keys every time, values that change."""
    d: dict[str, Any] = {
        "type": rng.choice(["update", "event", "ack"]),
        "id": i,
        "user": rng.choice(["alice", "bob", "carol", "dave"]),
        "ts": 1700000000 + rng.randrange(10**6),
        "value": round(rng.random() * 100, 3),
        "ok": rng.random() < 0.5,
    }
    items: list[dict[str, Any]] = []
    while len(json.dumps(d)) < size - 40:
        items.append({"k": rng.randrange(1000), "v": rng.choice(["red", "green", "blue"])})
        d["items"] = items
    text = json.dumps(d)
    return text + " " * max(0, size - len(text))  # exactly ``size`` bytes


def compressed_stream(messages: list[str], rng: random.Random) -> bytes:
    """Masked client frames, each message compressed on one 15-bit context (RFC 7692 7.2.1:
    sync flush, the trailing 00 00 ff ff removed), by the standard library's zlib."""
    c = stdlib_zlib.compressobj(6, stdlib_zlib.DEFLATED, -15, 8)
    frames = []
    for m in messages:
        payload = (c.compress(m.encode()) + c.flush(stdlib_zlib.Z_SYNC_FLUSH))[:-4]
        frame = bytearray(masked_frame(1, payload, rng.randbytes(4)))
        frame[0] |= 0x40  # RSV1: compressed
        frames.append(bytes(frame))
    return b"".join(frames)


def _with_zlib(module: Any, run: Callable[..., Any]) -> Callable[..., Any]:
    """``run`` with wsfast inflating and deflating on ``module``."""

    def swapped(*args: Any) -> Any:
        saved = wsdeflate.zlib
        wsdeflate.zlib = module
        try:
            return run(*args)
        finally:
            wsdeflate.zlib = saved

    return swapped


def _variants(run: Callable[..., Any]) -> list[tuple[str, Callable[..., Any]]]:
    """wsfast's entries: its own zlib choice, and the standard library's when that differs."""
    out = [("wsfast", run)]
    if wsfast.ZLIB != "zlib":
        out.append(("wsfast (zlib)", _with_zlib(stdlib_zlib, run)))
    return out


AGREED = wsfast.PerMessageDeflate(server_max_window_bits=15, client_max_window_bits=15)


def decode_runners(peers: Peers) -> list[tuple[str, Callable[[bytes], list[str]]]]:
    def wsfast_run(stream: bytes) -> list[str]:
        feed = wsfast.Decoder(extensions=[AGREED], max_message_size=LIMIT).feed
        events: list[Any] = []
        for i in range(0, len(stream), CHUNK):
            events += feed(stream[i : i + CHUNK])
        return [m.text for m in events]

    runners = _variants(wsfast_run)

    ws = peers.get("websockets")
    if ws:
        Protocol, Side, State = ws["Protocol"], ws["Side"], ws["State"]
        from websockets.extensions.permessage_deflate import PerMessageDeflate

        def websockets_run(stream: bytes) -> list[str]:
            p = Protocol(Side.SERVER, state=State.OPEN, max_size=LIMIT)
            p.extensions = [PerMessageDeflate(False, False, 15, 15)]
            out: list[str] = []
            for i in range(0, len(stream), CHUNK):
                p.receive_data(stream[i : i + CHUNK])
                for f in p.events_received():
                    out.append(f.data.decode("utf-8"))  # as its connection does
            if p.parser_exc is not None:
                raise p.parser_exc
            return out

        runners.append(("websockets", websockets_run))

    aio = peers.get("aiohttp")
    if aio:
        Queue, Reader = aio["Queue"], aio["Reader"]

        def aiohttp_run(stream: bytes) -> list[str]:
            queue = Queue(_Protocol(), 2**30, loop=None)
            feed = Reader(queue, LIMIT, compress=True, decode_text=True).feed_data
            for i in range(0, len(stream), CHUNK):
                feed(stream[i : i + CHUNK])
            if queue.exception() is not None:
                raise queue.exception()
            return [msg.data for msg, _size in queue._buffer]

        runners.append(("aiohttp", aiohttp_run))
    return runners


def encode_runners(peers: Peers, settings: wsfast.PerMessageDeflate) -> list[tuple[str, Any]]:
    def wsfast_run(messages: list[str]) -> list[bytes]:
        message = wsfast.Encoder(extensions=[settings]).message
        return [message(m, compress=True) for m in messages]

    runners = _variants(wsfast_run)
    ws = peers.get("websockets")
    if ws:
        Protocol, Side, State = ws["Protocol"], ws["Side"], ws["State"]
        from websockets.extensions.permessage_deflate import PerMessageDeflate

        def websockets_run(messages: list[str]) -> list[bytes]:
            p = Protocol(Side.SERVER, state=State.OPEN)
            p.extensions = [
                PerMessageDeflate(
                    False,
                    False,
                    settings.client_max_window_bits or 15,
                    settings.server_max_window_bits or 15,
                    {"level": settings.compress_level, "memLevel": settings.mem_level},
                )
            ]
            send, take = p.send_text, p.data_to_send
            out: list[bytes] = []
            for m in messages:
                send(m.encode("utf-8"))
                out += take()
            return out

        runners.append(("websockets", websockets_run))
    return runners


def _inflate_frames(frames: list[bytes]) -> list[str]:
    """An independent reading of server frames sent compressed: one 12-bit inflate context."""
    d = stdlib_zlib.decompressobj(-12)
    out = []
    for f in frames:
        if f[0] != 0xC1:
            raise ValueError(f"first byte {f[0]:#x}, expected 0xc1 (FIN, RSV1, text)")
        n, at = f[1] & 0x7F, 2
        if n == 126:
            n, at = int.from_bytes(f[2:4], "big"), 4
        out.append(d.decompress(f[at : at + n] + wsdeflate.TAIL).decode("utf-8"))
    return out


def deflate_workloads(quick: bool, peers: Peers, rng: random.Random) -> list[Workload]:
    out = []
    total = 16 * KiB if quick else 1 << 20
    for size in (125, 16 * KiB) if not quick else (125, 2 * KiB):
        count = max(8, total // size)
        messages = [json_message(i, size, rng) for i in range(count)]
        stream = compressed_stream(messages, rng)
        w = Workload("deflate", f"decode {count} x {size_label(size)} JSON", "msg/s", count)
        w.note = (
            "decode: compressed masked client frames (context takeover, 15-bit window) in"
            f" {size_label(CHUNK)} reads, fresh bytes each, text as str; encode: server frames,"
            " 12-bit window, memLevel 5, level 6 (websockets' defaults), compress forced;"
            f" wsfast on {wsfast.ZLIB}, '(zlib)' on the standard library's"
        )

        def check(run: Callable[[bytes], list[str]], stream: bytes = stream,
                  messages: list[str] = messages) -> str | None:
            return _expect(run(stream), messages, "inflated messages")

        for library, run in decode_runners(peers):
            w.entries.append(Entry(library, run, (stream,), lambda c=check, r=run: c(r)))
        out.append(w)

    settings = wsfast.PerMessageDeflate(
        server_max_window_bits=12, client_max_window_bits=12, compress_level=6, mem_level=5
    )
    count = 64 if quick else 2000
    messages = [json_message(i, 125, rng) for i in range(count)]
    w = Workload("deflate", f"encode {count} x 125 B JSON", "msg/s", count)

    def check_encoded(run: Any, messages: list[str] = messages) -> str | None:
        return _expect(_inflate_frames(run(messages)), messages, "frames inflated")

    for library, run in encode_runners(peers, settings):
        w.entries.append(Entry(library, run, (messages,), lambda c=check_encoded, r=run: c(r)))
    out.append(w)
    return out
