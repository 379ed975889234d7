"""The real engine: `pulumi preview/up/refresh/destroy` on the file backend, against the emulator.

`make cli` builds the CLI (see tests/cli_support.py); without it these skip and say so. Each
test has its own project, backend folder and PULUMI_HOME, and destroys what it made even when
it fails.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.support.cli_support import PULUMI, SKIP_REASON, TOOLS_BIN, CliProject
from tests.support.helpers import (
    PASSWORD_SENTINEL,
    PROJECT_ROOT,
    SESSION_TOKEN_SENTINEL,
    TOKEN_SENTINEL,
)
from tests.support.stack_support import env_without_pulumi_settings, link_project
from useapi_emulator import UseapiEmulator

pytestmark = [pytest.mark.cli, pytest.mark.skipif(PULUMI is None, reason=SKIP_REASON)]

PASSWORDS = "pixverse-accounts:passwords"
TOKENS = "pixverse-accounts:tokens"
OPS, RENDER, BATCH = "ops@example.com", "render@example.com", "batch@example.com"


def password(email: str) -> str:
    return f"{PASSWORD_SENTINEL}-{email.split('@')[0]}"


@pytest.fixture
def project(tmp_path: Path, emulator: UseapiEmulator) -> Iterator[CliProject]:
    cli = CliProject(tmp_path / "project", emulator)
    cli.init()
    yield cli
    cli.cleanup()


def seed(cli: CliProject, accounts: dict[str, int]) -> None:
    cli.set_accounts(accounts)
    for email in accounts:
        cli.set_secret(PASSWORDS, email, password(email))


def requests_made(emulator: UseapiEmulator) -> list[tuple[str, str | None]]:
    return [(r.method, r.email) for r in emulator.calls()]


def fresh_clone(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A copy of the project as a clone has it (no .pulumi-state/, no .demo/), and the
    environment `make` runs in, with the built CLI first on PATH."""
    clone = link_project(tmp_path / "clone")
    for name in ("venv", "Makefile", "requirements.txt", "requirements-dev.txt"):
        (clone / name).symlink_to(PROJECT_ROOT / name)
    env = env_without_pulumi_settings()
    env.update(
        PATH=f"{TOOLS_BIN}{os.pathsep}{env.get('PATH', '')}",
        PULUMI_HOME=str(tmp_path / "home"),
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
    )
    return clone, env


def run_in(clone: Path, env: dict[str, str], *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=clone, env=env, capture_output=True, text=True, timeout=240, check=False
    )


def make(clone: Path, env: dict[str, str], target: str) -> subprocess.CompletedProcess[str]:
    return run_in(clone, env, "make", target)


@pytest.mark.timeout(300)
def test_make_up_from_a_fresh_clone_creates_the_demo_then_changes_nothing(tmp_path: Path) -> None:
    """The README's first command on the CLI path: no `.pulumi-state/` yet, no stack yet."""
    clone, env = fresh_clone(tmp_path)
    committed = (clone / "stacks" / "Pulumi.demo.yaml").read_bytes()

    def demo(*args: str) -> subprocess.CompletedProcess[str]:
        return run_in(clone, env, sys.executable, "-m", "localengine.demo", *args)

    up = make(clone, env, "up")
    assert up.returncode == 0, up.stdout + up.stderr
    assert "offline engine" not in up.stdout
    assert re.search(r"\+ 4 created", up.stdout), up.stdout  # three accounts and the stack
    emulated = json.loads((clone / ".demo" / "emulator.json").read_text())
    assert sorted(account["email"] for account in emulated["accounts"]) == sorted(
        [OPS, RENDER, BATCH]
    )
    again = demo("preview", "--", "--expect-no-changes")
    assert again.returncode == 0, again.stdout + again.stderr
    # The CLI did not rewrite the committed stack file (its salt is committed with it).
    assert (clone / "stacks" / "Pulumi.demo.yaml").read_bytes() == committed
    destroyed = demo("destroy")
    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr


