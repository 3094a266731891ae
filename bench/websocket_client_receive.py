"""websocket-client receiving 40-64 KB text messages from a real server, unpatched and patched.

    python bench/websocket_client_receive.py              # 5 process starts per mode
    python bench/websocket_client_receive.py --runs 3

A websockets asyncio server, in its own process on loopback, sends text messages of 40 to
64 KB (CJK, Greek and emoji text, as the notes' 64 KiB figure was measured on) to each client
that connects.  Each client is a fresh process running ``websocket.create_connection`` and
``recv()`` per message, the way its users read them; wsaccel is kept out of it
(``sys.modules["wsaccel"] = None`` before websocket-client is imported), so the unpatched
client runs its pure-Python UTF-8 check and mask, as it does wherever wsaccel is not installed.
A patched client calls ``wsfast.patch("websocket-client")`` first.

Measured: the client process's CPU time (``time.process_time``) across its receive loop,
divided by the messages received; every message is compared with what the server sent, after
the timing.  Unpatched and patched clients alternate, a new process each time, ``--runs``
times; the report gives each mode's median and range and the ratio of medians, with the
range of the runs' own ratios.  Target (issue 14): the patched client spends >= 20x less CPU
per message.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KiB = 1000  # "40-64 KB"
SEED = 6455


def messages(count: int) -> list[str]:
    """The texts the server sends, the same in every process (from SEED)."""
    sys.path.insert(0, str(ROOT))
    from wsfast._bench.inputs import make_text

    rng = random.Random(SEED)
    return [
        make_text(rng.choice(("cjk", "emoji-greek")), rng.randrange(40_000, 64_001), rng).decode()
        for _ in range(count)
    ]


def serve() -> None:
    import asyncio

    from websockets.asyncio.server import serve as ws_serve

    async def handler(ws) -> None:  # type: ignore[no-untyped-def]
        count = int(ws.request.path.strip("/"))
        for text in messages(count):
            await ws.send(text)
        await ws.close()

    async def main() -> None:
        # no compression: websocket-client does not offer permessage-deflate
        async with ws_serve(handler, "127.0.0.1", 0, compression=None, max_size=None) as server:
            port = server.sockets[0].getsockname()[1]
            print(port, flush=True)
            await asyncio.Future()

    asyncio.run(main())


def client(mode: str, count: int, port: int) -> None:
    import time

    sys.modules["wsaccel"] = None  # type: ignore[assignment]  # as where it is not installed
    sys.path.insert(0, str(ROOT))
    import websocket

    if mode == "patched":
        import wsfast

        wsfast.patch("websocket-client")
    ws = websocket.create_connection(f"ws://127.0.0.1:{port}/{count}", timeout=60)
    got = []
    t0 = time.process_time()
    for _ in range(count):
        got.append(ws.recv())
    cpu = time.process_time() - t0
    ws.close()
    ok = got == messages(count)
    import wsfast

    print(json.dumps({"cpu_per_msg": cpu / count, "ok": ok, "backend": wsfast.BACKEND}))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=5, help="process starts per mode (default 5)")
    p.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--client", nargs=3, metavar=("MODE", "COUNT", "PORT"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve:
        serve()
        return 0
    if args.client:
        client(args.client[0], int(args.client[1]), int(args.client[2]))
        return 0

    env = dict(os.environ)
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        port = int(server.stdout.readline())  # type: ignore[union-attr]
        counts = {"unpatched": 20, "patched": 200}  # about 0.3 s of receiving each
        per: dict[str, list[float]] = {m: [] for m in counts}
        ratios = []
        backend = "?"
        for run in range(args.runs):
            order = ["unpatched", "patched"] if run % 2 == 0 else ["patched", "unpatched"]
            for mode in order:
                out = subprocess.run(
                    [sys.executable, __file__, "--client", mode, str(counts[mode]), str(port)],
                    capture_output=True, text=True, env=env, check=True,
                )
                result = json.loads(out.stdout)
                if not result["ok"]:
                    print(f"{mode} client received wrong messages", file=sys.stderr)
                    return 2
                backend = result["backend"]
                per[mode].append(result["cpu_per_msg"])
            ratios.append(per["unpatched"][-1] / per["patched"][-1])
            print(
                f"run {run + 1}: unpatched {per['unpatched'][-1] * 1e3:.2f} ms/msg,"
                f" patched {per['patched'][-1] * 1e6:.0f} us/msg, {ratios[-1]:.0f}x",
                flush=True,
            )
    finally:
        server.terminate()
        server.wait(10)
    from importlib.metadata import version

    u, q = statistics.median(per["unpatched"]), statistics.median(per["patched"])
    print(
        f"websocket-client {version('websocket-client')}, wsfast {backend} backend, no wsaccel;"
        f" 40-64 KB CJK/Greek/emoji text from websockets' server over loopback,"
        f" client CPU per message, {args.runs} process starts per mode"
    )
    print(
        f"unpatched {u * 1e3:.2f} ms (range {min(per['unpatched']) * 1e3:.2f}-"
        f"{max(per['unpatched']) * 1e3:.2f}); patched {q * 1e6:.0f} us (range"
        f" {min(per['patched']) * 1e6:.0f}-{max(per['patched']) * 1e6:.0f});"
        f" ratio of medians {u / q:.1f}x (runs {min(ratios):.1f}-{max(ratios):.1f}x);"
        f" target >= 20x: {'met' if u / q >= 20 else 'MISSED'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
