"""`python -m provider.report`: `pulumi stack output --json` as a Markdown table — for an
empty fleet, a healthy one and one with expired sessions."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from provider import report
from provider.tools.fleet_report import render_markdown
from provider.tools.stack_outputs import StackOutputs, parse_outputs
from tests.support.helpers import PROJECT_ROOT

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
