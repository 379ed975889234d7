"""Where the time of one `pulumi` command goes: `python -m bench.engine_profile --n 200`.

Runs the command on our program and on the floor program (as the real-engine section does, same
stack config, same emulator in a process of its own) and reports, for each:
- phases, from the engine's own log of its gRPC calls (`PULUMI_DEBUG_GRPC`): engine start-up
  until it runs the program, the program's start until its first registration, the provider
  host's start until it is configured, the resource operations, the program's outputs and exit,
  and the engine's finish (the last checkpoint, the summary) until the CLI exits;
- CPU seconds per process (the CLI, the language host, the program, the provider host, the
  emulator), sampled from /proc while the command runs;
- with `--py-spy` (a dev dependency), where the program and the provider host spend their CPU:
  the functions of ours, and the SDK's busiest, sampled only while a thread holds the GIL.

A profile is one run: it explains a ratio, it does not replace the medians of `make bench`.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .cli_project import COMMANDS, PROJECT_ROOT, CliProject, find_pulumi
from .emulator_process import EmulatorProcess
from .fleet_stacks import TOKEN, paired_projects

POLL_SECONDS = 0.02
# Roles of the processes a command starts, told apart by their command lines.
ROLES = (
    ("py-spy (the profiler itself)", "py-spy "),
    ("provider host", "-m provider.host.dynamic_host"),
    ("provider host", "-m pulumi.dynamic"),
    ("program", "pulumi-language-python-exec"),
    ("language host", "pulumi-language-python"),
    ("plugin shim", "pulumi-resource-pulumi-python"),
    ("CLI and engine", "pulumi"),
)
OURS_PATH = re.compile(r"\((?:provider/|__main__\.py|bench/)")


def _role(cmdline: str) -> str:
    for role, marker in ROLES:
        if marker in cmdline:
            return role
    return "other"


def _ticks(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds) of a process, or None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@dataclass
class ProcessTree:
    """The CPU time of every process under one root, polled until the root exits (a process
    that ends between two polls loses at most one poll interval of CPU)."""

    root: int
    cpu: dict[int, float] = field(default_factory=dict)
    roles: dict[int, str] = field(default_factory=dict)

    def poll(self) -> None:
        stats = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                found = _ticks(int(entry.name))
                if found is not None:
                    stats[int(entry.name)] = found
        tree = {self.root}
        grew = True
        while grew:
            grew = False
            for pid, (parent, _cpu) in stats.items():
                if parent in tree and pid not in tree:
                    tree.add(pid)
                    grew = True
        for pid in tree & stats.keys():
            self.cpu[pid] = stats[pid][1]
            if pid not in self.roles:
                self.roles[pid] = _role(_cmdline(pid))

    def by_role(self) -> dict[str, float]:
        out: dict[str, float] = collections.defaultdict(float)
        for pid, cpu in self.cpu.items():
            out[self.roles.get(pid, "other")] += cpu
        return {role: round(cpu, 2) for role, cpu in sorted(out.items(), key=lambda kv: -kv[1])}


@contextmanager
def _sampling(pid: int) -> Iterator[ProcessTree]:
    tree = ProcessTree(pid)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            tree.poll()
            stop.wait(POLL_SECONDS)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield tree
    finally:
        stop.set()
        thread.join()


def _timestamp(text: str) -> float | None:
    """The log's RFC 3339 time (nanoseconds) as epoch seconds; None for the zero time the log
    writes on some streaming calls."""
    if text.startswith("0001-"):
        return None
    base, _, fraction = text.rstrip("Z").partition(".")
    return datetime.fromisoformat(base + "+00:00").timestamp() + float(f"0.{fraction or 0}")


def phases(log: Path, started: float, ended: float) -> dict[str, float]:
    """The phases of one command from the engine's gRPC log, in seconds."""
    first: dict[str, float] = {}
    last: dict[str, float] = {}
    for line in log.read_text().splitlines():
        entry = json.loads(line)
        at = _timestamp(entry.get("timestamp", "0001-"))
        if at is None or entry.get("progress") != "response_completed":
            continue
        method = entry["method"].rsplit("/", 1)[-1]
        first.setdefault(method, at)
        last[method] = at
    marks: list[tuple[str, float | None]] = [
        ("engine start (plugins, state, config)", first.get("GetRequiredPackages")),
        ("program start, until its first registration", first.get("RegisterResource")),
        ("provider host start, until configured", first.get("Configure")),
        (
            "resource operations (Check, Diff, Create, Read, Delete)",
            max(
                (
                    last[m]
                    for m in ("Check", "Diff", "Create", "Update", "Read", "Delete")
                    if m in last
                ),
                default=None,
            ),
        ),
        ("program: outputs, until registered", last.get("RegisterResourceOutputs")),
        ("program exit, until the language host answers", last.get("Run")),
        ("engine finish (last checkpoint, summary), until the CLI exits", ended),
    ]
    out: dict[str, float] = {}
    previous = started
    for name, mark in marks:
        if mark is None:
            continue
        out[name] = round(mark - previous, 3)
        previous = mark
    return out


def _py_spy() -> str | None:
    found = shutil.which("py-spy") or str(PROJECT_ROOT / "venv" / "bin" / "py-spy")
    return found if Path(found).exists() else None


