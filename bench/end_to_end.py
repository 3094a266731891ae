"""Real servers receiving over loopback, unpatched and patched: server CPU time per message.

    python bench/end_to_end.py                   # every server, 3 starts per mode
    python bench/end_to_end.py --starts 5 --servers uvicorn-wsproto,hypercorn
    python bench/end_to_end.py --markdown        # also the README table
    python bench/end_to_end.py --pin-malloc      # glibc's heap trimming out of the picture
    python bench/end_to_end.py --profile --servers hypercorn --scale 10   # where the CPU goes

Servers, each started in its own process (``--serve``), the way they are deployed:

- ``uvicorn-wsproto``: uvicorn with ``ws="wsproto"``, an ASGI app;
- ``uvicorn-websockets``: uvicorn with ``ws="websockets"`` (its default when websockets is
  installed: websockets' legacy protocol);
- ``hypercorn``: hypercorn (wsproto), the same ASGI app;
- ``websockets``: websockets' own asyncio server (``websockets.asyncio.server.serve``).

permessage-deflate is left on as each server ships it.  A patched server calls
``wsfast.patch(library)`` for the library it runs on (wsproto or websockets) before it starts,
the one line README gives; ``wsfast.patch()`` with no names would also import every other
installed library it can patch, a one-off cost (memory, a first full garbage collection over
a larger heap) that has nothing to do with the codec.  Before any server starts, wsfast's
modules are compiled to bytecode in the checkout, as pip compiles an installed package, so a
patched server imports wsfast as an installed one does (compiled at every start, with
``PYTHONDONTWRITEBYTECODE`` set, its import peaks near three times as high, see README, and
leaves holes in the heap that moved the 64 KiB rows).

The load client is this process: a raw socket that completes the handshake (offering
``permessage-deflate; client_max_window_bits`` as Chrome and Firefox do, for the compressed
workloads; nothing for the others), then sends every message as one prebuilt masked frame
(compressed beforehand with zlib, following the parameters the server agreed), in large
writes, as fast as the server reads them.  Before and after the messages it asks the server
for its process CPU time (``time.process_time_ns()`` in the server, all its threads): the
difference over the message count is the server's CPU per message, from the socket read to
the app receiving the text.  The app also counts the characters it received, which must
match what was sent.

The server also reports its minor page faults (``getrusage``) at both points: the table
gives them per message, unpatched / patched.  At 64 KiB they decide much of the figure: glibc
gives the top of the heap back to the kernel when enough of it is free and faults it in again
on the next message, or not, depending on where long-lived objects happen to sit; one process
start takes about 0, another 16, another 30-40 faults per message, with or without the patch.
``--pin-malloc`` (a diagnosis, not a deployment) starts every server, patched and unpatched,
with glibc's trimming and mmap thresholds fixed (``MALLOC_TRIM_THRESHOLD_``,
``MALLOC_MMAP_THRESHOLD_`` at 4 MiB), which takes that lottery out of the comparison.
``--profile`` (a diagnosis, needs py-spy) samples each measured server with py-spy and
splits its busy samples (those not waiting in the event loop's selector) into the codec's,
every sample with a frame of the library (wsproto, or websockets' sans-I/O reading and
framing modules) or of wsfast on its stack, and the rest of the server: socket reads, the
event loop, the server's own buffering and its app.  From the patched server's split it
prints what a codec that cost nothing would give, unpatched / (patched x the rest's share),
the bound for that server's ratio.  The sampling takes CPU of its own on a 2-core machine:
use it with ``--scale 10`` for enough samples and take the timings of a run without it.
``--instead MODULES`` (a diagnosis too) has the "patched" server import those modules
(comma-separated; ``wsfast`` imports wsfast and patches nothing) instead of patching, to tell
what the import alone does to a server from what the patch does.

Workloads: 125 B and 64 KiB text (JSON-like ASCII), uncompressed and compressed.  For each
server, ``--starts`` rounds each run every workload on an unpatched and a patched server
(the order alternating from round to round).  The table gives,
per server and workload, the unpatched and patched medians over the starts (microseconds per
message) and the ratio of the medians, with the range of the rounds' own ratios.  Each
measurement has a server process of its own, warmed up with the same workload: what one
workload leaves in the heap would otherwise weigh on the next (at 64 KiB the figures follow
the allocator's state).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import compileall
import importlib
import json
import os
import random
import socket
import statistics
import struct
import subprocess
import sys
import time
import zlib
from importlib.metadata import version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SERVERS = ("uvicorn-wsproto", "uvicorn-websockets", "hypercorn", "websockets")
# what a patched server patches: the one line README gives for its library
LIBRARY = {
    "uvicorn-wsproto": "wsproto",
    "uvicorn-websockets": "websockets",
    "hypercorn": "wsproto",
    "websockets": "websockets",
}
KiB = 1024
WORKLOADS = [
    # name, message size, messages per run, compressed
    ("125 B", 125, 6000, False),
    ("64 KiB", 64 * KiB, 300, False),
    ("125 B deflate", 125, 6000, True),
    ("64 KiB deflate", 64 * KiB, 300, True),
]
# issue 14's targets: (server, workload) -> ratio
TARGETS = {
    ("uvicorn-wsproto", "125 B"): 2.0,
    ("uvicorn-wsproto", "64 KiB"): 3.0,
    ("uvicorn-wsproto", "125 B deflate"): 1.5,
    ("hypercorn", "125 B"): 2.0,
    ("hypercorn", "64 KiB"): 2.0,
    ("uvicorn-websockets", "125 B"): 1.3,
    ("uvicorn-websockets", "64 KiB"): 2.0,
    ("websockets", "125 B"): 1.3,
    ("websockets", "64 KiB"): 1.2,
    ("websockets", "125 B deflate"): 1.2,
}


# --- the server side ------------------------------------------------------------------------


def minor_faults() -> int:
    """This process's minor page faults so far (0 where getrusage does not count them)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return 0
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


