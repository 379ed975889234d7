"""The drift check (`make drift`, .github/workflows/drift.yml): a refresh-preview through the
real engine that must show no changes, then one line per drifted account from
`provider.drift` — failing on each kind of drift, passing on none, and never writing to
useapi.net or to the state."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from provider import drift
from provider.host.useapi.client import Account, Jwt, Plan
from provider.program.inventory import DesiredAccount
from provider.tools.drift_findings import find_drift
from tests.support.cli_support import ACCOUNTS, LONG_AGO, CliProject
from tests.support.helpers import PASSWORD_SENTINEL
from tests.support.tool_project import STACK, tool_project
from useapi_emulator import Fault, UseapiEmulator, Variants


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


NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


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


# -- the plan: over it is drift; credits and a lapsing plan are warnings -----------------------

FEATURES_PATH = "/v2/pixverse/features/"
RENDER_OVER = (
    "drift: render@example.com: over the plan: maxJobs 5 > gen_simultaneously 3 of plan "
    "'Pro Plan' (jobs beyond 3 at once fail at PixVerse: set maxJobs to 3 or less, or upgrade "
    "the plan)"
)


@pytest.mark.timeout(90)
def test_over_the_plan_is_drift_one_line_naming_both_numbers_and_the_plan(
    applied: CliProject, emulator: UseapiEmulator
) -> None:
    emulator.set_plan("render@example.com", plan_name="Pro Plan", gen_simultaneously=3)
    state = applied.checkpoint()

    preview, named = applied.drift_check(GITHUB_ACTIONS="true")

    # Nothing Pulumi would change: only the drift check sees it, and fails on it.
    assert preview.returncode == 0, preview.text
    assert named.returncode == 1, named.stdout + named.stderr
    assert drift_lines(named.stdout) == [RENDER_OVER]
    assert "1 of 3 account(s) drifted" in named.stdout
    assert "lower the account's maxJobs in the stack" in named.stdout
    assert f"::error title=PixVerse fleet drift::{RENDER_OVER.removeprefix('drift: ')}" in (
        named.stdout
    )
    # One plan read per declared account, reads only.
    plan_reads = [r for r in emulator.calls("GET") if r.path == FEATURES_PATH]
    assert sorted(str(r.email) for r in plan_reads) == sorted(ACCOUNTS)
    assert_read_only(applied, emulator, state)


def test_credit_and_plan_warnings_and_unread_plans_never_fail_the_drift_check(
    tmp_path: Path,
    emulator: UseapiEmulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The tool alone (the engine's preview has nothing to say about plans)."""
    project = tool_project(
        tmp_path / "project", emulator, ACCOUNTS, **{"pixverse-accounts:minCredits": 500}
    )
    monkeypatch.setenv("USEAPI_TOKEN", emulator.token)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    emulator.set_plan("ops@example.com", credit_monthly=100, credit_daily=5, credit_package=20)
    emulator.set_plan("batch@example.com", expired_date=soon.isoformat().replace("+00:00", "Z"))
    # Smaller than its maxJobs, but the answer leaves the field out: not called over the plan.
    emulator.set_plan("render@example.com", gen_simultaneously=1)
    emulator.variants = Variants(omit=frozenset({"features.gen_simultaneously"}))
    check = ["--stack", STACK, "--cwd", str(project)]

    assert drift.main(check) == 0
    named = capsys.readouterr()

    assert drift_lines(named.out) == []
    warnings = [line for line in named.out.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 2, named.out  # one per account, sorted by email
    assert warnings[0].startswith(
        f"warning: batch@example.com: plan 'Premium - Monthly' expires at "
        f"{soon.strftime('%Y-%m-%d %H:%M:%S UTC')} (in "
    )
    assert "within jwtWarnDays=7); renew it on PixVerse" in warnings[0]
    assert warnings[1] == (
        "warning: ops@example.com: 125 credits left, below pixverse-accounts:minCredits=500 "
        "(monthly 100 + daily 5 + package 20); buy credits or move jobs off this account"
    )
    assert "::warning title=PixVerse fleet drift::ops@example.com: 125 credits left" in named.out
    assert "no drift: the 3 account(s) of Pulumi.prod.yaml match useapi.net" in named.out
    # One list, one plan read per account: reads only.
    assert [(r.method, r.path) for r in emulator.calls()] == [
        ("GET", "/v2/pixverse/accounts"),
        *[("GET", FEATURES_PATH)] * 3,
    ]

    # A plan that cannot be read is said, and not taken for a healthy one: still no failure.
    emulator.inject("GET", Fault(status=400), path=FEATURES_PATH)
    assert drift.main(check) == 0
    unread = capsys.readouterr().out
    assert "plan not read, so not checked: useapi.net GET" in unread
    assert "failed with HTTP 400" in unread

    # A minCredits that is not a whole number of credits fails the check, naming the key.
    stack_file = project / "stacks" / f"Pulumi.{STACK}.yaml"
    stack_file.write_text(stack_file.read_text().replace(": 500", ": lots"))
    assert drift.main(check) == 1
    bad = capsys.readouterr().err
    assert "`pixverse-accounts:minCredits` must be a whole number of credits >= 0" in bad
    for text in (named.out, named.err, unread, bad):
        assert PASSWORD_SENTINEL not in text and emulator.token not in text
        assert "stripe" not in text  # the plan answer's payment links are never shown


def plan(email: str, **fields: Any) -> Plan:
    return Plan(email=email, **fields)


def test_over_the_plan_joins_the_accounts_other_drift_in_its_one_line() -> None:
    findings = find_drift(
        [DesiredAccount("ops@example.com", 4)],
        {"ops@example.com": live("ops@example.com", 6)},
        {"ops@example.com": {"maxJobs": 4}},
        NOW,
        7,
        {"ops@example.com": plan("ops@example.com", plan_name="Basic", gen_simultaneously=2)},
    )

    (line,) = findings.drifted
    assert line.startswith("ops@example.com: maxJobs 4→6 (changed on useapi.net; ")
    # The larger of the stack's and useapi.net's maxJobs is what jobs are routed by.
    assert "; over the plan: maxJobs 6 > gen_simultaneously 2 of plan 'Basic'" in line


def test_an_answer_without_gen_simultaneously_is_never_over_the_plan() -> None:
    findings = find_drift(
        [DesiredAccount("ops@example.com", 8)],
        {"ops@example.com": live("ops@example.com", 8)},
        None,
        NOW,
        7,
        {"ops@example.com": plan("ops@example.com", plan_name="Basic")},
        min_credits=10,  # and no credit fields at all: silent about credits, not out of them
    )

    assert findings.drifted == [] and findings.warnings == []
