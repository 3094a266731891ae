"""The text tables (median per operation, wsfast's ratio over each peer) and the machine's
details."""

from __future__ import annotations

import os
import platform
from typing import Any

from .timing import Result

# columns of the tables, wsfast first, the yardsticks last
ORDER = (
    "wsfast",
    "wsfast bytes",
    "wsfast parts",
    "websockets",
    "aiohttp",
    "aiohttp bytes",
    "wsproto",
    "wsaccel",
    "autobahn-nvx",
    "bytes.decode",
    "copy",
)


def _fmt(value: float, unit: str) -> str:
    if unit == "msg/s":
        if value >= 1e6:
            return f"{value / 1e6:.2f} M/s"
        return f"{value / 1e3:.1f} k/s"
    if value >= 10:
        return f"{value:.1f} GB/s"
    if value >= 0.1:
        return f"{value:.2f} GB/s"
    return f"{value * 1000:.1f} MB/s"


def table(results: list[Result], group: str) -> str:
    rows = [r for r in results if r.group == group]
    if not rows:
        return ""
    present = {r.library for r in rows}
    libraries = [lib for lib in ORDER if lib in present] + sorted(present - set(ORDER))
    workloads: list[str] = []
    for r in rows:
        if r.workload not in workloads:
            workloads.append(r.workload)
    by = {(r.workload, r.library): r for r in rows}
    header = ["workload"] + libraries
    lines = []
    for name in workloads:
        cells = [name]
        for lib in libraries:
            found = by.get((name, lib))
            # a "... bytes" column (a text message as validated bytes) is held to wsfast's
            # bytes, every other one to wsfast's headline entry
            own = lib in ("wsfast", "wsfast bytes", "wsfast parts")
            base = by.get((name, "wsfast bytes" if lib.endswith(" bytes") else "wsfast"))
            if found is None:
                cells.append("-")
            elif own or base is None:
                cells.append(_fmt(found.throughput, found.unit))
            else:
                cells.append(
                    f"{_fmt(found.throughput, found.unit)}"
                    f" ({base.throughput / found.throughput:.2f}x)"
                )
        lines.append(cells)
    widths = [max(len(row[i]) for row in [header] + lines) for i in range(len(header))]
    text = ["  ".join(h.ljust(wd) for h, wd in zip(header, widths))]
    text.append("  ".join("-" * wd for wd in widths))
    for row in lines:
        text.append(
            "  ".join(
                [row[0].ljust(widths[0])]
                + [c.rjust(wd) for c, wd in zip(row[1:], widths[1:])]
            )
        )
    return "\n".join(text)


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    if hasattr(os, "getloadavg"):
        info["loadavg"] = [round(x, 2) for x in os.getloadavg()]
    return info
