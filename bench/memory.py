"""Resident memory per connection: how much a server-side decoder costs while it waits.

    python bench/memory.py                     # 20,000 decoders per state, every library
    python bench/memory.py --count 5000        # quicker
    python bench/memory.py --json out.json     # also write the figures

For each library and state a fresh Python process builds ``--count`` decoders, brings each
one into the state, keeps them all, and reports the growth of its resident set size (RSS, from
/proc/self/statm) divided by the count: what one more idle connection costs, allocator
overhead included.  The traffic is built and the libraries imported before the first reading,
so only the decoders and what they keep are counted.  States:

- fresh: just constructed;
- small: after one 100-byte text message, in one read;
- large: after one 64 KiB binary message arriving in two reads (cut in the middle, as a
  socket hands over a large message), then one 100-byte message.

Libraries: wsfast's Decoder on the C backend and on the pure-Python one
(WSFAST_NO_EXTENSIONS=1), and websockets' sans-I/O ``Protocol`` (server side, state OPEN), for
comparison.  When wsfast has permessage-deflate (``wsfast.PerMessageDeflate``), compressed
decoders (``Decoder(extensions=(PerMessageDeflate(),))``, fed compressed messages) are measured
as well; websockets' with its permessage-deflate extension beside them.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
KiB = 1024
STATES = ("fresh", "small", "large")
LIBRARIES = (
    "wsfast-c",
    "wsfast-python",
    "websockets",
    "wsfast-c-deflate",
    "wsfast-python-deflate",
    "websockets-deflate",
)


def masked(opcode: int, payload: bytes, rng: random.Random, rsv1: bool = False) -> bytes:
    """A complete masked (client-to-server) frame, built without the library under test."""
    key = rng.randbytes(4)
    n = len(payload)
    first = bytes([0x80 | (0x40 if rsv1 else 0) | opcode])
    if n < 126:
        head = first + bytes([0x80 | n])
    elif n < 65536:
        head = first + bytes([0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head = first + bytes([0x80 | 127]) + n.to_bytes(8, "big")
    stream = (key * (n // 4 + 1))[:n]
    body = (int.from_bytes(payload, "big") ^ int.from_bytes(stream, "big")).to_bytes(n, "big")
    return head + key + body


def traffic(state: str, deflate: bool) -> list[bytes]:
    """The reads that bring a decoder into ``state``."""
    rng = random.Random(16)
    small = b'{"type":"tick","seq":12345,"body":"' + b"x" * 60 + b'"}'
    small = small[:100].ljust(100, b" ")
    large = rng.randbytes(64 * KiB)
    if deflate:
        # one compressor per connection (context takeover), each message flushed and its
        # final 00 00 ff ff cut off (RFC 7692 7.2.1)
        z = zlib.compressobj(wbits=-15)

        def frame(opcode: int, payload: bytes) -> bytes:
            data = z.compress(payload) + z.flush(zlib.Z_SYNC_FLUSH)
            return masked(opcode, data[:-4], rng, rsv1=True)

    else:

        def frame(opcode: int, payload: bytes) -> bytes:
            return masked(opcode, payload, rng)

    if state == "fresh":
        return []
    if state == "small":
        return [frame(1, small)]
    big = frame(2, large)
    half = len(big) // 2
    return [big[:half], big[half:], frame(1, small)]


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def maker(library: str) -> tuple[Callable[[], Any], Callable[[Any, bytes], Any]]:
    """(new, feed) for one library."""
    deflate = library.endswith("-deflate")
    if library.startswith("wsfast"):
        import wsfast

        want = "c" if library.startswith("wsfast-c") else "python"
        if wsfast.BACKEND != want:
            raise SystemExit(f"{library}: wsfast imported the {wsfast.BACKEND} backend")
        if deflate:
            pmd = wsfast.PerMessageDeflate  # type: ignore[attr-defined]

            def new() -> Any:
                return wsfast.Decoder(extensions=(pmd(),))

        else:
            new = wsfast.Decoder
        return new, lambda d, data: d.feed(data)

    from websockets.protocol import Protocol, Side, State

    if deflate:
        from websockets.extensions.permessage_deflate import PerMessageDeflate

    def new_ws() -> Any:
        p = Protocol(Side.SERVER, state=State.OPEN, max_size=16 * 2**20)
        if deflate:
            # what its handshake agrees to for a default offer: context takeover, 15 bits
            p.extensions = [PerMessageDeflate(False, False, 15, 15)]
        return p

    def feed(p: Any, data: bytes) -> Any:
        p.receive_data(data)
        return p.events_received()

    return new_ws, feed


def child(library: str, state: str, count: int) -> dict[str, Any]:
    new, feed = maker(library)
    reads = traffic(state, library.endswith("-deflate"))
    # one warm-up decoder: the first use of each code path allocates caches, once per process
    warm = new()
    for data in reads:
        feed(warm, data)
    del warm
    gc.collect()
    gc.disable()
    before = rss()
    keep = []
    events: Any = None
    for _ in range(count):
        d = new()
        for data in reads:
            events = feed(d, data)
            if not events and data is reads[-1]:
                raise SystemExit(f"{library}: no event after the last read of {state}")
        keep.append(d)
    del events
    gc.enable()
    gc.collect()
    after = rss()
    return {"library": library, "state": state, "count": count, "per": (after - before) / count}


def has_deflate() -> bool:
    import wsfast

    return hasattr(wsfast, "PerMessageDeflate")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--count", type=int, default=20_000, help="decoders per state (20000)")
    p.add_argument("--only", nargs="*", choices=LIBRARIES, help="these libraries only")
    p.add_argument("--json", help="also write the figures to this file")
    p.add_argument("--child", nargs=2, metavar=("LIBRARY", "STATE"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(child(*args.child, args.count)))
        return

    libraries = list(args.only or LIBRARIES)
    if not has_deflate():
        skipped = [lib for lib in libraries if lib.endswith("-deflate")]
        if skipped and args.only:
            print("wsfast has no PerMessageDeflate yet: skipping", ", ".join(skipped))
        libraries = [lib for lib in libraries if not lib.endswith("-deflate")]
    rows = []
    for library in libraries:
        env = dict(os.environ)
        env.pop("WSFAST_NO_EXTENSIONS", None)
        if library.startswith("wsfast-python"):
            env["WSFAST_NO_EXTENSIONS"] = "1"
        elif library.startswith("wsfast-c"):
            env["WSFAST_REQUIRE_EXTENSIONS"] = "1"
        row = {}
        for state in STATES:
            out = subprocess.run(
                [sys.executable, __file__, "--child", library, state, "--count", str(args.count)],
                env=env,
                capture_output=True,
                text=True,
                cwd=ROOT,
            )
            if out.returncode != 0:
                raise SystemExit(f"{library} {state} failed:\n{out.stderr}")
            result = json.loads(out.stdout)
            rows.append(result)
            row[state] = result["per"]
        print(
            f"{library:24s}"
            + "".join(f"  {state} {row[state] / KiB:6.2f} KiB" for state in STATES),
            flush=True,
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    if __package__ in (None, ""):  # run as a script from a checkout: use that checkout's wsfast
        sys.path.insert(0, str(ROOT))
    main()
