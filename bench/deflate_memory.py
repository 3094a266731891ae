"""Memory per compressed connection, and compression speed and ratio, for a few settings.

    python bench/deflate_memory.py [--connections N] [--defaults]

For each setting a server agrees permessage-deflate with a browser's offer
(``permessage-deflate; client_max_window_bits``), then each of N connections (a server-side
Decoder and Encoder, the state a server keeps per connection) receives and sends a few JSON
messages, so that zlib has allocated its windows, and is left idle.  The memory held per
idle connection is tracemalloc's count (zlib's allocations go through Python's allocator, so
it sees them) over N connections, divided by N; websockets' figures are measured the same way
with its own PerMessageDeflate at its defaults, for comparison.  Speed: one connection
compressing and inflating 1000 JSON messages of about 1 KB, median of 5 runs.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import wsfast  # noqa: E402
from wsfast._bench.deflate import json_message  # noqa: E402

BROWSER_OFFER = "permessage-deflate; client_max_window_bits"

SETTINGS = {
    "default (12-bit windows, memLevel 5)": wsfast.PerMessageDeflate(),
    "15-bit windows, memLevel 8 (zlib's defaults)": wsfast.PerMessageDeflate(
        server_max_window_bits=15, client_max_window_bits=15, mem_level=8
    ),
    "10-bit windows, memLevel 4": wsfast.PerMessageDeflate(
        server_max_window_bits=10, client_max_window_bits=10, mem_level=4
    ),
    "no context takeover either side": wsfast.PerMessageDeflate(
        server_no_context_takeover=True, client_no_context_takeover=True
    ),
}


def agreed(policy: wsfast.PerMessageDeflate) -> wsfast.PerMessageDeflate:
    request = wsfast.build_request("localhost")
    headers = [*request.headers, ("Sec-WebSocket-Extensions", BROWSER_OFFER)]
    (ext,) = wsfast.accept_request("GET", "HTTP/1.1", headers, extensions=[policy]).extensions
    return ext


def client_frames(ext: wsfast.PerMessageDeflate, messages: list[str]) -> bytes:
    encoder = wsfast.Encoder(client=True, extensions=[ext])
    return b"".join(encoder.message(m, compress=True) for m in messages)


def wsfast_connections(ext: wsfast.PerMessageDeflate, n: int, traffic: bytes, replies: list[str]):
    conns = []
    for _ in range(n):
        decoder = wsfast.Decoder(extensions=[ext])
        encoder = wsfast.Encoder(extensions=[ext])
        events = decoder.feed(traffic)
        assert len(events) == len(replies)
        for m in replies:
            encoder.message(m, compress=True)
        conns.append((decoder, encoder))
    return conns


def websockets_connections(n: int, traffic: bytes, replies: list[str]):
    from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
    from websockets.protocol import Protocol, Side, State

    # websockets' server defaults (serve(compression="deflate")): 12-bit windows, memLevel 5
    factory = ServerPerMessageDeflateFactory(
        server_max_window_bits=12, client_max_window_bits=12, compress_settings={"memLevel": 5}
    )
    conns = []
    for _ in range(n):
        _, extension = factory.process_request_params([("client_max_window_bits", None)], [])
        p = Protocol(Side.SERVER, state=State.OPEN, max_size=2**24)
        p.extensions = [extension]
        p.receive_data(traffic)
        assert len(p.events_received()) == len(replies)
        for m in replies:
            p.send_text(m.encode())
        p.data_to_send()
        conns.append(p)
    return conns


def per_connection(build, n: int) -> float:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    conns = build(n)
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del conns
    return held / n / 1024


def speed(ext: wsfast.PerMessageDeflate, messages: list[str]) -> tuple[float, float, float]:
    """(compress µs/msg, inflate µs/msg, ratio) on one connection."""
    raw = sum(len(m.encode()) for m in messages)
    comp, infl, ratio = [], [], 0.0
    for _ in range(5):
        encoder = wsfast.Encoder(client=True, extensions=[ext])
        t = time.perf_counter()
        frames = [encoder.message(m, compress=True) for m in messages]
        comp.append(time.perf_counter() - t)
        stream = b"".join(frames)
        decoder = wsfast.Decoder(extensions=[ext])
        t = time.perf_counter()
        events = decoder.feed(stream)
        infl.append(time.perf_counter() - t)
        assert [e.text for e in events] == messages
        ratio = raw / len(stream)
    n = len(messages)
    return statistics.median(comp) / n * 1e6, statistics.median(infl) / n * 1e6, ratio


def zlib_modules() -> list[tuple[str, object]]:
    import zlib

    out: list[tuple[str, object]] = [("zlib", zlib)]
    try:
        from zlib_ng import zlib_ng

        out.append(("zlib-ng", zlib_ng))
    except ImportError:
        pass
    return out


def defaults_evidence(rng: random.Random) -> None:
    """What the defaults were chosen from: level against ratio and time, each zlib module's
    memory per compressor and inflater, its inflate speed, and where compressing starts to pay."""
    small = [json_message(i, 100, rng).encode() for i in range(2000)]
    large = [json_message(i, 16384, rng).encode() for i in range(40)]
    print("\n| zlib | level | 100 B JSON: µs/msg, ratio | 16 KiB JSON: µs/msg, ratio |")
    print("|---|---|---|---|")
    for name, z in zlib_modules():
        for level in (1, 6, 9):
            cells = []
            for msgs in (small, large):
                times, size = [], 0
                for _ in range(3):
                    c = z.compressobj(level, z.DEFLATED, -12, 5)  # type: ignore[attr-defined]
                    t = time.perf_counter()
                    out = [c.compress(m) + c.flush(z.Z_SYNC_FLUSH) for m in msgs]  # type: ignore[attr-defined]
                    times.append(time.perf_counter() - t)
                    size = sum(len(o) - 4 for o in out)
                raw = sum(map(len, msgs))
                cells.append(f"{min(times) / len(msgs) * 1e6:.2f}, {raw / size:.2f}")
            print(f"| {name} | {level} | {cells[0]} | {cells[1]} |")
    print("\n| zlib | compressor, 12 bits, memLevel 5 / 8 (KiB) | inflater, 12 / 15 bits (KiB) |"
          " inflate 16 KiB JSON (µs/msg) |")
    print("|---|---|---|---|")
    z0 = __import__("zlib")
    c0 = z0.compressobj(6, z0.DEFLATED, -15)
    stream = [c0.compress(m) + c0.flush(z0.Z_SYNC_FLUSH) for m in large]
    for name, z in zlib_modules():
        sizes = []
        for make in (
            lambda: z.compressobj(6, z.DEFLATED, -12, 5),  # type: ignore[attr-defined]
            lambda: z.compressobj(6, z.DEFLATED, -12, 8),  # type: ignore[attr-defined]
            lambda: z.decompressobj(-12),  # type: ignore[attr-defined]
            lambda: z.decompressobj(-15),  # type: ignore[attr-defined]
        ):
            tracemalloc.start()
            objs = []
            for _ in range(100):
                o = make()
                if hasattr(o, "flush") and hasattr(o, "compress"):
                    o.compress(b"x" * 300)
                    o.flush(z.Z_SYNC_FLUSH)  # type: ignore[attr-defined]
                else:
                    o.decompress(stream[0])
                objs.append(o)
            sizes.append(tracemalloc.get_traced_memory()[0] / 100 / 1024)
            tracemalloc.stop()
        times = []
        for _ in range(5):
            d = z.decompressobj(-15)  # type: ignore[attr-defined]
            t = time.perf_counter()
            for chunk in stream:
                d.decompress(chunk)
            times.append(time.perf_counter() - t)
        print(f"| {name} | {sizes[0]:.0f} / {sizes[1]:.0f} | {sizes[2]:.0f} / {sizes[3]:.0f} |"
              f" {min(times) / len(stream) * 1e6:.1f} |")
    print("\n| message size | compressed shorter than sent (of 200), level 6, 12-bit window: "
          "each on a fresh context / on one context kept across them |")
    print("|---|---|")
    for n in (8, 16, 24, 32, 48, 64):
        fresh = kept = 0
        shared = z0.compressobj(6, z0.DEFLATED, -12, 5)
        for i in range(200):
            m = json.dumps({"id": rng.randrange(10**6), "ok": True, "user": "alice"})[:n].encode()
            c = z0.compressobj(6, z0.DEFLATED, -12, 5)
            fresh += len(c.compress(m) + c.flush(z0.Z_SYNC_FLUSH)) - 4 < len(m)
            kept += len(shared.compress(m) + shared.flush(z0.Z_SYNC_FLUSH)) - 4 < len(m)
        print(f"| {n} B | {fresh} / {kept} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument(
        "--defaults", action="store_true", help="also what the defaults were chosen from"
    )
    args = parser.parse_args()
    rng = random.Random(7692)
    replies = [json_message(i, 300, rng) for i in range(3)]
    sample = [json_message(i, 1000, rng) for i in range(1000)]
    print(f"wsfast {wsfast.__version__}, backend {wsfast.BACKEND}, zlib module {wsfast.ZLIB}")
    print(f"{args.connections} idle connections each; speed over 1000 JSON messages of ~1 KB\n")
    print("| setting | agreed (server's answer) | KiB per idle connection | compress µs/msg | "
          "inflate µs/msg | ratio |")
    print("|---|---|---|---|---|---|")
    for name, policy in SETTINGS.items():
        ext = agreed(policy)
        traffic = client_frames(ext, replies)
        kib = per_connection(lambda n: wsfast_connections(ext, n, traffic, replies), args.connections)
        comp, infl, ratio = speed(ext, sample)
        answer = f"{ext.server_max_window_bits}/{ext.client_max_window_bits} bits" + (
            ", no context takeover" if ext.server_no_context_takeover else ""
        )
        print(f"| {name} | {answer} | {kib:.1f} | {comp:.2f} | {infl:.2f} | {ratio:.2f} |")
    plain = per_connection(
        lambda n: [(wsfast.Decoder(), wsfast.Encoder()) for _ in range(n)], args.connections
    )
    print(f"| no compression | | {plain:.1f} | | | |")
    try:
        ws_ext = agreed(wsfast.PerMessageDeflate())
        traffic = client_frames(ws_ext, replies)
        kib = per_connection(lambda n: websockets_connections(n, traffic, replies), args.connections)
        print(f"| websockets {__import__('websockets').__version__} sans-I/O Protocol, its "
              f"defaults | 12/12 bits | {kib:.1f} | | | |")
    except ImportError as exc:
        print(f"websockets not measured: {exc}")
    if args.defaults:
        defaults_evidence(rng)
    return 0


if __name__ == "__main__":
    sys.exit(main())
