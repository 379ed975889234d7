"""The real-engine section of `make bench`: `pulumi up`, a no-op `preview`, `refresh` and
`destroy` of N accounts through the CLI `make cli` builds, each beside the same command on the
floor program (`bench/floor_program.py`: N sleep-only dynamic resources, same secrets, same
outputs, served by the SDK's own provider host), in the same run, at each point (latency per
request, N) and at two parallelisms: the CLI's default (4 x the CPUs) and the deploy
pipeline's (`PULUMI_PARALLEL`, as `.github/workflows/deploy.yml` sets it).

Why this way:
- Users run `pulumi`, not the provider host: the engine, the language host, the program and
  the provider host all take their share, and only the CLI shows the sum.
- A ratio to a floor measured in the same run, command by command, cancels most of what the
  machine does to both (load from other processes, a slower CPU). The floor runs in the SDK's
  host, four calls at once: what any Python dynamic resource gets from Pulumi.
- The two sides take turns (ours first in one repetition, the floor first in the next), so do
  the two parallelisms, and the medians count; every sample is kept.
- Beside each median, the model of the limit (`model`): the same command at zero latency
  (the engine's, the program's and the host's own time, measured here too) plus one latency for
  each round of calls the parallelism allows, ceil(N / parallel) rounds of the calls one
  account makes one after the other.
- The emulator runs in a process of its own and its CPU time is recorded: it must not be what
  limits the run.
"""

from __future__ import annotations

import math
import os
import statistics
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from provider.host.concurrency import (
    DEPLOY_PARALLEL,
    PARALLEL_ENV,
    available_cpus,
    engine_parallelism,
)

from . import fleet_options, throttling
from .cli_project import COMMANDS, PROJECT_ROOT, CliProject, Timed
from .emulator_process import EmulatorProcess
from .fleet_stacks import TOKEN, paired_projects

OPERATIONS = tuple(COMMANDS)  # up, preview, refresh, destroy: the order a fleet lives them
SDK_HOST_WORKERS = 4  # the SDK's host: ThreadPoolExecutor(max_workers=4)
# Parallelisms, by the name the tables use: the CLI's default (nothing passed) and the one the
# deploy pipeline and `make up` run at (PULUMI_PARALLEL, which the host sees too).
PARALLELS: dict[str, int | None] = {"default": None, "pipeline": DEPLOY_PARALLEL}
# Calls one account makes one after the other, per command: what a round of the model costs.
# A destroy looks at the running jobs, then deletes (the look is shared, the wait is not).
ROUNDS = {"up": {"ours": 1, "floor": 1}, "destroy": {"ours": 2, "floor": 1}}
# The targets of the issues that set this section up (ratios to the floor, same run), by
# (latency, N, parallelism). A --quick run's points are not held to them.
TARGETS: dict[tuple[float, int, str], dict[str, float]] = {
    (1.0, 50, "default"): {"up": 0.65, "destroy": 0.65},
    (1.0, 50, "pipeline"): {"up": 0.45, "destroy": 0.5},
    (0.1, 200, "default"): {"up": 1.0, "preview": 1.10, "destroy": 0.8},
    (0.1, 200, "pipeline"): {"up": 1.0, "destroy": 0.8},
}
NOOP_PREVIEW_CALLS = 0
REFRESH_CALLS = 1


def parallelism(name: str) -> int:
    """The steps the engine runs at once under `name` on this machine."""
    value = PARALLELS[name]
    return value if value is not None else engine_parallelism({}, available_cpus())


def parallel_env(name: str) -> dict[str, str]:
    value = PARALLELS[name]
    return {} if value is None else {PARALLEL_ENV: str(value)}


@dataclass(frozen=True)
class Point:
    latency: float
    n: int
    repeat: int


@dataclass
class Samples:
    """Every timing of one command on one side, and the API calls it made (ours)."""

    seconds: list[float] = field(default_factory=list)
    http_calls: list[int] = field(default_factory=list)
    throttled: list[int] = field(default_factory=list)
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
        if any(self.throttled):
            out["throttled_429"] = self.throttled
        if self.emulator_cpu_s:
            out["emulator_cpu_s_median"] = round(statistics.median(self.emulator_cpu_s), 3)
        return out


def model_seconds(op: str, side: str, n: int, latency: float, parallel: int, zero: float) -> float:
    """The limit: the command at zero latency plus a latency per round of calls. Ours runs as
    many calls at once as the engine sends; the floor, in the SDK's host, four."""
    at_once = parallel if side == "ours" else min(parallel, SDK_HOST_WORKERS)
    if op in ROUNDS:
        return zero + math.ceil(n / at_once) * ROUNDS[op][side] * latency
    if op == "refresh" and side == "ours":
        return zero + latency  # one list call, shared by every read
    return zero  # a preview calls nobody; the floor's read answers from state


def _load() -> float:
    return round(os.getloadavg()[0], 2)


