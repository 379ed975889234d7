"""`python -m provider.report`: `pulumi stack output --json` as a Markdown table — for an
empty fleet, a healthy one and one with expired sessions; with `--stack`, the live plans,
credits and running jobs read from the emulator."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from provider import report
from provider.host.useapi.plans import Plan
from provider.host.useapi.scheduler import AccountLoad, Scheduler
from provider.program.sessions import session_warning
from provider.tools.fleet_report import render_markdown
from provider.tools.live_fleet import LiveCapacity
from provider.tools.stack_outputs import StackOutputs, parse_outputs
from tests.support.helpers import PROJECT_ROOT, local_time_elsewhere
from tests.support.tool_project import STACK, tool_project
from useapi_emulator import UseapiEmulator

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
FLEET = {
    "accounts": {
        "render@example.com": {
            "Username": "render",
            "ExpireTimeUTC": "2026-12-27T08:00:00.000Z",
            "maxJobs": 5,
        },
        "ops@example.com": {
            "Username": "ops",
            "ExpireTimeUTC": "2026-11-29T08:00:00.000Z",
            "maxJobs": 3,
        },
    },
    "totalMaxJobs": 8,
}
HEADER = "| Account | PixVerse user | Session expires | maxJobs |\n| --- | --- | --- | ---: |\n"


def test_an_empty_fleet_says_so_with_a_zero_total() -> None:
    for outputs in ({}, {"accounts": {}, "totalMaxJobs": 0}):
        text = render_markdown(parse_outputs(outputs), NOW)

        assert text == (
            "### PixVerse fleet\n\n"
            "No accounts: the stack declares none, or it has not been applied yet.\n\n"
            "**Fleet total:** 0 accounts, 0 maxJobs.\n"
        )


def test_a_normal_fleet_is_one_row_per_account_sorted_with_days_left_and_the_total() -> None:
    text = render_markdown(parse_outputs(FLEET), NOW, warn_days=7, title="prod")

    assert text == (
        "### prod\n\n"
        + HEADER
        + "| ops@example.com | ops | **soon** 2026-11-29 08:00 UTC (in 2 days) | 3 |\n"
        "| render@example.com | render | 2026-12-27 08:00 UTC (in 30 days) | 5 |\n"
        "| **Fleet total** | 2 accounts | | **8** |\n"
    )


def test_expired_sessions_are_marked_and_listed_above_the_table() -> None:
    fleet = json.loads(json.dumps(FLEET))
    fleet["accounts"]["ops@example.com"]["ExpireTimeUTC"] = "2026-11-24T08:00:00.000Z"
    fleet["accounts"]["batch@example.com"] = {
        "Username": "batch",
        "ExpireTimeUTC": "2026-11-27T03:00:00.000Z",
        "maxJobs": 2,
    }
    fleet["totalMaxJobs"] = 10

    text = render_markdown(parse_outputs(fleet), NOW)

    assert text.splitlines()[2] == (
        "**2 expired sessions:** batch@example.com, ops@example.com. Generations routed to "
        "them fail: check each account's password, then `pulumi up --refresh`."
    )
    assert (
        "| batch@example.com | batch | **EXPIRED** 2026-11-27 03:00 UTC (5 hours ago) | 2 |" in text
    )
    assert "| ops@example.com | ops | **EXPIRED** 2026-11-24 08:00 UTC (3 days ago) | 3 |" in text
    assert text.endswith("| **Fleet total** | 3 accounts | | **10** |\n")


def test_rows_not_known_yet_and_table_breaking_text_are_shown_safely() -> None:
    outputs = StackOutputs(
        accounts={
            "new@example.com": "[unknown]",
            "odd@example.com": {"Username": "a|b", "ExpireTimeUTC": "", "maxJobs": 1},
        }
    )

    text = render_markdown(outputs, NOW)

    assert "| new@example.com | (unknown) | (unknown) | (unknown) |" in text
    assert "| odd@example.com | a\\|b | no session | 1 |" in text
    assert text.endswith("| **Fleet total** | 2 accounts | | **1** |\n")


def test_the_command_reads_stdin_and_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(FLEET)))
    assert report.main(["--title", "prod"]) == 0
    from_stdin = capsys.readouterr().out
    assert (
        from_stdin.startswith("### prod\n")
        and "| **Fleet total** | 2 accounts | | **8** |" in from_stdin
    )

    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(FLEET))
    completed = subprocess.run(
        [sys.executable, "-m", "provider.report", str(path)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "| render@example.com | render |" in completed.stdout


def test_input_that_is_not_stack_outputs_fails_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "outputs.json"
    path.write_text("Previewing update (prod)")

    assert report.main([str(path)]) == 1

    assert "is not JSON: pipe in `pulumi stack output --json`" in capsys.readouterr().err


# -- the live report: plans, credits, running jobs and the capacity the plans allow ------------

LIVE_ACCOUNTS: dict[str, dict[str, Any]] = {
    **FLEET["accounts"],  # type: ignore[dict-item]
    "batch@example.com": {
        "Username": "batch",
        "ExpireTimeUTC": "2026-12-27T08:00:00.000Z",
        "maxJobs": 2,
    },
}
LIVE_FLEET = {"accounts": LIVE_ACCOUNTS, "totalMaxJobs": 10}
LIVE_HEADER = (
    "| Account | PixVerse user | Session expires | maxJobs | Plan | Plan ends | Concurrency "
    "| Credits left | Running |\n"
    "| --- | --- | --- | ---: | --- | --- | ---: | ---: | ---: |\n"
)


def live_capacity(**overrides: Any) -> LiveCapacity:
    values: dict[str, Any] = {
        "plans": {
            "render@example.com": Plan(
                "render@example.com", "Pro Plan", 3, 5000, 30, 0, NOW + timedelta(days=30), 30
            ),
            "ops@example.com": Plan(
                "ops@example.com", "Premium - Monthly", 8, 100, 0, 20, NOW + timedelta(days=2)
            ),
        },
        "unknown": {"batch@example.com": "useapi.net GET … failed with HTTP 400: not configured"},
        "scheduler": Scheduler(
            accounts={"render@example.com": AccountLoad("render@example.com", 5, 2, 3)}
        ),
    }
    values.update(overrides)
    return LiveCapacity(**values)


def test_the_live_report_adds_plan_credits_and_jobs_and_the_capacity_the_plans_allow() -> None:
    text = render_markdown(parse_outputs(LIVE_FLEET), NOW, 7, "prod", live_capacity(), 500)

    assert text.startswith("### prod\n\n**Needs attention:**\n\n")
    attention = text.split("**Needs attention:**\n\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert attention == [
        "- ops@example.com: 120 credits left, below pixverse-accounts:minCredits=500 (monthly "
        "100 + daily 0 + package 20); buy credits or move jobs off this account",
        "- ops@example.com: plan 'Premium - Monthly' expires at 2026-11-29 08:00:00 UTC (in 2.0 "
        "days, within jwtWarnDays=7); renew it on PixVerse, or generations routed to this "
        "account fail",
        "- render@example.com: over the plan: maxJobs 5 > gen_simultaneously 3 of plan 'Pro Plan' "
        "(jobs beyond 3 at once fail at PixVerse: set maxJobs to 3 or less, or upgrade the plan)",
    ]
    assert (
        "**Not read live:**\n\n- batch@example.com: plan unknown: useapi.net GET … failed with "
        "HTTP 400: not configured\n" in text
    )
    table = LIVE_HEADER + (
        "| batch@example.com | batch | 2026-12-27 08:00 UTC (in 30 days) | 2 | (unknown) "
        "| (unknown) | (unknown) | (unknown) | 0 |\n"
        "| ops@example.com | ops | **soon** 2026-11-29 08:00 UTC (in 2 days) | 3 | Premium - "
        "Monthly | **soon** 2026-11-29 08:00 UTC (in 2 days) | 8 | **120** (low) | 0 |\n"
        "| render@example.com | render | 2026-12-27 08:00 UTC (in 30 days) | 5 | Pro Plan "
        "| 2026-12-27 08:00 UTC (in 30 days) | **3** (< maxJobs) | 5030 | 2 |\n"
        "| **Fleet total** | 3 accounts | | **10** | | | | **5150** | **2** |\n"
    )
    assert table in text
    # min(2, unknown → 2) + min(3, 8) + min(5, 3) = 8 of the 10 maxJobs the stack declares.
    assert text.endswith(
        "**Capacity the plans allow:** 8 of 10 maxJobs at once (per account min(maxJobs, the "
        "plan's gen_simultaneously); an account whose plan is unknown counts its maxJobs). "
        "**Running now:** 2 jobs.\n"
    )


def test_live_figures_not_read_are_unknown_and_never_read_as_healthy() -> None:
    live = live_capacity(scheduler=None, scheduler_error="useapi.net GET … failed: no answer")
    text = render_markdown(parse_outputs(LIVE_FLEET), NOW, 7, "prod", live)

    assert "- running jobs unknown: useapi.net GET … failed: no answer" in text
    assert text.endswith("**Running now:** (unknown).\n")
    assert "| **Fleet total** | 3 accounts | | **10** | | | | **5150** | **(unknown)** |" in text
    # No minCredits: no credit line and no mark, whatever the balance.
    assert "credits left, below" not in text and "(low)" not in text


def test_a_plan_known_only_by_its_days_left_still_shows_when_it_ends() -> None:
    plans = {
        "ops@example.com": Plan("ops@example.com", "Pro", 8, remaining_days=1),
        "render@example.com": Plan("render@example.com", "Pro", 8, remaining_days=0),
    }
    text = render_markdown(parse_outputs(FLEET), NOW, 7, "prod", live_capacity(plans=plans))

    assert "| 3 | Pro | **soon** (1 day left) | 8 |" in text
    assert "| 5 | Pro | **EXPIRED** (0 days left) | 8 |" in text
    assert "- render@example.com: plan 'Pro' has expired (remaining_days 0)" in text


@pytest.fixture
def live_project(tmp_path: Path, emulator: UseapiEmulator) -> Path:
    """A project whose stack file points at the emulator, the accounts the outputs name
    configured there, and the outputs as `pulumi stack output --json` would print them."""
    accounts = {email: row["maxJobs"] for email, row in LIVE_ACCOUNTS.items()}
    settings = {"pixverse-accounts:minCredits": 13000, "pixverse-accounts:jwtWarnDays": 3}
    project = tool_project(tmp_path / "project", emulator, accounts, **settings)
    (project / "outputs.json").write_text(json.dumps(LIVE_FLEET))
    return project


def test_report_with_a_stack_reads_each_plan_and_the_jobs_once_and_only_reads(
    live_project: Path,
    emulator: UseapiEmulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("USEAPI_TOKEN", emulator.token)
    emulator.set_plan("render@example.com", plan_name="Pro Plan", gen_simultaneously=3)
    emulator.start_jobs("ops@example.com", 2, seconds=60)
    args = [str(live_project / "outputs.json"), "--stack", STACK, "--cwd", str(live_project)]

    assert report.main(args) == 0

    text = capsys.readouterr().out
    assert "| render@example.com | render |" in text and "| Pro Plan |" in text
    assert "**3** (< maxJobs)" in text
    # The stack's minCredits (13000) is above the emulator's 12450 credits left: all low.
    assert text.count("**12450** (low)") == 3
    assert "**Capacity the plans allow:** 8 of 10 maxJobs at once" in text
    assert "**Running now:** 2 jobs." in text
    assert "stripe" not in text and emulator.token not in text
    calls = emulator.calls()
    assert {r.method for r in calls} == {"GET"}
    plan_reads = sorted(str(r.email) for r in calls if r.path == "/v2/pixverse/features/")
    assert plan_reads == sorted(LIVE_ACCOUNTS)
    assert [r.path for r in calls].count("/v2/pixverse/scheduler/available") == 1
    assert len(calls) == 4


def test_report_with_a_stack_still_prints_when_useapi_net_fails_and_says_why(
    live_project: Path,
    emulator: UseapiEmulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("USEAPI_TOKEN", emulator.token)
    emulator.fail_next("GET", 500, times=8)  # every read, retries included
    args = [str(live_project / "outputs.json"), "--stack", STACK, "--cwd", str(live_project)]

    assert report.main(args) == 0

    text = capsys.readouterr().out
    assert text.count("plan unknown: useapi.net GET") == 3
    assert "- running jobs unknown: useapi.net GET" in text
    assert "**Capacity the plans allow:** 10 of 10 maxJobs" in text  # unknown plans count maxJobs


def test_report_with_a_stack_it_cannot_use_fails_before_any_call(
    live_project: Path,
    emulator: UseapiEmulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    outputs = str(live_project / "outputs.json")
    monkeypatch.delenv("USEAPI_TOKEN", raising=False)
    assert report.main([outputs, "--stack", STACK, "--cwd", str(live_project)]) == 1
    assert "USEAPI_TOKEN" in capsys.readouterr().err
    assert report.main([outputs, "--stack", "staging", "--cwd", str(live_project)]) == 1
    assert "Pulumi.staging.yaml does not exist" in capsys.readouterr().err
    assert emulator.calls() == []


def _row_for(expiry: datetime | str) -> dict[str, object]:
    text = expiry if isinstance(expiry, str) else expiry.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return {
        "accounts": {"ops@example.com": {"Username": "ops", "ExpireTimeUTC": text, "maxJobs": 3}}
    }


def _session_cell(expiry: datetime | str, now: datetime = NOW, warn_days: float = 7) -> str:
    text = render_markdown(parse_outputs(_row_for(expiry)), now, warn_days)
    (row,) = [line for line in text.splitlines() if line.startswith("| ops@example.com |")]
    return row.split(" | ")[2]


@pytest.mark.parametrize(
    ("left", "says"),
    [
        (timedelta(days=30) - timedelta(minutes=5), "in 30 days"),  # a fresh session
        (timedelta(days=2), "in 2 days"),
        (timedelta(days=2, hours=12) - timedelta(seconds=1), "in 2 days"),
        (timedelta(days=2, hours=12), "in 3 days"),  # half up, not half to even
        (timedelta(days=3, hours=12), "in 4 days"),
        (timedelta(hours=23, minutes=30) - timedelta(seconds=1), "in 23 hours"),
        (timedelta(hours=23, minutes=30), "in 1 day"),
        (timedelta(hours=2, minutes=30), "in 3 hours"),
        (timedelta(hours=1, minutes=30) - timedelta(seconds=1), "in 1 hour"),
        (timedelta(minutes=30), "in 1 hour"),
        (timedelta(minutes=30) - timedelta(seconds=1), "in less than an hour"),
        (timedelta(0), "less than an hour ago"),  # the instant itself: expired
        (-timedelta(hours=5), "5 hours ago"),
        (-timedelta(days=2, hours=12), "3 days ago"),
        (-timedelta(days=3), "3 days ago"),
    ],
)
def test_the_days_and_hours_left_agree_with_the_expiry_instant(left: timedelta, says: str) -> None:
    cell = _session_cell(NOW + left)
    stamp = (NOW + left).strftime("%Y-%m-%d %H:%M UTC")
    assert cell.endswith(f"{stamp} ({says})"), cell
    assert cell.startswith("**EXPIRED** ") is (left <= timedelta(0))


def test_expired_and_soon_have_the_bounds_of_the_program_s_warning() -> None:
    """The report and `pulumi up`'s warning must not disagree about the same session."""
    for left in (
        timedelta(0),
        timedelta(seconds=1),
        timedelta(days=7),
        timedelta(days=7, seconds=1),
    ):
        expiry = NOW + left
        jwt = {"ExpireTimeUTC": expiry.strftime("%Y-%m-%dT%H:%M:%S.000Z")}
        warning = session_warning("ops@example.com", jwt, NOW, 7)
        cell = _session_cell(expiry)
        assert cell.startswith("**EXPIRED** ") is (warning is not None and "expired at" in warning)
        assert cell.startswith("**soon** ") is (warning is not None and "expires at" in warning)


