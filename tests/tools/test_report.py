"""`python -m provider.report`: `pulumi stack output --json` as a Markdown table — for an
empty fleet, a healthy one and one with expired sessions."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from provider import report
from provider.program.sessions import session_warning
from provider.tools.fleet_report import render_markdown
from provider.tools.stack_outputs import StackOutputs, parse_outputs
from tests.support.helpers import PROJECT_ROOT, local_time_elsewhere

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=timezone.utc)
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
    expiry = datetime.now(timezone.utc) + timedelta(days=2)
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(_row_for(expiry))))

    assert report.main(["--warn-days", warn_days] if warn_days else []) == 0

    row = [line for line in capsys.readouterr().out.splitlines() if "ops@example.com" in line]
    assert len(row) == 1 and ("**soon**" in row[0]) is marked, row
