"""A throwaway Pulumi project and stack, driven through the real `pulumi` CLI and timed.

Each project is a temporary directory with its own file backend, `PULUMI_HOME` and passphrase,
so the benchmark never touches a developer's stacks, and two projects (ours and the floor
program) can run side by side on the same stack config. The project files are links into this
checkout, so what runs is exactly what is committed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TOOLS_BIN = PROJECT_ROOT / ".tools" / "bin"
STACK = "bench"
PASSPHRASE = "bench-passphrase"  # protects throwaway bench passwords only
COMMAND_TIMEOUT = 900.0
# Variables of the caller's shell that would point the CLI at another backend or stack.
_DROPPED_PREFIXES = ("PULUMI_", "USEAPI_")
_NON_INTERACTIVE = ("--non-interactive",)
# The four commands the benchmark times, as a team runs them in a pipeline.
COMMANDS: dict[str, tuple[str, ...]] = {
    "up": ("up", "--yes", "--skip-preview", *_NON_INTERACTIVE),
    "preview": ("preview", "--expect-no-changes", *_NON_INTERACTIVE),
    "refresh": ("refresh", "--yes", "--skip-preview", *_NON_INTERACTIVE),
    "destroy": ("destroy", "--yes", "--skip-preview", *_NON_INTERACTIVE),
}


def find_pulumi() -> str | None:
    """The CLI `make cli` built, else one on PATH."""
    built = TOOLS_BIN / "pulumi"
    return str(built) if built.exists() else shutil.which("pulumi")


@dataclass(frozen=True)
class Timed:
    """One CLI command: how long it took, and what it printed (for a failure's message)."""

    seconds: float
    returncode: int
    output: str


def stock_host_project_file() -> str:
    """The project's Pulumi.yaml without its `plugins:` entry: the engine then serves the
    dynamic resources from the SDK's own host (`python -m pulumi.dynamic`, four calls at once),
    as for any Python project that declares nothing."""
    project = yaml.safe_load((PROJECT_ROOT / "Pulumi.yaml").read_text())
    project.pop("plugins", None)
    return yaml.safe_dump(project, sort_keys=False)


class CliProject:
    """One project directory with one stack; `files` maps names in it to files to link.
    `stock_host`: the SDK's own provider host instead of the project's (`Pulumi.yaml`)."""

    def __init__(
        self,
        root: Path,
        pulumi: str,
        files: Mapping[str, Path],
        extra_env: Mapping[str, str] | None = None,
        stock_host: bool = False,
    ) -> None:
        self.root = root
        self.pulumi = pulumi
        root.mkdir(parents=True)
        if stock_host:
            (root / "Pulumi.yaml").write_text(stock_host_project_file())
        else:
            shutil.copy(PROJECT_ROOT / "Pulumi.yaml", root / "Pulumi.yaml")
        for name, target in {**files, "venv": PROJECT_ROOT / "venv"}.items():
            (root / name).symlink_to(target)
        (root / "stacks").mkdir()
        backend = root / ".state"
        backend.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith(_DROPPED_PREFIXES)}
        env.update(
            PATH=f"{TOOLS_BIN}{os.pathsep}{env.get('PATH', '')}",
            PULUMI_BACKEND_URL=backend.as_uri(),
            PULUMI_CONFIG_PASSPHRASE=PASSPHRASE,
            PULUMI_HOME=str(root / ".pulumi-home"),
            PULUMI_SKIP_UPDATE_CHECK="true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
            **(extra_env or {}),
        )
        self.env = env

    @property
    def stack_file(self) -> Path:
        return self.root / "stacks" / f"Pulumi.{STACK}.yaml"

    def run(
        self,
        *args: str,
        stdin: str | None = None,
        check: bool = True,
        env: Mapping[str, str] | None = None,
    ) -> Timed:
        """`env`: variables for this command only (PULUMI_PARALLEL, say), on top of the
        project's."""
        started = time.perf_counter()
        done = subprocess.run(
            [self.pulumi, *args],
            cwd=self.root,
            env={**self.env, **(env or {})},
            input=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
        timed = Timed(time.perf_counter() - started, done.returncode, done.stdout)
        if check and done.returncode != 0:
            raise RuntimeError(f"pulumi {' '.join(args)} failed in {self.root}:\n{done.stdout}")
        return timed

    def command(
        self, name: str, extra: Sequence[str] = (), env: Mapping[str, str] | None = None
    ) -> Timed:
        """One of COMMANDS on the stack, timed from start to exit."""
        return self.run(*COMMANDS[name], *extra, env=env)

    def init(
        self,
        base_url: str,
        token: str,
        accounts: Mapping[str, int],
        passwords: Mapping[str, str],
    ) -> None:
        """The stack config a team keeps: the API root, its token and each account's password
        as secrets, the inventory as plain text."""
        self.run("stack", "init", STACK)
        self.run("config", "set", "useapi:baseUrl", base_url)
        self.run("config", "set", "--secret", "useapi:token", stdin=token)
        data = yaml.safe_load(self.stack_file.read_text()) or {}
        data.setdefault("config", {})["pixverse-accounts:accounts"] = {
            email: {"maxJobs": max_jobs} for email, max_jobs in accounts.items()
        }
        self.stack_file.write_text(yaml.safe_dump(data, sort_keys=False))
        # One CLI call for every password (the values are the bench's own, never real ones).
        pairs: list[str] = []
        for email, password in passwords.items():
            pairs += ["--secret", f'passwords["{email}"]={password}']
        self.run("config", "set-all", "--path", *pairs)