@pytest.mark.timeout(300)
def test_inventory_edits_update_rename_remove_then_destroy(
    project: CliProject, emulator: UseapiEmulator
) -> None:
    seed(project, {OPS: 3, RENDER: 5, BATCH: 2})
    created = project.up()
    assert created.summary()["created"] == sorted([OPS, RENDER, BATCH])
    assert sorted(requests_made(emulator)) == sorted(("POST", e) for e in (OPS, RENDER, BATCH))

    # maxJobs changed: the preview says one update and calls nobody; up does exactly that.
    project.set_accounts({OPS: 4, RENDER: 5, BATCH: 2})
    emulator.reset_calls()
    planned = project.preview()
    assert planned.preview_summary()["updated"] == [OPS]
    assert json.loads(planned.stdout)["changeSummary"] == {"update": 1, "same": 3}  # + the stack
    assert emulator.calls() == []
    updated = project.up()
    assert updated.summary()["updated"] == [OPS]
    assert requests_made(emulator) == [("POST", OPS)]

    # An email renamed in the inventory: a new resource name, so the engine creates the new
    # account and then deletes the old one (two different accounts on useapi.net).
    renamed = "render2@example.com"
    project.set_accounts({OPS: 4, renamed: 5, BATCH: 2})
    project.set_secret(PASSWORDS, renamed, password(renamed))
    project.remove_secret(PASSWORDS, RENDER)
    emulator.reset_calls()
    moved = project.up()
    assert moved.summary()["created"] == [renamed]
    assert moved.summary()["deleted"] == [RENDER]
    assert requests_made(emulator) == [("POST", renamed), ("DELETE", RENDER)]

    # An account removed from the inventory is deleted.
    project.set_accounts({OPS: 4, renamed: 5})
    project.remove_secret(PASSWORDS, BATCH)
    emulator.reset_calls()
    removed = project.up()
    assert removed.summary()["deleted"] == [BATCH]
    assert requests_made(emulator) == [("DELETE", BATCH)]
    assert sorted(emulator.accounts) == sorted([OPS, renamed])

    # destroy leaves useapi.net (the emulator) empty.
    emulator.reset_calls()
    gone = project.destroy()
    assert gone.summary()["deleted"] == sorted([OPS, renamed])
    assert emulator.accounts == {}
    assert project.state_accounts() == []


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("accounts", "message"),
    [
        ({"not-an-email": 3}, "not-an-email"),
        ({OPS: 99}, OPS),
    ],
    ids=["malformed-email", "maxJobs-out-of-range"],
)
def test_an_invalid_inventory_fails_preview_naming_it_and_calls_nobody(
    project: CliProject, emulator: UseapiEmulator, accounts: dict[str, int], message: str
) -> None:
    seed(project, accounts)
    failed = project.preview(check=False)
    assert failed.returncode != 0
    assert message in failed.text
    assert "maxJobs" in failed.text or "email" in failed.text
    assert emulator.calls() == []


@pytest.mark.timeout(120)
def test_a_password_without_an_account_fails_before_any_api_call(
    project: CliProject, emulator: UseapiEmulator
) -> None:
    seed(project, {OPS: 3})
    project.set_secret(PASSWORDS, "ghost@example.com", "x-pw")
    failed = project.up(check=False)
    assert failed.returncode != 0
    assert "ghost@example.com" in failed.text
    assert emulator.calls() == []


@pytest.mark.timeout(240)
def test_refresh_shows_maxjobs_drift_and_drops_a_deleted_account(
    project: CliProject, emulator: UseapiEmulator
) -> None:
    seed(project, {OPS: 3, RENDER: 5, BATCH: 2})
    project.up()
    emulator.oob_set_max_jobs(RENDER, 1)
    emulator.oob_delete(BATCH)
    emulator.reset_calls()

    refreshed = project.refresh()
    assert refreshed.summary()["updated"] == [RENDER]
    assert refreshed.summary()["deleted"] == [BATCH]
    assert {method for method, _ in requests_made(emulator)} == {"GET"}
    assert project.state_accounts() == sorted([OPS, RENDER])

    # The stack still declares both: the next up puts them back, and only them.
    emulator.reset_calls()
    repaired = project.up()
    assert repaired.summary()["updated"] == [RENDER]
    assert repaired.summary()["created"] == [BATCH]
    assert sorted(requests_made(emulator)) == sorted([("POST", RENDER), ("POST", BATCH)])
    assert emulator.accounts[RENDER].max_jobs == 5


@pytest.mark.timeout(240)
def test_one_failing_account_keeps_the_others_and_the_next_up_creates_only_it(
    project: CliProject, emulator: UseapiEmulator
) -> None:
    seed(project, {OPS: 3, RENDER: 5, BATCH: 2})
    emulator.reject_login(RENDER)
    failed = project.up(check=False)
    assert failed.returncode != 0
    assert RENDER in failed.text
    assert project.state_accounts() == sorted([BATCH, OPS])

    emulator.rejected_logins.discard(RENDER)
    emulator.reset_calls()
    fixed = project.up()
    assert fixed.summary()["created"] == [RENDER]
    assert requests_made(emulator) == [("POST", RENDER)]


@pytest.mark.timeout(240)
def test_secrets_stay_encrypted_in_the_stack_file_state_backend_and_output(
    project: CliProject, emulator: UseapiEmulator
) -> None:
    seed(project, {OPS: 3, RENDER: 5})
    project.set_secret(TOKENS, RENDER, SESSION_TOKEN_SENTINEL)
    project.up()
    project.preview()
    project.refresh()

    stack_file = yaml.safe_load(project.stack_file.read_text())["config"]
    assert set(stack_file["useapi:token"]) == {"secure"}
    for email in (OPS, RENDER):
        assert set(stack_file[PASSWORDS][email]) == {"secure"}
    assert set(stack_file[TOKENS][RENDER]) == {"secure"}

    exported = project.run("stack", "export").stdout
    resources = json.loads(exported)["deployment"]["resources"]
    accounts = [r for r in resources if r["urn"].endswith(("::" + OPS, "::" + RENDER))]
    assert len(accounts) == 2
    for resource in accounts:
        for props in (resource["inputs"], resource["outputs"]):
            assert "ciphertext" in props["password"]
            assert len(props["__provider"]) < 200  # a reference to the class, nothing captured
    everything = "\n".join([project.stack_file.read_text(), exported, project.backend_text()])
    everything += "\n".join(project.transcript)
    for sentinel in (PASSWORD_SENTINEL, TOKEN_SENTINEL, SESSION_TOKEN_SENTINEL):
        assert sentinel not in everything

    outputs = project.outputs()
    assert set(outputs) == {"accounts", "totalMaxJobs"}
    assert outputs["totalMaxJobs"] == 8
    assert set(outputs["accounts"]) == {OPS, RENDER}
    for email, summary in outputs["accounts"].items():
        assert set(summary) == {"Username", "ExpireTimeUTC", "maxJobs"}
        assert summary["Username"] == email.split("@")[0]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", summary["ExpireTimeUTC"])
    assert outputs["accounts"][OPS]["maxJobs"] == 3


