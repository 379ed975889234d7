"""The real-engine benchmark measures what it says: the floor program is a fair floor (same
stack outputs, same secrets in state as ours), the emulator's request log counts the calls, and
the verdict names every missed target. Timings themselves are never asserted here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench import fleet_options, machine, real_engine
from bench.cli_project import CliProject, find_pulumi
from bench.emulator_process import EmulatorProcess
from bench.fleet_stacks import MAX_JOBS, PASSWORD, TOKEN, emails, floor_project, ours_project

PULUMI = find_pulumi()
SECRET_SIG = "4dabf18193072939515e22adb298388d"  # the engine's marker of a secret value


def _shape(value: Any) -> Any:
    """A value's structure with its leaves reduced to their types (times and names differ)."""
    if isinstance(value, dict):
        if SECRET_SIG in value:
            return "secret"
        return {key: _shape(item) for key, item in value.items()}
    return type(value).__name__


def _state(project: CliProject) -> dict[str, Any]:
    """Each account's inputs and outputs in state, by shape, `__provider` aside."""
    deployment = json.loads(project.run("stack", "export").output)["deployment"]
    accounts = {}
    for resource in deployment.get("resources") or []:
        if resource["type"].startswith("pulumi-python:dynamic"):
            accounts[resource["urn"].rsplit("::", 1)[-1]] = {
                part: _shape({k: v for k, v in resource.get(part, {}).items() if k != "__provider"})
                for part in ("inputs", "outputs")
            }
    return accounts


@pytest.mark.cli
@pytest.mark.skipif(PULUMI is None, reason="no pulumi CLI: `make cli` builds it")
def test_the_floor_program_stores_and_exports_what_ours_does(tmp_path: Path) -> None:
    assert PULUMI is not None
    addresses = emails(2)
    with EmulatorProcess(0.0, TOKEN, Path.cwd()) as emulator:
        sides = {
            "ours": ours_project(tmp_path / "ours", PULUMI),
            "floor": floor_project(tmp_path / "floor", PULUMI, 0.0),
        }
        shapes = {}
        for name, project in sides.items():
            project.init(
                emulator.base_url,
                TOKEN,
                dict.fromkeys(addresses, MAX_JOBS),
                dict.fromkeys(addresses, PASSWORD),
            )
            before = len(emulator.calls())
            project.command("up")
            calls = len(emulator.calls()) - before
            outputs = json.loads(project.run("stack", "output", "--json").output)
            shapes[name] = (_shape(outputs), _state(project))
            project.command("preview")  # --expect-no-changes: fails on any diff
            project.command("destroy")
            # Ours posts once per account; the floor never calls the API.
            assert calls == (len(addresses) if name == "ours" else 0)
        assert emulator.account_count() == 0
    assert shapes["ours"] == shapes["floor"]
    assert shapes["ours"][1][addresses[0]]["outputs"]["password"] == "secret"


def _section(
    ratio_up: float, ratio_destroy: float, preview_calls: int, refresh_calls: int
) -> dict[str, Any]:
    def entry(ratio: float, calls: int, target: float | None) -> dict[str, Any]:
        ours = {
            "median_s": 2 * ratio,
            "min_s": 2 * ratio,
            "max_s": 2 * ratio,
            "http_calls": [calls],
        }
        floor = {"median_s": 2.0, "min_s": 2.0, "max_s": 2.0}
        out: dict[str, Any] = {
            "ours": ours,
            "floor": floor,
            "ratio": ratio,
            "ratio_per_repetition": [ratio],
            "model_s": {"ours": 1.0, "floor": 2.0},
        }
        if target is not None:
            out["target_ratio"] = target
        return out

    def point(latency: float, n: int) -> dict[str, Any]:
        runs = {}
        for name, value in (("default", 8), ("pipeline", 32)):
            targets = real_engine.TARGETS.get((latency, n, name), {})
            runs[name] = {
                "value": value,
                "operations": {
                    "up": entry(ratio_up, n, targets.get("up")),
                    "preview": entry(1.0, preview_calls, targets.get("preview")),
                    "refresh": entry(1.0, refresh_calls, None),
                    "destroy": entry(ratio_destroy, n + 2, targets.get("destroy")),
                },
            }
        return {"latency_s": latency, "n": n, "repeat": 3, "parallel": runs}

    return {
        "loadavg_1m_start": 0.1,
        "loadavg_1m_end": 0.1,
        "points": [point(1.0, 50), point(0.1, 200)],
    }


