"""Repair a stack that a cut-off deploy left behind, so that the next `pulumi up` converges.

What a cut-off `pulumi up` leaves (see docs/interrupted-deploys.md): after one
SIGINT or SIGTERM, nothing (the CLI finishes what is in flight and releases its lock); after a
SIGKILL or a lost runner, the stack's lock and a *pending operation* per provider call that had
started (the engine writes each step into the checkpoint before it calls the provider). The
engine's next `up` drops pending updates and deletes, but keeps pending creates in the state
for ever and stops at the lock.

The repair, all through the pulumi CLI so that it works on whatever backend the environment
selects:

1. `pulumi stack export` (reads only, takes no lock): what state holds and what is pending.
2. `pulumi refresh --clear-pending-creates`: drops every pending create (state edit), then
   reads every account in state back from useapi.net (GET only) and writes the result; the
   checkpoint it writes keeps no pending update or delete either. It takes the stack's lock
   like any run, so it cannot interleave with a live deploy.
3. If that refuses because the stack is locked, each lock is judged (`stack_locks.judge`).
   Only when every lock is stale are they removed, each alone (`lock_removal`: the lock file on
   file://, the lock object on s3://), and step 2 run again; a lock that may be alive stops the
   repair with nothing changed, saying who holds it and the exact command for a person who knows
   that run is gone. A run that starts between the judgement and the removal keeps its lock:
   only the judged locks are deleted, never with `pulumi cancel` (which deletes every lock of
   the stack), except where no single lock can be removed (Pulumi Cloud, gs://, azblob://), and
   there only with --force. When another recovery removes the same stale lock first, this one
   says so and stops, changing nothing.
4. `pulumi stack export` again, one `GET /accounts` and (unless `plan` is off) `pulumi preview`,
   which takes no lock: per account, what was found, what was done, what useapi.net has and
   what the next `pulumi up` will do.

A checkpoint that step 1 cannot load (`checkpoint_repair`: the `.attrs` file beside it on a
file backend, torn by a kill) is repaired first, or the exact commands for a person are printed.

Why dropping a pending create is safe: the create was cut off, so state cannot know whether
its POST reached useapi.net. POST is an upsert keyed by the email: if it landed, the next `up`
creates the resource again with one POST that adopts the existing account (no duplicate); if
it did not, that POST creates it. Either way the inventory's maxJobs and password are what is
sent. A pending delete is dropped by the refresh too: the refresh reads the account (gone: the
resource leaves state; still there: it stays, and `up` deletes it if the inventory no longer
has it; DELETE counts 404 as done).
"""

from __future__ import annotations

import getpass
import json
import os
import shlex
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ..host.settings import TOKEN, SettingsError
from ..host.useapi.client import Account, UseapiClient, UseapiError
from ..program.inventory import PROJECT
from .checkpoint_repair import checkpoint_files, repair_checkpoint
from .live_fleet import tool_settings
from .lock_removal import CannotRemoveOne, Clearer, removable_one_by_one, remove_stale_lock
from .pulumi_cli import CliRun, PulumiCli
from .stack_file import StackFile, is_secure
from .stack_locks import (
    CLOCK_SKEW,
    DEFAULT_MAX_RUN,
    LockFailure,
    StackLock,
    Verdict,
    judge,
    parse_lock_failure,
)

ACCOUNT_TYPE = "pulumi-python:dynamic/pixverse:PixVerseAccount"
UNLOADABLE = "failed to load checkpoint"
# A checkpoint that fails to load is read again after these pauses (seconds) before it is taken
# for torn: a live run's rewrite of its `.attrs` file lasts microseconds.
READ_AGAIN_AFTER = (0.2, 0.5, 1.0)
RECOVERED, FAILED, REFUSED = 0, 1, 3
_PENDING_WORDS = {
    "creating": "create",
    "updating": "update",
    "deleting": "delete",
    "reading": "read",
    "importing": "import",
}


class RecoveryError(RuntimeError):
    """The repair could not be done; the message says what to do."""


