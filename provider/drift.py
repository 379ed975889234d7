"""`python -m provider.drift --stack <name> [--outputs FILE]`: one line per drifted account.

Run after `pulumi preview --refresh --expect-no-changes` (`make drift`, the drift workflow):
the preview decides whether the fleet matches the stack, this names what drifted, per
account, from the stack file, useapi.net's live list (one GET, no write) and the last
applied outputs (`pulumi stack output --json`). It fails when any account drifted: maxJobs
changed outside the stack, an account deleted, a session expired, maxJobs over what the
account's PixVerse plan runs at once (one `GET /features` per declared account on useapi.net).
Sessions expiring within `jwtWarnDays`, credits below `minCredits` and plans expired or
expiring within `jwtWarnDays` are warnings, never failures; accounts on useapi.net that the
stack lacks are notes (adopt them). In GitHub Actions the lines are also annotations.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from .host.settings import SettingsError
from .host.useapi.client import UseapiError
from .program.inventory import (
    MIN_CREDITS_KEY,
    WARN_DAYS_KEY,
    InventoryError,
    parse_accounts,
    parse_min_credits,
    parse_warn_days,
)
from .tools.drift_findings import DriftFindings, find_drift
from .tools.live_fleet import read_capacity, read_live_fleet
from .tools.stack_file import StackFile, StackFileError, stack_file_path
from .tools.stack_outputs import OutputsError, read_outputs


def _annotate(kind: str, line: str, environ: Mapping[str, str]) -> None:
    """A workflow command, so the line shows on the run's page, not only in its log."""
    if environ.get("GITHUB_ACTIONS") == "true":
        text = line.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        print(f"::{kind} title=PixVerse fleet drift::{text}")


def _print(findings: DriftFindings, stack: str, environ: Mapping[str, str]) -> None:
    for line in findings.drifted:
        print(f"drift: {line}")
        _annotate("error", line, environ)
    for line in findings.warnings:
        print(f"warning: {line}")
        _annotate("warning", line, environ)
    for line in findings.undeclared:
        print(f"note: {line}; adopt it: python -m provider.adopt --stack {shlex.quote(stack)}")


def check(project_dir: Path, stack: str, outputs: str | None, environ: Mapping[str, str]) -> int:
    stack_file = StackFile.load(stack_file_path(project_dir, stack))
    declared = parse_accounts(stack_file.accounts())
    warn_days = parse_warn_days(stack_file.value(WARN_DAYS_KEY))
    min_credits = parse_min_credits(stack_file.value(MIN_CREDITS_KEY))
    applied = read_outputs(outputs).accounts if outputs else None
    fleet = read_live_fleet(stack_file, stack, environ)
    for note in fleet.notes:
        print(f"note: {note}", file=sys.stderr)
    # Plans only of accounts that are there: a deleted one is drift already.
    on_useapi = [desired.email for desired in declared if desired.email in fleet.accounts]
    capacity = read_capacity(fleet.settings, on_useapi)
    now = datetime.now(UTC)
    findings = find_drift(
        declared, fleet.accounts, applied, now, warn_days, capacity.plans, min_credits
    )
    for email, why in sorted(capacity.unknown.items()):
        findings.warnings.append(f"{email}: plan not read, so not checked: {why}")
    _print(findings, stack, environ)
    if findings.drifted:
        print(
            f"{len(findings.drifted)} of {len(declared)} account(s) drifted from "
            f"{stack_file.path.name}; `pulumi up --refresh` sets maxJobs back and re-creates "
            "deleted accounts; an expired session needs the account's current password"
        )
        if any("over the plan" in line for line in findings.drifted):
            print(
                "over the plan: lower the account's maxJobs in the stack to its plan's "
                "gen_simultaneously (then `pulumi up`), or upgrade the plan on PixVerse"
            )
        return 1
    print(f"no drift: the {len(declared)} account(s) of {stack_file.path.name} match useapi.net")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m provider.drift", description=__doc__)
    parser.add_argument("--stack", "-s", required=True)
    parser.add_argument(
        "--outputs",
        default=None,
        help="`pulumi stack output --json` as a file (- = stdin): tells deleted from never applied",
    )
    parser.add_argument("--cwd", default=".", help="the project directory (with Pulumi.yaml)")
    args = parser.parse_args(argv)
    try:
        return check(Path(args.cwd), args.stack, args.outputs, os.environ)
    except (StackFileError, SettingsError, UseapiError, InventoryError, OutputsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
