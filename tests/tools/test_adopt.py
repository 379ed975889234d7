"""`python -m provider.adopt`: accounts made by hand on useapi.net (here: the emulator, over
HTTP) brought into a commented stack file — read-only towards useapi.net, no password read or
written — and then applied by the real engine without a duplicate or a delete."""

from __future__ import annotations

import copy
import difflib
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from ruamel.yaml.comments import CommentedMap

from provider import adopt
from provider.host import validation
from provider.host.useapi.client import Account
from provider.tools.adoption import merge_damage, password_commands, plan_adoption
from provider.tools.stack_file import StackFile
from tests.support.cli_support import CliProject
from tests.support.helpers import (
    PASSWORD_SENTINEL,
    PROJECT_ROOT,
    TOKEN_SENTINEL,
    clean_env,
    configure_by_hand,
)
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


@pytest.mark.timeout(30)
@pytest.mark.usefixtures("env")
def test_the_notes_name_exactly_the_declared_accounts_useapi_net_lacks(
    project: Project, stack_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """ops@ is declared and live, gone@ declared only, new-a@ and new-b@ live only: one note."""
    stack_file.write_text(
        stack_file.read_text().replace(
            "      maxJobs: 3    # on-call\n",
            "      maxJobs: 3    # on-call\n    gone@example.com:\n      maxJobs: 2\n",
        )
    )

    assert run_adopt(project) == 0

    notes = [line for line in capsys.readouterr().out.splitlines() if line.startswith("note: ")]
    assert notes == [
        f"note: gone@example.com is declared in Pulumi.{STACK}.yaml but not on useapi.net: "
        "`pulumi up` creates it"
    ]


def _drop_ops(accounts: CommentedMap) -> None:
    del accounts["ops@example.com"]


def _raise_ops(accounts: CommentedMap) -> None:
    accounts["ops@example.com"]["maxJobs"] = 4


def _quote_ops(accounts: CommentedMap) -> None:
    accounts["ops@example.com"]["maxJobs"] = "3"


def _misjob_new(accounts: CommentedMap) -> None:
    accounts["new-a@example.com"]["maxJobs"] = 8


DAMAGE: dict[str, tuple[Callable[[CommentedMap], None], str]] = {
    "an entry lost": (_drop_ops, "ops@example.com: lost"),
    "an entry changed": (_raise_ops, "ops@example.com: changed"),
    "a number turned text": (_quote_ops, "ops@example.com: changed"),
    "a new entry not as useapi.net has it": (
        _misjob_new,
        "new-a@example.com: not added as useapi.net has it",
    ),
}


@pytest.mark.timeout(30)
@pytest.mark.usefixtures("env")
@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_write_refuses_a_merge_that_lost_or_changed_an_entry_and_leaves_the_file(
    project: Project,
    stack_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    damage: str,
) -> None:
    """The stack file is the record `pulumi up` applies: a merge that dropped an entry would
    delete that account on the next `up`. A broken writer (here: the real one, then a damage)
    must end in an error naming the entry, with the file as it was."""
    harm, line = DAMAGE[damage]
    add_accounts = StackFile.add_accounts

    def broken(self: StackFile, entries: Any) -> None:
        add_accounts(self, entries)
        harm(self._data["config"]["pixverse-accounts:accounts"])

    monkeypatch.setattr(StackFile, "add_accounts", broken)
    before = stack_file.read_bytes()

    assert run_adopt(project, "--write") == 1

    err = capsys.readouterr().err
    assert f"error: refusing to write {stack_file}" in err
    assert f"  - {line}" in err
    assert stack_file.read_bytes() == before
    assert not stack_file.with_name(stack_file.name + ".tmp").exists()


def test_merge_damage_names_every_setting_or_entry_a_merge_touched_beyond_the_new_ones() -> None:
    before: dict[str, Any] = {
        "encryptionsalt": "v1:salt",
        "config": {
            "useapi:baseUrl": "http://127.0.0.1:1/v2",
            "pixverse-accounts:accounts": {"ops@example.com": {"maxJobs": 3}},
            "pixverse-accounts:passwords": {"ops@example.com": {"secure": "v1:abc"}},
        },
    }
    added = {"new@example.com": 2}
    merged = copy.deepcopy(before)
    merged["config"]["pixverse-accounts:accounts"]["new@example.com"] = {"maxJobs": 2}
    assert merge_damage(before, merged, added) == []

    merged["config"].pop("pixverse-accounts:passwords")
    merged["config"]["useapi:baseUrl"] = "https://api.useapi.net/v2"
    merged["config"]["pixverse-accounts:accounts"]["odd@example.com"] = {"maxJobs": 1}
    merged["encryptionsalt"] = "v1:other"
    assert merge_damage(before, merged, added) == [
        "odd@example.com: added, though useapi.net did not list it",
        "`pixverse-accounts:passwords`: lost",
        "`useapi:baseUrl`: changed",
        "the keys outside `config:` changed",
    ]


# Every character the inventory accepts in a local part, the shell's specials among them.
LOCAL_CHARS = "abcXYZ019.!#$%&'*+/=?^_`{|}~-"
NASTY = [
    "o'brien@example.com",
    "a'b''c@example.com",
    "`touch${IFS}pwned`@example.com",
    "$HOME${IFS}@example.com",
    "x&y|w@example.com",
    "!!@example.com",
    "~root@example.com",
    "{ab}*?@example.com",
    "#note@example.com",
    "pct%s%%@example.com",
]


def _argv(email: str, stack: str) -> list[str]:
    return ["config", "set", "--secret", "--path", f'passwords["{email}"]', "--stack", stack]


def test_the_printed_commands_pasted_into_a_shell_run_exactly_that_command(
    tmp_path: Path,
) -> None:
    """A real shell (`sh`) reads each printed line, with `pulumi` a function that prints its
    arguments: every argument must arrive as it is meant, none expanded, nothing else run."""
    assert all(validation.email_problem(email) is None for email in NASTY)
    stack = "my-org/prod"
    lines = password_commands(NASTY, stack)
    script = "pulumi() { printf '%s\\0' \"$@\"; printf '\\n'; }\n" + "\n".join(lines) + "\n"
    completed = subprocess.run(
        ["sh", "-c", script],
        cwd=tmp_path,
        capture_output=True,
        timeout=10,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    seen = [line.split("\0")[:-1] for line in completed.stdout.decode().splitlines()]
    assert seen == [_argv(email, stack) for email in NASTY]
    assert list(tmp_path.iterdir()) == [], "the shell ran something it was not meant to"


@given(
    local=st.text(alphabet=LOCAL_CHARS, min_size=1, max_size=20),
    stack=st.sampled_from(["prod", "dev-1", "my-org/prod", "org/project/stack.2"]),
)
def test_the_command_for_any_accepted_email_splits_into_exactly_its_arguments(
    local: str, stack: str
) -> None:
    email = f"{local}@example.com"
    if validation.email_problem(email) is not None:
        return
    (command,) = password_commands([email], stack)
    assert shlex.split(command) == ["pulumi", *_argv(email, stack)]


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


@pytest.mark.parametrize(
    ("declared", "live"),
    [("ops@example.com", "Ops@example.com"), ("Ops@example.com", "ops@example.com")],
    ids=["live-capitalised", "declared-capitalised"],
)
def test_the_case_rule_holds_whichever_side_is_capitalised(declared: str, live: str) -> None:
    """The inventory rejects two emails that differ only in case; adopting the live one next
    to the declared one would make exactly such a pair, whichever of the two has the capital."""
    plan = plan_adoption({live: Account(live, 3, None)}, [declared])

    assert plan.new == {}
    assert plan.skipped == [
        f"{live}: the stack declares it as {declared} (emails differ only in case); "
        "spell it as useapi.net does in the stack instead of adopting a second entry"
    ]
    assert plan.declared_missing == [declared]


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
    tmp_path: Path,
    emulator: UseapiEmulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """docs/adopt.md's three steps through the real engine. ops@ is already managed by the
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

        printed = [
            line.strip() for line in capsys.readouterr().out.splitlines() if "config set" in line
        ]
        assert len(printed) == len(HAND_MADE)
        for command, email in zip(printed, sorted(HAND_MADE), strict=True):
            # The printed line, pasted into a shell as it is; the password typed at the prompt.
            pasted = subprocess.run(
                ["sh", "-c", command],
                cwd=project.root,
                env=project.env,
                input=f"{PASSWORD_SENTINEL}-{email}",
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert pasted.returncode == 0, pasted.stdout + pasted.stderr
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