@pytest.fixture
def elsewhere() -> Iterator[None]:
    with local_time_elsewhere():
        yield


@pytest.mark.usefixtures("elsewhere")
@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("2026-11-29T10:00:00+02:00", "2026-11-29 08:00 UTC (in 2 days)"),
        ("2026-11-29T03:00:00-05:00", "2026-11-29 08:00 UTC (in 2 days)"),
        # No designator: UTC, as the field's name says (not the machine's local time).
        ("2026-11-29T08:00:00", "2026-11-29 08:00 UTC (in 2 days)"),
        ("2026-11-29T08:00:00.000", "2026-11-29 08:00 UTC (in 2 days)"),
    ],
)
def test_an_expiry_with_an_offset_or_none_is_shown_in_utc(text: str, shown: str) -> None:
    assert _session_cell(text) == f"**soon** {shown}"


@pytest.mark.parametrize(("warn_days", "marked"), [("1", False), ("3", True), (None, True)])
def test_the_command_honours_warn_days(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    warn_days: str | None,
    marked: bool,
) -> None:
    """A session two days from expiry: marked within 3 days and within the default 7, not
    within 1."""
    expiry = datetime.now(UTC) + timedelta(days=2)
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(_row_for(expiry))))

    assert report.main(["--warn-days", warn_days] if warn_days else []) == 0

    row = [line for line in capsys.readouterr().out.splitlines() if "ops@example.com" in line]
    assert len(row) == 1 and ("**soon**" in row[0]) is marked, row
