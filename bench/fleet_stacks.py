"""The stacks every real-engine comparison starts from: ours and the floor, each a project of
its own with the same N accounts (emails, maxJobs, secret passwords), pointed at the emulator.

Kept apart from the sections that time them (`real_engine`, `fleet_options`, `throttling`) so
that each of those builds its projects the same way without importing another section.
"""

from __future__ import annotations

from pathlib import Path

from .cli_project import PROJECT_ROOT, CliProject
from .emulator_process import EmulatorProcess
from .sleep_provider import SLEEP_ENV

PASSWORD = "bench-password"  # the emulator accepts any; never a real one
MAX_JOBS = 3
TOKEN = "bench-useapi-token"


def emails(n: int) -> list[str]:
    return [f"fleet{i:04d}@example.com" for i in range(n)]


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


def with_fleet(project: CliProject, emulator: EmulatorProcess, n: int) -> CliProject:
    """`project` with a stack of N accounts pointed at the emulator: the same emails, maxJobs
    and secret passwords on every side of every comparison."""
    addresses = emails(n)
    project.init(
        emulator.base_url,
        TOKEN,
        dict.fromkeys(addresses, MAX_JOBS),
        dict.fromkeys(addresses, PASSWORD),
    )
    return project


def paired_projects(
    work: Path, tag: str, pulumi: str, latency: float, emulator: EmulatorProcess, n: int
) -> dict[str, CliProject]:
    """Ours and the floor, side by side, each with the same stack of N accounts: what every
    comparison starts from."""
    return {
        "ours": with_fleet(ours_project(work / f"ours{tag}", pulumi), emulator, n),
        "floor": with_fleet(floor_project(work / f"floor{tag}", pulumi, latency), emulator, n),
    }
