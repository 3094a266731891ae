"""The chart (``--plot``): one panel per group and unit, log scale."""

from __future__ import annotations

from collections.abc import Iterable

from .report import ORDER
from .timing import Result


def plot(results: list[Result], groups: Iterable[str], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # one panel per group and unit, so messages/s and GB/s never share an axis
    panels = [
        (g, u)
        for g in groups
        for u in ("msg/s", "GB/s")
        if any(r.group == g and r.unit == u for r in results)
    ]
    fig, axes = plt.subplots(
        len(panels), 1, figsize=(12, 3.6 * len(panels)), squeeze=False
    )
    for ax, (group, unit) in zip(axes[:, 0], panels):
        rows = [r for r in results if r.group == group and r.unit == unit]
        workloads = list(dict.fromkeys(r.workload for r in rows))
        present = {r.library for r in rows}
        libraries = [lib for lib in ORDER if lib in present] + sorted(
            present - set(ORDER)
        )
        width = 0.8 / len(libraries)
        by = {(r.workload, r.library): r for r in rows}
        for i, lib in enumerate(libraries):
            xs, ys = [], []
            for j, name in enumerate(workloads):
                if (name, lib) in by:
                    xs.append(j + (i - (len(libraries) - 1) / 2) * width)
                    ys.append(by[(name, lib)].throughput)
            ax.bar(xs, ys, width, label=lib)
        ax.set_yscale("log")
        ax.set_xticks(range(len(workloads)))
        ax.set_xticklabels(workloads, rotation=20, ha="right", fontsize=8)
        ax.set_ylabel(unit)
        ax.set_title(
            f"{group}, {unit} (median of interleaved rounds; higher is better)",
            fontsize=10,
        )
        ax.legend(fontsize=7, ncol=5)
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