class Counter:
    """What every server's app does with a message: count it and its characters; "start" and
    "stop" answer with this process's CPU time."""

    def __init__(self) -> None:
        self.count = self.chars = 0

    def on_text(self, text: str) -> str | None:
        if text == "start":
            self.count = self.chars = 0
            return json.dumps([time.process_time_ns(), minor_faults()])
        if text == "stop":
            return json.dumps(
                [self.count, self.chars, time.process_time_ns(), minor_faults()]
            )
        self.count += 1
        self.chars += len(text)
        return None


async def asgi_app(scope: dict, receive: Any, send: Any) -> None:
    if scope["type"] != "websocket":
        return
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    counter = Counter()
    while True:
        event = await receive()
        if event["type"] == "websocket.disconnect":
            return
        text = event.get("text")
        if text is not None and (reply := counter.on_text(text)) is not None:
            await send({"type": "websocket.send", "text": reply})


def serve(kind: str, port: int, patched: bool) -> None:
    instead = os.environ.get("WSFAST_E2E_INSTEAD")
    if patched and instead:
        sys.path.insert(0, str(ROOT))
        for module in instead.split(","):
            importlib.import_module(module)
        print(f"patched nothing: imported {instead} instead", file=sys.stderr)
    elif patched:
        sys.path.insert(0, str(ROOT))
        import wsfast

        done = wsfast.patch(LIBRARY[kind])
        print(f"patched {','.join(done)} ({wsfast.BACKEND} backend)", file=sys.stderr)
    if kind in ("uvicorn-wsproto", "uvicorn-websockets"):
        import uvicorn

        config = uvicorn.Config(
            asgi_app,
            host="127.0.0.1",
            port=port,
            ws=kind.split("-")[1],
            lifespan="off",
            log_level="warning",
            access_log=False,
        )
        uvicorn.Server(config).run()
    elif kind == "hypercorn":
        from hypercorn.asyncio import serve as hypercorn_serve
        from hypercorn.config import Config

        config = Config()
        config.bind = [f"127.0.0.1:{port}"]
        config.accesslog = None
        config.loglevel = "WARNING"
        asyncio.run(hypercorn_serve(asgi_app, config))  # type: ignore[arg-type]
    elif kind == "websockets":
        from websockets.asyncio.server import serve as ws_serve

        async def handler(ws: Any) -> None:
            counter = Counter()
            async for message in ws:
                if isinstance(message, str) and (reply := counter.on_text(message)):
                    await ws.send(reply)

        async def main() -> None:
            async with ws_serve(handler, "127.0.0.1", port):
                await asyncio.Future()

        asyncio.run(main())
    else:
        raise SystemExit(f"unknown server {kind!r}")