@dataclass(frozen=True)
class StackState:
    """What a `pulumi stack export` says about the accounts."""

    accounts: dict[str, int | None] = field(default_factory=dict)  # email → maxJobs in state
    pending: dict[str, list[str]] = field(default_factory=dict)  # email → pending operations
    other_pending: int = 0  # pending operations on other resources (the stack itself)
    # Deleted by a delete-before-replace whose create has not happened (`pendingReplacement`):
    # gone on useapi.net, kept in state until the replacement exists; a refresh skips them.
    replaced: frozenset[str] = frozenset()

    @property
    def pending_count(self) -> int:
        return sum(len(ops) for ops in self.pending.values()) + self.other_pending


def _email(resource: Mapping[str, Any]) -> str:
    for props in (resource.get("outputs"), resource.get("inputs")):
        if isinstance(props, Mapping) and isinstance(props.get("email"), str):
            return str(props["email"])
    return str(resource.get("id") or str(resource.get("urn", "")).rsplit("::", 1)[-1])


def _max_jobs(resource: Mapping[str, Any]) -> int | None:
    value = (resource.get("outputs") or {}).get("maxJobs")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    return None


def parse_export(data: Mapping[str, Any]) -> StackState:
    """The accounts and pending operations of `pulumi stack export` output."""
    deployment = data.get("deployment") or {}
    accounts: dict[str, int | None] = {}
    replaced: set[str] = set()
    for resource in deployment.get("resources") or []:
        if resource.get("type") != ACCOUNT_TYPE or resource.get("delete"):
            continue  # `delete: true`: a replaced copy the engine deletes itself
        if resource.get("pendingReplacement"):
            replaced.add(_email(resource))
        else:
            accounts[_email(resource)] = _max_jobs(resource)
    pending: dict[str, list[str]] = {}
    other = 0
    for operation in deployment.get("pending_operations") or []:
        resource = operation.get("resource") or {}
        kind = _PENDING_WORDS.get(str(operation.get("type")), str(operation.get("type")))
        if resource.get("type") == ACCOUNT_TYPE:
            pending.setdefault(_email(resource), []).append(kind)
        else:
            other += 1
    return StackState(accounts, pending, other, frozenset(replaced))


def account_lines(
    before: StackState,
    after: StackState,
    inventory: Mapping[str, int | None],
    live: Mapping[str, Account] | None,
    stack: str,
    plan: Mapping[str, str] | None = None,
) -> list[str]:
    """One line per account: found; done; useapi.net; what the next `pulumi up` does.

    `plan` (email → the engine's step, from `pulumi preview`) makes the last part exact; without
    it, it is worked out from the inventory and state, which cannot compare passwords (secrets).
    """
    emails = set(before.accounts) | set(before.pending) | before.replaced | set(after.accounts)
    emails |= set(inventory) | set(live or {}) | set(plan or {})
    lines = []
    for email in sorted(emails):
        found, done = [], []
        for kind in before.pending.get(email, []):
            found.append(f"pending {kind} (cut off)")
            done.append(f"dropped the pending {kind}")
        if email in before.replaced:
            found.append("deleted by a replacement that was cut off before its create")
            done.append("left for `pulumi up` to finish the replacement")
        if email in before.accounts:
            found.append(f"in state (maxJobs {before.accounts[email]})")
            if email in after.accounts:
                done.append(f"read back: maxJobs {after.accounts[email]}")
            else:
                done.append("gone from useapi.net: dropped from state")
        elif not found:
            found.append("not in state")
        account = live.get(email) if live is not None else None
        if live is None:
            seen = "useapi.net not read"
        elif account is None:
            seen = "not on useapi.net"
        else:
            seen = f"useapi.net has it (maxJobs {account.max_jobs})"
        parts = [", ".join(found), *([", ".join(done)] if done else []), seen]
        if plan is not None and email in plan:
            nxt = _planned_step(email, plan[email], after, inventory, account)
        else:
            nxt = _next_step(email, before, after, inventory, account, stack)
        lines.append(f"{email}: {'; '.join(parts)}; next: {nxt}")
    return lines


