"""The drift check's verdict: `python -m provider.drift` exits 1 on drift and only on drift.

A pipeline acts on the exit status, not on the text: a check that fails on a warning teaches a
team to ignore it, one that passes on drift hides a fleet that no longer matches the stack. Each
kind of finding is tested here for its exit status, against the emulator over HTTP (the
check's one `GET /accounts`), a stack file and the last applied outputs, with no engine: the
check itself never runs one (tests/tools/test_drift.py runs it after a real refresh-preview).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from provider import drift
from provider.host.useapi.client import Account, Jwt
from provider.program.inventory import DesiredAccount
from provider.tools.drift_findings import find_drift
from tests.support.helpers import PROJECT_ROOT, clean_env, configure_by_hand
from useapi_emulator import UseapiEmulator

pytestmark = pytest.mark.timeout(30)
STACK = "test"
OPS, RENDER, BATCH, HAND = (
    "ops@example.com",
    "render@example.com",
    "batch@example.com",
    "hand@example.com",
)
DECLARED = {OPS: 3, RENDER: 5, BATCH: 2}
LONG_AGO = 1_700_000_000  # 2023-11-14 22:13:20 UTC


class Project:
    """A project directory as the check sees it: `Pulumi.yaml`, the stack file, the outputs
    of the last `up` (as `pulumi stack output --json` printed them)."""

    def __init__(self, root: Path, emulator: UseapiEmulator) -> None:
        self.root = root
        self.emulator = emulator
        (root / "stacks").mkdir(parents=True)
        shutil.copy(PROJECT_ROOT / "Pulumi.yaml", root / "Pulumi.yaml")
        (root / "provider").symlink_to(PROJECT_ROOT / "provider")
        self.stack_file = root / "stacks" / f"Pulumi.{STACK}.yaml"
        self.write_stack(warn_days=7)
        self.outputs = root / "outputs.json"
        accounts = {
            email: {"Username": email.split("@")[0], "ExpireTimeUTC": "", "maxJobs": jobs}
            for email, jobs in DECLARED.items()
        }
        self.outputs.write_text(
            json.dumps({"accounts": accounts, "totalMaxJobs": sum(DECLARED.values())})
        )

    def write_stack(self, warn_days: float) -> None:
        entries = "".join(f"    {email}:\n      maxJobs: {n}\n" for email, n in DECLARED.items())
        self.stack_file.write_text(
            "config:\n"
            f"  useapi:baseUrl: {self.emulator.base_url}\n"
            '  useapi:maxRetries: "1"\n'
            f"  pixverse-accounts:jwtWarnDays: {warn_days:g}\n"
            f"  pixverse-accounts:accounts:\n{entries}"
        )

    def check(self, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
        """The check's exit status and its lines."""
        status = drift.main(
            ["--stack", STACK, "--cwd", str(self.root), "--outputs", str(self.outputs)]
        )
        return status, capsys.readouterr().out.splitlines()


@pytest.fixture
def project(tmp_path: Path, emulator: UseapiEmulator, monkeypatch: pytest.MonkeyPatch) -> Project:
    for key in ("USEAPI_BASE_URL", "USEAPI_TIMEOUT", "USEAPI_MAX_RETRIES", "GITHUB_ACTIONS"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("USEAPI_TOKEN", emulator.token)
    project = Project(tmp_path / "project", emulator)
    configure_by_hand(emulator, DECLARED)
    return project


def _soon(emulator: UseapiEmulator) -> None:
    emulator.oob_expire_session(OPS, at=int(time.time()) + 2 * 86400)


Change = Callable[[UseapiEmulator], None]
# kind → (what happens on useapi.net, the exit status, the start of the line that names it)
VERDICTS: dict[str, tuple[Change, int, str]] = {
    "maxJobs changed": (
        lambda emu: emu.oob_set_max_jobs(RENDER, 1),
        1,
        f"drift: {RENDER}: maxJobs 5→1 (changed on useapi.net; `pulumi up` sets it back to 5)",
    ),
    "deleted": (
        lambda emu: emu.oob_delete(BATCH),
        1,
        f"drift: {BATCH}: deleted on useapi.net: `pulumi up` creates it again",
    ),
    "session expired": (
        lambda emu: emu.oob_expire_session(OPS, at=LONG_AGO),
        1,
        f"drift: {OPS}: session expired at 2023-11-14 22:13:20 UTC (check the account's password)",
    ),
    "session expiring within jwtWarnDays": (
        _soon,
        0,
        f"warning: {OPS}: the PixVerse session expires at ",
    ),
    "an account the stack does not declare": (
        lambda emu: configure_by_hand(emu, {HAND: 2}),
        0,
        f"note: {HAND}: on useapi.net (maxJobs 2) but not in the stack; adopt it: "
        f"python -m provider.adopt --stack {STACK}",
    ),
    "nothing": (
        lambda emu: None,
        0,
        "no drift: the 3 account(s) of Pulumi.test.yaml match useapi.net",
    ),
}


@pytest.mark.parametrize("kind", sorted(VERDICTS))
def test_only_drift_fails_the_check(
    project: Project,
    emulator: UseapiEmulator,
    capsys: pytest.CaptureFixture[str],
    kind: str,
) -> None:
    change, expected_status, line = VERDICTS[kind]
    change(emulator)

    status, lines = project.check(capsys)

    assert status == expected_status, lines
    assert [text for text in lines if text.startswith(line)] != [], lines
    drifted = [text for text in lines if text.startswith("drift: ")]
    assert len(drifted) == expected_status, "one drift line exactly when the check fails"


def test_the_warning_window_is_the_stack_s_jwt_warn_days(
    project: Project, emulator: UseapiEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """A session two days from expiry: a warning within 7 days, nothing within 1; never a
    failure either way."""
    _soon(emulator)
    status, lines = project.check(capsys)
    assert status == 0 and any("within jwtWarnDays=7" in text for text in lines), lines

    project.write_stack(warn_days=1)
    status, lines = project.check(capsys)
    assert status == 0 and not any(text.startswith("warning: ") for text in lines), lines


def test_the_command_s_exit_status_is_the_verdict(
    project: Project, emulator: UseapiEmulator
) -> None:
    """What a pipeline sees: the process's exit status, before and after a drift."""

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "provider.drift", "--stack", STACK],
            cwd=project.root,
            env=clean_env(USEAPI_TOKEN=emulator.token),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    healthy = run()
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    emulator.oob_set_max_jobs(RENDER, 1)
    drifted = run()
    assert drifted.returncode == 1, drifted.stdout + drifted.stderr
    assert f"drift: {RENDER}: maxJobs 5→1" in drifted.stdout


def test_an_empty_session_is_no_finding_and_no_session_a_warning_neither_drift() -> None:
    """The reader keeps `"jwt": {}` (a session whose fields were all left out) apart from no
    `jwt`; the check must too, as the program's warning does."""
    now = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    declared = [DesiredAccount(OPS, 3), DesiredAccount(RENDER, 5)]
    live = {OPS: Account(OPS, 3, Jwt()), RENDER: Account(RENDER, 5, None)}

    findings = find_drift(declared, live, None, now, 7)

    assert findings.drifted == []
    assert findings.warnings == [
        f"{RENDER}: useapi.net reported no PixVerse session for this account"
    ]
