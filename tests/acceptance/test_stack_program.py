"""The real `__main__.py` as a stack: run by the offline engine (SDK mock monitor → the SDK's
provider host → the provider → HTTP to the emulator), one subprocess per `up`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.helpers import PASSWORD_SENTINEL, SESSION_TOKEN_SENTINEL, TOKEN_SENTINEL
from tests.support.stack_support import StackProject
from useapi_emulator import UseapiEmulator, Variants

ACCOUNTS = {
    "ops@example.com": {"maxJobs": 3},
    "render@example.com": {"maxJobs": 5},
    "batch@example.com": {"maxJobs": 2},
}
PASSWORDS = {email: f"{PASSWORD_SENTINEL}-{n}" for n, email in enumerate(sorted(ACCOUNTS))}


@pytest.fixture
def project(tmp_path: Path, emulator: UseapiEmulator) -> StackProject:
    return StackProject(tmp_path / "project", emulator)


def assert_no_secret_anywhere(project: StackProject, *texts: str) -> None:
    state = project.state_file.read_text() if project.state_file.exists() else ""
    for text in (*texts, state):
        for sentinel in (PASSWORD_SENTINEL, TOKEN_SENTINEL, SESSION_TOKEN_SENTINEL):
            assert sentinel not in text


def test_up_creates_three_accounts_and_exports_outputs(
    project: StackProject, emulator: UseapiEmulator
) -> None:
    project.write(ACCOUNTS, PASSWORDS)
    result = project.up_ok()

    assert sorted(result.summary["created"]) == sorted(ACCOUNTS)
    assert len(emulator.calls("POST")) == 3
    assert {a.email: a.max_jobs for a in emulator.stored()} == {
        email: entry["maxJobs"] for email, entry in ACCOUNTS.items()
    }
    outputs = result.summary["outputs"]
    assert outputs["totalMaxJobs"] == 10
    assert outputs["accounts"]["render@example.com"] == {
        "Username": "render",
        "ExpireTimeUTC": emulator.accounts["render@example.com"].to_json()["jwt"]["ExpireTimeUTC"],
        "maxJobs": 5,
    }
    assert set(outputs["accounts"]) == set(ACCOUNTS)
    assert "totalMaxJobs: 10" in result.stdout
    # The passwords reached useapi.net, and nowhere a user can see.
    sent = {r.email: r.body["password"] for r in emulator.calls("POST") if r.body}
    assert sent == PASSWORDS
    assert_no_secret_anywhere(project, result.stdout, result.stderr)


def test_second_up_changes_nothing_and_calls_no_api(
    project: StackProject, emulator: UseapiEmulator
) -> None:
    project.write(ACCOUNTS, PASSWORDS)
    first = project.up_ok()
    emulator.reset_calls()

    second = project.up_ok()

    assert emulator.calls() == []
    assert sorted(second.summary["unchanged"]) == sorted(ACCOUNTS)
    assert second.summary["created"] == second.summary["updated"] == []
    assert second.summary["deleted"] == second.summary["replaced"] == []
    assert second.summary["outputs"] == first.summary["outputs"]
    assert "(no changes)" in second.stdout


def test_removing_an_account_deletes_exactly_that_one(
    project: StackProject, emulator: UseapiEmulator
) -> None:
    project.write(ACCOUNTS, PASSWORDS)
    project.up_ok()
    emulator.reset_calls()

    remaining = {k: v for k, v in ACCOUNTS.items() if k != "batch@example.com"}
    project.write(remaining, {k: v for k, v in PASSWORDS.items() if k in remaining})
    result = project.up_ok()

    assert [(r.method, r.email) for r in emulator.calls()] == [("DELETE", "batch@example.com")]
    assert result.summary["deleted"] == ["batch@example.com"]
    assert set(emulator.accounts) == set(remaining)
    assert result.summary["outputs"]["totalMaxJobs"] == 8
    assert "batch@example.com" not in json.loads(project.state_file.read_text())["resources"]


def test_changing_max_jobs_posts_exactly_once(
    project: StackProject, emulator: UseapiEmulator
) -> None:
    project.write(ACCOUNTS, PASSWORDS)
    project.up_ok()
    emulator.reset_calls()

    project.write({**ACCOUNTS, "ops@example.com": {"maxJobs": 8}}, PASSWORDS)
    result = project.up_ok()

    assert [(r.method, r.email) for r in emulator.calls()] == [("POST", "ops@example.com")]
    assert result.summary["updated"] == ["ops@example.com"]
    assert emulator.accounts["ops@example.com"].max_jobs == 8
    assert result.summary["outputs"]["accounts"]["ops@example.com"]["maxJobs"] == 8
    assert result.summary["outputs"]["totalMaxJobs"] == 15


def test_changing_a_password_posts_once_though_state_keeps_no_password(
    project: StackProject, emulator: UseapiEmulator
) -> None:
    project.write(ACCOUNTS, PASSWORDS)
    project.up_ok()
    emulator.reset_calls()

    new_password = f"{PASSWORD_SENTINEL}-rotated"
    project.write(ACCOUNTS, {**PASSWORDS, "render@example.com": new_password})
    result = project.up_ok()

    posts = emulator.calls("POST")
    assert [r.email for r in posts] == ["render@example.com"]
    assert posts[0].body is not None and posts[0].body["password"] == new_password
    assert result.summary["updated"] == ["render@example.com"]
    assert_no_secret_anywhere(project, result.stdout, result.stderr)


def test_adding_a_token_later_updates_in_place_and_keeps_it_secret(
    project: StackProject, emulator: UseapiEmulator
) -> None:
    project.write(ACCOUNTS, PASSWORDS)
    project.up_ok()
    emulator.reset_calls()

    project.write(ACCOUNTS, PASSWORDS, tokens={"ops@example.com": SESSION_TOKEN_SENTINEL})
    result = project.up_ok()

    posts = emulator.calls("POST")
    assert [r.email for r in posts] == ["ops@example.com"]
    assert posts[0].body is not None and posts[0].body["token"] == SESSION_TOKEN_SENTINEL
    assert_no_secret_anywhere(project, result.stdout, result.stderr)


# Every rule is unit-tested in test_inventory.py; here one case per kind proves the whole
# path: the program fails before registering anything, so useapi.net sees no request.
@pytest.mark.parametrize(
    ("accounts", "passwords", "tokens", "named", "rule"),
    [
        (
            ACCOUNTS,
            {k: v for k, v in PASSWORDS.items() if k != "ops@example.com"},
            None,
            "ops@example.com",
            "has no password",
        ),
        (
            ACCOUNTS,
            PASSWORDS,
            {"ghost@example.com": SESSION_TOKEN_SENTINEL},
            "ghost@example.com",
            "has a token",
        ),
        (
            {**ACCOUNTS, "OPS@example.com": {"maxJobs": 1}},
            PASSWORDS,
            None,
            "OPS@example.com",
            "differ only in case",
        ),
        (
            {**ACCOUNTS, "ops@example.com": {"maxJobs": 9}},
            PASSWORDS,
            None,
            "ops@example.com",
            "maxJobs must be an integer from 1 to 8",
        ),
    ],
)
def test_a_bad_inventory_fails_naming_the_email_before_any_api_call(
    project: StackProject,
    emulator: UseapiEmulator,
    accounts: dict[str, object],
    passwords: dict[str, str],
    tokens: dict[str, str] | None,
    named: str,
    rule: str,
) -> None:
    project.write(accounts, passwords, tokens)

    result = project.run()

    assert result.returncode == 1
    assert named in result.stderr
    assert rule in result.stderr
    assert emulator.calls() == []
    assert "Traceback" not in result.stderr
    assert_no_secret_anywhere(project, result.stdout, result.stderr)


def test_a_bad_inventory_after_a_good_one_deletes_nothing(
    project: StackProject, emulator: UseapiEmulator
) -> None:
    project.write(ACCOUNTS, PASSWORDS)
    project.up_ok()
    emulator.reset_calls()

    # Dropping the password map entirely must not read as "delete every account".
    project.write(ACCOUNTS, None)
    result = project.run()

    assert result.returncode == 1
    assert emulator.calls() == []
    assert set(emulator.accounts) == set(ACCOUNTS)


def test_a_failed_login_names_the_account_and_keeps_what_succeeded(
    project: StackProject, emulator: UseapiEmulator
) -> None:
    project.write(ACCOUNTS, PASSWORDS)
    emulator.reject_login("render@example.com")

    failed = project.run()

    assert failed.returncode == 1
    assert "render@example.com: " in failed.stderr
    assert "PixVerse login failed" in failed.stderr
    assert "Traceback" not in failed.stderr
    assert_no_secret_anywhere(project, failed.stdout, failed.stderr)
    saved = json.loads(project.state_file.read_text())["resources"]
    assert sorted(saved) == ["batch@example.com", "ops@example.com"]

    emulator.rejected_logins.clear()
    emulator.reset_calls()
    fixed = project.up_ok()

    assert [(r.method, r.email) for r in emulator.calls()] == [("POST", "render@example.com")]
    assert fixed.summary["created"] == ["render@example.com"]


def test_an_expiring_session_warns_naming_the_email_and_time(
    project: StackProject, emulator: UseapiEmulator
) -> None:
    project.write(ACCOUNTS, PASSWORDS)
    project.up_ok()
    emulator.oob_expire_session("batch@example.com", at=1_700_000_000)
    project.up_ok("refresh")

    result = project.up_ok()

    warnings = result.summary["warnings"]
    assert len(warnings) == 1
    assert "batch@example.com" in warnings[0]
    assert "expired at 2023-11-14 22:13:20 UTC" in warnings[0]
    assert "warning: batch@example.com" in result.stdout


def test_answers_without_a_session_expiry_export_what_is_there_and_warn_only_when_known(
    project: StackProject, emulator: UseapiEmulator
) -> None:
    """The docs' model makes every jwt field optional: no expiry is no warning, not a crash."""
    emulator.variants = Variants(omit=frozenset({"jwt.ExpireTime", "jwt.ExpireTimeUTC"}))
    project.write(ACCOUNTS, PASSWORDS)
    result = project.up_ok()
    assert result.summary["warnings"] == []
    assert result.summary["outputs"]["accounts"]["render@example.com"] == {
        "Username": "render",
        "ExpireTimeUTC": "",
        "maxJobs": 5,
    }

    emulator.variants = Variants(omit=frozenset({"jwt"}))  # no session block at all
    project.up_ok("refresh")
    warnings = project.up_ok().summary["warnings"]
    assert sorted(warnings) == sorted(
        f"{email}: useapi.net reported no PixVerse session for this account" for email in ACCOUNTS
    )


