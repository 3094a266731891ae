"""``python bench/capture.py``: how fast and in how much memory ``python -m wsfast inspect
--json`` dissects a large capture, side by side with ``tshark -Y websocket -T json``.

    python bench/capture.py make big.pcap --connections 2000 --concurrent 100
    python bench/capture.py run big.pcap [--tshark] [--runs 3]

``make`` writes a synthetic pcap: connections opened in batches of ``--concurrent`` whose
packets interleave in time, each with an HTTP upgrade, masked client messages and the server's
echoes (JSON-like text of 100-300 bytes, 4 KiB binary, one 256 KiB message, and every
``--big-every``-th connection an 8 MiB one), a quarter of them compressed (permessage-deflate,
context takeover).  ``run`` times each command (wall clock, several runs, median) and reports
its peak RSS (``wait4``), writing the output to /dev/null.  Not a test: run on demand.
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import random
import statistics
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.pcap_files import Flow, frame  # noqa: E402

SERVER_PORT = 8080


def conversation(index: int, start: float, random_: random.Random, big: bool) -> Flow:
    compressed = index % 4 == 3
    flow = Flow(10000 + index % 50000, SERVER_PORT, start=start)
    flow.seq = {"client": random_.randrange(2**32), "server": random_.randrange(2**32)}
    flow.open().upgrade(extensions="permessage-deflate" if compressed else None)
    compressors = {side: zlib.compressobj(wbits=-15) for side in ("client", "server")}
    messages: list[tuple[int, bytes]] = []
    for n in range(40):
        body = json.dumps({"id": n, "user": f"u{index}", "pad": "x" * random_.randrange(60, 260)})
        messages.append((1, body.encode()))
    messages.append((2, random_.randbytes(4096)))
    messages.append((2, random_.randbytes(256 * 1024)))
    if big:
        messages.append((1, b"y" * (8 * 2**20)))
    for opcode, payload in messages:
        for side in ("client", "server"):
            data, rsv1 = payload, False
            if compressed:
                z = compressors[side]
                data, rsv1 = (z.compress(payload) + z.flush(zlib.Z_SYNC_FLUSH))[:-4], True
            key = random_.randbytes(4) if side == "client" else None
            flow.send(side, frame(opcode, data, key=key, rsv1=rsv1))
    flow.send("client", frame(8, b"\x03\xe8", key=random_.randbytes(4)))
    flow.send("server", frame(8, b"\x03\xe8"))
    return flow.close()


def make(path: Path, connections: int, concurrent: int, big_every: int) -> None:
    random_ = random.Random(13)
    with path.open("wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        start = 1_700_000_000.0
        for batch in range(0, connections, concurrent):
            flows = [
                conversation(i, start + (i - batch) * 0.000_003, random_, big_every and i % big_every == 0)
                for i in range(batch, min(batch + concurrent, connections))
            ]
            merged = heapq.merge(*(f.packets for f in flows), key=lambda p: (p.seconds, p.fraction))
            for packet in merged:
                out.write(struct.pack("<IIII", packet.seconds, packet.fraction, len(packet.data), len(packet.data)))
                out.write(packet.data)
            start = max(f.time for f in flows) + 0.001
    print(f"{path}: {path.stat().st_size / 2**20:.0f} MiB, {connections} connections")


def measure(command: list[str]) -> tuple[float, int]:
    """(seconds, peak RSS in bytes) of one run of ``command``, its output thrown away."""
    began = time.perf_counter()
    with open(os.devnull, "wb") as devnull:
        child = subprocess.Popen(command, stdout=devnull, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - began
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"{command} failed: {status}")
    return elapsed, usage.ru_maxrss * 1024


def run(path: Path, runs: int, tshark: bool) -> None:
    commands = {"wsfast": [sys.executable, "-m", "wsfast", "inspect", "--json", str(path)]}
    if tshark:
        commands["tshark"] = [
            "tshark", "-r", str(path), "-d", f"tcp.port=={SERVER_PORT},http", "-Y", "websocket", "-T", "json",
        ]
    size = path.stat().st_size
    results: dict[str, list[tuple[float, int]]] = {name: [] for name in commands}
    for _ in range(runs):  # interleaved, so that a busy machine slows both alike
        for name, command in commands.items():
            results[name].append(measure(command))
    for name, samples in results.items():
        seconds = statistics.median(s for s, _ in samples)
        peak = max(r for _, r in samples)
        print(
            f"{name:7} {seconds:7.2f} s median of {runs} ({size / seconds / 2**20:6.1f} MiB/s), "
            f"peak RSS {peak / 2**20:6.0f} MiB   {' '.join(commands[name])}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    made = sub.add_parser("make")
    made.add_argument("path", type=Path)
    made.add_argument("--connections", type=int, default=2000)
    made.add_argument("--concurrent", type=int, default=100)
    made.add_argument("--big-every", type=int, default=50, help="0: no 8 MiB messages")
    timed = sub.add_parser("run")
    timed.add_argument("path", type=Path)
    timed.add_argument("--runs", type=int, default=3)
    timed.add_argument("--tshark", action="store_true")
    options = parser.parse_args()
    if options.command == "make":
        make(options.path, options.connections, options.concurrent, options.big_every)
    else:
        run(options.path, options.runs, options.tshark)


if __name__ == "__main__":
    main()
