"""The parallelism against a throttled API: `pulumi up` and `destroy` of N accounts at
`--parallel` 8, 16 and 32 (`PULUMI_PARALLEL`), against the emulator as it is and against the
emulator throttled: it serves only K requests at once and answers 429 with `Retry-After`
beyond them (`--admit-at-once`). Ours only: the question is what a parallelism costs our
project when useapi.net admits fewer calls than the engine sends, which its docs do not say.

Each run also counts the calls the emulator handled and the 429s it answered, and checks that
every account was applied once (N accounts after `up`, none after `destroy`): the gate in the
client (`provider/host/useapi/throttle.py`) must turn a throttled burst into fewer calls at
once, not into failures or a storm of retries.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .cli_project import PROJECT_ROOT
from .emulator_process import EmulatorProcess
from .fleet_stacks import TOKEN, ours_project, with_fleet

PARALLELS = (8, 16, 32)
OPERATIONS = ("up", "destroy")


def run(
    work: Path,
    pulumi: str,
    n: int,
    latency: float,
    admitted: int,
    repeat: int,
    retry_after: int = 1,
    parallels: Sequence[int] = PARALLELS,
    progress: Callable[[str], None] = print,
) -> dict[str, Any]:
    modes: dict[str, int | None] = {"unthrottled": None, f"{admitted} at once": admitted}
    out: dict[str, Any] = {
        "n": n,
        "latency_s": latency,
        "admitted": admitted,
        "retry_after_s": retry_after,
        "repeat": repeat,
        "modes": {},
    }
    for mode, limit in modes.items():
        with EmulatorProcess(latency, TOKEN, PROJECT_ROOT, limit, retry_after) as emulator:
            root = work / f"throttle-{limit or 'none'}-{n}"
            project = with_fleet(ours_project(root, pulumi), emulator, n)
            runs: dict[int, dict[str, dict[str, list[float]]]] = {
                p: {op: {"seconds": [], "calls": [], "throttled": []} for op in OPERATIONS}
                for p in parallels
            }
            for rep in range(repeat):
                order = list(parallels) if rep % 2 == 0 else list(reversed(parallels))
                for parallel in order:
                    for op in OPERATIONS:
                        calls, throttled = len(emulator.calls()), emulator.throttled()
                        timed = project.command(op, env={"PULUMI_PARALLEL": str(parallel)})
                        record = runs[parallel][op]
                        record["seconds"].append(round(timed.seconds, 3))
                        record["calls"].append(len(emulator.calls()) - calls)
                        record["throttled"].append(emulator.throttled() - throttled)
                        want = n if op == "up" else 0
                        have = emulator.account_count()
                        if have != want:
                            raise RuntimeError(f"{mode}: after {op} the emulator holds {have}")
                progress(f"  throttling, {mode}: repetition {rep + 1}/{repeat} done")
        out["modes"][mode] = {
            str(parallel): {
                op: {
                    "median_s": round(statistics.median(record["seconds"]), 3),
                    "samples_s": record["seconds"],
                    "http_calls": record["calls"],
                    "throttled_429": record["throttled"],
                }
                for op, record in ops.items()
            }
            for parallel, ops in runs.items()
        }
    return out


def table(result: dict[str, Any]) -> str:
    title = (
        f"parallelism against throttling: ours, N={result['n']}, {result['latency_s']:g} s a "
        f"call (medians of {result['repeat']}; 429s answered, calls handled)"
    )
    lines = [title, f"  {'emulator':<14} {'parallel':>8} {'up s':>7} {'429':>5} "
                    f"{'destroy s':>10} {'429':>5} {'calls':>10}"]  # fmt: skip
    for mode, by_parallel in result["modes"].items():
        for parallel, ops in by_parallel.items():
            up, destroy = ops["up"], ops["destroy"]
            lines.append(
                f"  {mode:<14} {parallel:>8} {up['median_s']:>7.2f} "
                f"{max(up['throttled_429']):>5} {destroy['median_s']:>10.2f} "
                f"{max(destroy['throttled_429']):>5} "
                f"{max(up['http_calls']):>4}+{max(destroy['http_calls']):<4}"
            )
    return "\n".join(lines)
