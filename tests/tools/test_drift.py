"""The drift check (`make drift`, .github/workflows/drift.yml): a refresh-preview through the
real engine that must show no changes, then one line per drifted account from
`provider.drift` — failing on each kind of drift, passing on none, and never writing to
useapi.net or to the state."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from provider.host.useapi.client import Account, Jwt
from provider.program.inventory import DesiredAccount
from provider.tools.drift_findings import find_drift
from tests.support.cli_support import ACCOUNTS, LONG_AGO, CliProject
from tests.support.helpers import PASSWORD_SENTINEL
from useapi_emulator import UseapiEmulator


@pytest.fixture
def applied(tmp_path: Path, emulator: UseapiEmulator) -> Iterator[CliProject]:
    """A stack of three accounts, applied through the real CLI."""
    project = CliProject(tmp_path / "project", emulator)
    project.init()
    project.seed(ACCOUNTS)
    project.up()
    emulator.reset_calls()
    yield project
    project.cleanup()


def drift_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("drift: ")]


def assert_read_only(project: CliProject, emulator: UseapiEmulator, state_before: str) -> None:
    assert {r.method for r in emulator.calls()} <= {"GET"}, "the check must never write"
    assert project.checkpoint() == state_before, "a preview must not write state"


@pytest.mark.cli
@pytest.mark.timeout(90)
def test_no_drift_passes_with_no_changes(applied: CliProject, emulator: UseapiEmulator) -> None:
    state = applied.checkpoint()

    preview, named = applied.drift_check()

    assert preview.returncode == 0, preview.text
    assert "4 unchanged" in preview.stdout
    assert named.returncode == 0, named.stdout + named.stderr
    assert drift_lines(named.stdout) == []
    assert "no drift: the 3 account(s) of Pulumi.clitest.yaml match useapi.net" in named.stdout
    assert_read_only(applied, emulator, state)


DriftKind = tuple[Callable[[UseapiEmulator], None], str, bool]
KINDS: dict[str, DriftKind] = {
    "maxJobs changed": (
        lambda emu: emu.oob_set_max_jobs("render@example.com", 1),
        "drift: render@example.com: maxJobs 5→1 (changed on useapi.net; "
        "`pulumi up` sets it back to 5)",
        True,
    ),
    "account deleted": (
        lambda emu: emu.oob_delete("batch@example.com"),
        "drift: batch@example.com: deleted on useapi.net: `pulumi up` creates it again",
        True,
    ),
    # An output only: the engine sees no change, the check still fails, naming the time.
    "session expired": (
        lambda emu: emu.oob_expire_session("ops@example.com", at=LONG_AGO),
        "drift: ops@example.com: session expired at 2023-11-14 22:13:20 UTC "
        "(check the account's password)",
        False,
    ),
}


@pytest.mark.cli
@pytest.mark.timeout(90)
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kind_of_drift_fails_naming_only_that_account(
    applied: CliProject, emulator: UseapiEmulator, kind: str
) -> None:
    change, line, preview_fails = KINDS[kind]
    change(emulator)
    state = applied.checkpoint()

    preview, named = applied.drift_check(GITHUB_ACTIONS="true")

    assert (preview.returncode != 0) is preview_fails, preview.text
    if preview_fails:
        assert "no changes were expected for preview but changes were proposed" in preview.text
    assert named.returncode == 1, named.stdout + named.stderr
    assert drift_lines(named.stdout) == [line]
    assert "1 of 3 account(s) drifted" in named.stdout
    # In a workflow run, the line is also an annotation on the run's page.
    assert f"::error title=PixVerse fleet drift::{line.removeprefix('drift: ')}" in named.stdout
    assert_read_only(applied, emulator, state)
    for text in (preview.text, named.stdout, named.stderr):
        assert PASSWORD_SENTINEL not in text and emulator.token not in text


@pytest.mark.cli
@pytest.mark.timeout(90)
def test_every_drifted_account_gets_its_own_line(
    applied: CliProject, emulator: UseapiEmulator
) -> None:
    for change, _, _ in KINDS.values():
        change(emulator)
    emulator.oob_expire_session("render@example.com", at=LONG_AGO)

    preview, named = applied.drift_check()

    assert preview.returncode != 0
    assert [line.split(":")[1].strip() for line in drift_lines(named.stdout)] == [
        "batch@example.com",
        "ops@example.com",
        "render@example.com",
    ]
    render = drift_lines(named.stdout)[2]
    assert "maxJobs 5→1" in render and "session expired at 2023-11-14 22:13:20 UTC" in render


NOW = datetime(2026, 11, 27, 8, 0, tzinfo=timezone.utc)


def live(email: str, max_jobs: int, expire: int = 1_800_000_000) -> Account:
    return Account(email, max_jobs, Jwt(1, expire, "", email.split("@")[0]))


def test_a_change_in_the_stack_not_yet_applied_is_not_called_drift_on_useapi_net() -> None:
    findings = find_drift(
        [DesiredAccount("ops@example.com", 4), DesiredAccount("new@example.com", 2)],
        {"ops@example.com": live("ops@example.com", 3), "hand@example.com": live("hand@x.io", 1)},
        {"ops@example.com": {"maxJobs": 3}},
        NOW,
        7,
    )

    assert findings.drifted == [
        "new@example.com: not on useapi.net yet (declared, never applied): `pulumi up` creates it",
        "ops@example.com: maxJobs 3→4 in the stack, not applied yet",
    ]
    assert findings.undeclared == [
        "hand@example.com: on useapi.net (maxJobs 1) but not in the stack"
    ]


def test_a_session_expiring_soon_is_a_warning_not_drift() -> None:
    soon = int(NOW.timestamp()) + 2 * 86400
    findings = find_drift(
        [DesiredAccount("ops@example.com", 3)],
        {"ops@example.com": live("ops@example.com", 3, expire=soon)},
        None,
        NOW,
        7,
    )

    assert findings.drifted == []
    assert findings.warnings == [
        "ops@example.com: the PixVerse session expires at 2026-11-29 08:00:00 UTC "
        "(in 2.0 days, within jwtWarnDays=7)"
    ]


def test_an_answer_without_max_jobs_claims_no_drift() -> None:
    quiet = Account("ops@example.com", None, Jwt(1, 1_800_000_000, "", "ops"))
    findings = find_drift(
        [DesiredAccount("ops@example.com", 3)], {"ops@example.com": quiet}, None, NOW, 7
    )

    assert findings.drifted == []


@pytest.mark.cli
@pytest.mark.timeout(90)
def test_up_with_refresh_repairs_what_drifted_and_the_check_passes_again(
    applied: CliProject, emulator: UseapiEmulator
) -> None:
    emulator.oob_set_max_jobs("render@example.com", 1)
    emulator.oob_delete("batch@example.com")

    repaired = applied.up("--refresh")

    assert repaired.summary()["created"] == ["batch@example.com"]
    assert repaired.summary()["updated"] == ["render@example.com"]
    writes = sorted((r.method, str(r.email)) for r in emulator.calls() if r.method != "GET")
    assert writes == [("POST", "batch@example.com"), ("POST", "render@example.com")]
    preview, named = applied.drift_check()
    assert preview.returncode == 0 and named.returncode == 0, preview.text + named.stdout
