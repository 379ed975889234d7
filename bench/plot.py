"""The plot of the create sweep: time vs N, ours and the baseline, with the two bounds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: the benchmark runs headless

import matplotlib.pyplot as plt  # after use(): the backend is chosen first


def draw(results: dict[str, Any], path: Path) -> None:
    sweep = results["sweep"]
    latency = results["settings"]["latency_s"]
    workers = results["settings"]["host_workers"]
    ns = [point["n"] for point in sweep]
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    ax.plot(
        ns,
        [point["baseline"]["seconds"] for point in sweep],
        "o-",
        color="tab:red",
        label="sequential requests loop (baseline)",
    )
    ax.plot(
        ns,
        [point["ours"]["seconds"] for point in sweep],
        "o-",
        color="tab:blue",
        label="PixVerseAccount through the provider host",
    )
    ax.plot(
        ns,
        [n * latency / workers for n in ns],
        ":",
        color="gray",
        label=f"floor: N x latency / {workers} host workers",
    )
    for point in sweep:
        ax.annotate(
            f"{point['ratio']:.2f}x",
            (point["n"], point["ours"]["seconds"]),
            textcoords="offset points",
            xytext=(0, 8),
            ha="center",
            fontsize=8,
            color="tab:blue",
        )
    machine = results["machine"]
    ax.set_title(
        f"Creating N accounts, {latency * 1000:g} ms per request "
        f"({machine['nproc']} CPUs, Python {machine['python']})",
        fontsize=10,
    )
    ax.set_xlabel("accounts created (N)")
    ax.set_ylabel("wall time (s)")
    ax.set_xticks(ns)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
