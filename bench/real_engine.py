"""The real-engine section of `make bench`: `pulumi up`, a no-op `preview`, `refresh` and
`destroy` of N accounts through the CLI `make cli` builds, each beside the same command on the
floor program (`bench/floor_program.py`: N sleep-only dynamic resources, same secrets, same
outputs), in the same run.

Why this way:
- Users run `pulumi`, not the provider host: the engine, the language host, the program and
  the provider host all take their share, and only the CLI shows the sum.
- A ratio to a floor measured in the same run, command by command, cancels most of what the
  machine does to both (load from other processes, a slower CPU): ours over the floor is what
  our program and provider add, and the part we can remove.
- The two sides take turns (ours first in one repetition, the floor first in the next) and
  the medians count; every sample is kept, so the noise is in the results file.
- The emulator runs in a process of its own and its CPU time is recorded: it must not be what
  limits the run.
"""

from __future__ import annotations

import os
import statistics
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .cli_project import COMMANDS, PROJECT_ROOT, CliProject, Timed
from .emulator_process import EmulatorProcess
from .sleep_provider import SLEEP_ENV

OPERATIONS = tuple(COMMANDS)  # up, preview, refresh, destroy: the order a fleet lives them
PASSWORD = "bench-password"  # the emulator accepts any; never a real one
MAX_JOBS = 3
TOKEN = "bench-useapi-token"
# Targets of the issue that set this section up, at N = 200 (ratios to the floor, same run);
# a smaller N (a --quick run) is not held to them: its fixed costs weigh more.
TARGETS = {"up": 1.15, "preview": 1.10}
TARGET_N = 200
NOOP_PREVIEW_CALLS = 0
REFRESH_MAX_CALLS = 2


def emails(n: int) -> list[str]:
    return [f"fleet{i:04d}@example.com" for i in range(n)]


@dataclass
class Samples:
    """Every timing of one command on one side, and (ours only) the API calls it made."""

    seconds: list[float] = field(default_factory=list)
    http_calls: list[int] = field(default_factory=list)
    emulator_cpu_s: list[float] = field(default_factory=list)

    def median(self) -> float:
        return statistics.median(self.seconds)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "median_s": round(self.median(), 3),
            "min_s": round(min(self.seconds), 3),
            "max_s": round(max(self.seconds), 3),
            "samples_s": [round(s, 3) for s in self.seconds],
        }
        if self.http_calls:
            out["http_calls"] = self.http_calls
        if self.emulator_cpu_s:
            out["emulator_cpu_s_median"] = round(statistics.median(self.emulator_cpu_s), 3)
        return out


def ours_project(root: Path, pulumi: str) -> CliProject:
    files = {"__main__.py": PROJECT_ROOT / "__main__.py", "provider": PROJECT_ROOT / "provider"}
    return CliProject(root, pulumi, files)


def floor_project(root: Path, pulumi: str, latency: float) -> CliProject:
    files = {
        "__main__.py": PROJECT_ROOT / "bench" / "floor_program.py",
        "bench": PROJECT_ROOT / "bench",
    }
    # The floor is any Python dynamic resource as Pulumi serves it: from the SDK's own host.
    return CliProject(root, pulumi, files, {SLEEP_ENV: str(latency)}, stock_host=True)


def paired_projects(
    work: Path, tag: str, pulumi: str, latency: float, emulator: EmulatorProcess, n: int
) -> dict[str, CliProject]:
    """Ours and the floor, side by side, each a stack of the same N accounts (same emails,
    maxJobs and secret passwords) pointed at the emulator: what every comparison starts from."""
    addresses = emails(n)
    sides = {
        "ours": ours_project(work / f"ours{tag}", pulumi),
        "floor": floor_project(work / f"floor{tag}", pulumi, latency),
    }
    for project in sides.values():
        project.init(
            emulator.base_url,
            TOKEN,
            dict.fromkeys(addresses, MAX_JOBS),
            dict.fromkeys(addresses, PASSWORD),
        )
    return sides


def _load() -> float:
    return round(os.getloadavg()[0], 2)


