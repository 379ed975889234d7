"""Run the real program (`__main__.py` + `provider/`) as a stack, in a subprocess per run.

Each test gets a throwaway project directory that links the real `__main__.py`, `provider/`
and `localengine/` and holds its own `stacks/Pulumi.<stack>.yaml`, so the committed stacks are
never touched and tests cannot see each other's state. Every run is a fresh process (the
Pulumi SDK's runtime state is process-global) with a timeout.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.support.helpers import PASSWORD_SENTINEL, PROJECT_ROOT, clean_env
from useapi_emulator import UseapiEmulator

RUN_TIMEOUT = 60
LINKED = ("__main__.py", "provider", "localengine", "useapi_emulator")
PASSPHRASE = "test-passphrase"
# A fleet for the day-2 tests (drift, sessions): three accounts, one password each.
ACCOUNTS = {
    "ops@example.com": {"maxJobs": 3},
    "render@example.com": {"maxJobs": 5},
    "batch@example.com": {"maxJobs": 2},
}
PASSWORDS = {email: f"{PASSWORD_SENTINEL}-{email}" for email in ACCOUNTS}
LONG_AGO = 1_700_000_000  # an expiry long past: 2023-11-14 22:13:20 UTC


@dataclass
class RunResult:
    returncode: int
    stdout: str
    stderr: str
    summary: dict[str, Any]

    @property
    def text(self) -> str:
        return self.stdout + self.stderr


class StackProject:
    """A project directory with one stack whose inventory a test rewrites between runs."""

    def __init__(self, root: Path, emulator: UseapiEmulator, stack: str = "test") -> None:
        self.root = root
        self.emulator = emulator
        self.stack = stack
        root.mkdir(parents=True, exist_ok=True)
        shutil.copy(PROJECT_ROOT / "Pulumi.yaml", root / "Pulumi.yaml")
        for name in LINKED:
            (root / name).symlink_to(PROJECT_ROOT / name)
        (root / "stacks").mkdir(exist_ok=True)
        self.secret_config_path = root / "secret-config.json"
        self.summary_path = root / "summary.json"

    @property
    def state_file(self) -> Path:
        return self.root / ".pulumi-state" / "offline" / "pixverse-accounts" / f"{self.stack}.json"

    def write(
        self,
        accounts: dict[str, Any],
        passwords: dict[str, Any] | None,
        tokens: dict[str, Any] | None = None,
        extra_config: dict[str, Any] | None = None,
    ) -> None:
        """The plain inventory into the stack file; passwords/tokens as secret config."""
        plain: dict[str, Any] = {
            "pixverse-accounts:accounts": accounts,
            "useapi:baseUrl": self.emulator.base_url,
            "useapi:timeout": "5",
            "useapi:maxRetries": "1",
        }
        plain.update(extra_config or {})
        stack_file = self.root / "stacks" / f"Pulumi.{self.stack}.yaml"
        stack_file.write_text(yaml.safe_dump({"config": plain}))
        secret: dict[str, Any] = {"useapi:token": self.emulator.token}
        if passwords is not None:
            secret["pixverse-accounts:passwords"] = passwords
        if tokens is not None:
            secret["pixverse-accounts:tokens"] = tokens
        self.secret_config_path.write_text(json.dumps(secret))

    def run(self, operation: str = "up", *extra: str) -> RunResult:
        self.summary_path.unlink(missing_ok=True)
        env = clean_env(PULUMI_CONFIG_PASSPHRASE=PASSPHRASE)
        completed = subprocess.run(
            [
                sys.executable,
                "-m",
                "localengine.offline",
                operation,
                "--stack",
                self.stack,
                "--secret-config",
                str(self.secret_config_path),
                "--summary-json",
                str(self.summary_path),
                *extra,
            ],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
        summary = json.loads(self.summary_path.read_text()) if self.summary_path.exists() else {}
        return RunResult(completed.returncode, completed.stdout, completed.stderr, summary)

    def up_ok(self, operation: str = "up", *extra: str) -> RunResult:
        result = self.run(operation, *extra)
        assert result.returncode == 0, result.text
        return result

    def tool(
        self, module: str, *args: str, stdin: str | None = None, **env: str
    ) -> subprocess.CompletedProcess[str]:
        """`python -m <module> ...` in the project, with the useapi.net token in the
        environment (the stack file holds only the plain settings), as a pipeline runs it."""
        return subprocess.run(
            [sys.executable, "-m", module, *args],
            cwd=self.root,
            env=clean_env(USEAPI_TOKEN=self.emulator.token, **env),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )

    def drift_check(self, **env: str) -> tuple[RunResult, subprocess.CompletedProcess[str]]:
        """What `make drift` and the drift workflow run: the refresh-preview that must show
        no changes, then the per-account names from the last outputs and the live list."""
        preview = self.run("preview", "--refresh", "--expect-no-changes")
        outputs = self.tool("localengine.offline", "output", "--stack", self.stack).stdout
        named = self.tool(
            "provider.drift", "--stack", self.stack, "--outputs", "-", stdin=outputs, **env
        )
        return preview, named


def env_without_pulumi_settings() -> dict[str, str]:
    """The test environment minus any Pulumi backend or passphrase the developer exported."""
    return {
        key: value
        for key, value in clean_env().items()
        if not key.startswith(("PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE", "PULUMI_ACCESS"))
    }


def link_project(root: Path) -> Path:
    """A copy of the project layout (committed stacks included) for the demo launcher."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROJECT_ROOT / "Pulumi.yaml", root / "Pulumi.yaml")
    for name in LINKED:
        (root / name).symlink_to(PROJECT_ROOT / name)
    shutil.copytree(PROJECT_ROOT / "stacks", root / "stacks")
    return root


__all__ = [
    "ACCOUNTS",
    "LONG_AGO",
    "PASSPHRASE",
    "PASSWORDS",
    "RunResult",
    "StackProject",
    "env_without_pulumi_settings",
    "link_project",
]
