"""`make up`, `make drift`, `make destroy` as a newcomer types them in a fresh clone: the real
`pulumi` on the demo stack, the bundled emulator started and always stopped, nothing secret
committed or printed. And what `make up` does where there is no CLI: build it where Go exists,
else stop before touching anything and say how to install it."""

from __future__ import annotations

import json
import os
import re
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli_support import TOOLS_BIN, env_without_pulumi_settings, link_project

pytestmark = pytest.mark.cli

OPS, RENDER, BATCH = "ops@example.com", "render@example.com", "batch@example.com"
RUN_TIMEOUT = 240


def clone_env(tmp_path: Path, *, with_cli: bool = True) -> dict[str, str]:
    """The environment `make` runs in; the built CLI first on PATH unless `with_cli` is off,
    in which case PATH keeps no `pulumi` and no `go` either."""
    env = env_without_pulumi_settings()
    env.update(
        PULUMI_HOME=str(tmp_path / "home"),
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
        # The demo must ignore a real backend and passphrase the caller exported.
        PULUMI_BACKEND_URL="https://api.pulumi.example/my-real-org",
        PULUMI_CONFIG_PASSPHRASE="my-real-passphrase",
    )
    if with_cli:
        env["PATH"] = f"{TOOLS_BIN}{os.pathsep}{env.get('PATH', '')}"
    else:
        env["PATH"] = os.pathsep.join(
            part
            for part in env.get("PATH", "").split(os.pathsep)
            if part and not any((Path(part) / tool).exists() for tool in ("pulumi", "go"))
        )
    return env


def run(clone: Path, env: dict[str, str], *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )


def make(clone: Path, env: dict[str, str], target: str) -> subprocess.CompletedProcess[str]:
    return run(clone, env, "make", "--no-print-directory", target)


def assert_emulator_stopped(output: str) -> None:
    """The demo prints the emulator's URL; once it has returned, nothing listens there."""
    match = re.search(r"useapi.net emulator: http://127\.0\.0\.1:(\d+)/v2", output)
    assert match, output
    with socket.socket() as probe:
        probe.settimeout(2)
        assert probe.connect_ex(("127.0.0.1", int(match.group(1)))) != 0


def emulated(clone: Path) -> dict[str, int]:
    """The demo emulator's accounts as it saved them (none: it never saved any)."""
    path = clone / ".demo" / "emulator.json"
    saved = json.loads(path.read_text()) if path.exists() else {"accounts": []}
    return {account["email"]: account["maxJobs"] for account in saved["accounts"]}


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    return link_project(tmp_path / "clone")


@pytest.mark.timeout(300)
def test_make_up_twice_from_a_fresh_clone_then_drift_then_destroy(
    clone: Path, tmp_path: Path
) -> None:
    env = clone_env(tmp_path)
    committed = (clone / "stacks" / "Pulumi.demo.yaml").read_bytes()

    up = make(clone, env, "up")
    assert up.returncode == 0, up.stdout + up.stderr
    assert re.search(r"\+ 4 created", up.stdout), up.stdout  # three accounts and the stack
    assert emulated(clone) == {OPS: 3, RENDER: 5, BATCH: 2}
    report = up.stdout[up.stdout.index("### PixVerse fleet") :]
    assert up.stdout.index("Outputs:") < up.stdout.index("### PixVerse fleet")
    assert "| render@example.com | render | " in report
    # The live report: each account's plan, credits and running jobs, read from the emulator.
    assert "| 5 | Premium - Monthly | " in report and "| 8 | 12450 | 0 |" in report
    assert "| **Fleet total** | 3 accounts | | **10** | | | | **37350** | **0** |" in report
    assert "**Capacity the plans allow:** 10 of 10 maxJobs at once" in report
    assert "Needs attention" not in report and "Not read live" not in report
    # The demo used its own file backend, not the one the caller exported.
    assert (clone / ".pulumi-state" / ".pulumi" / "stacks" / "pixverse-accounts").is_dir()

    again = make(clone, env, "up")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "4 unchanged" in again.stdout
    planned = run(clone, env, sys.executable, "-m", "demo", "preview", "--", "--expect-no-changes")
    assert planned.returncode == 0, planned.stdout + planned.stderr

    clean = make(clone, env, "drift")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "no drift: the 3 account(s) of Pulumi.demo.yaml match useapi.net" in clean.stdout

    # Someone used the dashboard: the emulator keeps its accounts in .demo/emulator.json.
    state_path = clone / ".demo" / "emulator.json"
    state = json.loads(state_path.read_text())
    for account in state["accounts"]:
        if account["email"] == RENDER:
            account["maxJobs"] = 1
    state["accounts"] = [a for a in state["accounts"] if a["email"] != BATCH]
    state_path.write_text(json.dumps(state))
    drifted = make(clone, env, "drift")
    assert drifted.returncode != 0
    assert sorted(line for line in drifted.stdout.splitlines() if line.startswith("drift: ")) == [
        "drift: batch@example.com: deleted on useapi.net: `pulumi up` creates it again",
        "drift: render@example.com: maxJobs 5→1 (changed on useapi.net; "
        "`pulumi up` sets it back to 5)",
    ]

    destroyed = make(clone, env, "destroy")
    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
    assert emulated(clone) == {}

    # Nothing secret committed, printed or stored in the clear; the secrets file is private.
    assert (clone / "stacks" / "Pulumi.demo.yaml").read_bytes() == committed
    passwords = json.loads((clone / ".demo" / "passwords.json").read_text())
    assert sorted(passwords) == sorted([OPS, RENDER, BATCH])
    token = (clone / ".demo" / "useapi-token").read_text().strip()
    printed = "".join(r.stdout + r.stderr for r in (up, again, planned, clean, drifted, destroyed))
    working = (clone / ".demo" / "Pulumi.demo.yaml").read_text()
    for secret in (*passwords.values(), token):
        assert secret not in printed
        assert secret not in state_path.read_text() and secret not in working
    for private in ("passwords.json", "useapi-token", "Pulumi.demo.yaml"):
        assert stat.S_IMODE(os.stat(clone / ".demo" / private).st_mode) == 0o600
    for result in (up, again, planned, clean, drifted, destroyed):
        assert_emulator_stopped(result.stdout)


