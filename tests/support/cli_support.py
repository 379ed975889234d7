"""Drive the real `pulumi` CLI on a throwaway project: file backend, passphrase, emulator.

`make cli` builds the CLI into `.tools/bin` (and `make test` puts that folder first on PATH);
a `pulumi` already on PATH serves as well. Each `CliProject` is a temporary project directory
that links the real `__main__.py`, `provider/` and the virtualenv, with its own backend folder
and `PULUMI_HOME`, so tests never touch the developer's stacks or each other's. Every command
has a timeout, and everything the CLI printed is kept in `transcript` for the secret checks.

`CliResult.summary()` reads the engine's JSON event stream (`--json`) into buckets by resource
name (created, updated, unchanged, deleted, replaced), so a test can say which account the
engine did what to.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

from tests.support.helpers import PASSWORD_SENTINEL, PROJECT_ROOT, clean_env
from useapi_emulator import UseapiEmulator

TOOLS_BIN = PROJECT_ROOT / ".tools" / "bin"
# What a project directory needs of the repository to run the program and its provider host.
LINKED = ("__main__.py", "provider", "venv")
# What a clone needs besides, for `make up` and the demo.
CLONED = (
    "demo",
    "useapi_emulator",
    "tools",
    "Makefile",
    "requirements.txt",
    "requirements-dev.txt",
    "requirements.lock.txt",
    "requirements-dev.lock.txt",
)
# A fleet for the day-2 tests (drift, sessions): three accounts, one password each.
ACCOUNTS = {"ops@example.com": 3, "render@example.com": 5, "batch@example.com": 2}
PASSWORDS = {email: f"{PASSWORD_SENTINEL}-{email}" for email in ACCOUNTS}
LONG_AGO = 1_700_000_000  # an expiry long past: 2023-11-14 22:13:20 UTC


def env_without_pulumi_settings() -> dict[str, str]:
    """The test environment minus any Pulumi backend or passphrase the developer exported."""
    return {
        key: value
        for key, value in clean_env().items()
        if not key.startswith(("PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE", "PULUMI_ACCESS"))
    }


def link_project(root: Path) -> Path:
    """A clone of the project as `git clone` leaves it (no `.pulumi-state/`, no `.demo/`):
    the code linked, the committed stack files copied so a test may edit them."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROJECT_ROOT / "Pulumi.yaml", root / "Pulumi.yaml")
    for name in (*LINKED, *CLONED):
        (root / name).symlink_to(PROJECT_ROOT / name)
    shutil.copytree(PROJECT_ROOT / "stacks", root / "stacks")
    return root


def find_pulumi() -> str | None:
    """The CLI on PATH, else the one `make cli` built."""
    found = shutil.which("pulumi")
    if found is None and (TOOLS_BIN / "pulumi").exists():
        found = str(TOOLS_BIN / "pulumi")
    return found


