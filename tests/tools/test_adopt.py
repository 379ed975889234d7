"""`python -m provider.adopt`: accounts made by hand on useapi.net (here: the emulator, over
HTTP) brought into a commented stack file — read-only towards useapi.net, no password read or
written — and then applied by the real engine without a duplicate or a delete."""

from __future__ import annotations

import difflib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import yaml

from provider import adopt
from provider.host.useapi.client import Account
from provider.tools.adoption import plan_adoption
from provider.tools.stack_file import StackFile
from tests.support.cli_support import PASSWORDS_KEY, CliProject
from tests.support.helpers import PASSWORD_SENTINEL, PROJECT_ROOT, TOKEN_SENTINEL, clean_env
from useapi_emulator import UseapiEmulator

STACK = "test"
HAND_MADE = {"new-b@example.com": 4, "new-a@example.com": 1}
# A stack file as a team writes it: comments everywhere, a secret section after the inventory.
STACK_TEXT = """\
# The team's fleet. Reviewed in pull requests.
config:
  useapi:baseUrl: {base_url}   # the emulator
  useapi:maxRetries: "1"
  pixverse-accounts:jwtWarnDays: 7
  pixverse-accounts:accounts:        # email -> maxJobs
    ops@example.com:
      maxJobs: 3    # on-call
  # passwords are set with `pulumi config set --secret`

  pixverse-accounts:passwords:
    ops@example.com:
      secure: v1:bm90LWEtcmVhbC1jaXBoZXJ0ZXh0LWp1c3QtYS1zaGFwZQ==
"""
EXPECTED_ADDED = """\
    new-a@example.com:
      maxJobs: 1
    new-b@example.com:
      maxJobs: 4
"""


def commands(stack: str = STACK) -> list[str]:
    return [
        f"pulumi config set --secret --path 'passwords[\"{email}\"]' --stack {stack}"
        for email in sorted(HAND_MADE)
    ]


def configure_by_hand(emulator: UseapiEmulator, accounts: dict[str, int]) -> None:
    """What a team did before this project: POSTs with curl."""
    for email, max_jobs in accounts.items():
        answer = requests.post(
            f"{emulator.base_url}/pixverse/accounts/{email}",
            json={"email": email, "password": f"{PASSWORD_SENTINEL}-{email}", "maxJobs": max_jobs},
            headers={"Authorization": f"Bearer {emulator.token}"},
            timeout=5,
        )
        assert answer.status_code == 201, answer.text


