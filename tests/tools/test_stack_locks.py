"""How a stale lock is told from a live one, and how the CLI's lock listing is read.

The listing is the text `pulumi up` printed here after a SIGKILL (file backend, CLI 3.260.0);
the rule is `provider.tools.stack_locks.judge`. The real CLI's side (a live `up` is never
broken, a dead one's lock is) is in tests/acceptance/test_interrupted_deploys.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest

from provider.tools.stack_locks import (
    CLOCK_SKEW,
    DEFAULT_MAX_RUN,
    ProcessInfo,
    StackLock,
    judge,
    local_process,
    parse_lock_failure,
)

pytestmark = pytest.mark.timeout(20)

NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
LOCKED_TEXT = (
    "error: the stack is currently locked by 2 lock(s). Either wait for the other "
    "process(es) to end or delete the lock file with `pulumi cancel`.\n"
    "  file:///tmp/s/.pulumi/locks/organization/pixverse-accounts/prod/94f0.json?no_tmp_dir=true:"
    " created by root@vm (pid 3027) at 2026-12-01T02:58:00Z\n"
    "  s3://bucket/pixverse/.pulumi/locks/organization/pixverse-accounts/prod/1b2c.json:"
    " created by CORP\\ann@fv-az12-34 (pid 2211) at 2026-12-01T03:40:00+01:00\n"
)


def lock(host: str = "vm", pid: int = 3027, minutes_ago: float = 2) -> StackLock:
    return StackLock("file:///x.json", "root", host, pid, NOW - timedelta(minutes=minutes_ago))


def running(started_minutes_ago: float = 3, command: str = "pulumi up --yes") -> ProcessInfo:
    return ProcessInfo(True, NOW - timedelta(minutes=started_minutes_ago), command)


def test_the_cli_listing_gives_each_lock_with_its_owner_pid_and_time() -> None:
    failure = parse_lock_failure(LOCKED_TEXT)
    assert failure is not None and not failure.cloud and failure.unreadable is None
    first, second = failure.locks
    assert (first.user, first.host, first.pid) == ("root", "vm", 3027)
    assert first.created == datetime(2026, 12, 1, 2, 58, tzinfo=UTC)
    assert first.url.startswith("file:///tmp/s/.pulumi/locks/")
    assert (second.user, second.host, second.pid) == ("CORP\\ann", "fv-az12-34", 2211)
    assert second.created == datetime(2026, 12, 1, 2, 40, tzinfo=UTC)  # +01:00 read


def test_other_failures_are_not_locks_and_cloud_conflicts_have_no_owner() -> None:
    assert parse_lock_failure("error: update failed: 1 error occurred") is None
    cloud = parse_lock_failure("error: [409] Conflict: Another update is currently in progress.")
    assert cloud is not None and cloud.cloud and cloud.locks == []
    garbled = parse_lock_failure(LOCKED_TEXT.replace("(pid 3027)", "(pid ?)"))
    assert garbled is not None and garbled.unreadable and len(garbled.locks) == 1


@pytest.mark.parametrize(
    ("info", "stale"),
    [
        (ProcessInfo(running=False), True),  # the CLI is gone
        (running(started_minutes_ago=3), False),  # that pulumi is still running
        (running(started_minutes_ago=600), False),  # however old: it is running
        (running(started_minutes_ago=1), True),  # started after the lock: pid reused
        (running(command="/usr/bin/python3 worker.py"), True),  # reused by another program
        (ProcessInfo(running=True), False),  # exists, nothing else known: the safe side
    ],
    ids=["not-running", "running", "running-for-hours", "reused-later", "reused-other", "opaque"],
)
def test_a_lock_from_this_host_is_stale_exactly_when_its_pulumi_is_not_running(
    info: ProcessInfo, stale: bool
) -> None:
    verdict = judge(lock(minutes_ago=2), NOW, hostname="vm", process=lambda _pid: info)
    assert verdict.stale is stale, verdict.reason
    forced = judge(lock(minutes_ago=2), NOW, hostname="vm", process=lambda _pid: info, force=True)
    assert forced.stale is stale, "--force must never break a pulumi running on this host"


PULUMI_BIN = "/work/app/.tools/bin/pulumi"
# Every command that takes the stack's lock, as /proc/<pid>/cmdline shows the CLI that wrote it:
# the deploy pipeline's `up`, a person's `refresh` or `destroy`, the recovery's own refresh, the
# flags before the command as some wrappers put them, the Automation API's argv.
WRITERS = {
    "up": f"{PULUMI_BIN} up --yes --skip-preview --non-interactive",
    "refresh": f"{PULUMI_BIN} refresh --yes --skip-preview --json --non-interactive",
    "destroy": f"{PULUMI_BIN} destroy --yes --skip-preview --non-interactive",
    "flags-first up": f"{PULUMI_BIN} --non-interactive up --yes",
    "recovery's refresh": "pulumi refresh --clear-pending-creates --yes --skip-preview "
    "--stack prod --non-interactive",
    "stack import": f"{PULUMI_BIN} stack import --file state.json",
    "automation api": "/usr/local/bin/pulumi up --yes --skip-preview --stack org/prod "
    "--non-interactive --color never --json --exec-kind auto.local",
}


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_every_kind_of_live_pulumi_run_on_this_host_is_alive(writer: str) -> None:
    """Whatever the command, a running pulumi that wrote the lock holds it: judging only
    `pulumi up` alive would break a live refresh's or destroy's lock (and --force too)."""
    info = running(started_minutes_ago=3, command=WRITERS[writer])
    for force in (False, True):
        verdict = judge(
            lock(minutes_ago=2), NOW, hostname="vm", process=lambda _p: info, force=force
        )
        assert not verdict.stale, verdict.reason
        assert verdict.reason == "pulumi (pid 3027) is still running on this host"


@pytest.mark.parametrize(
    ("minutes_ago", "stale"),
    [
        (-3, False),  # the other host's clock is ahead
        (1, False),
        (DEFAULT_MAX_RUN / timedelta(minutes=1), False),  # a run at its very timeout
        ((DEFAULT_MAX_RUN + CLOCK_SKEW) / timedelta(minutes=1) - 0.1, False),
        ((DEFAULT_MAX_RUN + CLOCK_SKEW) / timedelta(minutes=1) + 0.1, True),
        (60 * 24 * 3, True),
    ],
)
def test_a_lock_from_another_host_is_stale_only_when_older_than_any_deploy_runs(
    minutes_ago: float, stale: bool
) -> None:
    def never_asked(_pid: int) -> ProcessInfo:
        raise AssertionError("another host's pid means nothing here")

    verdict = judge(
        lock("fv-az12-34", minutes_ago=minutes_ago), NOW, hostname="vm", process=never_asked
    )
    assert verdict.stale is stale, verdict.reason
    forced = judge(lock("fv-az12-34", minutes_ago=minutes_ago), NOW, hostname="vm", force=True)
    assert forced.stale, "--force: a person says that run is gone"


def test_the_bound_follows_the_deploy_jobs_timeout() -> None:
    young = lock("fv-az12-34", minutes_ago=20)
    assert not judge(young, NOW, max_run=timedelta(minutes=30), hostname="vm").stale
    assert judge(young, NOW, max_run=timedelta(minutes=10), hostname="vm").stale


def test_this_hosts_processes_are_read_from_the_system() -> None:
    """The probe the rule relies on: this process is running pulumi-less python, started
    before now; a child that has exited is not running."""
    me = local_process(os.getpid())
    assert me.running and me.command is not None and "python" in me.command
    assert me.started is not None
    assert datetime.now(UTC) - timedelta(hours=1) < me.started <= datetime.now(UTC)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=10)
    time.sleep(0.05)
    assert not local_process(child.pid).running
    assert not local_process(-1).running