PULUMI = find_pulumi()
SKIP_REASON = (
    "the pulumi CLI is not here: run `make cli` (needs Go; `make test` does it where Go exists) "
    "or install pulumi 3.139.0+ on PATH"
)
CLI_TIMEOUT = 120
PASSPHRASE = "cli-test-passphrase"
ACCOUNTS_KEY = "pixverse-accounts:accounts"
PASSWORDS_KEY = "pixverse-accounts:passwords"
TOKENS_KEY = "pixverse-accounts:tokens"
ACCOUNT_TYPE = "pulumi-python:dynamic/pixverse:PixVerseAccount"
_NI = ("--non-interactive",)
# Engine step ops → the buckets a test speaks of.
_BUCKETS = {
    "create": "created",
    "update": "updated",
    "same": "unchanged",
    "delete": "deleted",
    "replace": "replaced",
    "create-replacement": "replaced",
    "delete-replaced": "replaced",
    "refresh": "refreshed",
}


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.stdout + self.stderr

    def summary(self) -> dict[str, list[str]]:
        """Per bucket, the account names the engine reported a finished step for."""
        buckets: dict[str, set[str]] = {name: set() for name in set(_BUCKETS.values())}
        for event in self.events:
            step = (event.get("resOutputsEvent") or {}).get("metadata")
            if not step or step.get("type") != ACCOUNT_TYPE:
                continue
            buckets[_BUCKETS[step["op"]]].add(step["urn"].rsplit("::", 1)[-1])
        return {name: sorted(names) for name, names in buckets.items()}

    def preview_summary(self) -> dict[str, list[str]]:
        """The same buckets from `pulumi preview --json` (one document with its steps)."""
        buckets: dict[str, set[str]] = {name: set() for name in set(_BUCKETS.values())}
        for step in json.loads(self.stdout).get("steps", []):
            if step.get("urn", "").split("::")[2] != ACCOUNT_TYPE:
                continue
            buckets[_BUCKETS[step["op"]]].add(step["urn"].rsplit("::", 1)[-1])
        return {name: sorted(names) for name, names in buckets.items()}

    def diagnostics(self, severity: str) -> list[str]:
        return [
            event["diagnosticEvent"]["message"]
            for event in self.events
            if (event.get("diagnosticEvent") or {}).get("severity") == severity
        ]


def _pw(email: str) -> str:
    return f"{PASSWORD_SENTINEL}-{email}"


def _events(stdout: str) -> list[dict[str, Any]]:
    """The engine's event stream: one JSON object a line (a failed run may add plain text)."""
    events = []
    for line in stdout.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


class Backend(Protocol):
    """Where a project's state lives, as the tests read it beside the CLI."""

    url: str

    def env(self) -> dict[str, str]:
        """What the CLI needs in its environment to reach it."""
        ...

    def locks(self) -> list[str]:
        """The lock of every run of every stack in it, by name."""
        ...

    def read(self, name: str) -> bytes:
        """A file of the backend by its path under the root (`.pulumi/...`)."""
        ...

    def everything(self) -> str:
        """Every byte the backend holds, as text (the secrets checks read all of it)."""
        ...