def test_the_verdict_names_each_missed_target_and_nothing_else() -> None:
    assert real_engine.missed(_section(0.4, 0.45, 0, 1)) == []
    assert real_engine.missed(_section(0.5, 0.7, 1, 2)) == [
        "engine destroy at 1 s x 50, default parallelism (8): 0.7 > 0.65",
        "engine preview at 1 s x 50, default: HTTP calls",
        "engine refresh at 1 s x 50, default: more than 1 call",
        "engine up at 1 s x 50, pipeline parallelism (32): 0.5 > 0.45",
        "engine destroy at 1 s x 50, pipeline parallelism (32): 0.7 > 0.5",
        "engine preview at 1 s x 50, pipeline: HTTP calls",
        "engine refresh at 1 s x 50, pipeline: more than 1 call",
        "engine preview at 0.1 s x 200, default: HTTP calls",
        "engine refresh at 0.1 s x 200, default: more than 1 call",
        "engine preview at 0.1 s x 200, pipeline: HTTP calls",
        "engine refresh at 0.1 s x 200, pipeline: more than 1 call",
    ]
    assert "0.700" in real_engine.table(_section(0.5, 0.7, 1, 2))


def test_the_model_is_zero_latency_time_plus_a_latency_per_round_of_calls() -> None:
    model = real_engine.model_seconds
    # Ours: as many at once as the engine sends; a destroy looks, then deletes.
    assert model("up", "ours", 50, 1.0, 8, 1.5) == 1.5 + 7
    assert model("destroy", "ours", 50, 1.0, 32, 1.5) == 1.5 + 2 * 2
    assert model("refresh", "ours", 200, 0.1, 8, 1.0) == 1.0 + 0.1
    assert model("preview", "ours", 200, 0.1, 8, 1.0) == 1.0
    # The floor: four at once in the SDK's host, whatever the engine sends.
    assert model("up", "floor", 50, 1.0, 32, 0.5) == 0.5 + 13
    assert model("refresh", "floor", 50, 1.0, 8, 0.5) == 0.5


def test_ours_runs_in_the_projects_host_and_the_floor_in_the_sdks(tmp_path: Path) -> None:
    ours = ours_project(tmp_path / "ours", "pulumi")
    floor = floor_project(tmp_path / "floor", "pulumi", 0.1)
    declared = yaml.safe_load((ours.root / "Pulumi.yaml").read_text())["plugins"]
    assert declared == {"providers": [{"name": "pulumi-python", "path": "provider/host/plugin"}]}
    assert "plugins" not in yaml.safe_load((floor.root / "Pulumi.yaml").read_text())


def test_the_fleet_options_compare_each_variant_with_the_defaults() -> None:
    names = [variant.name for variant in fleet_options.VARIANTS]
    assert names[0] == fleet_options.DEFAULT.name and len(set(names)) == len(names)
    preview_up = next(v for v in fleet_options.VARIANTS if v.name == "up with its preview")
    assert "--skip-preview" not in preview_up.up and "--yes" in preview_up.up


def test_the_load_snapshot_says_how_busy_the_machine_was() -> None:
    snapshot = machine.load_snapshot(window=0.2)
    if not snapshot:
        pytest.skip("no /proc here")
    assert 0.0 <= snapshot["cpu_busy_share"] <= 1.0
    assert all(set(p) == {"command", "cpu_share"} for p in snapshot["busy_processes"])
