"""`pixverse-accounts:failOnExpiredSession`: the real program run by the offline engine (SDK
mock monitor → the SDK's provider host → the emulator). An expired session fails `preview`
and `up` — one line per account, with the time and what to do — when it is true, and is only
a warning when it is false (the default); a session expiring soon is a warning either way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from provider.program.inventory import InventoryError, parse_fail_on_expired
from tests.support.helpers import PASSWORD_SENTINEL, TOKEN_SENTINEL
from tests.support.stack_support import ACCOUNTS, LONG_AGO, PASSWORDS, StackProject
from useapi_emulator import UseapiEmulator

STRICT = {"pixverse-accounts:failOnExpiredSession": True}


@pytest.fixture
def expired(tmp_path: Path, emulator: UseapiEmulator) -> StackProject:
    """A stack whose state knows that two sessions expired (read back by a refresh)."""
    project = StackProject(tmp_path / "project", emulator)
    project.write(ACCOUNTS, PASSWORDS)
    project.up_ok()
    emulator.oob_expire_session("ops@example.com", at=LONG_AGO)
    emulator.oob_expire_session("batch@example.com", at=LONG_AGO)
    project.up_ok("refresh")
    emulator.reset_calls()
    return project


def expected_line(email: str) -> str:
    return (
        f"  - {email}: the PixVerse session expired at 2023-11-14 22:13:20 UTC; `pulumi refresh` "
        "to read it again, and if it is still expired, set the current password "
        f"(pulumi config set --secret --path 'passwords[\"{email}\"]') and run `pulumi up`"
    )


def assert_clean(*texts: str) -> None:
    for text in texts:
        assert PASSWORD_SENTINEL not in text and TOKEN_SENTINEL not in text
        assert "Traceback" not in text


@pytest.mark.timeout(90)
@pytest.mark.parametrize("operation", ["preview", "up"])
def test_when_true_an_expired_session_fails_the_run_with_one_line_per_account(
    expired: StackProject, emulator: UseapiEmulator, operation: str
) -> None:
    # A new account too: in preview its session is unknown, and the check must still run.
    accounts = {**ACCOUNTS, "render@example.com": {"maxJobs": 6}, "new@example.com": {"maxJobs": 1}}
    passwords = {**PASSWORDS, "new@example.com": f"{PASSWORD_SENTINEL}-new"}
    expired.write(accounts, passwords, None, STRICT)

    result = expired.run(operation)

    assert result.returncode == 1, result.text
    error = result.stderr[result.stderr.index("error: ") :]
    assert error.splitlines() == [
        "error: 2 PixVerse session(s) expired and `pixverse-accounts:failOnExpiredSession` "
        "is true:",
        expected_line("batch@example.com"),
        expected_line("ops@example.com"),
    ]
    assert "warning: ops@example.com" not in result.stdout, "an error, not also a warning"
    assert "warning: new@example.com" not in result.stdout, "no session yet is not a problem"
    assert_clean(result.stdout, result.stderr)
    writes = [(r.method, r.email) for r in emulator.calls() if r.method != "GET"]
    applied = [("POST", "new@example.com"), ("POST", "render@example.com")]
    assert sorted(writes) == ([] if operation == "preview" else applied)


@pytest.mark.timeout(90)
@pytest.mark.parametrize("operation", ["preview", "up"])
def test_when_false_an_expired_session_is_only_a_warning(
    expired: StackProject, operation: str
) -> None:
    expired.write(ACCOUNTS, PASSWORDS, None, {"pixverse-accounts:failOnExpiredSession": False})

    result = expired.up_ok(operation)

    assert sorted(w.split(":")[0] for w in result.summary["warnings"]) == [
        "batch@example.com",
        "ops@example.com",
    ]
    assert "expired at 2023-11-14 22:13:20 UTC" in result.summary["warnings"][0]


@pytest.mark.timeout(90)
def test_the_default_is_false(expired: StackProject) -> None:
    expired.write(ACCOUNTS, PASSWORDS)

    result = expired.up_ok("preview")

    assert len(result.summary["warnings"]) == 2


@pytest.mark.timeout(90)
def test_when_true_a_session_expiring_soon_stays_a_warning(
    tmp_path: Path, emulator: UseapiEmulator
) -> None:
    project = StackProject(tmp_path / "project", emulator)
    # Sessions last 30 days on the emulator: a 31-day window puts every one "within".
    strict_wide: dict[str, Any] = {**STRICT, "pixverse-accounts:jwtWarnDays": 31}
    project.write(ACCOUNTS, PASSWORDS, None, strict_wide)

    for run in (project.up_ok(), project.up_ok("preview"), project.up_ok()):
        assert sorted(w.split(":")[0] for w in run.summary["warnings"]) == sorted(ACCOUNTS)
        assert all("within jwtWarnDays=31" in w for w in run.summary["warnings"])


@pytest.mark.timeout(90)
def test_an_expired_session_is_healed_by_a_new_password_and_the_run_passes(
    expired: StackProject, emulator: UseapiEmulator
) -> None:
    """What the error line says to do: a new password is an update (one POST, a new login and
    session), after which the same strict run succeeds."""
    rotated = {**PASSWORDS, "ops@example.com": f"{PASSWORD_SENTINEL}-new-ops"}
    rotated["batch@example.com"] = f"{PASSWORD_SENTINEL}-new-batch"
    emulator.accounts["ops@example.com"].expire_time = 1_900_000_000  # useapi.net logs in anew
    emulator.accounts["batch@example.com"].expire_time = 1_900_000_000
    expired.write(ACCOUNTS, rotated, None, STRICT)

    # In preview the updated accounts' sessions are unknown (as with the engine): no failure.
    previewed = expired.up_ok("preview")
    assert sorted(previewed.summary["updated"]) == ["batch@example.com", "ops@example.com"]
    result = expired.up_ok()

    assert sorted(result.summary["updated"]) == ["batch@example.com", "ops@example.com"]
    assert result.summary["warnings"] == []


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(None, False), ("", False), ("true", True), ("False", False), (True, True)],
)
def test_the_setting_reads_true_and_false(raw: object, expected: bool) -> None:
    assert parse_fail_on_expired(raw) is expected


def test_any_other_value_fails_naming_the_key() -> None:
    with pytest.raises(
        InventoryError, match=r"failOnExpiredSession` must be true or false, got 'yes'"
    ):
        parse_fail_on_expired("yes")
