"""Calibrated loops and interleaved rounds: every library of a workload sampled in turn, the
order rotating each round."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import repeat
from typing import Any

from .workloads import Workload


def _loop(fn: Callable[..., Any], args: tuple, n: int) -> int:
    """Nanoseconds for ``n`` calls of ``fn(*args)``; no per-call unpacking for 1-2 arguments."""
    counter = time.perf_counter_ns
    if len(args) == 1:
        (a,) = args
        t0 = counter()
        for _ in repeat(None, n):
            fn(a)
        return counter() - t0
    if len(args) == 2:
        a, b = args
        t0 = counter()
        for _ in repeat(None, n):
            fn(a, b)
        return counter() - t0
    t0 = counter()
    for _ in repeat(None, n):
        fn(*args)
    return counter() - t0


def _sample(fn: Callable[..., Any], args: tuple, n: int) -> float:
    """One sample: ns per call over ``n`` calls, with the garbage collector held off."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _loop(fn, args, n) / n
    finally:
        if enabled:
            gc.enable()


def _calibrate(fn: Callable[..., Any], args: tuple, min_ns: int) -> int:
    """Calls per sample so that one sample lasts at least ``min_ns``."""
    n = 1
    while True:
        took = _loop(fn, args, n)
        if took >= min_ns or n >= 1 << 24:
            return n
        # grow towards the target, at most tenfold per step
        n = max(n + 1, min(n * 10, int(n * 1.2 * min_ns / max(took, 1))))


@dataclass
class Result:
    group: str
    workload: str
    library: str
    unit: str
    amount: int
    calls_per_sample: int
    samples_ns: list[float]

    @property
    def median_ns(self) -> float:
        return statistics.median(self.samples_ns)

    @property
    def throughput(self) -> float:
        """GB/s (bytes per ns) or messages per second."""
        if self.unit == "GB/s":
            return self.amount / self.median_ns
        return self.amount * 1e9 / self.median_ns


def run_workload(w: Workload, rounds: int, min_ns: int, out: Any) -> list[Result]:
    calls = {e.library: _calibrate(e.fn, e.args, min_ns) for e in w.entries}
    samples: dict[str, list[float]] = {e.library: [] for e in w.entries}
    for r in range(rounds):
        shift = r % len(w.entries)
        for e in w.entries[shift:] + w.entries[:shift]:
            samples[e.library].append(_sample(e.fn, e.args, calls[e.library]))
        out.write(".")
        out.flush()
    return [
        Result(
            w.group,
            w.name,
            e.library,
            w.unit,
            w.amount,
            calls[e.library],
            samples[e.library],
        )
        for e in w.entries
    ]
