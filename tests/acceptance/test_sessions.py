"""PixVerse sessions through the real engine: the expiry warning in `up` and `preview`, what the
program exports when useapi.net leaves session fields out, and
`pixverse-accounts:failOnExpiredSession`, which turns an expired session into a failure of
`preview` and `up` (one line per account, with the time and what to do) before any change."""

from __future__ import annotations

import json
import time

import pytest

from tests.support.cli_support import (
    ACCOUNTS,
    LONG_AGO,
    PASSWORDS,
    PASSWORDS_KEY,
    CliProject,
    CliResult,
)
from tests.support.helpers import PASSWORD_SENTINEL, TOKEN_SENTINEL
from useapi_emulator import UseapiEmulator, Variants

pytestmark = pytest.mark.cli

OPS, RENDER, BATCH = "ops@example.com", "render@example.com", "batch@example.com"
FAIL_ON_EXPIRED = "pixverse-accounts:failOnExpiredSession"


def warnings_of(result: CliResult) -> list[str]:
    """The warning lines of a `--json` run, from `up`'s event stream or `preview`'s document."""
    if result.events:
        messages = result.diagnostics("warning")
    else:
        document = json.loads(result.stdout)
        messages = [
            d["message"] for d in document.get("diagnostics") or [] if d["severity"] == "warning"
        ]
    return [line.removeprefix("warning: ").strip() for line in messages]


def warned_emails(result: CliResult) -> list[str]:
    return sorted(line.split(":", 1)[0] for line in warnings_of(result))


def expected_line(email: str) -> str:
    return (
        f"  - {email}: the PixVerse session expired at 2023-11-14 22:13:20 UTC; `pulumi refresh` "
        "to read it again, and if it is still expired, set the current password "
        f"(pulumi config set --secret --path 'passwords[\"{email}\"]') and run `pulumi up`"
    )


@pytest.fixture
def expired(project: CliProject, emulator: UseapiEmulator) -> CliProject:
    """A stack whose state knows that two sessions expired (read back by a refresh)."""
    project.seed(ACCOUNTS)
    project.up()
    emulator.oob_expire_session(OPS, at=LONG_AGO)
    emulator.oob_expire_session(BATCH, at=LONG_AGO)
    project.refresh()
    emulator.reset_calls()
    return project


@pytest.mark.timeout(180)
def test_a_session_expiring_soon_warns_in_up_naming_the_email_and_time(
    project: CliProject, emulator: UseapiEmulator
) -> None:
    project.seed({OPS: 3, RENDER: 5})
    project.up()
    soon = int(time.time()) + 2 * 86400
    emulator.oob_expire_session(OPS, at=soon)
    warned = project.up("--refresh")
    lines = warnings_of(warned)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{OPS}: the PixVerse session expires at ")
    assert "within jwtWarnDays=7" in lines[0]


@pytest.mark.timeout(180)
def test_when_false_or_unset_an_expired_session_is_only_a_warning(expired: CliProject) -> None:
    for setting in (None, "false"):
        expired.set_config({FAIL_ON_EXPIRED: setting})
        previewed = expired.preview()
        assert warned_emails(previewed) == sorted([BATCH, OPS])
        assert all("expired at 2023-11-14 22:13:20 UTC" in w for w in warnings_of(previewed))


@pytest.mark.timeout(240)
@pytest.mark.parametrize("operation", ["preview", "up"])
def test_when_true_an_expired_session_fails_the_run_before_any_change(
    expired: CliProject, emulator: UseapiEmulator, operation: str
) -> None:
    """`up` previews first (no --skip-preview), so it stops there: nothing is written. A new
    account and an update in the same run: their sessions are unknown in preview, and the
    check must still run for the others."""
    expired.set_config({FAIL_ON_EXPIRED: "true"})
    expired.seed({**ACCOUNTS, RENDER: 6, "new@example.com": 1})
    command = ["preview"] if operation == "preview" else ["up", "--yes"]
    failed = expired.run(*command, "--non-interactive", check=False)
    assert failed.returncode != 0, failed.text
    lines = failed.stdout.splitlines()
    start = lines.index(
        "    error: 2 PixVerse session(s) expired and "
        "`pixverse-accounts:failOnExpiredSession` is true:"
    )
    assert [line[4:] for line in lines[start + 1 : start + 3]] == [
        expected_line(BATCH),
        expected_line(OPS),
    ]
    assert f"warning: {OPS}" not in failed.stdout, "an error, not also a warning"
    assert "new@example.com:" not in failed.stdout.replace("new@example.com::", "")
    assert "Traceback" not in failed.text
    assert PASSWORD_SENTINEL not in failed.text and TOKEN_SENTINEL not in failed.text
    assert [(r.method, r.email) for r in emulator.calls() if r.method != "GET"] == []
    assert emulator.accounts[RENDER].max_jobs == ACCOUNTS[RENDER]
    assert "new@example.com" not in emulator.accounts