@pytest.mark.timeout(180)
def test_the_session_expiry_warning_shows_in_up(
    project: CliProject, emulator: UseapiEmulator
) -> None:
    seed(project, {OPS: 3, RENDER: 5})
    project.up()
    emulator.oob_expire_session(OPS, int(time.time()) + 2 * 86400)
    warned = project.up("--refresh")
    warnings = "".join(warned.diagnostics("warning"))
    assert OPS in warnings
    assert RENDER not in warnings


ONE_ACCOUNT_PROGRAM = """
import pulumi
from provider import PixVerseAccount

config = pulumi.Config()
PixVerseAccount(
    "the-account",
    email=config.require("email"),
    password=config.require_secret("password"),
    max_jobs=2,
)
"""


@pytest.mark.timeout(180)
def test_an_email_change_on_one_resource_deletes_the_old_account_before_creating_the_new(
    tmp_path: Path, emulator: UseapiEmulator
) -> None:
    """The provider's replace (same resource, new email) as the real engine carries it out."""
    cli = CliProject(tmp_path / "one", emulator, program=ONE_ACCOUNT_PROGRAM)
    try:
        cli.init()
        cli.run("config", "set", "email", OPS)
        cli.run("config", "set", "--secret", "password", stdin=password(OPS))
        cli.up()
        cli.run("config", "set", "email", RENDER)
        emulator.reset_calls()
        planned = cli.preview()
        assert planned.preview_summary()["replaced"] == ["the-account"]
        assert emulator.calls() == []
        replaced = cli.up()
        assert replaced.summary()["replaced"] == ["the-account"]
        assert requests_made(emulator) == [("DELETE", OPS), ("POST", RENDER)]
        assert sorted(emulator.accounts) == [RENDER]
    finally:
        cli.cleanup()


@pytest.mark.timeout(300)
def test_make_drift_on_the_real_engine_passes_then_names_each_drifted_account(
    tmp_path: Path,
) -> None:
    clone, env = fresh_clone(tmp_path)
    up = make(clone, env, "up")
    assert up.returncode == 0, up.stdout + up.stderr
    clean = make(clone, env, "drift")
    assert clean.returncode == 0, clean.stdout + clean.stderr

    # Someone used the dashboard: the demo emulator keeps its accounts in .demo/emulator.json.
    state_path = clone / ".demo" / "emulator.json"
    state = json.loads(state_path.read_text())
    for account in state["accounts"]:
        if account["email"] == RENDER:
            account["maxJobs"] = 1
    state["accounts"] = [a for a in state["accounts"] if a["email"] != BATCH]
    state_path.write_text(json.dumps(state))

    drifted = make(clone, env, "drift")
    text = drifted.stdout + drifted.stderr
    assert drifted.returncode != 0
    lines = [line for line in text.splitlines() if line.startswith("drift: ")]
    assert any(RENDER in line and "5→1" in line for line in lines), text
    assert any(BATCH in line and "deleted" in line for line in lines), text
    assert not any(OPS in line for line in lines), text
    make(clone, env, "destroy")


@pytest.mark.timeout(240)
def test_fail_on_expired_session_fails_preview_and_up_on_the_real_engine(
    project: CliProject, emulator: UseapiEmulator
) -> None:
    seed(project, {OPS: 3, RENDER: 5})
    project.up()
    emulator.oob_expire_session(OPS)  # expired an hour ago
    project.refresh()

    warned = project.preview()  # the default: a warning, not a failure
    assert OPS in warned.stdout

    project.run("config", "set", "pixverse-accounts:failOnExpiredSession", "true")
    emulator.reset_calls()
    failed_preview = project.run("preview", "--non-interactive", check=False)
    assert failed_preview.returncode != 0
    expired_lines = [
        line.strip() for line in failed_preview.stdout.splitlines() if "session expired" in line
    ]
    assert expired_lines and all(line.startswith(f"- {OPS}:") for line in expired_lines)
    failed_up = project.run("up", "--yes", "--non-interactive", check=False)
    assert failed_up.returncode != 0
    assert f"- {OPS}: the PixVerse session expired at" in failed_up.stdout
    assert [method for method, _ in requests_made(emulator)] == []