class Project:
    """A project directory as adopt sees it: `Pulumi.yaml`, `stacks/` and the code."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "stacks").mkdir(parents=True)
        shutil.copy(PROJECT_ROOT / "Pulumi.yaml", root / "Pulumi.yaml")
        (root / "provider").symlink_to(PROJECT_ROOT / "provider")


@pytest.fixture
def project(tmp_path: Path, emulator: UseapiEmulator) -> Project:
    project = Project(tmp_path / "project")
    configure_by_hand(emulator, {"ops@example.com": 3, **HAND_MADE})
    emulator.reset_calls()
    return project


@pytest.fixture
def stack_file(project: Project, emulator: UseapiEmulator) -> Path:
    path = project.root / "stacks" / f"Pulumi.{STACK}.yaml"
    path.write_text(STACK_TEXT.format(base_url=emulator.base_url))
    return path


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, emulator: UseapiEmulator) -> None:
    for key in ("USEAPI_BASE_URL", "USEAPI_TIMEOUT", "USEAPI_MAX_RETRIES"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("USEAPI_TOKEN", emulator.token)


def run_adopt(project: Project | CliProject, *args: str) -> int:
    stack = project.stack if isinstance(project, CliProject) else STACK
    return adopt.main(["--stack", stack, "--cwd", str(project.root), *args])


def assert_only_the_list_was_read(emulator: UseapiEmulator) -> None:
    assert [(r.method, r.path) for r in emulator.calls()] == [("GET", "/v2/pixverse/accounts")], (
        "adopt must make exactly one read and no write call"
    )


@pytest.mark.timeout(30)
def test_dry_run_shows_the_entries_and_commands_and_writes_nothing(
    project: Project, stack_file: Path, emulator: UseapiEmulator
) -> None:
    before = stack_file.read_text()
    completed = subprocess.run(
        [sys.executable, "-m", "provider.adopt", "--stack", STACK],
        cwd=project.root,
        env=clean_env(USEAPI_TOKEN=emulator.token),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert completed.returncode == 0, completed.stdout + completed.stderr
    out = completed.stdout
    assert "useapi.net (" + emulator.base_url + ") has 3 PixVerse account(s)" in out
    assert "  pixverse-accounts:accounts:\n" + EXPECTED_ADDED in out
    assert "Dry run: nothing written" in out
    for command in commands():
        assert f"\n  {command}\n" in out
    assert stack_file.read_text() == before
    assert_only_the_list_was_read(emulator)
    for text in (out, completed.stderr):
        assert PASSWORD_SENTINEL not in text and TOKEN_SENTINEL not in text


@pytest.mark.timeout(30)
@pytest.mark.usefixtures("env")
def test_write_adds_only_the_new_entries_keeping_order_and_comments(
    project: Project,
    stack_file: Path,
    emulator: UseapiEmulator,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = stack_file.read_text()

    assert run_adopt(project, "--write") == 0

    after = stack_file.read_text()
    diff = [
        line
        for line in difflib.ndiff(before.splitlines(True), after.splitlines(True))
        if line[:2] in ("+ ", "- ")
    ]
    assert "".join(line[2:] for line in diff) == EXPECTED_ADDED
    assert all(line.startswith("+ ") for line in diff), "no existing line may change"
    # The new entries follow the last existing one, before the comment that closes the block.
    assert "      maxJobs: 3    # on-call\n" + EXPECTED_ADDED + "  # passwords are set" in after
    config = yaml.safe_load(after)["config"]
    assert config["pixverse-accounts:accounts"] == {
        "ops@example.com": {"maxJobs": 3},
        "new-a@example.com": {"maxJobs": 1},
        "new-b@example.com": {"maxJobs": 4},
    }
    assert list(config["pixverse-accounts:passwords"]) == ["ops@example.com"]
    out = capsys.readouterr().out
    assert "Added them to" in out
    assert [line.strip() for line in out.splitlines() if "config set" in line] == commands()
    assert_only_the_list_was_read(emulator)


@pytest.mark.timeout(30)
@pytest.mark.usefixtures("env")
def test_a_second_write_finds_nothing_to_adopt(
    project: Project, stack_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_adopt(project, "--write") == 0
    written = stack_file.read_text()
    capsys.readouterr()

    assert run_adopt(project, "--write") == 0

    assert stack_file.read_text() == written
    assert "nothing to adopt" in capsys.readouterr().out


@pytest.mark.timeout(30)
def test_an_encrypted_token_in_the_stack_falls_back_to_the_environment_and_says_so(
    project: Project,
    stack_file: Path,
    emulator: UseapiEmulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stack_file.write_text(
        stack_file.read_text().replace(
            "config:\n", "config:\n  useapi:token:\n    secure: v1:c29tZS1jaXBoZXJ0ZXh0\n", 1
        )
    )
    monkeypatch.delenv("USEAPI_TOKEN", raising=False)

    assert run_adopt(project) == 1
    missing = capsys.readouterr()
    assert "is encrypted and only the pulumi CLI can decrypt it" in missing.err
    assert "USEAPI_TOKEN" in missing.err and "(NOT set)" in missing.err
    assert 'export USEAPI_TOKEN="$(pulumi config get useapi:token --stack test)"' in missing.err
    assert "error: the useapi.net API token is not set" in missing.err
    assert emulator.calls() == []

    monkeypatch.setenv("USEAPI_TOKEN", emulator.token)
    assert run_adopt(project) == 0
    found = capsys.readouterr()
    assert "USEAPI_TOKEN from the environment is used instead (found)" in found.err
    assert "2 account(s) on useapi.net are not declared" in found.out
    assert emulator.token not in found.out + found.err


@pytest.mark.timeout(30)
@pytest.mark.usefixtures("env")
def test_a_wrong_token_fails_naming_the_setting_and_writes_nothing(
    project: Project,
    stack_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = stack_file.read_text()
    monkeypatch.setenv("USEAPI_TOKEN", "not-the-token")

    assert run_adopt(project, "--write") == 1

    assert "HTTP 401" in capsys.readouterr().err
    assert stack_file.read_text() == before


def test_an_email_differing_only_in_case_is_skipped_with_the_reason() -> None:
    live = {
        "Ops@example.com": Account("Ops@example.com", 3, None),
        "new@example.com": Account("new@example.com", 2, None),
        "odd@example.com": Account("odd@example.com", 12, None),
    }

    plan = plan_adoption(live, ["ops@example.com", "gone@example.com"])

    assert plan.new == {"new@example.com": 2}
    assert plan.skipped[0].startswith("Ops@example.com: the stack declares it as ops@example.com")
    assert plan.skipped[1].startswith("odd@example.com: cannot be declared as it is")
    assert plan.declared_missing == ["gone@example.com", "ops@example.com"]


def test_an_account_whose_answer_lacks_max_jobs_is_not_adopted_with_a_guess() -> None:
    """The API's model makes every field optional: no maxJobs, no entry, and the reason."""
    live = {"quiet@example.com": Account("quiet@example.com", None, None)}

    plan = plan_adoption(live, [])

    assert plan.new == {}
    assert plan.skipped == [
        "quiet@example.com: useapi.net did not report its maxJobs; declare it by hand with the "
        "maxJobs you want"
    ]


