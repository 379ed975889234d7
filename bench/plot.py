"""The benchmark's plot: the provider-host create sweep (time vs N for ours, the baseline and
the floor) and, beside it, the real-engine section (each `pulumi` command, ours beside the
floor program, with the spread of the runs and the ratio of the medians)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: the benchmark runs headless

import matplotlib.pyplot as plt  # after use(): the backend is chosen first
from matplotlib.axes import Axes
from matplotlib.ticker import FixedLocator, NullLocator, ScalarFormatter


def draw(results: dict[str, Any], path: Path) -> None:
    panels = [name for name in ("sweep", "engine") if name in results]
    fig, axes = plt.subplots(1, len(panels), figsize=(7 * len(panels), 4.8), dpi=120, squeeze=False)
    for ax, name in zip(axes[0], panels, strict=True):
        if name == "sweep":
            _draw_sweep(ax, results)
        else:
            _draw_engine(ax, results["engine"])
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _draw_engine(ax: Axes, engine: dict[str, Any]) -> None:
    """Grouped bars: per command and N, ours and the floor (medians, whiskers min to max)."""
    labels: list[str] = []
    ours: list[float] = []
    floors: list[float] = []
    ours_err: list[list[float]] = [[], []]
    floor_err: list[list[float]] = [[], []]
    ratios: list[float] = []
    for point in engine["points"]:
        for op, entry in point["operations"].items():
            labels.append(f"{op}\nN={point['n']}")
            for side, values, err in (("ours", ours, ours_err), ("floor", floors, floor_err)):
                data = entry[side]
                values.append(data["median_s"])
                err[0].append(data["median_s"] - data["min_s"])
                err[1].append(data["max_s"] - data["median_s"])
            ratios.append(entry["ratio"])
    x = list(range(len(labels)))
    width = 0.38
    ax.bar(
        [i - width / 2 for i in x],
        ours,
        width,
        yerr=ours_err,
        capsize=2,
        color="tab:blue",
        label="PixVerseAccount program (ours)",
    )
    ax.bar(
        [i + width / 2 for i in x],
        floors,
        width,
        yerr=floor_err,
        capsize=2,
        color="tab:gray",
        label="floor: sleep-only dynamic resources, same secrets/outputs",
    )
    for i, ratio in enumerate(ratios):
        top = max(ours[i] + ours_err[1][i], floors[i] + floor_err[1][i])
        ax.annotate(
            f"{ratio:.2f}x",
            (i, top),
            textcoords="offset points",
            xytext=(0, 3),
            ha="center",
            fontsize=7,
            color="tab:blue",
        )
    ax.set_xticks(x)
    ax.set_xticklabels(labels, fontsize=7)
    machine = engine.get("machine", {})
    settings = engine["settings"]
    ax.set_title(
        f"Through the real engine (pulumi {machine.get('pulumi_cli', '?')}) at "
        f"{settings['latency_s'] * 1000:g} ms per request\nmedians of {settings['repeat']} "
        f"interleaved runs, whiskers min to max; labels ours / floor; {machine.get('nproc', '?')}"
        f" CPUs, 1-min load {machine.get('loadavg_1m_start', '?')} to "
        f"{machine.get('loadavg_1m_end', '?')}",
        fontsize=8,
    )
    ax.set_ylabel("wall time of the command, s")
    ax.grid(True, axis="y", alpha=0.3)
    ax.set_ylim(0, max(max(ours), max(floors)) * 1.25)  # room for the legend and labels
    ax.legend(fontsize=7, loc="upper left")


def _draw_sweep(ax: Axes, results: dict[str, Any]) -> None:
    sweep = results["sweep"]
    latency = results["settings"]["latency_s"]
    workers = results["settings"]["host_workers"]
    ns = [point["n"] for point in sweep]
    ours = [point["ours"]["seconds"] for point in sweep]
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
        f"Through the provider host: creating N accounts at {latency * 1000:g} ms per request "
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