def _hot_frames(raw: Path, rate: int, top: int) -> dict[str, dict[str, float]]:
    """From py-spy's collapsed stacks: per process role, seconds in each of our functions and in
    the SDK's busiest functions (inclusive), while holding the GIL."""
    ours: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    sdk: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    total: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        procs = [frame for frame in frames if frame.startswith("process ")]
        role = _role(procs[-1]) if procs else "other"
        total[role] += int(count)
        seen = {re.sub(r":\d+\)$", ")", f) for f in frames if not f.startswith("process ")}
        for frame in seen:
            (ours if OURS_PATH.search(frame) else sdk)[role][frame] += int(count)
    return {
        role: {
            "total_s": round(total[role] / rate, 2),
            **{f"ours: {f}": round(c / rate, 3) for f, c in ours[role].most_common(top)},
            **{f"sdk: {f}": round(c / rate, 3) for f, c in sdk[role].most_common(top)},
        }
        for role in total
    }


def profile_command(
    project: CliProject, op: str, emulator: EmulatorProcess, spy: str | None, work: Path
) -> dict[str, Any]:
    log = work / f"grpc-{project.root.name}-{op}.log"
    log.unlink(missing_ok=True)
    env = {**project.env, "PULUMI_DEBUG_GRPC": str(log)}
    command = [project.pulumi, *COMMANDS[op]]
    raw = work / f"py-spy-{project.root.name}-{op}.txt"
    rate = 250
    if spy is not None:
        command = [spy, "record", "--gil", "--subprocesses", "--rate", str(rate)]
        command += ["--format", "raw", "-o", str(raw), "--", project.pulumi, *COMMANDS[op]]
    cpu_before = emulator.cpu_seconds()
    started = time.time()
    output = work / f"output-{project.root.name}-{op}.txt"
    with output.open("w") as sink:
        process = subprocess.Popen(
            command, cwd=project.root, env=env, stdout=sink, stderr=subprocess.STDOUT
        )
        with _sampling(process.pid) as tree:
            returncode = process.wait()
    ended = time.time()
    if spy is not None:
        # py-spy's way out can leave the stack's lock behind; the command itself finished.
        project.run("cancel", "--yes", check=False)
    text = output.read_text()
    if returncode != 0 and (spy is None or "Resources:" not in text):
        raise RuntimeError(f"pulumi {op} failed in {project.root}:\n{text[-3000:]}")
    result: dict[str, Any] = {
        "wall_s": round(ended - started, 3),
        "phases_s": phases(log, started, ended),
        "cpu_s": {**tree.by_role(), "emulator": round(emulator.cpu_seconds() - cpu_before, 2)},
    }
    if spy is not None and raw.exists():
        result["py_spy_gil_s"] = _hot_frames(raw, rate, top=12)
    return result


def run(n: int, ops: Sequence[str], latency: float, use_spy: bool) -> dict[str, Any]:
    pulumi = find_pulumi()
    if pulumi is None:
        raise SystemExit("no pulumi CLI: `make cli` builds it (needs Go)")
    spy = _py_spy() if use_spy else None
    if use_spy and spy is None:
        raise SystemExit("py-spy is not installed: make venv (it is in requirements-dev.lock.txt)")
    results: dict[str, Any] = {"n": n, "latency_s": latency, "loadavg_1m": os.getloadavg()[0]}
    with (
        tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp,
        EmulatorProcess(latency, TOKEN, PROJECT_ROOT) as emulator,
    ):
        work = Path(tmp)
        sides = paired_projects(work, "", pulumi, latency, emulator, n)
        for side, project in sides.items():
            for op in ops:
                if op in ("preview", "refresh") and "up" not in ops:
                    project.command("up")  # a no-op preview and a refresh need a fleet
                results.setdefault(side, {})[op] = profile_command(project, op, emulator, spy, work)
            if "destroy" not in ops:
                project.command("destroy")
    return results


def table(results: dict[str, Any]) -> str:
    lines: list[str] = []
    for op in results["ours"]:
        ours, floor = results["ours"][op], results["floor"][op]
        lines.append(f"{op} of {results['n']}: ours {ours['wall_s']} s, floor {floor['wall_s']} s")
        for phase in dict.fromkeys([*ours["phases_s"], *floor["phases_s"]]):
            lines.append(
                f"  {phase:<64} {ours['phases_s'].get(phase, 0):>7.3f} "
                f"{floor['phases_s'].get(phase, 0):>7.3f}"
            )
        lines.append("  CPU seconds by process (ours / floor):")
        for role in dict.fromkeys([*ours["cpu_s"], *floor["cpu_s"]]):
            lines.append(
                f"    {role:<62} {ours['cpu_s'].get(role, 0):>7.2f} "
                f"{floor['cpu_s'].get(role, 0):>7.2f}"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.engine_profile", description=__doc__)
    parser.add_argument("--n", type=int, default=200, help="accounts (200)")
    parser.add_argument(
        "--ops",
        type=lambda text: [op for op in text.split(",") if op],
        default=["up", "preview", "refresh", "destroy"],
        help="commands to profile, in this order (up,preview,refresh,destroy)",
    )
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per request (0.1)")
    parser.add_argument("--py-spy", action="store_true", help="also sample with py-spy")
    parser.add_argument("--out", type=Path, help="write the whole profile as JSON here")
    args = parser.parse_args(argv)
    results = run(args.n, args.ops, args.latency, args.py_spy)
    print(table(results))
    if args.out is not None:
        args.out.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
