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

from useapi_emulator import UseapiEmulator

from .helpers import PROJECT_ROOT, clean_env

RUN_TIMEOUT = 60
LINKED = ("__main__.py", "provider", "localengine", "useapi_emulator")
PASSPHRASE = "test-passphrase"


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

    def run(self, operation: str = "up") -> RunResult:
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

    def up_ok(self, operation: str = "up") -> RunResult:
        result = self.run(operation)
        assert result.returncode == 0, result.text
        return result


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


__all__ = ["PASSPHRASE", "RunResult", "StackProject", "env_without_pulumi_settings", "link_project"]