def _adopts(account: Account | None, want: int | None) -> str:
    if account is None:
        return ""
    change = ""
    if account.max_jobs is not None and want is not None and account.max_jobs != want:
        change = f", setting maxJobs {account.max_jobs}→{want}"
    return (
        " with one POST, which adopts the account already there (POST is an upsert: no "
        f"duplicate){change}"
    )


def _planned_step(
    email: str,
    op: str,
    after: StackState,
    inventory: Mapping[str, int | None],
    account: Account | None,
) -> str:
    """The engine's own plan for the account, in words."""
    want, have = inventory.get(email), after.accounts.get(email)
    if op == "create":
        return f"`pulumi up` creates it{_adopts(account, want)}"
    if op == "update":
        if want is not None and have is not None and want != have:
            return f"`pulumi up` updates it (maxJobs {have}→{want})"
        return "`pulumi up` updates it (its password or token: the engine compares the secrets)"
    if op == "delete":
        return "`pulumi up` deletes it"
    if op in ("replace", "create-replacement", "delete-replaced"):
        return "`pulumi up` replaces it (the old email's account is deleted first if still there)"
    if op == "same":
        return "nothing"
    return f"`pulumi up`: {op}"


def _next_step(
    email: str,
    before: StackState,
    after: StackState,
    inventory: Mapping[str, int | None],
    account: Account | None,
    stack: str,
) -> str:
    """The next `up`, from the inventory and state only (no preview was run)."""
    declared = email in inventory
    if email in after.replaced:
        return "nothing for this email: `pulumi up` finishes the replacement (its new email)"
    if declared and email not in after.accounts:
        return f"`pulumi up` creates it{_adopts(account, inventory[email])}"
    if declared:
        want, have = inventory[email], after.accounts[email]
        if want is not None and have is not None and want != have:
            return f"`pulumi up` sets maxJobs {have}→{want}"
        if "update" in before.pending.get(email, []):
            return "`pulumi up` repeats the cut-off update if it is still needed"
        return "nothing for maxJobs (a changed password shows in `pulumi preview`)"
    if email in after.accounts:
        return "`pulumi up` deletes it (no longer in the inventory)"
    if account is not None:
        return (
            "nothing: it is on useapi.net but in neither the stack nor the inventory; "
            f"declare it (`make adopt STACK={stack}`) or delete it on useapi.net"
        )
    return "nothing (gone everywhere)"


def parse_plan(data: Mapping[str, Any]) -> dict[str, str]:
    """email → the step `pulumi preview --json` plans for it."""
    plan: dict[str, str] = {}
    for step in data.get("steps") or []:
        if str(step.get("urn", "")).split("::")[2:3] != [ACCOUNT_TYPE]:
            continue
        state = step.get("newState") or step.get("oldState") or {}
        email = (state.get("inputs") or {}).get("email")
        name = email if isinstance(email, str) else str(step["urn"]).rsplit("::", 1)[-1]
        plan[name] = str(step.get("op"))
    return plan