# --- the load client ------------------------------------------------------------------------


def json_text(size: int, rng: random.Random) -> bytes:
    words = ['{"id":', "1234,", '"name":', '"frame",', '"mask":', "true}", "payload", "ok"]
    out = bytearray()
    while len(out) < size:
        out += rng.choice(words).encode() + b" "
    return bytes(out[:size])


def frame(payload: bytes, rsv1: bool, rng: random.Random, opcode: int = 1) -> bytes:
    """A masked final frame (text unless told)."""
    n = len(payload)
    first = 0x80 | opcode | (0x40 if rsv1 else 0)
    if n < 126:
        head = struct.pack("!BB", first, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", first, 0xFE, n)
    else:
        head = struct.pack("!BBQ", first, 0xFF, n)
    key = rng.randbytes(4)
    k = int.from_bytes((key * (n // 4 + 1))[:n], "little")
    return head + key + (int.from_bytes(payload, "little") ^ k).to_bytes(n, "little")


class Client:
    """One connection: handshake, then whole prebuilt frames out, text replies in."""

    def __init__(self, port: int, deflate: bool) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = base64.b64encode(os.urandom(16)).decode()
        offer = (
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
            if deflate
            else ""
        )
        self.sock.sendall(
            f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\n{offer}\r\n".encode()
        )
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            more = self.sock.recv(65536)
            if not more:
                raise RuntimeError("the server closed during the handshake")
            self.buf += more
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 101"):
            raise RuntimeError(f"handshake refused: {head[:200]!r}")
        agreed = None
        for line in head.decode("latin-1").split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "sec-websocket-extensions":
                agreed = {
                    p.strip().split("=")[0]: (p.strip().split("=") + [""])[1].strip('"')
                    for p in value.split(";")[1:]
                }
        if deflate and agreed is None:
            raise RuntimeError("the server did not agree to permessage-deflate")
        self.agreed = agreed
        self.rng = random.Random(port)
        if agreed is not None:
            self.client_bits = int(agreed.get("client_max_window_bits") or 15)
            self.client_reset = "client_no_context_takeover" in agreed
            self.compressor = zlib.compressobj(wbits=-self.client_bits)
            self.inflater = zlib.decompressobj(wbits=-15)

    def frames(self, messages: list[bytes]) -> bytes:
        out = []
        for m in messages:
            if self.agreed is None:
                out.append(frame(m, False, self.rng))
                continue
            data = self.compressor.compress(m) + self.compressor.flush(zlib.Z_SYNC_FLUSH)
            assert data.endswith(b"\x00\x00\xff\xff")
            out.append(frame(data[:-4], True, self.rng))
            if self.client_reset:
                self.compressor = zlib.compressobj(wbits=-self.client_bits)
        return b"".join(out)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def reply(self) -> str:
        """The next text message from the server (pings and pongs are skipped)."""
        while True:
            while True:
                parsed = self._parse()
                if parsed is not None:
                    break
                more = self.sock.recv(65536)
                if not more:
                    raise RuntimeError("the server closed the connection")
                self.buf += more
            opcode, rsv1, payload = parsed
            if opcode == 8:
                raise RuntimeError(f"the server closed: {payload!r}")
            if opcode == 1:
                if rsv1:
                    payload = self.inflater.decompress(payload + b"\x00\x00\xff\xff")
                return payload.decode()

    def _parse(self) -> tuple[int, bool, bytes] | None:
        b = self.buf
        if len(b) < 2:
            return None
        n, at = b[1] & 0x7F, 2
        if n == 126:
            if len(b) < 4:
                return None
            (n,), at = struct.unpack_from("!H", b, 2), 4
        elif n == 127:
            if len(b) < 10:
                return None
            (n,), at = struct.unpack_from("!Q", b, 2), 10
        if len(b) < at + n:
            return None
        self.buf = b[at + n :]
        return b[0] & 0x0F, bool(b[0] & 0x40), b[at : at + n]

    def close(self) -> None:
        try:
            self.send(frame(struct.pack("!H", 1000), False, self.rng, opcode=8))
            self.sock.settimeout(2)
            while self.sock.recv(65536):
                pass
        except OSError:
            pass
        self.sock.close()


def measure(port: int, size: int, count: int, deflate: bool) -> tuple[float, float]:
    """Server CPU ns and minor page faults per message for ``count`` messages of ``size``
    bytes on one connection."""
    rng = random.Random(size * 31 + count)
    messages = [json_text(size, rng) for _ in range(count)]
    client = Client(port, deflate)
    try:
        # every frame built first, in the order sent (a compressor's context runs through)
        start = client.frames([b"start"])
        blob = client.frames(messages)
        stop = client.frames([b"stop"])
        client.send(start)
        t0, f0 = json.loads(client.reply())
        client.send(blob + stop)
        n, chars, t1, f1 = json.loads(client.reply())
    finally:
        client.close()
    if n != count or chars != sum(len(m) for m in messages):
        raise RuntimeError(f"the server received {n} messages, {chars} characters")
    return (t1 - t0) / count, (f1 - f0) / count


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --profile: a frame of the codec is one whose file (as py-spy names it, "function (module
# path:line)") starts with one of these.  Only the
# wsproto servers are split: websockets' asyncio and legacy modules mix its reading and
# framing with the connection's I/O and buffering, so no file boundary separates the two
CODEC_FILES = {"wsproto": ("(wsproto/", "(wsfast/")}
# a sample whose innermost frame is one of these is the event loop waiting, not work
IDLE_LEAVES = ("Selector.select (selectors.py",)


class Sampler:
    """py-spy recording one server process while it is measured (``--profile``)."""

    def __init__(self, pid: int, path: str) -> None:
        self.path = path
        spy = Path(sys.executable).with_name("py-spy")
        try:
            self.proc = subprocess.Popen(
                [str(spy) if spy.exists() else "py-spy", "record", "--nonblocking", "-r", "499", "-f", "raw", "-o", path,
                 "-p", str(pid)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        except FileNotFoundError:
            raise SystemExit("--profile needs py-spy on PATH: pip install py-spy") from None
        time.sleep(1.0)  # attached before the messages go out (idle samples are left out)

    def stop(self, library: str) -> tuple[int, int]:
        """(busy samples, of which the codec's)."""
        self.proc.send_signal(2)  # SIGINT: py-spy writes what it sampled and exits
        if self.proc.wait(timeout=30) != 0 or not os.path.exists(self.path):
            raise SystemExit(f"py-spy could not sample the server (exit {self.proc.returncode})")
        busy = codec = 0
        with open(self.path) as f:
            for line in f:
                stack, _, count = line.rstrip("\n").rpartition(" ")
                frames = stack.split(";")
                if frames[-1].startswith(IDLE_LEAVES):
                    continue
                busy += int(count)
                if any(mark in frame for frame in frames for mark in CODEC_FILES[library]):
                    codec += int(count)
        os.unlink(self.path)
        return busy, codec


# --pin-malloc: glibc's heap trimming and mmap threshold fixed for every server (both modes),
# so that a 64 KiB message's buffers are not given back to the kernel and faulted in again
PINNED_MALLOC = {"MALLOC_TRIM_THRESHOLD_": "4194304", "MALLOC_MMAP_THRESHOLD_": "4194304"}


def start_server(
    kind: str, patched: bool, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind, str(port), "1" if patched else "0"],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"{kind} exited: {proc.stderr.read()}")  # type: ignore[union-attr]
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{kind} did not listen on {port} within 30 s")


def stop_server(proc: subprocess.Popen) -> str:
    proc.terminate()
    try:
        _, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return err or ""


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--starts", type=int, default=3, help="server starts per mode (default 3)")
    p.add_argument("--servers", default=",".join(SERVERS), help="comma-separated subset")
    p.add_argument("--scale", type=float, default=1.0, help="messages per run, times this")
    p.add_argument("--markdown", action="store_true", help="print the README table too")
    p.add_argument("--json", metavar="FILE", help="write every measurement as JSON")
    p.add_argument(
        "--pin-malloc",
        action="store_true",
        help="a diagnosis, not a deployment: fix glibc's heap trimming and mmap threshold in"
        " every server, patched or not (MALLOC_TRIM_THRESHOLD_, MALLOC_MMAP_THRESHOLD_)",
    )
    p.add_argument(
        "--instead",
        metavar="MODULES",
        help="a diagnosis: the patched server imports these modules (comma-separated;"
        " wsfast: wsfast without patching) instead of patching",
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="a diagnosis (needs py-spy): the share of each server's busy samples in the codec,"
        " and the ratio a codec that cost nothing would give",
    )
    p.add_argument("--serve", nargs=3, metavar=("KIND", "PORT", "PATCHED"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]), args.serve[2] == "1")
        return 0
    servers = [s for s in args.servers.split(",") if s]
    for s in servers:
        if s not in SERVERS:
            p.error(f"unknown server {s!r} (choose from {', '.join(SERVERS)})")

    # wsfast's bytecode, written as pip writes an installed package's: the servers import it
    # from the checkout, where with PYTHONDONTWRITEBYTECODE set every patched server would
    # compile it from source at each start (README: the import's peak, with and without),
    # which the peers, installed with their bytecode, never do
    compileall.compile_dir(str(ROOT / "wsfast"), quiet=1)
    sys.path.insert(0, str(ROOT))
    import wsfast

    print(
        f"wsfast {wsfast.__version__} ({wsfast.BACKEND} backend); uvicorn {version('uvicorn')},"
        f" hypercorn {version('hypercorn')}, wsproto {version('wsproto')}, websockets"
        f" {version('websockets')}; {args.starts} starts per mode; {os.cpu_count()} CPUs,"
        f" load {os.getloadavg()[0]:.2f}"
        + (f"; glibc malloc pinned ({PINNED_MALLOC})" if args.pin_malloc else ""),
        flush=True,
    )
    env = {**os.environ, **PINNED_MALLOC} if args.pin_malloc else None
    if args.instead:
        env = {**(env or os.environ), "WSFAST_E2E_INSTEAD": args.instead}
        print(f"diagnosis: the patched servers import {args.instead} instead of patching")
    results: dict[tuple[str, str, str], list[float]] = {}
    faults: dict[tuple[str, str, str], list[float]] = {}
    shares: dict[tuple[str, str, str], list[tuple[int, int]]] = {}
    for server in servers:
        for start in range(args.starts):
            order = (False, True) if start % 2 == 0 else (True, False)
            for name, size, count, deflate in WORKLOADS:
                n = max(10, int(count * args.scale))
                for patched in order:
                    mode = "patched" if patched else "unpatched"
                    # a fresh server per workload: what one workload leaves in the heap
                    # (at 64 KiB the figures follow the allocator's state) is not the next's
                    proc, port = start_server(server, patched, env)
                    try:
                        # warm-up: the same workload, shorter, unmeasured (the first messages
                        # of a fresh process pay for its first full garbage collections)
                        measure(port, size, max(10, n // 3), deflate)
                        sampler = (
                            Sampler(proc.pid, f"/tmp/wsfast-e2e-{os.getpid()}-{port}.txt")
                            if args.profile and LIBRARY[server] in CODEC_FILES
                            else None
                        )
                        ns, flt = measure(port, size, n, deflate)
                        if sampler is not None:
                            shares.setdefault((server, name, mode), []).append(
                                sampler.stop(LIBRARY[server])
                            )
                    finally:
                        err = stop_server(proc)
                    if patched and "patched" not in err:
                        raise SystemExit(f"{server} did not report the patch: {err}")
                    results.setdefault((server, name, mode), []).append(ns)
                    faults.setdefault((server, name, mode), []).append(flt)
            row = ", ".join(
                f"{name} {results[server, name, 'unpatched'][-1] / results[server, name, 'patched'][-1]:.2f}x"
                for name, *_ in WORKLOADS
            )
            print(f"{server} start {start + 1}: {row}", flush=True)

    lines = []
    header = (
        f"{'server':<20} {'workload':<15} {'unpatched us':>12} {'patched us':>10} {'ratio':>6}"
        f"  {'range':<13} {'faults u/p':>11}  target"
    )
    print(
        "\nserver CPU per message, medians over starts; ratio = unpatched / patched median;"
        " faults: the server's minor page faults per message (medians)"
    )
    print(header)
    md = ["| server | " + " | ".join(w[0] for w in WORKLOADS) + " |",
          "|---|" + "---|" * len(WORKLOADS)]
    below = []
    for server in servers:
        cells = []
        for name, *_ in WORKLOADS:
            u = results[server, name, "unpatched"]
            q = results[server, name, "patched"]
            ratio = statistics.median(u) / statistics.median(q)
            pairs = [a / b for a, b in zip(u, q)]
            target = TARGETS.get((server, name))
            verdict = "-" if target is None else f">= {target}x " + ("met" if ratio >= target else "MISSED")
            if ratio < 1.0:
                below.append(f"{server} {name}")
            fu = statistics.median(faults[server, name, "unpatched"])
            fq = statistics.median(faults[server, name, "patched"])
            line = (
                f"{server:<20} {name:<15} {statistics.median(u) / 1e3:>12.1f}"
                f" {statistics.median(q) / 1e3:>10.1f} {ratio:>5.2f}x"
                f"  [{min(pairs):.2f}-{max(pairs):.2f}]  {fu:>5.1f}/{fq:<5.1f}  {verdict}"
            )
            print(line)
            lines.append(line)
            cells.append(f"{ratio:.2f}x ({min(pairs):.2f}-{max(pairs):.2f})")
        md.append(f"| {server} | " + " | ".join(cells) + " |")
    if args.markdown:
        print("\n" + "\n".join(md))
    if shares:
        print(
            "\nprofile (py-spy): the codec's share of the server's busy samples, unpatched /"
            " patched (summed over starts), and unpatched / (patched x the rest's share): the"
            " ratio if the patched codec cost nothing"
        )
        print(f"{'server':<20} {'workload':<15} {'codec share u/p':>15}  {'free codec':>10}"
              f"  {'busy samples u/p':>16}")
        for server in servers:
            if LIBRARY[server] not in CODEC_FILES:
                print(f"{server:<20} not split (no file boundary between its codec and its I/O)")
                continue
            for name, *_ in WORKLOADS:
                share, busy = {}, {}
                for mode in ("unpatched", "patched"):
                    busy[mode] = sum(b for b, _ in shares[server, name, mode])
                    codec = sum(c for _, c in shares[server, name, mode])
                    share[mode] = codec / max(1, busy[mode])
                u = statistics.median(results[server, name, "unpatched"])
                q = statistics.median(results[server, name, "patched"])
                bound = u / (q * (1 - share["patched"])) if share["patched"] < 1 else float("inf")
                print(
                    f"{server:<20} {name:<15} {share['unpatched']:>7.0%} / {share['patched']:<5.0%}"
                    f"  {bound:>9.2f}x  {busy['unpatched']:>8}/{busy['patched']}"
                )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    " / ".join(k): {"ns": v, "minor_faults": faults[k]}
                    for k, v in results.items()
                },
                f,
                indent=1,
            )
    if below:
        print("below 1.0x: " + "; ".join(below))
    return 0


if __name__ == "__main__":
    sys.exit(main())
