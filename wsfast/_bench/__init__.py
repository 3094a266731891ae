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
import json
import random
import sys
import time
from collections.abc import Sequence
from typing import Any

import wsfast

from .deflate import deflate_workloads
from .inputs import (
    TEXT_KINDS,
    KiB,
    MiB,
    make_text,
    masked_frame,
    parse_frames,
    reference_mask,
)
from .peers import load_peers
from .plot import plot
from .report import machine, table
from .timing import Result, run_workload
from .workloads import (
    Entry,
    decode_workloads,
    encode_workloads,
    mask_workloads,
    utf8_workloads,
)

__all__ = [
    "GROUPS",
    "TEXT_KINDS",
    "main",
    "make_text",
    "masked_frame",
    "parse_frames",
    "reference_mask",
]

GROUPS = ("mask", "utf8", "decode", "encode", "deflate")


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
        "deflate": lambda: deflate_workloads(args.quick, peers, rng),
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
    return 1 if any(k.rsplit("/", 1)[1].startswith("wsfast") for k in failures) else 0
