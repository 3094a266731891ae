"""Memory per compressed connection, and compression speed and ratio, for a few settings.

    python bench/deflate_memory.py [--connections N]

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=2000)
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