class FileBackend:
    """A file:// backend: a folder of the test's own."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        self.url = root.as_uri()

    def env(self) -> dict[str, str]:
        return {}

    def locks(self) -> list[str]:
        folder = self.root / ".pulumi" / "locks"
        return sorted(str(p) for p in folder.rglob("*.json")) if folder.exists() else []

    def read(self, name: str) -> bytes:
        return (self.root / name).read_bytes()

    def everything(self) -> str:
        return "\n".join(
            path.read_bytes().decode("utf-8", "replace")
            for path in sorted(self.root.rglob("*"))
            if path.is_file()
        )


class CliProject:
    """One project directory, one stack, its own backend (a file:// folder unless given); the
    inventory is rewritten between runs as a team edits its stack file."""

    def __init__(
        self,
        root: Path,
        emulator: UseapiEmulator,
        stack: str = "clitest",
        program: str | None = None,
        backend: Backend | None = None,
    ) -> None:
        """`program`: the text of a `__main__.py` of the test's own instead of the project's;
        `backend`: another project's, to share a stack as a team's working copies do."""
        assert PULUMI is not None, SKIP_REASON
        self.pulumi = PULUMI
        self.root = root
        self.emulator = emulator
        self.stack = stack
        self.transcript: list[str] = []
        root.mkdir(parents=True)
        shutil.copy(PROJECT_ROOT / "Pulumi.yaml", root / "Pulumi.yaml")
        for name in LINKED:
            if name == "__main__.py" and program is not None:
                (root / name).write_text(program)
            else:
                (root / name).symlink_to(PROJECT_ROOT / name)
        (root / "stacks").mkdir()
        self.state_dir = root.parent / f"{root.name}-state"
        self.backend: Backend = backend or FileBackend(self.state_dir)
        self.env = env_without_pulumi_settings()
        self.env.update(
            PATH=f"{TOOLS_BIN}{os.pathsep}{self.env.get('PATH', '')}",
            PULUMI_BACKEND_URL=self.backend.url,
            PULUMI_CONFIG_PASSPHRASE=PASSPHRASE,
            PULUMI_HOME=str(root.parent / f"{root.name}-home"),
            PULUMI_SKIP_UPDATE_CHECK="true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
            **self.backend.env(),
        )

    @property
    def stack_file(self) -> Path:
        return self.root / "stacks" / f"Pulumi.{self.stack}.yaml"

    def run(
        self, *args: str, stdin: str | None = None, check: bool = True, timeout: float = CLI_TIMEOUT
    ) -> CliResult:
        completed = subprocess.run(
            [self.pulumi, *args],
            cwd=self.root,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        self.transcript += [completed.stdout, completed.stderr]
        events: list[dict[str, Any]] = []
        if "--json" in args and args[0] in ("up", "refresh", "destroy"):
            events = _events(completed.stdout)
        result = CliResult(completed.returncode, completed.stdout, completed.stderr, events)
        if check:
            assert completed.returncode == 0, f"pulumi {' '.join(args)}:\n{result.text}"
        return result

    def init(self, token: str | None = None, **config: Any) -> None:
        """A new stack pointed at the emulator, its token as a secret (`pulumi config set
        --secret`, as a team does it); plain settings are written into the stack file, as a
        reviewer sees them (one CLI call fewer each)."""
        self.run("stack", "init", self.stack)
        self.set_config(
            {
                "useapi:baseUrl": self.emulator.base_url,
                "useapi:timeout": "5",
                "useapi:maxRetries": "1",
                **config,
            }
        )
        self.run("config", "set", "--secret", "useapi:token", stdin=token or self.emulator.token)

    def set_config(self, values: dict[str, Any]) -> None:
        """Plain config values, written into the stack file; None removes a key."""
        data = yaml.safe_load(self.stack_file.read_text()) if self.stack_file.exists() else None
        data = data or {}
        config = data.setdefault("config", {})
        for key, value in values.items():
            if value is None:
                config.pop(key, None)
            else:
                config[key] = value
        self.stack_file.write_text(yaml.safe_dump(data, sort_keys=False))

    def seed(self, accounts: dict[str, int], passwords: dict[str, str] | None = None) -> None:
        """The inventory and a password per account (`PASSWORDS`' unless given), the passwords
        in one `pulumi config set-all --secret` (one CLI start instead of one per account: the
        tests' largest cost is CPU, and each start is about 0.4 s of it)."""
        self.set_accounts(accounts)
        if not accounts:
            return
        pairs = []
        for email in accounts:
            value = (passwords or PASSWORDS).get(email) or _pw(email)
            pairs += ["--secret", f'{PASSWORDS_KEY}["{email}"]={value}']
        self.run("config", "set-all", "--path", *pairs)

    def set_accounts(self, accounts: dict[str, Any]) -> None:
        """The plain inventory, written into the stack file as a reviewer would see it."""
        data = yaml.safe_load(self.stack_file.read_text()) or {}
        data.setdefault("config", {})[ACCOUNTS_KEY] = {
            email: {"maxJobs": max_jobs} for email, max_jobs in accounts.items()
        }
        self.stack_file.write_text(yaml.safe_dump(data, sort_keys=False))

    def set_secret(self, key: str, email: str, value: str) -> None:
        """`pulumi config set --secret --path 'key["email"]'`, the value on stdin."""
        self.run("config", "set", "--secret", "--path", f'{key}["{email}"]', stdin=value)

    def remove_secret(self, key: str, email: str) -> None:
        self.run("config", "rm", "--path", f'{key}["{email}"]')

    def up(self, *extra: str, check: bool = True) -> CliResult:
        return self.run("up", "--yes", "--skip-preview", "--json", *_NI, *extra, check=check)

    def preview(self, *extra: str, check: bool = True) -> CliResult:
        return self.run("preview", "--json", *_NI, *extra, check=check)

    def refresh(self, *extra: str, check: bool = True) -> CliResult:
        return self.run("refresh", "--yes", "--skip-preview", "--json", *_NI, *extra, check=check)

    def destroy(self, *extra: str, check: bool = True) -> CliResult:
        return self.run("destroy", "--yes", "--skip-preview", "--json", *_NI, *extra, check=check)

    def tool(
        self, module: str, *args: str, stdin: str | None = None, **env: str
    ) -> subprocess.CompletedProcess[str]:
        """`python -m <module> ...` in the project, as a pipeline runs the day-2 tools: the
        useapi.net token from the environment (the stack file holds it encrypted)."""
        tool_env = dict(self.env, USEAPI_TOKEN=self.emulator.token, **env)
        completed = subprocess.run(
            [str(self.root / "venv" / "bin" / "python"), "-m", module, *args],
            cwd=self.root,
            env=tool_env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT,
            check=False,
        )
        self.transcript += [completed.stdout, completed.stderr]
        return completed

    def drift_check(self, **env: str) -> tuple[CliResult, subprocess.CompletedProcess[str]]:
        """What `make drift` and the drift workflow run: the refresh-preview that must show
        no changes, then the per-account names from the last outputs and the live list."""
        preview = self.run(
            "preview", "--refresh", "--expect-no-changes", "--diff", *_NI, check=False
        )
        outputs = self.run("stack", "output", "--json").stdout
        named = self.tool(
            "provider.drift", "--stack", self.stack, "--outputs", "-", stdin=outputs, **env
        )
        return preview, named

    def outputs(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.run("stack", "output", "--json").stdout)
        return result

    def exported(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.run("stack", "export").stdout)
        return result

    def state_accounts(self) -> list[str]:
        """The account names the stack's state holds."""
        resources = self.exported()["deployment"].get("resources") or []
        return sorted(
            str(r["urn"]).rsplit("::", 1)[-1] for r in resources if r["type"] == ACCOUNT_TYPE
        )

    def join(self, first: CliProject) -> None:
        """This working copy shares `first`'s stack, as a second clone of the repository does:
        the committed stack file (its encryption salt and secrets), then `pulumi stack select`
        in this copy's own PULUMI_HOME."""
        shutil.copy(first.stack_file, self.stack_file)
        self.run("stack", "select", self.stack)

    def checkpoint(self) -> str:
        """The stack's checkpoint as the backend keeps it (what `up` writes, and a `preview`
        must leave alone)."""
        name = f".pulumi/stacks/pixverse-accounts/{self.stack}.json"
        return self.backend.read(name).decode()

    def backend_text(self) -> str:
        """Every file the backend wrote, as text (the secrets check reads all of it)."""
        return self.backend.everything()

    def processes(self) -> dict[int, str]:
        """pid → command line of every process working in the project (the CLI's children all
        do: the language host, the program, the provider host)."""
        root = str(self.root)
        found: dict[int, str] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cwd = os.readlink(entry / "cwd")
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if (cwd == root or cwd.startswith(root + os.sep)) and command:
                found[int(entry.name)] = command
        return found

    def cleanup(self) -> list[str]:
        """A test's teardown: kill every process still working in the project, with its
        process group, and return what was killed. Nothing needs destroying: the emulator and
        the backend folder end with the test, and a `destroy` would cost a whole CLI run."""
        killed = []
        ours = os.getpgrp()
        for pid, command in self.processes().items():
            group = _pgid(pid)
            targets = [pid] + ([-group] if group > 1 and group != ours else [])
            for target in targets:
                try:
                    os.kill(target, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    continue
            killed.append(command)
        return killed


def _pgid(pid: int) -> int:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return 0


__all__ = [
    "ACCOUNTS",
    "LONG_AGO",
    "PASSWORDS",
    "PULUMI",
    "SKIP_REASON",
    "TOOLS_BIN",
    "Backend",
    "CliProject",
    "CliResult",
    "FileBackend",
    "env_without_pulumi_settings",
    "find_pulumi",
    "link_project",
]
