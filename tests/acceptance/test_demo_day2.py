"""`make up` ends with the fleet report; `make drift` (the launcher's offline path) passes on
an untouched demo fleet and fails, naming the account, after a change behind the stack's
back — here an edit of the emulator's state file between runs, as a dashboard edit would be."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.stack_support import link_project

from .test_demo import assert_emulator_stopped, demo, fake_pulumi


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return link_project(tmp_path / "project")


@pytest.mark.timeout(180)
def test_make_up_prints_the_report_and_make_drift_names_a_change_made_outside(
    project: Path,
) -> None:
    up = demo(project, "up")
    assert up.returncode == 0, up.stdout + up.stderr
    report = up.stdout[up.stdout.index("### PixVerse fleet") :]
    assert up.stdout.index("Outputs:") < up.stdout.index("### PixVerse fleet")
    assert "| render@example.com | render | " in report
    assert report.rstrip().endswith("| **Fleet total** | 3 accounts | | **10** |")

    clean = demo(project, "drift")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "no drift: the 3 account(s) of Pulumi.demo.yaml match useapi.net" in clean.stdout

    state = project / ".demo" / "emulator.json"
    saved = json.loads(state.read_text())
    for account in saved["accounts"]:
        if account["email"] == "render@example.com":
            account["maxJobs"] = 1
    state.write_text(json.dumps(saved))

    drifted = demo(project, "drift")
    assert drifted.returncode == 1, drifted.stdout + drifted.stderr
    assert "no changes were expected but changes were proposed" in drifted.stderr
    assert [line for line in drifted.stdout.splitlines() if line.startswith("drift: ")] == [
        "drift: render@example.com: maxJobs 5→1 (changed on useapi.net; "
        "`pulumi up` sets it back to 5)"
    ]
    for run in (up, clean, drifted):
        assert_emulator_stopped(run.stdout)


@pytest.mark.timeout(120)
def test_with_the_cli_make_drift_runs_the_refresh_preview_then_names_the_accounts(
    project: Path, tmp_path: Path
) -> None:
    """The CLI path, recorded by a stand-in `pulumi` that succeeds and prints nothing (so the
    stack has no outputs: every declared account reads as never applied)."""
    env, log = fake_pulumi(tmp_path)

    completed = demo(project, "drift", env)

    assert completed.returncode == 1, completed.stdout + completed.stderr
    argvs = [json.loads(line)["argv"] for line in log.read_text().splitlines()]
    target = ["--stack", "demo", "--config-file", str(project / ".demo" / "Pulumi.demo.yaml")]
    assert argvs[-2:] == [
        ["preview", "--refresh", "--expect-no-changes", "--diff", "--non-interactive", *target],
        ["stack", "output", "--json", "--stack", "demo"],
    ]
    named = [line for line in completed.stdout.splitlines() if line.startswith("drift: ")]
    assert [line.split(":")[1].strip() for line in named] == [
        "batch@example.com",
        "ops@example.com",
        "render@example.com",
    ]
    assert all("never applied" in line for line in named)
    assert_emulator_stopped(completed.stdout)
