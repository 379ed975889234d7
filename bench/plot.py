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
from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator, ScalarFormatter


def draw(results: dict[str, Any], path: Path) -> None:
    panels = [name for name in ("sweep", "engine") if name in results]
    widths = [1.0 if name == "sweep" else 1.8 for name in panels]
    fig, axes = plt.subplots(
        1,
        len(panels),
        figsize=(6 * sum(widths), 5.2),
        dpi=120,
        squeeze=False,
        gridspec_kw={"width_ratios": widths},
    )
    for ax, name in zip(axes[0], panels, strict=True):
        if name == "sweep":
            _draw_sweep(ax, results)
        else:
            _draw_engine(ax, results["engine"])
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _draw_engine(ax: Axes, engine: dict[str, Any]) -> None:
    """Grouped bars: `up` and `destroy` per point and parallelism, ours and the floor (medians,
    whiskers min to max), the model of each as a black mark."""
    labels: list[str] = []
    ours: list[float] = []
    floors: list[float] = []
    ours_err: list[list[float]] = [[], []]
    floor_err: list[list[float]] = [[], []]
    models: list[tuple[float, float]] = []
    ratios: list[float] = []
    for point in engine["points"]:
        for run in point["parallel"].values():
            for op in ("up", "destroy"):
                entry = run["operations"][op]
                labels.append(f"{op}\n{point['latency_s']:g}s x{point['n']}\np={run['value']}")
                for side, values, err in (("ours", ours, ours_err), ("floor", floors, floor_err)):
                    data = entry[side]
                    values.append(data["median_s"])
                    err[0].append(data["median_s"] - data["min_s"])
                    err[1].append(data["max_s"] - data["median_s"])
                models.append((entry["model_s"]["ours"], entry["model_s"]["floor"]))
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
        label="ours: the project's host, as many calls at once as the engine sends",
    )
    ax.bar(
        [i + width / 2 for i in x],
        floors,
        width,
        yerr=floor_err,
        capsize=2,
        color="tab:gray",
        label="floor: sleep-only dynamic resources in the SDK's host (4 at once)",
    )
    ax.scatter(
        [i + offset for i in x for offset in (-width / 2, width / 2)],
        [value for pair in models for value in pair],
        marker="_",
        s=120,
        color="black",
        zorder=3,
        label="model: zero-latency time + ceil(N / parallel) x latency per call in a row",
    )
    for i, ratio in enumerate(ratios):
        top = max(ours[i] + ours_err[1][i], floors[i] + floor_err[1][i])
        ax.annotate(
            f"{ratio:.2f}x",
            (i, top),
            textcoords="offset points",
            xytext=(0, 3),
            ha="center",
            fontsize=6,
            color="tab:blue",
        )
    ax.set_xticks(x)
    ax.set_xticklabels(labels, fontsize=6)
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(FixedLocator([1, 2, 5, 10, 20, 50]))
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_minor_formatter(NullFormatter())
    machine = engine.get("machine", {})
    ax.set_title(
        f"Through the real engine (pulumi {machine.get('pulumi_cli', '?')}): up and destroy, "
        f"ours / floor, at the CLI's default parallelism and the pipeline's\nmedians of "
        f"interleaved runs, whiskers min to max; {machine.get('nproc', '?')} CPUs, 1-min load "
        f"{machine.get('loadavg_1m_start', '?')} to {machine.get('loadavg_1m_end', '?')}",
        fontsize=8,
    )
    ax.set_ylabel("wall time of the command, s (log)")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=6, loc="upper left")


def _draw_sweep(ax: Axes, results: dict[str, Any]) -> None:
    sweep = results["sweep"]
    latency = results["settings"]["latency_s"]
    # Calls at once: the engine's (the harness's threads) within the host's width.
    workers = min(results["settings"]["host_workers"], results["settings"]["engine_parallel"])
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
        label=f"floor: ceil(N / {workers} calls at once) x latency",
    )
    create = results["create"]
    if "sleep_provider" in create:
        ax.plot(
            [create["n"]],
            [create["sleep_provider"]["seconds"]],
            "x",
            color="black",
            label="same host, provider that only sleeps (the host's own floor)",
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
