"""`python -m provider.recover --stack <name>` (`make recover STACK=<name>`): after a deploy was
cut off, put the stack back where the next `pulumi up` converges.

It clears a stale lock (that lock alone: never one whose run may still be alive), drops the
pending operations the cut-off run left, reads every account back from useapi.net, and prints
per account what it found, what it did and what the next `pulumi up` will do. It drives the
pulumi CLI, on whatever backend the environment selects (PULUMI_BACKEND_URL, else `pulumi
login`), with the passphrase or access token the CLI needs. See `provider/tools/recovery.py`
for each step, `provider/tools/stack_locks.py` for how a stale lock is told from a live one and
`provider/tools/lock_removal.py` for how exactly that lock is removed.

Exit status: 0 recovered (or nothing was wrong), 3 the stack is locked by a run that may be
alive (nothing changed), 1 an error.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from datetime import timedelta
from pathlib import Path

from .host.settings import SettingsError
from .tools.pulumi_cli import PulumiCli, PulumiCliError
from .tools.recovery import FAILED, Recovery, RecoveryError
from .tools.stack_file import StackFile, StackFileError, stack_file_path
from .tools.stack_locks import CLOCK_SKEW, DEFAULT_MAX_RUN


def _pulumi(project_dir: Path) -> str:
    """The CLI on PATH, else the one `make cli` built into the project."""
    built = project_dir / ".tools" / "bin" / "pulumi"
    return shutil.which("pulumi") or (str(built) if built.exists() else "pulumi")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m provider.recover", description=__doc__)
    parser.add_argument(
        "--stack", "-s", required=True, help="the stack (file stacks/Pulumi.<stack>.yaml)"
    )
    parser.add_argument(
        "--max-run-minutes",
        type=float,
        default=DEFAULT_MAX_RUN.total_seconds() / 60,
        help="the longest a deploy runs (the deploy job's timeout-minutes): a lock from another "
        "host older than this (plus 5 min for clocks) is stale (default %(default)g)",
    )
    parser.add_argument(
        "--clock-skew-minutes",
        type=float,
        default=CLOCK_SKEW.total_seconds() / 60,
        help="how far the clocks of the host that wrote a lock and of this one may differ "
        "(default %(default)g)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="the run holding the lock is gone (you checked): break a lock from another host "
        "however young, or Pulumi Cloud's; never one held by a pulumi running on this host",
    )
    parser.add_argument(
        "--no-plan",
        action="store_true",
        help="skip the closing `pulumi preview` (the exact next step per account); a pipeline "
        "that runs `pulumi up` next sees that plan there",
    )
    parser.add_argument("--cwd", default=".", help="the project directory (with Pulumi.yaml)")
    args = parser.parse_args(argv)
    project_dir = Path(args.cwd)
    try:
        stack_file = StackFile.load(stack_file_path(project_dir, args.stack))
        recovery = Recovery(
            project_dir=project_dir,
            stack=args.stack,
            cli=PulumiCli(project_dir, os.environ, executable=_pulumi(project_dir)),
            environ=os.environ,
            max_run=timedelta(minutes=args.max_run_minutes),
            skew=timedelta(minutes=args.clock_skew_minutes),
            force=args.force,
            plan=not args.no_plan,
        )
        return recovery.run(stack_file)
    except (StackFileError, SettingsError, RecoveryError, PulumiCliError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return FAILED


if __name__ == "__main__":
    sys.exit(main())
