"""How close text-as-str decoding can come to aiohttp/2: the cost of the objects alone.

    python bench/text_floor.py              # 16 B, 125 B and 1000 B ASCII text, 7 rounds
    python bench/text_floor.py --rounds 11

The stream is the one of ``python -m wsfast bench --only decode``: masked client frames of one
size, read in 64 KiB pieces, each a fresh bytes object.  Interleaved in rounds (medians, ns per
message, garbage collector off while timing), four entries:

- ``wsfast``: ``Decoder(decode_text=True).feed`` on every read, the whole decode;
- ``aiohttp``: its Cython reader with ``decode_text=True``;
- ``floor``: what any decoder that hands out one str in one tuple-subclass message per text
  message pays in CPython, with no unmasking, no validation and no parsing at all: the 64 KiB
  slice per read, every str made from payload bytes already unmasked, validated and framed (one
  ``marshal.loads`` per read, the cheapest route from bytes to str found), and wsfast's message
  tuple per str;
- ``floor, strs only``: the same without the message tuples.

``aiohttp / floor`` is then the largest ratio over aiohttp that a decoder making these objects
could reach, whatever its codec costs.
"""

from __future__ import annotations

import argparse
import gc
import marshal
import random
import statistics
import struct
import sys
import time
from itertools import repeat
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import wsfast  # noqa: E402
from wsfast._bench.inputs import masked_frame  # noqa: E402
from wsfast._bench.workloads import _Protocol  # noqa: E402
from wsfast.decoder import _make_text  # noqa: E402

CHUNK = 64 * 1024
TOTAL = 256 * 1024


def streams(size: int, rng: random.Random) -> tuple[bytes, list[bytes]]:
    count = TOTAL // (size + (6 if size < 126 else 8))
    texts = [bytes(rng.choice(b"abcdefghij {}:,\"0123") for _ in range(size)) for _ in range(count)]
    return b"".join(masked_frame(1, t, rng.randbytes(4)) for t in texts), texts


def marshal_reads(stream: bytes, texts: list[bytes]) -> list[bytes]:
    """Per 64 KiB read of the stream, the marshal tuple of the text messages it completes."""
    out, done, taken = [], 0, 0
    for end in range(CHUNK, len(stream) + CHUNK, CHUNK):
        end = min(end, len(stream))
        batch = []
        while taken < len(texts):
            n = len(texts[taken])
            frame = (6 if n < 126 else 8) + n
            if done + frame > end:
                break
            batch.append(texts[taken])
            done += frame
            taken += 1
        head = struct.Struct("<cI")
        out.append(head.pack(b"(", len(batch)) + b"".join(head.pack(b"u", len(t)) + t for t in batch))
    assert taken == len(texts)
    return out


def entries(stream: bytes, texts: list[bytes]) -> dict[str, Callable[[], Any]]:
    from aiohttp._websocket.reader_c import WebSocketDataQueue, WebSocketReader

    reads = marshal_reads(stream, texts)
    pieces = range(0, len(stream), CHUNK)
    loads = marshal.loads

    def run_wsfast() -> Any:
        feed = wsfast.Decoder(max_message_size=None, decode_text=True).feed
        events: list[Any] = []
        for i in pieces:
            events += feed(stream[i : i + CHUNK])
        return [m.text for m in events]

    def run_aiohttp() -> Any:
        queue = WebSocketDataQueue(_Protocol(), 2**30, loop=None)
        feed = WebSocketReader(queue, 2**30, compress=False, decode_text=True).feed_data
        for i in pieces:
            feed(stream[i : i + CHUNK])
        return [m.data for m, _ in queue._buffer]

    def run_floor() -> Any:
        events: list[Any] = []
        for i, framed in zip(pieces, reads):
            stream[i : i + CHUNK]
            events += map(_make_text, zip(loads(framed), repeat(True)))
        return [m.text for m in events]

    def run_strs() -> Any:
        strs: list[Any] = []
        for i, framed in zip(pieces, reads):
            stream[i : i + CHUNK]
            strs += loads(framed)
        return strs

    want = [t.decode() for t in texts]
    runs = {"wsfast": run_wsfast, "aiohttp": run_aiohttp, "floor": run_floor,
            "floor, strs only": run_strs}
    for name, run in runs.items():
        if run() != want:
            raise SystemExit(f"{name}: wrong result")
    return runs


def sample(run: Callable[[], Any], count: int, min_ns: int = 20_000_000) -> float:
    """ns per message over repeated runs lasting at least min_ns, the collector off."""
    gc.disable()
    try:
        n, took = 0, 0
        t0 = time.perf_counter_ns()
        while took < min_ns:
            run()
            n += 1
            took = time.perf_counter_ns() - t0
        return took / n / count
    finally:
        gc.enable()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--sizes", default="16,125,1000")
    args = p.parse_args()
    rng = random.Random(6455)
    print(f"wsfast {wsfast.__version__} backend={wsfast.BACKEND}, CPython {sys.version.split()[0]}")
    print("ns per message, medians of", args.rounds, "interleaved rounds")
    print(f"{'size':>6}  {'wsfast':>8}  {'aiohttp':>8}  {'floor':>8}  {'strs only':>9}"
          f"  {'aiohttp/wsfast':>14}  {'aiohttp/floor':>13}")
    for size in (int(s) for s in args.sizes.split(",")):
        stream, texts = streams(size, rng)
        runs = entries(stream, texts)
        samples: dict[str, list[float]] = {name: [] for name in runs}
        names = list(runs)
        for r in range(args.rounds):
            for name in names[r % len(names):] + names[: r % len(names)]:
                samples[name].append(sample(runs[name], len(texts)))
        med = {name: statistics.median(v) for name, v in samples.items()}
        print(f"{size:>4} B  {med['wsfast']:8.1f}  {med['aiohttp']:8.1f}  {med['floor']:8.1f}"
              f"  {med['floor, strs only']:9.1f}  {med['aiohttp'] / med['wsfast']:13.2f}x"
              f"  {med['aiohttp'] / med['floor']:12.2f}x")


if __name__ == "__main__":
    main()
