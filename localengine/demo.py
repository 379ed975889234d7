"""`make up | preview | refresh | destroy`: the demo stack against the bundled emulator.

What it does, in order, and why:
1. Demo secrets: a random useapi.net token for the emulator and a random password per account
   of `stacks/Pulumi.demo.yaml`, made once and kept in `.demo/` (git-ignored, mode 0600), so
   nothing secret is committed — not even for the demo — and the second run sends the same
   passwords (zero changes).
2. The emulator (`python -m useapi_emulator`) in the background with `--state
   .demo/emulator.json`: accounts survive between runs as they would on useapi.net, so "run it
   twice, see zero changes" means something. It is stopped when this script ends, whatever
   happens (a `finally`, not a shell trap).
3. The provider reaches it through the environment (USEAPI_BASE_URL, USEAPI_TOKEN), the same
   fallback a deploy pipeline uses for the real token.
4. With the `pulumi` CLI: the local file backend under `.pulumi-state/` and the documented demo
   passphrase; the demo passwords are set with `pulumi config set --secret --path` into a
   working copy of the stack file in `.demo/` (`--config-file`), then `pulumi up`.
   Without the CLI: says how to install it, then runs the same program and provider through
   the offline engine (`python -m localengine.offline`), secrets as its secret config.
5. `up` ends with the fleet report (`provider.report`); `drift` runs the refresh-preview that
   must show no changes, then names each drifted account (`provider.drift`), as the drift
   workflow does for a real stack.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from provider.fleet_report import render_markdown
from provider.stack_outputs import parse_outputs

from .stackconfig import load_project, namespaced

STACK = "demo"
# Documented in the README: the demo stack's secrets only protect throwaway demo passwords.
DEMO_PASSPHRASE = "pixverse-demo-passphrase"
DEMO_DIR = ".demo"
STATE_DIR = ".pulumi-state"
EMULATOR_START_TIMEOUT = 20.0
EMULATOR_STOP_TIMEOUT = 5.0
PASSWORDS_KEY = "pixverse-accounts:passwords"
INSTALL_HINT = """\
The pulumi CLI is not here, so this runs the same __main__.py and provider through the
offline engine instead (python -m localengine.offline). For the real engine:
    make cli      (needs Go; builds the pinned CLI into .tools/bin, which make puts on PATH)
or install a pulumi CLI 3.139.0 or newer on PATH; the demo then keeps its state under
.pulumi-state/.
"""


def _private_write(path: Path, text: str) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def demo_emails(root: Path) -> list[str]:
    project = load_project(root)
    data = yaml.safe_load(project.stack_file(STACK).read_text()) or {}
    config = data.get("config") or {}
    for key, value in config.items():
        if namespaced(project.name, str(key)) == f"{project.name}:accounts":
            return sorted(str(email) for email in (value or {}))
    return []


def demo_secrets(root: Path) -> tuple[str, Path]:
    """The emulator's token and the offline secret-config file, made once per checkout."""
    demo = root / DEMO_DIR
    token_file = demo / "useapi-token"
    if not token_file.exists():
        _private_write(token_file, secrets.token_urlsafe(24))
    config_file = demo / "secret-config.json"
    current: dict[str, Any] = {}
    if config_file.exists():
        current = json.loads(config_file.read_text())
    passwords: dict[str, str] = dict(current.get(PASSWORDS_KEY) or {})
    for email in demo_emails(root):
        passwords.setdefault(email, "demo-" + secrets.token_urlsafe(18))
    current[PASSWORDS_KEY] = passwords
    _private_write(config_file, json.dumps(current, indent=2, sort_keys=True))
    return token_file.read_text().strip(), config_file


