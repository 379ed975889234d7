"""The real `pulumi` CLI on a throwaway stack (local file backend): preview, up, up again,
refresh, destroy — against the emulator. Skipped, with the reason, where the CLI is absent."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from useapi_emulator import UseapiEmulator

from .helpers import PASSWORD_SENTINEL, PROJECT_ROOT, TOKEN_SENTINEL
from .stack_support import LINKED, env_without_pulumi_settings

PULUMI = shutil.which("pulumi")
pytestmark = [
    pytest.mark.cli,
    pytest.mark.skipif(
        PULUMI is None,
        reason="the pulumi CLI is not installed (https://www.pulumi.com/docs/install/); "
        "tests/test_stack_program.py covers the same program through the SDK's provider host",
    ),
]
CLI_TIMEOUT = 180
STACK = "clitest"
ACCOUNTS = {"ops@example.com": 3, "render@example.com": 5}


class Cli:
    def __init__(self, root: Path, state: Path) -> None:
        self.root = root
        self.env = env_without_pulumi_settings()
        self.env.update(
            PULUMI_BACKEND_URL=state.as_uri(),
            PULUMI_CONFIG_PASSPHRASE="cli-test-passphrase",
            PULUMI_SKIP_UPDATE_CHECK="true",
        )

    def __call__(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        assert PULUMI is not None
        completed = subprocess.run(
            [PULUMI, *args],
            cwd=self.root,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT,
            check=False,
        )
        assert completed.returncode == 0, completed.stdout + completed.stderr
        return completed


@pytest.fixture
def cli(tmp_path: Path, emulator: UseapiEmulator) -> Iterator[Cli]:
    root = tmp_path / "project"
    root.mkdir()
    shutil.copy(PROJECT_ROOT / "Pulumi.yaml", root / "Pulumi.yaml")
    for name in (*LINKED, "venv"):
        (root / name).symlink_to(PROJECT_ROOT / name)
    (root / "stacks").mkdir()
    state = tmp_path / "state"
    state.mkdir()
    run = Cli(root, state)
    run("stack", "init", STACK)
    run("config", "set", "useapi:baseUrl", emulator.base_url)
    run("config", "set", "useapi:maxRetries", "1")
    run("config", "set", "--secret", "useapi:token", stdin=emulator.token)
    for email, max_jobs in ACCOUNTS.items():
        run("config", "set", "--path", f'accounts["{email}"].maxJobs', str(max_jobs))
        run("config", "set", "--secret", "--path", f'passwords["{email}"]', stdin=PASSWORD_SENTINEL)
    yield run
    # Leave nothing behind even if the test failed half-way.
    subprocess.run(
        [str(PULUMI), "destroy", "--yes", "--non-interactive", "--stack", STACK],
        cwd=root,
        env=run.env,
        capture_output=True,
        timeout=CLI_TIMEOUT,
        check=False,
    )


def test_preview_up_up_refresh_destroy(cli: Cli, emulator: UseapiEmulator) -> None:
    stack_file = (cli.root / "stacks" / f"Pulumi.{STACK}.yaml").read_text()
    assert PASSWORD_SENTINEL not in stack_file and TOKEN_SENTINEL not in stack_file

    cli("preview", "--non-interactive", "--stack", STACK)
    assert emulator.calls("POST") == [] and emulator.calls("DELETE") == []

    up = cli("up", "--yes", "--non-interactive", "--stack", STACK)
    assert len(emulator.calls("POST")) == 2
    outputs = json.loads(cli("stack", "output", "--json", "--stack", STACK).stdout)
    assert outputs["totalMaxJobs"] == 8
    assert outputs["accounts"]["ops@example.com"]["maxJobs"] == 3
    assert outputs["accounts"]["ops@example.com"]["Username"] == "ops"

    emulator.reset_calls()
    again = cli("up", "--yes", "--non-interactive", "--stack", STACK)
    assert emulator.calls() == []
    assert "2 unchanged" in again.stdout

    emulator.oob_set_max_jobs("render@example.com", 1)
    emulator.reset_calls()
    cli("refresh", "--yes", "--non-interactive", "--stack", STACK)
    assert {r.method for r in emulator.calls()} == {"GET"}

    emulator.reset_calls()
    cli("up", "--yes", "--non-interactive", "--stack", STACK)
    assert [(r.method, r.email) for r in emulator.calls()] == [("POST", "render@example.com")]

    exported = cli("stack", "export", "--stack", STACK).stdout
    for text in (up.stdout, up.stderr, again.stdout, exported):
        assert PASSWORD_SENTINEL not in text and TOKEN_SENTINEL not in text

    emulator.reset_calls()
    cli("destroy", "--yes", "--non-interactive", "--stack", STACK)
    assert sorted(str(r.email) for r in emulator.calls("DELETE")) == sorted(ACCOUNTS)
    assert emulator.accounts == {}


def test_a_password_without_an_account_fails_before_any_api_call(
    cli: Cli, emulator: UseapiEmulator
) -> None:
    cli("config", "set", "--secret", "--path", 'passwords["ghost@example.com"]', stdin="x-pw")
    assert PULUMI is not None
    failed = subprocess.run(
        [PULUMI, "up", "--yes", "--non-interactive", "--stack", STACK],
        cwd=cli.root,
        env=cli.env,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
    )
    assert failed.returncode != 0
    assert "ghost@example.com" in failed.stdout + failed.stderr
    assert emulator.calls() == []
