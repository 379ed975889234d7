"""The language host (tools/pulumi-cli/langhost) through the real CLI: a program that fails with
an unhandled exception fails the `up`, and is never taken for a program that finished.

Why it matters: when a program finishes, the engine deletes every resource in state that the
program did not declare. The SDK's exec shim shows an unhandled exception's traceback and exits
with 32 ("the user has seen the error"); the host must answer that as a bail, as Pulumi's own
Python host does, so the engine neither deletes nor adds a second "an unhandled error occurred"
line.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli_support import ACCOUNTS, PASSWORDS, CliProject
from tests.support.helpers import PASSWORD_SENTINEL, PROJECT_ROOT, TOKEN_SENTINEL
from useapi_emulator import UseapiEmulator

pytestmark = pytest.mark.cli

OPS = "ops@example.com"
FAILING_PROGRAM = f'''\
"""Declares one account of the inventory, then fails as a bug in a program would."""

import pulumi

from provider import PixVerseAccount

passwords = pulumi.Config().require_secret_object("passwords")
PixVerseAccount(
    "{OPS}",
    email="{OPS}",
    password=passwords.apply(lambda secrets: secrets["{OPS}"]),
    max_jobs={ACCOUNTS[OPS]},
)
raise RuntimeError("the program broke after declaring one account")
'''


@pytest.mark.timeout(180)
def test_a_program_that_raises_half_way_fails_the_up_and_deletes_nothing(
    tmp_path: Path, emulator: UseapiEmulator
) -> None:
    project = CliProject(tmp_path / "project", emulator)
    try:
        project.init()
        project.seed(ACCOUNTS, PASSWORDS)
        project.up()
        # The same stack, now run by a program that raises after declaring one account.
        program = project.root / "__main__.py"
        program.unlink()
        program.write_text(FAILING_PROGRAM)
        emulator.reset_calls()

        failed = project.up(check=False)

        assert failed.returncode != 0, failed.text
        errors = failed.diagnostics("error")
        assert len(errors) == 1, errors  # the traceback, once; no "unhandled error" line
        assert "Traceback" in errors[0] and "RuntimeError: the program broke" in errors[0]
        assert failed.text.count("RuntimeError: the program broke") == 1, failed.text
        assert "an unhandled error occurred" not in failed.text
        assert failed.summary()["deleted"] == []
        assert [r.method for r in emulator.calls() if r.method != "GET"] == []
        assert sorted(emulator.accounts) == sorted(ACCOUNTS)
        assert project.state_accounts() == sorted(ACCOUNTS)
        assert PASSWORD_SENTINEL not in failed.text and TOKEN_SENTINEL not in failed.text
    finally:
        program = project.root / "__main__.py"
        if not program.is_symlink():
            program.unlink()
            program.symlink_to(PROJECT_ROOT / "__main__.py")  # so cleanup destroys all three
        project.cleanup()