@pytest.mark.timeout(180)
def test_when_true_and_up_skips_its_preview_the_program_still_fails_after_applying_the_rest(
    expired: CliProject, emulator: UseapiEmulator
) -> None:
    """Without a preview the gate runs once every account is registered: the changes the
    engine was asked for are applied, then the program fails, and the run with it. Nothing
    exports or awaits the gate: the SDK awaits every Output before the program exits and
    fails it with the gate's RunError (its message, no traceback)."""
    expired.set_config({FAIL_ON_EXPIRED: "true"})
    expired.seed({**ACCOUNTS, RENDER: 6})
    failed = expired.run("up", "--yes", "--skip-preview", "--non-interactive", check=False)
    assert failed.returncode != 0, failed.text
    lines = failed.stdout.splitlines()
    headline = (
        "    error: 2 PixVerse session(s) expired and "
        "`pixverse-accounts:failOnExpiredSession` is true:"
    )
    assert lines.count(headline) == 1, failed.stdout
    start = lines.index(headline)
    assert [line[4:] for line in lines[start + 1 : start + 3]] == [
        expected_line(BATCH),
        expected_line(OPS),
    ]
    assert "Traceback" not in failed.text
    assert [(r.method, r.email) for r in emulator.calls() if r.method != "GET"] == [
        ("POST", RENDER)
    ]
    assert emulator.accounts[RENDER].max_jobs == 6
    assert expired.state_accounts() == sorted(ACCOUNTS)


@pytest.mark.timeout(240)
def test_when_true_an_expired_session_is_healed_by_a_new_password(
    expired: CliProject, emulator: UseapiEmulator
) -> None:
    """What the error line says to do: a new password is an update (one POST, a new login and
    session). In preview the updated accounts' sessions are unknown, so the gate skips them;
    the `up` that logs in anew then passes without a warning."""
    expired.set_config({FAIL_ON_EXPIRED: "true"})
    for email in (OPS, BATCH):
        expired.set_secret(PASSWORDS_KEY, email, f"{PASSWORD_SENTINEL}-new-{email}")
        emulator.accounts[email].expire_time = 1_900_000_000  # useapi.net logs in anew
    previewed = expired.preview()
    assert previewed.preview_summary()["updated"] == sorted([BATCH, OPS])
    healed = expired.run("up", "--yes", "--non-interactive", "--json")
    assert healed.returncode == 0
    assert sorted(str(r.email) for r in emulator.calls("POST")) == sorted([BATCH, OPS])
    assert "expired" not in healed.stdout


@pytest.mark.timeout(180)
def test_when_true_a_session_expiring_soon_stays_a_warning(project: CliProject) -> None:
    # Sessions last 30 days on the emulator: a 31-day window puts every one "within".
    project.set_config({FAIL_ON_EXPIRED: "true", "pixverse-accounts:jwtWarnDays": 31})
    project.seed(ACCOUNTS)
    created = project.up()
    assert warned_emails(created) == sorted(ACCOUNTS)
    assert all("within jwtWarnDays=31" in w for w in warnings_of(created))
    assert warned_emails(project.preview()) == sorted(ACCOUNTS)


@pytest.mark.timeout(180)
def test_answers_without_session_fields_export_what_is_there_and_warn_only_when_known(
    project: CliProject, emulator: UseapiEmulator
) -> None:
    """The docs' model makes every jwt field optional: no expiry is no warning, not a crash;
    an empty session object (`"jwt": {}`) is a session with nothing known, so no warning
    either; no session block at all is one warning per account."""
    emulator.variants = Variants(omit=frozenset({"jwt.ExpireTime", "jwt.ExpireTimeUTC"}))
    project.seed(ACCOUNTS)
    created = project.up()
    assert warnings_of(created) == []
    assert project.outputs()["accounts"][RENDER] == {
        "Username": "render",
        "ExpireTimeUTC": "",
        "maxJobs": 5,
    }

    every_field = {"jwt.AccountId", "jwt.ExpireTime", "jwt.ExpireTimeUTC", "jwt.Username"}
    emulator.variants = Variants(omit=frozenset({*every_field, "jwt.token"}))
    assert warnings_of(project.up("--refresh")) == []
    assert project.outputs()["accounts"][RENDER] == {
        "Username": "",
        "ExpireTimeUTC": "",
        "maxJobs": 5,
    }

    emulator.variants = Variants(omit=frozenset({"jwt"}))
    lines = warnings_of(project.up("--refresh"))
    assert sorted(lines) == sorted(
        f"{email}: useapi.net reported no PixVerse session for this account" for email in ACCOUNTS
    )
    assert project.outputs()["accounts"][OPS] == {"Username": "", "ExpireTimeUTC": "", "maxJobs": 3}
    assert PASSWORDS[OPS] not in json.dumps(project.outputs())
