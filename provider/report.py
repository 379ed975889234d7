"""`pulumi stack output --json | python -m provider.report [--stack <name>]`: the fleet as a
Markdown table (email, PixVerse username, session expiry with days left, maxJobs, the fleet's
total).

With `--stack` it also reads useapi.net live, with the stack's settings as adopt and drift use
them: each account's PixVerse plan (one `GET /features` per account), the jobs running now (one
`GET /scheduler/available`), and it lists the accounts over their plan, below `minCredits` or
with a plan about to lapse, and the capacity the plans really allow. A live figure that cannot
be read is shown as unknown and said why, and the report still prints (exit 0): it is a summary,
not a check (the drift check is). Without `--stack` it is the offline table and calls nobody.

Pipelines append it to `$GITHUB_STEP_SUMMARY`; `make up` prints it (live) after the outputs.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from .host.settings import SettingsError
from .program.inventory import (
    DEFAULT_WARN_DAYS,
    MIN_CREDITS_KEY,
    WARN_DAYS_KEY,
    InventoryError,
    parse_min_credits,
    parse_warn_days,
)
from .tools.fleet_report import TITLE, render_markdown
from .tools.live_fleet import LiveCapacity, read_capacity, tool_settings
from .tools.stack_file import StackFile, StackFileError, stack_file_path
from .tools.stack_outputs import OutputsError, StackOutputs, read_outputs


def _live(
    outputs: StackOutputs, project_dir: Path, stack: str, warn_days: float | None
) -> tuple[LiveCapacity, float, int | None]:
    """The live figures, the warning horizon and the credit threshold of the stack."""
    stack_file = StackFile.load(stack_file_path(project_dir, stack))
    if warn_days is None:
        warn_days = parse_warn_days(stack_file.value(WARN_DAYS_KEY))
    min_credits = parse_min_credits(stack_file.value(MIN_CREDITS_KEY))
    settings, notes = tool_settings(stack_file, stack, os.environ)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    live = read_capacity(settings, outputs.accounts, jobs=True)
    return live, warn_days, min_credits


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m provider.report", description=__doc__)
    parser.add_argument(
        "outputs", nargs="?", default="-", help="a file of `pulumi stack output --json` (- = stdin)"
    )
    parser.add_argument("--title", default=TITLE, help="the heading, e.g. the stack's name")
    parser.add_argument(
        "--warn-days",
        type=float,
        default=None,
        help="mark sessions and plans ending within this many days (default: the stack's "
        f"jwtWarnDays with --stack, else {DEFAULT_WARN_DAYS})",
    )
    parser.add_argument(
        "--stack",
        "-s",
        default=None,
        help="add the live plans, credits and running jobs, read with this stack's settings",
    )
    parser.add_argument("--cwd", default=".", help="the project directory (with Pulumi.yaml)")
    args = parser.parse_args(argv)
    try:
        outputs = read_outputs(args.outputs)
        live: LiveCapacity | None = None
        min_credits: int | None = None
        warn_days: float | None = args.warn_days
        if args.stack is not None:
            live, warn_days, min_credits = _live(outputs, Path(args.cwd), args.stack, warn_days)
    except (OutputsError, StackFileError, SettingsError, InventoryError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    now = datetime.now(UTC)
    days = float(DEFAULT_WARN_DAYS) if warn_days is None else warn_days
    sys.stdout.write(render_markdown(outputs, now, days, args.title, live, min_credits))
    return 0


if __name__ == "__main__":
    sys.exit(main())