@contextmanager
def emulator(root: Path, token: str) -> Iterator[str]:
    """The emulator in the background; yields its base URL and always stops it."""
    env = dict(os.environ, USEAPI_EMULATOR_TOKEN=token)
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [
            sys.executable,
            "-m",
            "useapi_emulator",
            "--state",
            str(root / DEMO_DIR / "emulator.json"),
        ],
        cwd=root,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        first_line: list[str] = []
        assert process.stdout is not None
        reader = threading.Thread(
            target=lambda: first_line.append(process.stdout.readline() if process.stdout else ""),
            daemon=True,
        )
        reader.start()
        reader.join(EMULATOR_START_TIMEOUT)
        if not first_line or not first_line[0].startswith("http"):
            raise RuntimeError("the useapi.net emulator did not start (no base URL printed)")
        base_url = first_line[0].strip()
        print(f"useapi.net emulator: {base_url} (state: {DEMO_DIR}/emulator.json)", flush=True)
        yield base_url
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=EMULATOR_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=EMULATOR_STOP_TIMEOUT)
        if process.stdout is not None:
            process.stdout.close()


def demo_env(root: Path, base_url: str, token: str) -> dict[str, str]:
    """The demo always uses the local file backend and the demo passphrase, whatever the
    caller's environment says, so it can never touch a real stack."""
    env = dict(os.environ)
    env.update(
        USEAPI_BASE_URL=base_url,
        USEAPI_TOKEN=token,
        PULUMI_BACKEND_URL=(root / STATE_DIR).resolve().as_uri(),
        PULUMI_CONFIG_PASSPHRASE=DEMO_PASSPHRASE,
        PULUMI_SKIP_UPDATE_CHECK="true",
    )
    env.pop("PULUMI_CONFIG_PASSPHRASE_FILE", None)
    return env


def _run(command: list[str], root: Path, env: Mapping[str, str], stdin: str | None = None) -> int:
    return subprocess.run(  # noqa: S603 - fixed commands, no shell
        command, cwd=root, env=dict(env), input=stdin, text=True, check=False
    ).returncode


def _stdout_of(command: list[str], root: Path, env: Mapping[str, str]) -> str:
    return subprocess.run(  # noqa: S603 - fixed commands, no shell
        command, cwd=root, env=dict(env), text=True, stdout=subprocess.PIPE, check=False
    ).stdout


def stack_outputs_json(pulumi: str | None, root: Path, env: Mapping[str, str]) -> str:
    """`pulumi stack output --json`, or the offline engine's same-shaped `output`."""
    if pulumi is not None:
        return _stdout_of([pulumi, "stack", "output", "--json", "--stack", STACK], root, env)
    return _stdout_of(
        [sys.executable, "-m", "localengine.offline", "output", "--stack", STACK], root, env
    )


def print_fleet_report(outputs_json: str) -> None:
    """The fleet report (Markdown) from `pulumi stack output --json` text, printed after the
    outputs of `make up`; either engine's path can call it."""
    outputs = parse_outputs(json.loads(outputs_json) if outputs_json.strip() else {})
    print(render_markdown(outputs, datetime.now(timezone.utc)), end="", flush=True)


def name_drift(outputs_json: str, root: Path, env: Mapping[str, str]) -> int:
    """One line per drifted account (`provider.drift`), after the refresh-preview."""
    command = [sys.executable, "-m", "provider.drift", "--stack", STACK, "--outputs", "-"]
    return _run(command, root, env, outputs_json)


def _working_stack_file(root: Path) -> Path:
    """`.demo/Pulumi.demo.yaml`: the committed stack file plus the CLI's encrypted demo
    passwords, so `pulumi config set --secret` never writes into a committed file. The salt
    that encrypted those passwords travels with them."""
    project = load_project(root)
    committed = yaml.safe_load(project.stack_file(STACK).read_text()) or {}
    working_path = root / DEMO_DIR / f"Pulumi.{STACK}.yaml"
    working: dict[str, Any] = {}
    if working_path.exists():
        working = yaml.safe_load(working_path.read_text()) or {}
    merged = {key: value for key, value in committed.items() if key != "config"}
    for key in ("encryptionsalt", "secretsprovider", "encryptedkey"):
        if key in working:
            merged[key] = working[key]
    config = dict(committed.get("config") or {})
    if PASSWORDS_KEY in (working.get("config") or {}):
        config[PASSWORDS_KEY] = working["config"][PASSWORDS_KEY]
    merged["config"] = config
    _private_write(working_path, yaml.safe_dump(merged, sort_keys=False))
    return working_path