def test_jwt_warn_days_widens_the_warning_window(
    project: StackProject, emulator: UseapiEmulator
) -> None:
    # The emulator's sessions last 30 days: a 31-day window warns for every account.
    project.write(ACCOUNTS, PASSWORDS, extra_config={"pixverse-accounts:jwtWarnDays": 31})
    result = project.up_ok()

    assert sorted(w.split(":", 1)[0] for w in result.summary["warnings"]) == sorted(ACCOUNTS)
    assert all("within jwtWarnDays=31" in w for w in result.summary["warnings"])


def test_refresh_then_up_repairs_out_of_band_drift_with_one_post(
    project: StackProject, emulator: UseapiEmulator
) -> None:
    project.write(ACCOUNTS, PASSWORDS)
    project.up_ok()
    emulator.oob_set_max_jobs("render@example.com", 1)
    emulator.reset_calls()

    refreshed = project.up_ok("refresh")
    assert refreshed.summary["updated"] == ["render@example.com"]
    assert {r.method for r in emulator.calls()} == {"GET"}
    emulator.reset_calls()

    result = project.up_ok()

    assert [(r.method, r.email) for r in emulator.calls()] == [("POST", "render@example.com")]
    assert emulator.accounts["render@example.com"].max_jobs == 5
    assert result.summary["updated"] == ["render@example.com"]


def test_preview_reports_the_plan_and_calls_nothing_that_writes(
    project: StackProject, emulator: UseapiEmulator
) -> None:
    project.write(ACCOUNTS, PASSWORDS)
    result = project.up_ok("preview")

    assert sorted(result.summary["created"]) == sorted(ACCOUNTS)
    assert emulator.calls() == []
    assert not project.state_file.exists() or not json.loads(project.state_file.read_text()).get(
        "resources"
    )


def test_destroy_deletes_every_account_once(
    project: StackProject, emulator: UseapiEmulator
) -> None:
    project.write(ACCOUNTS, PASSWORDS)
    project.up_ok()
    emulator.reset_calls()

    result = project.up_ok("destroy")

    assert sorted(str(r.email) for r in emulator.calls("DELETE")) == sorted(ACCOUNTS)
    assert len(emulator.calls()) == 3
    assert emulator.accounts == {}
    assert sorted(result.summary["deleted"]) == sorted(ACCOUNTS)
    assert json.loads(project.state_file.read_text())["resources"] == {}