class Section:
    """One run of the section: an emulator per latency, a pair of projects per point."""

    def __init__(
        self,
        pulumi: str,
        repeat_model: int = 1,
        options_repeat: int = 0,
        options_at: tuple[float, int] = (0.1, 200),
        throttling: Mapping[str, Any] | None = None,
        extra: Sequence[str] = (),
        progress: Callable[[str], None] = print,
    ) -> None:
        self.pulumi = pulumi
        self.repeat_model = repeat_model
        self.options_repeat = options_repeat
        self.options_at = options_at
        self.throttling = dict(throttling or {})
        self.extra = tuple(extra)
        self.progress = progress

    def run(self, points: Sequence[Point]) -> dict[str, Any]:
        results: dict[str, Any] = {
            "settings": {
                "points": [[p.latency, p.n, p.repeat] for p in points],
                "parallel": {name: parallelism(name) for name in PARALLELS},
                "parallel_how": {
                    "default": "nothing passed: the CLI's default, 4 x the CPUs",
                    "pipeline": f"{PARALLEL_ENV}={DEPLOY_PARALLEL}, as deploy.yml sets it",
                },
                "extra_flags": list(self.extra),
            },
            "loadavg_1m_start": _load(),
            "points": [],
        }
        with tempfile.TemporaryDirectory(prefix="bench-engine-") as tmp, ExitStack() as stack:
            work = Path(tmp)
            emulators: dict[float, EmulatorProcess] = {}

            def emulator(latency: float) -> EmulatorProcess:
                if latency not in emulators:
                    emulators[latency] = stack.enter_context(
                        EmulatorProcess(latency, TOKEN, PROJECT_ROOT)
                    )
                return emulators[latency]

            ns = sorted({p.n for p in points})
            self.progress(f"  the model's zero-latency runs, N = {ns}")
            zero = {n: self._zero_latency(work, emulator(0.0), n) for n in ns}
            results["zero_latency_s"] = {str(n): times for n, times in zero.items()}
            for point in points:
                results["points"].append(
                    self._point(work, emulator(point.latency), point, zero[point.n])
                )
            if self.options_repeat > 0:
                latency, n = self.options_at
                results["fleet_options"] = fleet_options.run(
                    work, self.pulumi, emulator(latency), n, self.options_repeat, self.progress
                )
            if self.throttling.get("repeat", 0) > 0:
                results["throttling"] = throttling.run(
                    work, self.pulumi, progress=self.progress, **self.throttling
                )
        results["loadavg_1m_end"] = _load()
        return results

    def _zero_latency(
        self, work: Path, emulator: EmulatorProcess, n: int
    ) -> dict[str, dict[str, dict[str, float]]]:
        """Each command at zero latency, both sides and parallelisms: the model's base."""
        sides = paired_projects(work, f"-zero-{n}", self.pulumi, 0.0, emulator, n)
        times: dict[str, dict[str, dict[str, list[float]]]] = {
            name: {side: {op: [] for op in OPERATIONS} for side in sides} for name in PARALLELS
        }
        for rep in range(self.repeat_model):
            for name in _turns(PARALLELS, rep):
                for op in OPERATIONS:
                    for side in _turns(sides, rep):
                        timed = sides[side].command(op, self.extra, parallel_env(name))
                        times[name][side][op].append(timed.seconds)
        return {
            name: {
                side: {op: round(statistics.median(v), 3) for op, v in ops.items()}
                for side, ops in by_side.items()
            }
            for name, by_side in times.items()
        }

    def _point(
        self,
        work: Path,
        emulator: EmulatorProcess,
        point: Point,
        zero: dict[str, dict[str, dict[str, float]]],
    ) -> dict[str, Any]:
        tag = f"-{point.latency:g}s-{point.n}"
        sides = paired_projects(work, tag, self.pulumi, point.latency, emulator, point.n)
        samples = {
            name: {side: {op: Samples() for op in OPERATIONS} for side in sides}
            for name in PARALLELS
        }
        load = [_load()]
        for rep in range(point.repeat):
            for name in _turns(PARALLELS, rep):
                for op in OPERATIONS:
                    for side in _turns(sides, rep):
                        into = samples[name][side][op]
                        self._measure(sides[side], op, name, into, emulator, side == "ours")
                        self._check(emulator, op, side, point.n)
            load.append(_load())
            self.progress(
                f"  {point.latency:g} s x {point.n}, repetition {rep + 1}/{point.repeat}: "
                + "; ".join(
                    f"{name} "
                    + ", ".join(
                        f"{op} {samples[name]['ours'][op].seconds[-1]:.1f}/"
                        f"{samples[name]['floor'][op].seconds[-1]:.1f}"
                        for op in OPERATIONS
                    )
                    for name in PARALLELS
                )
                + f" s (ours/floor; load {load[-1]})"
            )
        return _summary(point, samples, zero, load)

    def _measure(
        self,
        project: CliProject,
        op: str,
        parallel: str,
        into: Samples,
        emulator: EmulatorProcess,
        ours: bool,
    ) -> Timed:
        calls_before = len(emulator.calls())
        throttled_before = emulator.throttled()
        cpu_before = emulator.cpu_seconds()
        timed = project.command(op, self.extra, parallel_env(parallel))
        into.seconds.append(timed.seconds)
        if ours:
            into.http_calls.append(len(emulator.calls()) - calls_before)
            into.throttled.append(emulator.throttled() - throttled_before)
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


