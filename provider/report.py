"""`pulumi stack output --json | python -m provider.report`: the fleet as a Markdown table
(email, PixVerse username, session expiry with days left, maxJobs, the fleet's total).

Pipelines append it to `$GITHUB_STEP_SUMMARY`; `make up` prints it after the outputs.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone

from .program.inventory import DEFAULT_WARN_DAYS
from .tools.fleet_report import TITLE, render_markdown
from .tools.stack_outputs import OutputsError, read_outputs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m provider.report", description=__doc__)
    parser.add_argument(
        "outputs", nargs="?", default="-", help="a file of `pulumi stack output --json` (- = stdin)"
    )
    parser.add_argument("--title", default=TITLE, help="the heading, e.g. the stack's name")
    parser.add_argument(
        "--warn-days",
        type=float,
        default=float(DEFAULT_WARN_DAYS),
        help="mark sessions expiring within this many days (the stack's jwtWarnDays)",
    )
    args = parser.parse_args(argv)
    try:
        outputs = read_outputs(args.outputs)
    except OutputsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    now = datetime.now(timezone.utc)
    sys.stdout.write(render_markdown(outputs, now, args.warn_days, args.title))
    return 0


if __name__ == "__main__":
    sys.exit(main())
