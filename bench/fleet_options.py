"""What a team with a big fleet can change about `pulumi up` and `destroy`, measured.

At 0.1 s x 200, our program only (the floor does not matter here: the question is what a
user's own command costs), each variant of the command beside the CLI's defaults, interleaved,
medians of several runs (the parallelism has sections of its own, `real_engine` and
`throttling`):
- `up` with its preview (no `--skip-preview`), the way `pulumi up --yes` runs by default;
- `PULUMI_SKIP_CHECKPOINTS=true`: the engine writes the whole checkpoint after every step on
  the file and S3 backends, which is most of its CPU at fleet size; skipping it trades that for
  having no record of a run that is cut off half-way (bench/README.md says when that is safe).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .cli_project import COMMANDS, CliProject
from .emulator_process import EmulatorProcess
from .fleet_stacks import ours_project, with_fleet


@dataclass(frozen=True)
class Variant:
    name: str
    up: tuple[str, ...]
    destroy: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()


DEFAULT = Variant("CLI defaults", COMMANDS["up"], COMMANDS["destroy"])
VARIANTS = (
    DEFAULT,
    Variant(
        "up with its preview",
        tuple(arg for arg in COMMANDS["up"] if arg != "--skip-preview"),
        COMMANDS["destroy"],
    ),
    Variant(
        "PULUMI_SKIP_CHECKPOINTS=true",
        COMMANDS["up"],
        COMMANDS["destroy"],
        (("PULUMI_SKIP_CHECKPOINTS", "true"),),
    ),
)


def run(
    tmp: Path,
    pulumi: str,
    emulator: EmulatorProcess,
    n: int,
    repeat: int,
    progress: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Each variant's up and destroy of N new accounts, `repeat` times, taking turns."""
    project = with_fleet(ours_project(tmp / f"options-{n}", pulumi), emulator, n)
    samples: dict[str, dict[str, list[float]]] = {
        v.name: {"up": [], "destroy": []} for v in VARIANTS
    }
    for rep in range(repeat):
        order = VARIANTS if rep % 2 == 0 else tuple(reversed(VARIANTS))
        for variant in order:
            for op, args in (("up", variant.up), ("destroy", variant.destroy)):
                samples[variant.name][op].append(_timed(project, args, dict(variant.env)))
        progress(f"  fleet options, N={n}: repetition {rep + 1}/{repeat} done")
    base = {op: statistics.median(samples[DEFAULT.name][op]) for op in ("up", "destroy")}
    return {
        "n": n,
        "repeat": repeat,
        "variants": {
            name: {
                op: {
                    "median_s": round(statistics.median(times), 3),
                    "samples_s": [round(t, 3) for t in times],
                    "vs_defaults": round(statistics.median(times) / base[op], 3),
                }
                for op, times in ops.items()
            }
            for name, ops in samples.items()
        },
    }


def _timed(project: CliProject, args: Sequence[str], env: dict[str, str]) -> float:
    saved = dict(project.env)
    project.env.update(env)
    try:
        return project.run(*args).seconds
    finally:
        project.env.clear()
        project.env.update(saved)


def table(options: dict[str, Any]) -> str:
    title = f"fleet options, N={options['n']} (ours; medians of {options['repeat']} runs)"
    lines = [f"{title:<62} {'up s':>8} {'x def':>6} {'destroy s':>10} {'x def':>6}"]
    for name, ops in options["variants"].items():
        lines.append(
            f"  {name:<60} {ops['up']['median_s']:>8.2f} {ops['up']['vs_defaults']:>6.3f} "
            f"{ops['destroy']['median_s']:>10.2f} {ops['destroy']['vs_defaults']:>6.3f}"
        )
    return "\n".join(lines)
