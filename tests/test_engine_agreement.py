"""The offline engine (`localengine/`) agrees with the real one, step for step.

The offline engine stands in for the CLI where it is not installed (the demo, most tests). It
must do what the engine does: the same steps on the same resources, the same stack outputs.
This runs one scripted life of an inventory — create, no-op, update, preview, rename, remove,
refresh with drift and a deletion, destroy — through both, each against its own emulator, and
compares what each reports after every step. Skipped where the CLI is not built.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from useapi_emulator import UseapiEmulator

from .cli_support import PULUMI, SKIP_REASON, CliProject
from .helpers import PASSWORD_SENTINEL
from .stack_support import StackProject

pytestmark = [pytest.mark.cli, pytest.mark.skipif(PULUMI is None, reason=SKIP_REASON)]

PASSWORDS = "pixverse-accounts:passwords"
A, B, C, D = (f"{name}@example.com" for name in ("a", "b", "c", "d"))
BUCKETS = ("created", "updated", "replaced", "deleted", "unchanged")


def _normalised(outputs: dict[str, Any]) -> dict[str, Any]:
    """Outputs with the session expiry (a clock reading of each emulator) made comparable."""
    accounts = {
        email: {
            **summary,
            "ExpireTimeUTC": "<time>"
            if re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+Z", summary.get("ExpireTimeUTC", ""))
            else summary.get("ExpireTimeUTC"),
        }
        for email, summary in (outputs.get("accounts") or {}).items()
    }
    return {**outputs, "accounts": accounts} if outputs else {}


@dataclass
class Engines:
    cli: CliProject
    cli_emulator: UseapiEmulator
    offline: StackProject
    offline_emulator: UseapiEmulator

    def inventory(self, accounts: dict[str, int]) -> None:
        # The passwords the CLI's stack holds already: what its stack file lists.
        known = set(yaml.safe_load(self.cli.stack_file.read_text())["config"].get(PASSWORDS, {}))
        self.cli.set_accounts(accounts)
        for email in accounts:
            if email not in known:
                self.cli.set_secret(PASSWORDS, email, PASSWORD_SENTINEL + email)
        for email in known - set(accounts):
            self.cli.remove_secret(PASSWORDS, email)
        self.offline.write(
            {email: {"maxJobs": jobs} for email, jobs in accounts.items()},
            {email: PASSWORD_SENTINEL + email for email in accounts},
        )

    def both(self, action: Callable[[UseapiEmulator], None]) -> None:
        """The same out-of-band change on both emulators."""
        action(self.cli_emulator)
        action(self.offline_emulator)

    def step(self, operation: str) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        offline = self.offline.up_ok(operation).summary
        if operation == "preview":
            cli = self.cli.preview().preview_summary()
        else:
            cli = getattr(self.cli, operation)().summary()
        offline_steps = {bucket: sorted(offline.get(bucket, [])) for bucket in BUCKETS}
        cli_steps = {bucket: cli.get(bucket, []) for bucket in BUCKETS}
        if operation == "preview":  # the CLI's preview lists no "same" steps
            offline_steps["unchanged"] = cli_steps["unchanged"] = []
        if operation in ("up", "refresh"):
            assert _normalised(offline["outputs"]) == _normalised(self.cli.outputs()), operation
        return offline_steps, cli_steps


@pytest.fixture
def engines(tmp_path: Path, emulator: UseapiEmulator) -> Iterator[Engines]:
    with UseapiEmulator(token=emulator.token) as offline_emulator:
        cli = CliProject(tmp_path / "cli", emulator)
        cli.init()
        pair = Engines(
            cli, emulator, StackProject(tmp_path / "offline", offline_emulator), offline_emulator
        )
        try:
            yield pair
        finally:
            cli.cleanup()


def expect(**buckets: list[str]) -> dict[str, list[str]]:
    return {bucket: sorted(buckets.get(bucket, [])) for bucket in BUCKETS}


@pytest.mark.timeout(400)
def test_offline_engine_takes_the_same_steps_and_gives_the_same_outputs_as_the_cli(
    engines: Engines,
) -> None:
    def agree(operation: str, **expected: list[str]) -> None:
        offline, cli = engines.step(operation)
        assert offline == cli, f"{operation}: offline {offline} != CLI {cli}"
        wanted = expect(**expected)
        if operation == "preview":
            wanted["unchanged"] = []
        assert cli == wanted, operation

    engines.inventory({A: 2, B: 3, C: 4})
    agree("up", created=[A, B, C])
    agree("up", unchanged=[A, B, C])

    engines.inventory({A: 5, B: 3, C: 4})
    agree("preview", updated=[A])
    agree("up", updated=[A], unchanged=[B, C])

    engines.inventory({A: 5, B: 3, D: 4})  # c renamed to d
    agree("up", created=[D], deleted=[C], unchanged=[A, B])

    engines.inventory({A: 5, D: 4})  # b removed
    agree("up", deleted=[B], unchanged=[A, D])

    engines.both(lambda emu: emu.oob_set_max_jobs(A, 1))
    engines.both(lambda emu: emu.oob_delete(D))
    agree("refresh", updated=[A], deleted=[D])

    agree("destroy", deleted=[A])
    assert engines.cli_emulator.accounts == {} == engines.offline_emulator.accounts
