"""The recovery's reading of state and its per-account account, without a CLI.

`parse_export` reads `pulumi stack export` as the CLI printed it here after a cut-off run
(pending creates, a delete-before-replace cut between its halves); `account_lines` says, per
account, what was found, what was done and what the next `up` does. Where no single lock can
be removed (Pulumi Cloud, a gs:// or azblob:// store), only `pulumi cancel` is left, and only
with --force: that one step is answered here by a recorder instead of the CLI (no Cloud account
or Google bucket in tests). Exact removal on file:// and s3:// is proved against the real CLI
and a real S3 server in tests/tools/test_lock_removal.py and tests/acceptance/.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from provider.host.useapi.answers import Account
from provider.tools.pulumi_cli import CliRun, PulumiCli
from provider.tools.recovery import (
    ACCOUNT_TYPE,
    Recovery,
    StackState,
    account_lines,
    parse_export,
    parse_plan,
)
from provider.tools.stack_locks import LockFailure, StackLock

pytestmark = pytest.mark.timeout(10)

URN = "urn:pulumi:prod::pixverse-accounts::"


def resource(email: str, max_jobs: int = 3, **extra: Any) -> dict[str, Any]:
    return {
        "urn": f"{URN}{ACCOUNT_TYPE}::{email}",
        "type": ACCOUNT_TYPE,
        "id": email,
        "inputs": {"email": email, "maxJobs": max_jobs},
        "outputs": {"email": email, "maxJobs": max_jobs, "password": {"ciphertext": "v1:x"}},
        **extra,
    }


def pending(email: str, kind: str) -> dict[str, Any]:
    return {
        "type": kind,
        "resource": {
            "urn": f"{URN}{ACCOUNT_TYPE}::{email}",
            "type": ACCOUNT_TYPE,
            "inputs": {"email": email, "maxJobs": 3},
        },
    }


def export(resources: list[Any], operations: list[Any]) -> dict[str, Any]:
    stack = {
        "urn": f"{URN}pulumi:pulumi:Stack::pixverse-accounts-prod",
        "type": "pulumi:pulumi:Stack",
    }
    return {"deployment": {"resources": [stack, *resources], "pending_operations": operations}}


def test_pending_operations_and_replacements_are_read_per_account() -> None:
    state = parse_export(
        export(
            [resource("kept@example.com", 5), resource("old@example.com", pendingReplacement=True)],
            [
                pending("new@example.com", "creating"),
                pending("kept@example.com", "updating"),
                {
                    "type": "creating",
                    "resource": {
                        "urn": f"{URN}pulumi:pulumi:Stack::s",
                        "type": "pulumi:pulumi:Stack",
                    },
                },
            ],
        )
    )
    assert state.accounts == {"kept@example.com": 5}
    assert state.replaced == {"old@example.com"}
    assert state.pending == {"new@example.com": ["create"], "kept@example.com": ["update"]}
    assert state.other_pending == 1 and state.pending_count == 3
    assert parse_export({"deployment": {}}) == StackState()


def live(*accounts: tuple[str, int]) -> dict[str, Account]:
    return {email: Account(email, jobs, None) for email, jobs in accounts}


def test_each_account_says_what_was_found_done_and_what_up_does_next() -> None:
    before = StackState(
        accounts={"kept@example.com": 5, "gone@example.com": 2, "drop@example.com": 1},
        pending={"landed@example.com": ["create"], "lost@example.com": ["create"]},
    )
    after = StackState(accounts={"kept@example.com": 4, "drop@example.com": 1})
    inventory = {
        "kept@example.com": 5,
        "gone@example.com": 2,
        "landed@example.com": 3,
        "lost@example.com": 3,
    }
    fleet = live(
        ("kept@example.com", 4),
        ("landed@example.com", 6),
        ("drop@example.com", 1),
        ("stray@example.com", 2),
    )
    lines = dict(
        line.split(": ", 1) for line in account_lines(before, after, inventory, fleet, "prod")
    )
    assert lines["landed@example.com"].startswith(
        "pending create (cut off); dropped the pending create; useapi.net has it (maxJobs 6)"
    )
    assert "adopts the account already there" in lines["landed@example.com"]
    assert "setting maxJobs 6→3" in lines["landed@example.com"]
    assert lines["lost@example.com"].endswith("not on useapi.net; next: `pulumi up` creates it")
    assert "read back: maxJobs 4" in lines["kept@example.com"]
    assert lines["kept@example.com"].endswith("next: `pulumi up` sets maxJobs 4→5")
    assert "gone from useapi.net: dropped from state" in lines["gone@example.com"]
    assert lines["gone@example.com"].endswith("next: `pulumi up` creates it")
    assert lines["drop@example.com"].endswith("deletes it (no longer in the inventory)")
    assert "in neither the stack nor the inventory" in lines["stray@example.com"]
    assert "make adopt STACK=prod" in lines["stray@example.com"]


def test_a_cut_rename_is_left_for_up_to_finish() -> None:
    before = StackState(
        pending={"new@example.com": ["create"]}, replaced=frozenset({"old@example.com"})
    )
    after = StackState(replaced=frozenset({"old@example.com"}))
    lines = account_lines(before, after, {"new@example.com": 3}, None, "prod")
    assert lines == [
        "new@example.com: pending create (cut off); dropped the pending create; useapi.net not "
        "read; next: `pulumi up` creates it",
        "old@example.com: deleted by a replacement that was cut off before its create; left for "
        "`pulumi up` to finish the replacement; useapi.net not read; next: nothing for this "
        "email: `pulumi up` finishes the replacement (its new email)",
    ]


class CancelRecorder(PulumiCli):
    """Answers `pulumi cancel` only, and records it."""

    def __init__(self) -> None:
        super().__init__(Path("."), {})
        self.calls: list[tuple[str, ...]] = []

    def run(self, *args: str, timeout: float | None = None) -> CliRun:
        self.calls.append(args)
        assert args[0] == "cancel", args
        return CliRun(args, 0, "The currently running update has been canceled.", "")


NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


def recovery(cli: PulumiCli, force: bool = False) -> tuple[Recovery, list[str]]:
    out: list[str] = []
    rec = Recovery(
        Path("."), "prod", cli, {}, force=force, now=lambda: NOW, out=out.append, hostname="laptop"
    )
    return rec, out


def gs_lock(minutes_ago: float) -> StackLock:
    url = "gs://bucket/p/.pulumi/locks/organization/pixverse-accounts/prod/1.json"
    return StackLock(url, "runner", "fv-az1", 77, NOW - timedelta(minutes=minutes_ago))


def test_where_no_single_lock_can_be_removed_pulumi_cancel_runs_only_with_force() -> None:
    """A stale lock on gs://: the recovery cannot delete that one object, and `pulumi cancel`
    deletes every lock of the stack, one a run takes meanwhile included: it says so, changes
    nothing, and cancels only when a person says --force."""
    cli = CancelRecorder()
    rec, out = recovery(cli)
    assert not rec._break_stale_locks(LockFailure([gs_lock(90)]))
    assert cli.calls == []
    text = "\n".join(out)
    assert "stale: written on fv-az1" in text
    assert "the recovery has no client for gs:// storage" in text
    assert "deletes every lock of the stack" in text and "Nothing was changed" in text
    assert "make recover STACK=prod FORCE=1" in text
    forced, out = recovery(cli, force=True)
    assert forced._break_stale_locks(LockFailure([gs_lock(90)]))
    assert cli.calls == [("cancel", "--yes", "--stack", "prod")]
    assert "--force: removed the stale lock(s) with `pulumi cancel --stack prod`." in out


def test_an_s3_url_the_recovery_cannot_read_as_the_cli_does_is_not_guessed_at() -> None:
    cli = CancelRecorder()
    rec, out = recovery(cli)
    url = "s3://b/p/.pulumi/locks/organization/pixverse-accounts/prod/1.json?role=arn:aws:iam::1:role/x"
    lock = StackLock(url, "runner", "fv-az1", 77, NOW - timedelta(minutes=90))
    assert not rec._break_stale_locks(LockFailure([lock]))
    assert cli.calls == []
    assert "query parameter(s) role" in "\n".join(out)


def test_one_live_lock_keeps_every_lock() -> None:
    cli = CancelRecorder()
    rec, _ = recovery(cli, force=False)
    assert not rec._break_stale_locks(LockFailure([gs_lock(90), gs_lock(1)]))
    assert cli.calls == []


def test_pulumi_clouds_update_in_progress_is_cancelled_only_with_force() -> None:
    cli = CancelRecorder()
    rec, out = recovery(cli)
    assert not rec._break_stale_locks(LockFailure([], cloud=True))
    assert cli.calls == [] and "FORCE=1" in "\n".join(out)
    forced, _ = recovery(cli, force=True)
    assert forced._break_stale_locks(LockFailure([], cloud=True))
    assert cli.calls == [("cancel", "--yes", "--stack", "prod")]


def test_in_a_pipeline_the_refusal_is_an_error_annotation() -> None:
    out: list[str] = []
    rec = Recovery(
        Path("."),
        "prod",
        CancelRecorder(),
        {"GITHUB_ACTIONS": "true"},
        now=lambda: NOW,
        out=out.append,
        hostname="laptop",
    )
    assert not rec._break_stale_locks(LockFailure([gs_lock(3)]))
    assert any(line.startswith("::error title=Stack prod is locked::") for line in out)


def test_with_the_engines_plan_the_next_step_is_the_engines() -> None:
    """A password changed in the stack file is invisible to the recovery (secrets), not to the
    engine: with `pulumi preview --json`'s steps the line says `update`, not "nothing"."""

    def step(op: str, email: str) -> dict[str, Any]:
        state = {"inputs": {"email": email}}
        return {"op": op, "urn": f"{URN}{ACCOUNT_TYPE}::{email}", "newState": state}

    preview = {
        "steps": [
            {"op": "same", "urn": f"{URN}pulumi:pulumi:Stack::pixverse-accounts-prod"},
            step("update", "pw@example.com"),
            step("same", "same@example.com"),
            step("create", "new@example.com"),
            {"op": "delete", "urn": f"{URN}{ACCOUNT_TYPE}::old@example.com", "oldState": {}},
        ]
    }
    plan = parse_plan(preview)
    assert plan == {
        "pw@example.com": "update",
        "same@example.com": "same",
        "new@example.com": "create",
        "old@example.com": "delete",
    }
    state = StackState(
        accounts={"pw@example.com": 3, "same@example.com": 3, "old@example.com": 1},
        pending={"pw@example.com": ["update"]},
    )
    inventory = {"pw@example.com": 3, "same@example.com": 3, "new@example.com": 2}
    guessed = dict(
        line.split(": ", 1) for line in account_lines(state, state, inventory, {}, "prod")
    )
    assert guessed["pw@example.com"].endswith("repeats the cut-off update if it is still needed")
    assert "a changed password shows in `pulumi preview`" in guessed["same@example.com"]
    exact = dict(
        line.split(": ", 1) for line in account_lines(state, state, inventory, {}, "prod", plan)
    )
    assert exact["pw@example.com"].endswith(
        "`pulumi up` updates it (its password or token: the engine compares the secrets)"
    )
    assert exact["same@example.com"].endswith("next: nothing")
    assert exact["new@example.com"].endswith("next: `pulumi up` creates it")
    assert exact["old@example.com"].endswith("next: `pulumi up` deletes it")