def run_with_cli(
    pulumi: str,
    operation: str,
    root: Path,
    env: Mapping[str, str],
    sc: Path,
    extra: Sequence[str] = (),
) -> int:
    # The file backend does not create its directory: without it the first `stack select`
    # fails with "unable to open state directory".
    (root / STATE_DIR).mkdir(exist_ok=True)
    rc = _run([pulumi, "stack", "select", "--create", STACK], root, env)
    if rc != 0:
        return rc
    stack_file = _working_stack_file(root)
    cfg = ["--stack", STACK, "--config-file", str(stack_file)]
    passwords: dict[str, str] = json.loads(sc.read_text()).get(PASSWORDS_KEY, {})
    current = (yaml.safe_load(stack_file.read_text()) or {}).get("config") or {}
    have = set((current.get(PASSWORDS_KEY) or {}).keys())
    for email, password in sorted(passwords.items()):
        if email in have:
            continue
        # The value goes in on stdin, never on a command line.
        path = f'passwords["{email}"]'
        rc = _run([pulumi, "config", "set", "--secret", "--path", path, *cfg], root, env, password)
        if rc != 0:
            return rc
    commands = {
        "up": ["up", "--yes", "--skip-preview"],
        "preview": ["preview", "--diff"],
        "refresh": ["refresh", "--yes"],
        "destroy": ["destroy", "--yes"],
        "drift": ["preview", "--refresh", "--expect-no-changes", "--diff"],
    }
    command = [pulumi, *commands[operation], "--non-interactive", *cfg, *extra]
    return _run(command, root, env)


def run_offline(operation: str, root: Path, env: Mapping[str, str], secret_config: Path) -> int:
    if operation == "drift":
        operation, extra = "preview", ["--refresh", "--expect-no-changes"]
    else:
        extra = []
    command = [sys.executable, "-m", "localengine.offline", operation, "--stack", STACK, *extra]
    return _run([*command, "--secret-config", str(secret_config)], root, env)


def after(operation: str, rc: int, pulumi: str | None, root: Path, env: Mapping[str, str]) -> int:
    """What follows the engine's run: the fleet report after `up`, the names after `drift`."""
    if operation == "up" and rc == 0:
        print_fleet_report(stack_outputs_json(pulumi, root, env))
    if operation == "drift":
        named = name_drift(stack_outputs_json(pulumi, root, env), root, env)
        return rc or named
    return rc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localengine.demo", description=__doc__)
    parser.add_argument("operation", choices=["up", "preview", "refresh", "destroy", "drift"])
    parser.add_argument("--cwd", default=".", help="the project directory")
    parser.add_argument(
        "--offline", action="store_true", help="use the offline engine even if pulumi exists"
    )
    parser.add_argument(
        "pulumi_args",
        nargs="*",
        help="after `--`: more flags for the pulumi CLI (e.g. -- --expect-no-changes)",
    )
    args = parser.parse_args(argv)
    root = Path(args.cwd).resolve()
    token, secret_config = demo_secrets(root)
    pulumi = None if args.offline else shutil.which("pulumi")
    if pulumi is None and not args.offline:
        print(INSTALL_HINT, flush=True)
    try:
        with emulator(root, token) as base_url:
            env = demo_env(root, base_url, token)
            if pulumi is not None:
                rc = run_with_cli(
                    pulumi, args.operation, root, env, secret_config, args.pulumi_args
                )
            elif args.pulumi_args:
                raise RuntimeError("flags after `--` are for the pulumi CLI, which is not here")
            else:
                rc = run_offline(args.operation, root, env, secret_config)
            return after(args.operation, rc, pulumi, root, env)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