class Section:
    """One run of the section: one emulator, a pair of projects per N."""

    def __init__(
        self,
        pulumi: str,
        latency: float,
        repeat: int,
        options_repeat: int = 0,
        extra: Sequence[str] = (),
        progress: Callable[[str], None] = print,
    ) -> None:
        self.pulumi = pulumi
        self.latency = latency
        self.repeat = repeat
        self.options_repeat = options_repeat
        self.extra = tuple(extra)
        self.progress = progress

    def run(self, ns: Sequence[int]) -> dict[str, Any]:
        results: dict[str, Any] = {
            "settings": {
                "ns": list(ns),
                "repeat": self.repeat,
                "latency_s": self.latency,
                "extra_flags": list(self.extra),
                "parallel": os.environ.get("PULUMI_PARALLEL") or "CLI default (4 x CPUs)",
            },
            "loadavg_1m_start": _load(),
            "points": [],
        }
        with (
            tempfile.TemporaryDirectory(prefix="bench-engine-") as tmp,
            EmulatorProcess(self.latency, TOKEN, PROJECT_ROOT) as emulator,
        ):
            for n in ns:
                results["points"].append(self._point(Path(tmp), emulator, n))
            if self.options_repeat > 0:
                from . import fleet_options  # imports this module: loaded only when used

                results["fleet_options"] = fleet_options.run(
                    Path(tmp), self.pulumi, emulator, max(ns), self.options_repeat, self.progress
                )
        results["loadavg_1m_end"] = _load()
        return results

    def _point(self, tmp: Path, emulator: EmulatorProcess, n: int) -> dict[str, Any]:
        sides = paired_projects(tmp, f"-{n}", self.pulumi, self.latency, emulator, n)
        samples = {side: {op: Samples() for op in OPERATIONS} for side in sides}
        load = [_load()]
        for rep in range(self.repeat):
            order = ("ours", "floor") if rep % 2 == 0 else ("floor", "ours")
            for op in OPERATIONS:
                for side in order:
                    self._measure(sides[side], op, samples[side][op], emulator, side == "ours")
                    self._check(emulator, op, side, n)
            load.append(_load())
            self.progress(
                f"  N={n} repetition {rep + 1}/{self.repeat}: "
                + ", ".join(
                    f"{op} {samples['ours'][op].seconds[-1]:.2f}/"
                    f"{samples['floor'][op].seconds[-1]:.2f} s"
                    for op in OPERATIONS
                )
                + f" (ours/floor; load {load[-1]})"
            )
        return _summary(n, samples, load)

    def _measure(
        self, project: CliProject, op: str, into: Samples, emulator: EmulatorProcess, ours: bool
    ) -> Timed:
        calls_before = len(emulator.calls())
        cpu_before = emulator.cpu_seconds()
        timed = project.command(op, self.extra)
        into.seconds.append(timed.seconds)
        if ours:
            into.http_calls.append(len(emulator.calls()) - calls_before)
            into.emulator_cpu_s.append(emulator.cpu_seconds() - cpu_before)
        return timed

    @staticmethod
    def _check(emulator: EmulatorProcess, op: str, side: str, n: int) -> None:
        """The work was really done: N accounts after ours' up, none after its destroy (the
        count's own list call comes after the command's calls were counted)."""
        if side != "ours" or op not in ("up", "destroy"):
            return
        want = n if op == "up" else 0
        have = emulator.account_count()
        if have != want:
            raise RuntimeError(f"after {op} of {n} the emulator holds {have} accounts")


def _summary(n: int, samples: dict[str, dict[str, Samples]], load: list[float]) -> dict[str, Any]:
    point: dict[str, Any] = {"n": n, "loadavg_1m": load, "operations": {}}
    for op in OPERATIONS:
        ours, floor = samples["ours"][op], samples["floor"][op]
        pairs = [o / f for o, f in zip(ours.seconds, floor.seconds, strict=True)]
        entry: dict[str, Any] = {
            "ours": ours.to_json(),
            "floor": floor.to_json(),
            "ratio": round(ours.median() / floor.median(), 3),
            "ratio_per_repetition": [round(r, 3) for r in pairs],
        }
        if op in TARGETS:
            entry["target_ratio"] = TARGETS[op]
        point["operations"][op] = entry
    return point


def missed(section: dict[str, Any]) -> list[str]:
    """The targets this run missed, by name (timings at N = 200 and above, the largest only)."""
    out: list[str] = []
    for point in section["points"]:
        ops = point["operations"]
        if point["n"] == max(p["n"] for p in section["points"]) and point["n"] >= TARGET_N:
            for op, target in TARGETS.items():
                if ops[op]["ratio"] > target:
                    out.append(f"engine {op} of {point['n']}: {ops[op]['ratio']} > {target}")
        if max(ops["preview"]["ours"]["http_calls"]) > NOOP_PREVIEW_CALLS:
            out.append(f"engine preview of {point['n']}: HTTP calls")
        if max(ops["refresh"]["ours"]["http_calls"]) > REFRESH_MAX_CALLS:
            out.append(f"engine refresh of {point['n']}: more than {REFRESH_MAX_CALLS} calls")
    return out


def table(section: dict[str, Any]) -> str:
    """The section's summary as the README records it."""
    lines = [
        f"{'operation':<10} {'N':>4} {'ours s':>8} {'floor s':>8} {'ratio':>6} "
        f"{'range':>13} {'HTTP':>9}  target"
    ]
    for point in section["points"]:
        for op, entry in point["operations"].items():
            per_rep = entry["ratio_per_repetition"]
            calls = entry["ours"].get("http_calls", [])
            call_text = f"{min(calls)}-{max(calls)}" if calls and min(calls) != max(calls) else ""
            if calls and not call_text:
                call_text = str(calls[0])
            target = entry.get("target_ratio")
            lines.append(
                f"{op:<10} {point['n']:>4} {entry['ours']['median_s']:>8.2f} "
                f"{entry['floor']['median_s']:>8.2f} {entry['ratio']:>6.3f} "
                f"{min(per_rep):>6.3f}-{max(per_rep):<6.3f} {call_text:>9}  "
                f"{'<= ' + str(target) if target else ''}"
            )
    lines.append(
        f"medians of {section['settings']['repeat']} interleaved runs; range: ours/floor per "
        f"run; 1-min load {section['loadavg_1m_start']} at start, {section['loadavg_1m_end']} "
        "at end"
    )
    return "\n".join(lines)