@dataclass
class Recovery:
    """One recovery of one stack: the CLI, the clock and the output, replaceable in tests."""

    project_dir: Path
    stack: str
    cli: PulumiCli
    environ: Mapping[str, str]
    max_run: timedelta = DEFAULT_MAX_RUN
    force: bool = False
    plan: bool = True  # end with `pulumi preview`: the exact next step per account
    skew: timedelta = CLOCK_SKEW  # how far two hosts' clocks may differ
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    out: Callable[[str], None] = print
    hostname: str = field(default_factory=socket.gethostname)
    sleep: Callable[[float], None] = time.sleep

    # -- the steps ------------------------------------------------------------------------

    def run(self, stack_file: StackFile) -> int:
        inventory = _inventory(stack_file)
        before = self._export()
        awaiting = f" (+{len(before.replaced)} replaced, awaiting the new one)" * bool(
            before.replaced
        )
        self.out(
            f"Stack {self.stack}: {len(before.accounts)} account(s) in state{awaiting}, "
            f"{before.pending_count} pending operation(s), {len(inventory)} in "
            f"{stack_file.path.name}."
        )
        refresh = self._refresh()
        if not refresh.ok:
            failure = parse_lock_failure(refresh.text)
            if failure is None:
                return self._failed("`pulumi refresh` failed", refresh)
            if not self._break_stale_locks(failure):
                return REFUSED
            refresh = self._refresh()
            if not refresh.ok:
                if parse_lock_failure(refresh.text) is not None:
                    self.out(
                        "A new lock appeared after the stale one(s) were removed: a run has just "
                        "started. Nothing else was changed; run the recovery again after it."
                    )
                    return REFUSED
                return self._failed("`pulumi refresh` failed", refresh)
        else:
            self.out("Lock: none (the refresh took the stack's lock and released it).")
        after = self._export()
        cleared = before.pending_count - after.pending_count
        self.out(
            f"Refresh: dropped {cleared} pending operation(s) and read the "
            f"{len(before.accounts)} account(s) in state back from useapi.net "
            f"({len(before.accounts) - len(after.accounts)} gone there, so dropped from state)."
        )
        live = self._live_accounts(stack_file)
        plan = self._plan() if self.plan else None
        self.out("Accounts:")
        for line in account_lines(before, after, inventory, live, self.stack, plan):
            self.out(f"  {line}")
        if after.pending_count:
            self.out(f"error: {after.pending_count} pending operation(s) are still in state.")
            return FAILED
        self.out(
            f"Done: no lock, no pending operation. The next `pulumi up --stack {self.stack}` "
            "converges."
        )
        return RECOVERED

    def _export(self) -> StackState:
        run = self._reading("stack", "export", "--stack", self.stack)
        if not run.ok:
            raise RecoveryError(f"`pulumi stack export --stack {self.stack}` failed:\n{run.tail()}")
        try:
            return parse_export(json.loads(run.stdout))
        except ValueError:
            raise RecoveryError("`pulumi stack export` did not print JSON") from None

    def _reading(self, *args: str) -> CliRun:
        """A command that loads the checkpoint. On a file backend a reader can catch the
        checkpoint's `.attrs` file in the instant a live run rewrites it (truncate, then write:
        checkpoint_repair) and fail with "failed to load checkpoint: EOF": it is read again a
        moment later. Still unloadable after that, it was torn by a kill: repaired, then run
        once more."""
        run = self._cli(*args)
        for pause in READ_AGAIN_AFTER:
            if run.ok or UNLOADABLE not in run.text:
                return run
            command = " ".join(arg for arg in args[:2] if not arg.startswith("-"))
            self.out(
                f"note: `pulumi {command}` could not load the checkpoint ({run.tail(1)}); "
                f"reading it again in {pause:g} s (a live run may be saving it)."
            )
            self.sleep(pause)
            run = self._cli(*args)
        if not run.ok and UNLOADABLE in run.text and self._repair_checkpoint(run):
            run = self._cli(*args)
        return run

    def _repair_checkpoint(self, failed: CliRun) -> bool:
        """A checkpoint the backend cannot load (see checkpoint_repair): True when repaired
        here; otherwise the exact commands for a person, and a RecoveryError."""
        self.out(f"The stack's checkpoint does not load:\n{failed.tail(3)}")
        url = self._backend_url()
        files = checkpoint_files(url, PROJECT, self.stack) if url else []
        if not files:
            raise RecoveryError(
                f"the pulumi CLI cannot load the checkpoint of {self.stack} on "
                f"{url or 'this backend'}; the recovery repairs that on a file:// backend only. "
                "Restore the previous save (the `.bak` object beside the stack's checkpoint) with "
                "your store's tools, then run the recovery again."
            )
        repair = repair_checkpoint(files)
        for line in repair.repaired:
            self.out(f"Checkpoint: {line}.")
        if repair.commands:
            commands = "\n  ".join(repair.commands)
            raise RecoveryError(
                "the checkpoint's own bytes do not load (a kill cannot cause that: the backend "
                "renames a complete file into place; look at what else wrote it). Nothing was "
                f"changed. To go back to the previous save:\n  {commands}\nthen "
                f"`make recover STACK={shlex.quote(self.stack)}`."
            )
        return bool(repair.repaired)

    def _backend_url(self) -> str | None:
        url = self.environ.get("PULUMI_BACKEND_URL", "").strip()
        if url:
            return url
        who = self._cli("whoami", "--json")
        try:
            found = json.loads(who.stdout).get("url") if who.ok else None
        except ValueError:
            found = None
        return str(found) if found else None

    def _refresh(self) -> CliRun:
        return self._reading(
            "refresh", "--clear-pending-creates", "--yes", "--skip-preview", "--stack", self.stack
        )

    def _plan(self) -> dict[str, str] | None:
        """What the next `up` does per account, from the engine's own preview (which takes no
        lock and calls useapi.net for nothing)."""
        preview = self._cli("preview", "--json", "--stack", self.stack)
        if preview.ok:
            try:
                return parse_plan(json.loads(preview.stdout))
            except ValueError:
                pass
        self.out(
            "note: `pulumi preview` did not give a plan, so the next steps below are worked out "
            f"from the inventory and state:\n{preview.tail(5)}"
        )
        return None

    def _cli(self, *args: str) -> CliRun:
        run = self.cli.run(*args)
        if self.cli.interrupted is not None:
            raise RecoveryError(
                f"interrupted (signal {self.cli.interrupted}) during `pulumi {' '.join(args)}`, "
                "which was handed the signal and has ended; nothing further was done"
            )
        return run

    def _failed(self, what: str, run: CliRun) -> int:
        self.out(f"error: {what}:\n{run.tail()}")
        return FAILED

    # -- locks ----------------------------------------------------------------------------

    def _break_stale_locks(self, failure: LockFailure) -> bool:
        now = self.now()
        if failure.cloud:
            return self._break_cloud_lock()
        verdicts: list[tuple[StackLock, Verdict]] = [
            (lock, judge(lock, now, self.max_run, self.hostname, force=self.force, skew=self.skew))
            for lock in failure.locks
        ]
        for lock, verdict in verdicts:
            state = "stale" if verdict.stale else "MAY BE ALIVE"
            self.out(f"Lock {lock.url}: {lock.describe(now)}: {state}: {verdict.reason}.")
        for line in failure.unreadable or []:
            self.out(f"Lock (unreadable, so never removed): {line}")
        alive = [lock for lock, verdict in verdicts if not verdict.stale]
        if alive or failure.unreadable or not verdicts:
            self._refuse(alive)
            return False
        blocked = [why for lock, _ in verdicts if (why := removable_one_by_one(lock.url))]
        if blocked:
            return self._cancel_every_lock(blocked[0])
        clearer = Clearer(_user(), self.hostname, os.getpid(), now)
        first: list[str] = []
        for lock, verdict in verdicts:
            try:
                removal = remove_stale_lock(lock, clearer, verdict.reason, self.environ)
            except CannotRemoveOne as exc:
                raise RecoveryError(f"the stale lock {lock.url} was not removed: {exc}") from None
            self.out(f"Lock {lock.url}: {removal.note}.")
            if not removal.removed:
                first.append(lock.url)
        if first:
            removed = len(verdicts) - len(first)
            done = f"Removed {removed} other stale lock(s) alone; nothing" if removed else "Nothing"
            message = (
                "Someone else removed or is removing the stale lock(s) first (another recovery, "
                f"most likely): it repairs the stack. {done} else was changed here; run "
                f"`make recover STACK={shlex.quote(self.stack)}` again after it if the stack "
                "still needs it."
            )
            self.out(message)
            if self.environ.get("GITHUB_ACTIONS") == "true":
                self.out(f"::error title=Stack {self.stack} is being recovered::{_escape(message)}")
            return False
        self.out(f"Removed {len(verdicts)} stale lock(s), each alone: no other lock was touched.")
        return True

    def _cancel_every_lock(self, why: str) -> bool:
        """The backend's locks cannot be removed one at a time here: only `pulumi cancel` is
        left, which deletes every lock of the stack, one that a run takes between this
        judgement and the cancel included. A person's `--force` only."""
        stack = shlex.quote(self.stack)
        self.out(
            f"These locks cannot be removed one by one here ({why}). The only way left is "
            f"`pulumi cancel --stack {stack}`, which deletes every lock of the stack, including "
            "one that a run takes between this check and the cancel."
        )
        if not self.force:
            message = (
                "Nothing was changed. If no run can start meanwhile (pause the deploy pipeline), "
                f"run `make recover STACK={stack} FORCE=1` "
                f"(`python -m provider.recover --stack {stack} --force`) to do that."
            )
            self.out(message)
            if self.environ.get("GITHUB_ACTIONS") == "true":
                self.out(f"::error title=Stack {self.stack} is locked::{_escape(message)}")
            return False
        cancel = self._cli("cancel", "--yes", "--stack", self.stack)
        if not cancel.ok:
            raise RecoveryError(f"`pulumi cancel` failed:\n{cancel.tail()}")
        self.out(f"--force: removed the stale lock(s) with `pulumi cancel --stack {stack}`.")
        return True

    def _break_cloud_lock(self) -> bool:
        self.out(
            "Lock: Pulumi Cloud reports an update in progress; the service records no host or "
            "pid to tell a dead run from a live one (the stack's page on app.pulumi.com shows it)."
        )
        if not self.force:
            self._refuse([])
            return False
        cancel = self._cli("cancel", "--yes", "--stack", self.stack)
        if not cancel.ok:
            raise RecoveryError(f"`pulumi cancel` failed:\n{cancel.tail()}")
        self.out("--force: cancelled that update with `pulumi cancel`.")
        return True

    def _refuse(self, alive: list[StackLock]) -> None:
        stack = shlex.quote(self.stack)
        here = [lock for lock in alive if lock.host == self.hostname]
        if here:
            pids = ", ".join(str(lock.pid) for lock in here)
            advice = (
                f"wait for it to finish (pid {pids}), or stop it with one Ctrl-C "
                f"(`kill -INT {pids}`: it then releases the lock itself), and run "
                f"`make recover STACK={stack}` again"
            )
        else:
            advice = (
                "wait for that run to finish; if you know it is gone (cancelled, runner lost: "
                f"check its job), run `make recover STACK={stack} FORCE=1` "
                f"(`python -m provider.recover --stack {stack} --force`)"
            )
        message = (
            f"The stack is locked by a run that may still be alive: nothing was changed; {advice}."
        )
        self.out(message)
        if self.environ.get("GITHUB_ACTIONS") == "true":
            self.out(f"::error title=Stack {self.stack} is locked::{_escape(message)}")

    # -- useapi.net -----------------------------------------------------------------------

    def _live_accounts(self, stack_file: StackFile) -> dict[str, Account] | None:
        """Every account useapi.net has (one GET), or None with a note when it cannot be read:
        the refresh has read the accounts in state already; this adds the ones it cannot see."""
        environ = dict(self.environ)
        if is_secure(stack_file.value(TOKEN.key)) and not environ.get(TOKEN.env, "").strip():
            token = self._cli("config", "get", TOKEN.key, "--stack", self.stack)
            if token.ok and token.stdout.strip():
                environ[TOKEN.env] = token.stdout.strip()
        try:
            settings, _notes = tool_settings(stack_file, self.stack, environ)
            client = UseapiClient(settings)
            try:
                return client.list_accounts()
            finally:
                client.close()
        except (SettingsError, UseapiError) as exc:
            self.out(f"note: useapi.net's account list could not be read ({exc}).")
            return None


def _user() -> str:
    """Who runs the recovery, for the record of a cleared lock."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no USER variable and no password entry (a bare container)
        return "unknown"


def _inventory(stack_file: StackFile) -> dict[str, int | None]:
    inventory: dict[str, int | None] = {}
    for email, entry in stack_file.accounts().items():
        jobs = entry.get("maxJobs") if isinstance(entry, Mapping) else None
        valid = isinstance(jobs, int) and not isinstance(jobs, bool)
        inventory[str(email)] = jobs if valid else None
    return inventory


def _escape(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
