"""wsproto and websockets, unpatched and patched by wsfast.patch(), side by side in one run.

    python bench/patched_peers.py              # 3 process starts x 15 rounds
    python bench/patched_peers.py --rounds 5 --processes 5
    python bench/patched_peers.py --read 256   # reads of 256 KiB, as uvicorn's

Each workload is a stream of masked client frames, each one a whole text message, cut into
64 KiB reads (``--read``) as a socket hands them over (freshly sliced bytes objects on every pass, as a
socket gives a new object per read), and decoded by a server-side connection the way its
users get messages:

- wsproto: ``wsproto.connection.Connection(SERVER)``, ``receive_data`` per read, then every
  ``TextMessage`` from ``events()`` (its MessageDecoder has decoded and checked the UTF-8);
- websockets: ``websockets.protocol.Protocol(SERVER)``, ``receive_data`` per read, then every
  frame from ``events_received()``, its text decoded as its connection's assembler does (and,
  for reference, the frames alone, as its sans-I/O layer delivers them).

The two modes run interleaved, round after round (unpatch, time; patch, time), so both see
the same machine; each round times enough repetitions for 50 ms of this process's CPU time
(``--clock wall`` for elapsed time; on a machine shared with other work, CPU time leaves out
the time spent waiting for a core).  The table gives the medians,
and as the ratio the median of the rounds' own ratios (each pair timed back to back, so a
machine busy with other work weighs on both alike).  Before any timing, both modes' results are checked against the messages sent.
The whole run is repeated in ``--processes`` fresh processes: at 64 KiB the figures follow
the allocator's state, which differs from one start to the next, so the summary gives each
workload's median ratio over the starts with the lowest and highest.
Targets (issue 5): wsproto 2x at 125 B and 5x at 64 KiB, websockets 2x at 64 KiB.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import random
import statistics
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script from a checkout: use that checkout's wsfast
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import wsfast
from wsfast import integrations

KiB = 1024
READ = 64 * KiB  # bytes per receive_data call
MIN_NS = 50_000_000  # per sample
CLOCK = time.process_time_ns  # --clock: this process's CPU time, or wall time


def text(size: int, rng: random.Random, kind: str) -> bytes:
    """``size`` bytes of valid UTF-8: JSON-like ASCII, or mostly ASCII with some accented
    letters and euro signs ("mixed": CPython's decoder leaves its ASCII fast path)."""
    words = ['{"id":', "1234,", '"name":', '"frame",', '"mask":', "true}", "payload", "ok"]
    if kind == "mixed":
        words += ["héllo", "naïve", "€uro"]
    out = bytearray()
    while len(out) < size:
        out += rng.choice(words).encode() + b" "
    del out[size:]
    try:
        out.decode()
    except UnicodeDecodeError as exc:  # a code point cut at the end: spaces instead
        out[exc.start :] = b" " * (size - exc.start)
    return bytes(out)


def masked(payload: bytes, key: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x81, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x81, 0xFE, n)
    else:
        head = struct.pack("!BBQ", 0x81, 0xFF, n)
    k = int.from_bytes((key * (n // 4 + 1))[:n], "little")
    return head + key + (int.from_bytes(payload, "little") ^ k).to_bytes(n, "little")


class Reads:
    """A stream handed over in ``READ``-byte reads, as fresh bytes objects on every pass (a
    socket gives a new object per read: the same chunk objects fed again and again leave the
    allocator in a state no server sees)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def fresh(self) -> list[bytes]:
        data = self.data
        return [data[i : i + READ] for i in range(0, len(data), READ)]


def stream(size: int, total: int, seed: int, kind: str) -> tuple[list[str], Reads]:
    rng = random.Random(seed)
    msgs = [text(size, rng, kind) for _ in range(max(1, total // size))]
    data = b"".join(masked(m, rng.randbytes(4)) for m in msgs)
    return [m.decode() for m in msgs], Reads(data)


# --- the libraries, as their users drive them ------------------------------------------------


def wsproto_run(chunks: list[bytes], keep: bool = False) -> Any:
    from wsproto.connection import Connection, ConnectionType
    from wsproto.events import TextMessage

    conn = Connection(ConnectionType.SERVER)
    out: list[str] = []
    parts: list[str] = []
    n = 0
    for chunk in chunks:
        conn.receive_data(chunk)
        for event in conn.events():
            if type(event) is not TextMessage:
                raise AssertionError(f"unexpected {event!r}")
            if event.message_finished:
                n += 1
            if keep:  # the check, outside the timing: messages joined from their parts
                parts.append(event.data)
                if event.message_finished:
                    out.append("".join(parts))
                    parts = []
    return out if keep else n


def websockets_run(chunks: list[bytes], keep: bool = False, decode: bool = True) -> Any:
    from websockets.frames import Opcode
    from websockets.protocol import Protocol, Side, State

    p = Protocol(Side.SERVER, state=State.OPEN, max_size=None)
    out: list[Any] = []
    n = 0
    for chunk in chunks:
        p.receive_data(chunk)
        for frame in p.events_received():
            if frame.opcode is not Opcode.TEXT or not frame.fin:
                raise AssertionError(f"unexpected {frame!r}")
            # what its assembler does with a whole text message
            message = frame.data.decode() if decode else frame.data
            n += 1
            if keep:
                out.append(message if decode else message.decode())
    if p.parser_exc is not None:
        raise p.parser_exc
    return out if keep else n


def websockets_frames(chunks: list[bytes], keep: bool = False) -> Any:
    """Its sans-I/O layer alone: the frames, text left undecoded (bytes)."""
    return websockets_run(chunks, keep, decode=False)


def unmask_and_decode(chunks: list[bytes], keep: bool = False) -> Any:
    """The floor under any websockets patch that keeps its str messages: each 64 KiB masked
    text frame unmasked into its bytes (wsfast, as the patch does) and decoded, with nothing
    of websockets around it.  Handles only this stream's frames (127-length headers)."""
    from wsfast.integrations._shared import assembler, slice_unmasker

    start = assembler(wsfast._api, slice_unmasker(wsfast._api))
    out: list[str] = []
    n = 0
    left = b""
    pending = False
    for chunk in chunks:
        src = left + chunk if left else chunk
        pos, left = 0, b""
        while True:
            if not pending:
                if len(src) - pos < 14:
                    left = src[pos:]
                    break
                length = int.from_bytes(src[pos + 2 : pos + 10], "big")
                key = src[pos + 10 : pos + 14]
                pos += 14
                write, finish = start(length, key)
                got, pending = 0, True
            take = min(len(src) - pos, length - got)
            if take:
                write(src, pos, take, got)
                pos, got = pos + take, got + take
            if got < length:
                break
            message = finish().decode()
            pending = False
            n += 1
            if keep:
                out.append(message)
    return out if keep else n


# --- timing ------------------------------------------------------------------------------------


def sample(fn: Callable[[list[bytes]], Any], reads: Reads, loops: int) -> float:
    """CPU (or wall) ns per pass over the stream, each pass on freshly sliced reads; the
    slicing stays outside the timing."""
    gc.collect()
    took = 0
    for _ in range(loops):
        chunks = reads.fresh()
        t0 = CLOCK()
        fn(chunks)
        took += CLOCK() - t0
        del chunks
    return took / loops


def calibrate(fn: Callable[[list[bytes]], Any], chunks: Reads) -> int:
    loops = 1
    while True:
        t = sample(fn, chunks, loops) * loops
        if t >= MIN_NS:
            return loops
        loops = max(loops + 1, int(loops * MIN_NS / max(t, 1) * 1.1))


WORKLOADS = [
    # (library, run, message size, stream size, target ratio)
    ("wsproto", wsproto_run, 125, 256 * KiB, 2.0),
    ("wsproto", wsproto_run, 64 * KiB, 2 * 1024 * KiB, 5.0),
    ("websockets", websockets_run, 64 * KiB, 2 * 1024 * KiB, 2.0),
    ("websockets", websockets_run, 125, 256 * KiB, None),
    ("websockets", websockets_frames, 64 * KiB, 2 * 1024 * KiB, None),
    ("websockets", websockets_frames, 125, 256 * KiB, None),
]


def label(size: int) -> str:
    return f"{size // KiB} KiB" if size % KiB == 0 else f"{size} B"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds (default 15)")
    parser.add_argument(
        "--clock",
        choices=["cpu", "wall"],
        default="cpu",
        help="cpu: this process's CPU time (default; on a shared machine, time spent waiting"
        " for a core is not counted); wall: elapsed time",
    )
    parser.add_argument(
        "--quick", action="store_true", help="short streams and samples: a smoke test, no figures"
    )
    parser.add_argument(
        "--text",
        choices=["ascii", "mixed"],
        default="ascii",
        help="ascii: JSON-like (default); mixed: with accented letters and euro signs",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=3,
        help="process starts, each running every round (default 3; --quick: 1): the figures"
        " at 64 KiB follow the allocator's state, which differs from one start to the next",
    )
    parser.add_argument(
        "--read",
        type=int,
        default=64,
        metavar="KIB",
        help="KiB per receive_data call (default 64, hypercorn's reads; uvicorn's are 256)",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.processes = 1
    if args.processes > 1 and not args.child:
        return over_processes(args.processes, sys.argv[1:] if argv is None else argv)

    global MIN_NS, CLOCK, READ
    READ = args.read * KiB
    if args.quick:
        MIN_NS = 2_000_000
    CLOCK = time.process_time_ns if args.clock == "cpu" else time.perf_counter_ns
    integrations.unpatch()
    print(
        f"wsfast {wsfast.__version__}, {wsfast.BACKEND} backend, kernels {wsfast.KERNELS}; "
        f"Python {platform.python_version()} ({platform.python_implementation()}), "
        f"{platform.machine()}"
    )
    jobs = []
    for seed, (lib, run, size, total, target) in enumerate(WORKLOADS):
        try:
            ver = version(lib)
        except Exception:  # noqa: BLE001 - not installed
            print(f"{lib}: not installed, skipped")
            continue
        msgs, chunks = stream(size, total // 8 if args.quick else total, seed, args.text)
        for mode in ("unpatched", "patched"):
            if mode == "patched":
                integrations.patch(lib)
            got = run(chunks.fresh(), keep=True)
            integrations.unpatch()
            if got != msgs:
                raise SystemExit(f"{lib} {mode} decoded the {label(size)} stream wrongly")
        what = "frames only" if run is websockets_frames else f"{args.text} text"
        name = f"{lib} {ver}, {len(msgs)} x {label(size)} {what}"
        jobs.append((name, lib, run, chunks, len(msgs), target, {"unpatched": [], "patched": []}))

    # the floor for websockets at 64 KiB, timed in the same rounds
    floor = None
    for name, lib, run, chunks, n, _t, times in jobs:
        if run is websockets_run and len(chunks.data) > READ and n < 100:  # the 64 KiB stream
            fresh = chunks.fresh()
            if unmask_and_decode(fresh, keep=True) != websockets_run(fresh, keep=True):
                raise SystemExit("the unmask-and-decode floor decoded the stream wrongly")
            floor = (name, chunks, n, calibrate(unmask_and_decode, chunks), [])
            break

    loops = {}
    for name, lib, run, chunks, _n, _t, _times in jobs:
        loops[name, "unpatched"] = calibrate(run, chunks)
        integrations.patch(lib)
        loops[name, "patched"] = calibrate(run, chunks)
        integrations.unpatch()

    for r in range(args.rounds):
        for name, lib, run, chunks, _n, _t, times in jobs:
            times["unpatched"].append(sample(run, chunks, loops[name, "unpatched"]))
            integrations.patch(lib)
            times["patched"].append(sample(run, chunks, loops[name, "patched"]))
            integrations.unpatch()
            if floor is not None and name == floor[0]:
                floor[4].append(sample(unmask_and_decode, chunks, floor[3]))
        print(f"round {r + 1}/{args.rounds}", end="\r", file=sys.stderr, flush=True)

    print(
        f"\nmedians of {args.rounds} interleaved rounds ({args.clock} time), {label(READ)} reads,"
        " messages per second; ratio: the median of each round's unpatched/patched time"
        " (range in brackets)"
    )
    width = max(len(j[0]) for j in jobs)
    print(
        f"{'workload':<{width}}  {'unpatched':>10}  {'patched':>10}  {'ratio':>6}"
        f"  {'range':<13}  target"
    )
    failed = []
    for name, _lib, _run, _chunks, n, target, times in jobs:
        a = statistics.median(times["unpatched"])
        b = statistics.median(times["patched"])
        ratios = [u / p for u, p in zip(times["unpatched"], times["patched"])]
        ratio = statistics.median(ratios)
        spread = f"[{min(ratios):.2f}-{max(ratios):.2f}]"
        verdict = "-"
        if target is not None:
            verdict = f">= {target:g}x " + ("met" if ratio >= target else "MISSED")
            if ratio < target:
                failed.append(name)
        print(
            f"{name:<{width}}  {n / a * 1e9:>10,.0f}  {n / b * 1e9:>10,.0f}  {ratio:>5.2f}x"
            f"  {spread:<13}  {verdict}"
        )
    if args.child:  # for the parent: every workload's ratio and rates
        print("RESULT " + json.dumps({
            j[0]: [statistics.median([u / p for u, p in zip(j[6]["unpatched"], j[6]["patched"])]),
                   j[5]] for j in jobs
        }))
    if floor is not None:
        name, _chunks, n, _loops, times = floor
        unpatched = next(j[6]["unpatched"] for j in jobs if j[0] == name)
        f = statistics.median(times)
        ceiling = statistics.median([u / t for u, t in zip(unpatched, times)])
        print(
            f"unmask and decode alone, the same {label(64 * KiB)} stream without websockets:"
            f" {n / f * 1e9:,.0f} msg/s, {ceiling:.2f}x its unpatched rate (the ceiling)"
        )
    return 1 if failed else 0


def over_processes(count: int, argv: list[str]) -> int:
    """Run the whole benchmark in ``count`` fresh processes, one after the other; print each
    one's table, then per workload the median of their ratios and the range."""
    ratios: dict[str, list[float]] = {}
    targets: dict[str, float | None] = {}
    for i in range(count):
        print(f"== process {i + 1}/{count}", flush=True)
        proc = subprocess.run(
            [sys.executable, __file__, *argv, "--child"], capture_output=True, text=True
        )
        for line in proc.stdout.splitlines():
            if line.startswith("RESULT "):
                for name, (ratio, target) in json.loads(line[7:]).items():
                    ratios.setdefault(name, []).append(ratio)
                    targets[name] = target
            else:
                print(line)
        if proc.returncode not in (0, 1):
            print(proc.stderr, file=sys.stderr)
            return proc.returncode
    print(f"\nover {count} process starts: the median of their ratios [lowest-highest]")
    width = max(map(len, ratios))
    failed = False
    for name, rs in ratios.items():
        ratio, target = statistics.median(rs), targets[name]
        verdict = "-"
        if target is not None:
            verdict = f">= {target:g}x " + ("met" if ratio >= target else "MISSED")
            failed |= ratio < target
        print(f"{name:<{width}}  {ratio:5.2f}x  [{min(rs):.2f}-{max(rs):.2f}]  {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