@pytest.mark.timeout(180)
def test_a_failing_demo_stack_names_the_problem_and_still_stops_the_emulator(
    clone: Path, tmp_path: Path
) -> None:
    stack_file = clone / "stacks" / "Pulumi.demo.yaml"
    stack_file.write_text(stack_file.read_text().replace("maxJobs: 3", "maxJobs: 9"))
    failed = make(clone, clone_env(tmp_path), "up")
    assert failed.returncode != 0
    assert f"{OPS}: maxJobs must be an integer from 1 to 8, got 9" in failed.stdout
    assert_emulator_stopped(failed.stdout)
    assert emulated(clone) == {}, "nothing reached the emulator"


@pytest.mark.timeout(60)
def test_without_a_cli_or_go_make_up_stops_before_touching_anything(
    clone: Path, tmp_path: Path
) -> None:
    before = sorted(path.name for path in clone.iterdir())
    failed = make(clone, clone_env(tmp_path, with_cli=False), "up")
    assert failed.returncode != 0
    assert "the pulumi CLI is not installed" in failed.stderr
    assert "3.139.0" in failed.stderr and "make cli" in failed.stderr
    assert "curl -fsSL https://get.pulumi.com | sh" in failed.stderr
    assert sorted(path.name for path in clone.iterdir()) == before  # no .demo/, no state


STUB_GO = """#!/bin/sh
# Not Go: records that `make up` asked for a build, then fails it (a real build takes minutes).
echo "go $*" >> "{log}"
exit 1
"""


@pytest.mark.timeout(60)
def test_with_go_and_no_cli_make_up_builds_it_first_saying_so(clone: Path, tmp_path: Path) -> None:
    env = clone_env(tmp_path, with_cli=False)
    bin_dir, log = tmp_path / "bin", tmp_path / "go-calls.log"
    bin_dir.mkdir()
    (bin_dir / "go").write_text(STUB_GO.format(log=log))
    (bin_dir / "go").chmod(0o755)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    failed = make(clone, env, "up")
    assert failed.returncode != 0  # the stub's build failed, so nothing ran after it
    lines = failed.stdout.splitlines()
    assert any("one-time build of a few minutes" in line for line in lines), failed.stdout
    assert "make cli: 1/3 the pulumi CLI" in failed.stdout
    calls = log.read_text().splitlines()
    assert calls and calls[0].startswith("go build -v "), calls  # -v: each package, as progress
    assert not (clone / ".demo").exists()


STUB_OLD_PULUMI = """#!/bin/sh
# Answers `pulumi version` as a CLI older than the minimum would; anything else is an error.
[ "$1" = version ] && echo v3.100.0 && exit 0
echo "unexpected: pulumi $*" >&2
exit 2
"""


@pytest.mark.timeout(60)
def test_a_pulumi_older_than_3_139_is_refused_before_anything_runs(
    clone: Path, tmp_path: Path
) -> None:
    env = clone_env(tmp_path, with_cli=False)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "pulumi").write_text(STUB_OLD_PULUMI)
    (bin_dir / "pulumi").chmod(0o755)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    failed = make(clone, env, "up")
    assert failed.returncode != 0
    assert "is v3.100.0; the demo needs pulumi 3.139.0 or newer" in failed.stderr
    assert "unexpected" not in failed.stderr
    assert not (clone / ".demo").exists()
