"""What the benchmark ran on, and what the provider host process cost (read from /proc)."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import time
from importlib import metadata
from pathlib import Path
from typing import Any


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def pulumi_cli_version(cli: str | None = None) -> str:
    """The version of `cli` (default: the `pulumi` on PATH)."""
    cli = cli or shutil.which("pulumi")
    if cli is None:
        return "not installed (the benchmark plays the engine's side itself)"
    try:
        done = subprocess.run([cli, "version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return done.stdout.strip() or "unknown"


def describe(cli: str | None = None) -> dict[str, Any]:
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "pulumi_sdk": metadata.version("pulumi"),
        "pulumi_cli": pulumi_cli_version(cli),
        "grpcio": metadata.version("grpcio"),
        "requests": metadata.version("requests"),
    }


def _status_kib(pid: int, field: str) -> int | None:
    """A `VmXXX:  1234 kB` line of /proc/<pid>/status, in KiB (None off Linux)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def peak_rss_kib(pid: int) -> int | None:
    """The process's high-water mark of resident memory so far."""
    return _status_kib(pid, "VmHWM")


def rss_kib(pid: int) -> int | None:
    return _status_kib(pid, "VmRSS")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time the process has used so far."""
    try:
        # Fields after the command name (which may hold spaces) start at field 3.
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])
    except (OSError, ValueError, IndexError):
        return None
    return ticks / os.sysconf("SC_CLK_TCK")


def _all_cpu_ticks() -> dict[int, tuple[str, int]]:
    """pid → (command name, user + system ticks) of every process visible now."""
    out: dict[int, tuple[str, int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        name = text[text.find("(") + 1 : text.rfind(")")]
        fields = text.rsplit(")", 1)[1].split()
        try:
            out[int(entry.name)] = (name, int(fields[11]) + int(fields[12]))
        except (ValueError, IndexError):
            continue
    return out


def _cpu_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot, from the first line of /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def load_snapshot(window: float = 2.0, threshold: float = 0.05) -> dict[str, Any]:
    """How busy the machine is over `window` seconds: the share of all CPUs in use, and the
    processes that used more than `threshold` of a CPU (by command name only: a command line
    may hold anything), busiest first. Processes that start and end inside the window show in
    the share only. Empty off Linux."""
    if not Path("/proc/stat").exists():
        return {}
    before, busy_before = _all_cpu_ticks(), _cpu_jiffies()
    time.sleep(window)
    after, busy_after = _all_cpu_ticks(), _cpu_jiffies()
    ticks_per_second = os.sysconf("SC_CLK_TCK")
    busy = []
    for pid, (name, ticks) in after.items():
        used = (ticks - before.get(pid, (name, 0))[1]) / ticks_per_second / window
        if pid != os.getpid() and used > threshold:
            busy.append({"command": name, "cpu_share": round(used, 2)})
    spent, total = (a - b for a, b in zip(busy_after, busy_before, strict=True))
    return {
        "window_s": window,
        "cpu_busy_share": round(spent / total, 2) if total else None,
        "busy_processes": sorted(busy, key=lambda item: -float(item["cpu_share"])),
    }
