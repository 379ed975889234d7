"""`make up | preview | refresh | destroy | drift`: the demo stack against the bundled emulator,
through the real `pulumi` CLI (`python -m demo <operation> [-- <pulumi flags>]`).

What it does, in order, and why:
1. Finds the CLI: `pulumi` on PATH (the Makefile puts `.tools/bin`, where `make cli` builds it,
   first), at least 3.139.0. Without one it stops before touching anything.
2. Demo secrets (`demo.secrets`): a random emulator token and a password per account, kept in
   `.demo/`, never committed.
3. The emulator (`demo.emulator`) in the background, stopped when this command ends.
4. The provider reaches it through the environment (USEAPI_BASE_URL, USEAPI_TOKEN), the same
   fallback a deploy pipeline uses for the real token, and the CLI runs at the pipeline's
   parallelism (PULUMI_PARALLEL=32) unless the caller's shell sets one. The CLI uses the local
   file backend under `.pulumi-state/` and the documented demo passphrase, whatever the
   caller's shell exports, so the demo can never touch a real stack.
5. `up` ends with the live fleet report (`provider.report --stack demo`: the stack's outputs
   with each account's plan, credits and running jobs); `drift` runs the refresh-preview that
   must show no changes, then names each drifted account (`provider.drift`), as the drift
   workflow does for a real stack.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from provider.host.concurrency import DEPLOY_PARALLEL, PARALLEL_ENV

from .emulator import emulator
from .secrets import STACK, DemoSecrets, demo_secrets, passwords_in, working_stack_file

# Documented in docs/getting-started.md: the demo stack's secrets only protect throwaway demo
# passwords.
DEMO_PASSPHRASE = "pixverse-demo-passphrase"
STATE_DIR = ".pulumi-state"
# The first CLI whose engine hands a dynamic provider the whole stack config (Pulumi PR #17673).
MIN_PULUMI = (3, 139, 0)
VERSION_TIMEOUT = 30
INSTALL_HINT = """\
error: the pulumi CLI is not installed: `make up` needs pulumi {minimum} or newer.
  - with Go (https://go.dev/dl/): `make cli` builds the tested version into .tools/bin
  - or Pulumi's official installer: curl -fsSL https://get.pulumi.com | sh
Nothing was changed."""
COMMANDS: dict[str, list[str]] = {
    "up": ["up", "--yes", "--skip-preview"],
    "preview": ["preview", "--diff"],
    "refresh": ["refresh", "--yes", "--skip-preview"],
    "destroy": ["destroy", "--yes", "--skip-preview"],
    "drift": ["preview", "--refresh", "--expect-no-changes", "--diff"],
}


class DemoError(RuntimeError):
    """The demo cannot run; the message says what to do."""


def _minimum() -> str:
    return ".".join(str(part) for part in MIN_PULUMI)


def find_pulumi() -> str:
    """The CLI on PATH, checked against the minimum version before anything else happens."""
    pulumi = shutil.which("pulumi")
    if pulumi is None:
        raise DemoError(INSTALL_HINT.format(minimum=_minimum()))
    answer = subprocess.run(  # noqa: S603 - the CLI found on PATH, fixed arguments
        [pulumi, "version"], capture_output=True, text=True, timeout=VERSION_TIMEOUT, check=False
    )
    match = re.search(r"v?(\d+)\.(\d+)\.(\d+)", answer.stdout)
    version = tuple(int(part) for part in match.groups()) if match else None
    if version is None or version < MIN_PULUMI:
        found = answer.stdout.strip() or "an unreadable version"
        raise DemoError(
            f"error: {pulumi} is {found}; the demo needs pulumi {_minimum()} or newer "
            "(`make cli` builds the tested version into .tools/bin). Nothing was changed."
        )
    return pulumi


def demo_env(root: Path, base_url: str, token: str) -> dict[str, str]:
    """The local file backend and the demo passphrase, whatever the caller's environment says;
    the deploy pipeline's parallelism unless the caller chose one (`PULUMI_PARALLEL`)."""
    env = dict(os.environ)
    env.setdefault(PARALLEL_ENV, str(DEPLOY_PARALLEL))
    env.update(
        USEAPI_BASE_URL=base_url,
        USEAPI_TOKEN=token,
        PULUMI_BACKEND_URL=(root / STATE_DIR).resolve().as_uri(),
        PULUMI_CONFIG_PASSPHRASE=DEMO_PASSPHRASE,
        PULUMI_SKIP_UPDATE_CHECK="true",
    )
    env.pop("PULUMI_CONFIG_PASSPHRASE_FILE", None)
    env.pop("PULUMI_ACCESS_TOKEN", None)
    return env


def _run(command: list[str], root: Path, env: Mapping[str, str], stdin: str | None = None) -> int:
    return subprocess.run(  # noqa: S603 - fixed commands, no shell
        command, cwd=root, env=dict(env), input=stdin, text=True, check=False
    ).returncode


def _stdout_of(command: list[str], root: Path, env: Mapping[str, str]) -> str:
    return subprocess.run(  # noqa: S603 - fixed commands, no shell
        command, cwd=root, env=dict(env), text=True, stdout=subprocess.PIPE, check=False
    ).stdout


def prepare_stack(pulumi: str, root: Path, env: Mapping[str, str], made: DemoSecrets) -> list[str]:
    """Select (or create) the demo stack and set the passwords it lacks; returns the flags
    that point the CLI at it and its working stack file."""
    # The file backend does not create its directory: without it the first `stack select`
    # fails with "unable to open state directory".
    (root / STATE_DIR).mkdir(exist_ok=True)
    if _run([pulumi, "stack", "select", "--create", STACK], root, env) != 0:
        raise DemoError("error: could not select or create the demo stack")
    stack_file = working_stack_file(root)
    flags = ["--stack", STACK, "--config-file", str(stack_file)]
    have = passwords_in(stack_file)
    for email, password in sorted(made.passwords.items()):
        if email in have:
            continue
        # The value goes in on stdin, never on a command line.
        path = f'passwords["{email}"]'
        command = [pulumi, "config", "set", "--secret", "--path", path, *flags]
        if _run(command, root, env, password) != 0:
            raise DemoError(f"error: could not set the demo password of {email}")
    return flags


def after(operation: str, rc: int, pulumi: str, root: Path, env: Mapping[str, str]) -> int:
    """What follows the engine's run: the fleet report after `up`, the names after `drift`."""
    if operation not in ("up", "drift") or (operation == "up" and rc != 0):
        return rc
    outputs = _stdout_of([pulumi, "stack", "output", "--json", "--stack", STACK], root, env)
    if operation == "up":
        # Live: the plans, credits and running jobs the emulator reports, as a deploy shows them.
        report = [sys.executable, "-m", "provider.report", "-", "--stack", STACK]
        return _run(report, root, env, outputs)
    drift = [sys.executable, "-m", "provider.drift", "--stack", STACK, "--outputs", "-"]
    named = _run(drift, root, env, outputs)  # also when the preview failed: it says what drifted
    return rc or named


def run(operation: str, root: Path, extra: Sequence[str] = ()) -> int:
    pulumi = find_pulumi()
    made = demo_secrets(root)
    with emulator(root, made.token) as base_url:
        env = demo_env(root, base_url, made.token)
        flags = prepare_stack(pulumi, root, env, made)
        command = [pulumi, *COMMANDS[operation], "--non-interactive", *flags, *extra]
        return after(operation, _run(command, root, env), pulumi, root, env)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__)
    parser.add_argument("operation", choices=sorted(COMMANDS))
    parser.add_argument("--cwd", default=".", help="the project directory")
    parser.add_argument(
        "pulumi_args",
        nargs="*",
        help="after `--`: more flags for the pulumi CLI (e.g. -- --expect-no-changes)",
    )
    args = parser.parse_args(argv)
    try:
        return run(args.operation, Path(args.cwd).resolve(), args.pulumi_args)
    except (DemoError, RuntimeError) as exc:
        print(str(exc), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
