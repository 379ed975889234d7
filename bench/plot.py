"""The plot of the create sweep: time vs N for ours and the baseline, with the floor."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: the benchmark runs headless

import matplotlib.pyplot as plt  # after use(): the backend is chosen first
from matplotlib.ticker import FixedLocator, NullLocator, ScalarFormatter


def draw(results: dict[str, Any], path: Path) -> None:
    sweep = results["sweep"]
    latency = results["settings"]["latency_s"]
    workers = results["settings"]["host_workers"]
    ns = [point["n"] for point in sweep]
    ours = [point["ours"]["seconds"] for point in sweep]
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    ax.plot(
        ns,
        [point["baseline"]["seconds"] for point in sweep],
        "o-",
        color="tab:red",
        label="sequential requests loop (baseline)",
    )
    ax.plot(ns, ours, "o-", color="tab:blue", label="PixVerseAccount through the provider host")
    ax.plot(
        ns,
        [math.ceil(n / workers) * latency for n in ns],
        ":",
        color="gray",
        label=f"floor: ceil(N / {workers} host workers) x latency",
    )
    create = results["create"]
    if "sleep_provider" in create:
        ax.plot(
            [create["n"]],
            [create["sleep_provider"]["seconds"]],
            "x",
            color="black",
            label="same host, provider that only sleeps (SDK's own floor)",
        )
    for n, seconds, point in zip(ns, ours, sweep, strict=True):
        ax.annotate(
            f"{point['ratio']:.2f}x baseline",
            (n, seconds),
            textcoords="offset points",
            xytext=(0, 9),
            ha="center",
            fontsize=8,
            color="tab:blue",
        )
    machine = results["machine"]
    ax.set_title(
        f"Creating N accounts at {latency * 1000:g} ms per request "
        f"({machine['nproc']} CPUs, Python {machine['python']}, pulumi {machine['pulumi_sdk']})",
        fontsize=9,
    )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.xaxis.set_major_locator(FixedLocator(ns))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.set_xlim(ns[0] * 0.6, ns[-1] * 1.5)  # room for the ratio labels
    ax.set_xlabel("accounts created (N, log scale)")
    ax.set_ylabel("wall time, s (log scale)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