@pytest.mark.cli
@pytest.mark.timeout(180)
def test_adopt_then_passwords_then_up_adopts_with_one_post_each_and_deletes_nothing(
    tmp_path: Path, emulator: UseapiEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's three steps through the real engine. ops@ is already managed by the
    stack; two more accounts were configured by hand."""
    project = CliProject(tmp_path / "project", emulator)
    try:
        project.init()
        project.seed({"ops@example.com": 3})
        project.up()
        configure_by_hand(emulator, HAND_MADE)
        emulator.reset_calls()
        monkeypatch.setenv("USEAPI_TOKEN", emulator.token)

        assert run_adopt(project, "--write") == 0
        assert_only_the_list_was_read(emulator)
        assert project.preview(check=False).returncode != 0, "no passwords yet: preview fails"
        emulator.reset_calls()

        for email in sorted(HAND_MADE):  # the printed `pulumi config set --secret` commands
            project.set_secret(PASSWORDS_KEY, email, f"{PASSWORD_SENTINEL}-{email}")
        planned = project.preview()
        assert planned.preview_summary()["created"] == sorted(HAND_MADE)
        assert planned.preview_summary()["deleted"] == []
        result = project.up()

        assert result.summary()["created"] == sorted(HAND_MADE)
        assert result.summary()["deleted"] == result.summary()["replaced"] == []
        assert sorted((r.method, str(r.email)) for r in emulator.calls()) == sorted(
            ("POST", email) for email in HAND_MADE
        )
        stored = {a.email: a.max_jobs for a in emulator.stored()}
        assert stored == {"ops@example.com": 3, **HAND_MADE}
        assert project.outputs()["totalMaxJobs"] == 3 + sum(HAND_MADE.values())

        emulator.reset_calls()
        again = project.up()
        assert emulator.calls() == []
        assert again.summary()["unchanged"] == sorted({"ops@example.com", *HAND_MADE})
    finally:
        project.cleanup()


@pytest.mark.parametrize(
    "path", sorted((PROJECT_ROOT / "stacks").glob("Pulumi.*.yaml*")), ids=lambda p: p.name
)
def test_every_committed_stack_file_round_trips_byte_for_byte(path: Path) -> None:
    """What --write keeps: loading and writing back changes nothing, on the files we ship."""
    assert StackFile.load(path).text() == path.read_text()