def _turns(names: Mapping[str, Any], rep: int) -> Iterator[str]:
    """The names in order on even repetitions, reversed on odd ones: each goes first in turn."""
    ordered = list(names)
    return iter(ordered if rep % 2 == 0 else reversed(ordered))


def _summary(
    point: Point,
    samples: dict[str, dict[str, dict[str, Samples]]],
    zero: dict[str, dict[str, dict[str, float]]],
    load: list[float],
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "latency_s": point.latency,
        "n": point.n,
        "repeat": point.repeat,
        "loadavg_1m": load,
        "parallel": {},
    }
    for name in PARALLELS:
        value = parallelism(name)
        targets = TARGETS.get((point.latency, point.n, name), {})
        operations: dict[str, Any] = {}
        for op in OPERATIONS:
            ours, floor = samples[name]["ours"][op], samples[name]["floor"][op]
            pairs = [o / f for o, f in zip(ours.seconds, floor.seconds, strict=True)]
            entry: dict[str, Any] = {
                "ours": ours.to_json(),
                "floor": floor.to_json(),
                "ratio": round(ours.median() / floor.median(), 3),
                "ratio_per_repetition": [round(r, 3) for r in pairs],
                "model_s": {
                    side: round(
                        model_seconds(
                            op, side, point.n, point.latency, value, zero[name][side][op]
                        ),
                        2,
                    )
                    for side in ("ours", "floor")
                },
            }
            if op in targets:
                entry["target_ratio"] = targets[op]
            operations[op] = entry
        out["parallel"][name] = {"value": value, "operations": operations}
    return out


def missed(section: dict[str, Any]) -> list[str]:
    """The targets this run missed, by name."""
    out: list[str] = []
    for point in section["points"]:
        where = f"{point['latency_s']:g} s x {point['n']}"
        for name, run in point["parallel"].items():
            ops = run["operations"]
            for op, entry in ops.items():
                target = entry.get("target_ratio")
                if target is not None and entry["ratio"] > target:
                    out.append(
                        f"engine {op} at {where}, {name} parallelism ({run['value']}): "
                        f"{entry['ratio']} > {target}"
                    )
            if max(ops["preview"]["ours"]["http_calls"]) > NOOP_PREVIEW_CALLS:
                out.append(f"engine preview at {where}, {name}: HTTP calls")
            if max(ops["refresh"]["ours"]["http_calls"]) > REFRESH_CALLS:
                out.append(f"engine refresh at {where}, {name}: more than {REFRESH_CALLS} call")
    return out


def _span(values: list[int]) -> str:
    if not values:
        return ""
    return str(values[0]) if min(values) == max(values) else f"{min(values)}-{max(values)}"


def table(section: dict[str, Any]) -> str:
    """The section's summary as the README records it."""
    lines = [
        f"{'latency x N, parallel':<24} {'command':<8} {'ours s':>7} {'floor s':>7} "
        f"{'ratio':>6} {'range':>13} {'model ours/floor s':>18} {'HTTP':>8}  target"
    ]
    for point in section["points"]:
        for name, run in point["parallel"].items():
            where = f"{point['latency_s']:g} s x {point['n']}, {name} {run['value']}"
            for op, entry in run["operations"].items():
                per_rep = entry["ratio_per_repetition"]
                call_text = _span(entry["ours"].get("http_calls", []))
                target = entry.get("target_ratio")
                model = entry["model_s"]
                lines.append(
                    f"{where:<24} {op:<8} {entry['ours']['median_s']:>7.2f} "
                    f"{entry['floor']['median_s']:>7.2f} {entry['ratio']:>6.3f} "
                    f"{min(per_rep):>6.3f}-{max(per_rep):<6.3f} "
                    f"{model['ours']:>8.2f}/{model['floor']:<9.2f} {call_text:>8}  "
                    f"{'<= ' + str(target) if target else ''}"
                )
    repeats = sorted({point["repeat"] for point in section["points"]})
    lines.append(
        f"medians of {'/'.join(map(str, repeats))} interleaved runs; range: ours/floor per run; "
        f"model: the command at zero latency + ceil(N / parallel) x latency per call in a row "
        f"(the floor: 4 at once); 1-min load {section['loadavg_1m_start']} at start, "
        f"{section['loadavg_1m_end']} at end"
    )
    return "\n".join(lines)
