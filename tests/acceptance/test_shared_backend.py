"""A team's shared stack on a real object store, through the real CLI.

The backend is `s3://<bucket>/pixverse?endpoint=http://127.0.0.1:PORT&use_path_style=true&
region=us-east-1` on versitygw (tests/support/object_store.py: a real S3 server over a folder,
one per test worker, a bucket per test), the URL form docs/pipeline.md gives for S3-compatible
stores. Two working copies are two project directories with their own PULUMI_HOME, sharing the
committed stack file, as two clones of the repository on two machines do. "Another machine" is
a UTS namespace with a host name of its own (`as_host`): the CLI run there writes that name into
its lock, as a vanished runner's CLI did; no lock is ever written by hand here.

Each test ends converged (`DeployLab.assert_converged`: useapi.net and the state hold exactly
the inventory, nothing pending, no lock in the bucket, `preview --expect-no-changes` passes),
and with every object of the bucket, and every file the server keeps on its disk, free of the
passwords and the token.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli_support import PULUMI, SKIP_REASON, CliProject
from tests.support.helpers import PASSWORD_SENTINEL, TOKEN_SENTINEL, configure_by_hand
from tests.support.interrupt_support import (
    FLEET_SIZE,
    LATENCY,
    NAMESPACE_PREFIX,
    NO_NAMESPACE,
    DeployLab,
    Fleet,
    make_fleet,
    wait_until,
)
from tests.support.object_store import ObjectStore, S3Backend
from useapi_emulator import UseapiEmulator

pytestmark = [
    pytest.mark.cli,
    pytest.mark.s3,
    pytest.mark.skipif(PULUMI is None, reason=SKIP_REASON),
]
# A deploy "on another machine" runs in a UTS namespace (root, or unprivileged user namespaces).
needs_another_host = pytest.mark.skipif(NAMESPACE_PREFIX is None, reason=NO_NAMESPACE)

RUNNER = "gh-runner-7"  # the machine whose deploy is cut off
LOCKS = ".pulumi/locks/organization/pixverse-accounts/clitest/"
RECORDS = ".pixverse-recover/cleared-locks/organization/pixverse-accounts/clitest/"
# `make recover` settings that make a lock a few seconds old "older than any deploy runs": the
# deploy job's timeout (MAX_RUN, minutes) and the clock allowance (CLOCK_SKEW) a team sets.
OLD_AFTER = 3.0  # seconds
OLD = ("MAX_RUN=0.05", "CLOCK_SKEW=0")


@pytest.fixture
def shared(
    tmp_path: Path, emulator: UseapiEmulator, object_store: ObjectStore, bucket: str
) -> Iterator[S3Backend]:
    backend = S3Backend(object_store, bucket)
    yield backend
    assert_no_secret_in(backend, emulator)


def copy_of(tmp_path: Path, who: str, emulator: UseapiEmulator, backend: S3Backend) -> DeployLab:
    return DeployLab(CliProject(tmp_path / who / "project", emulator, backend=backend), emulator)


@pytest.fixture
def lab(tmp_path: Path, emulator: UseapiEmulator, shared: S3Backend) -> Iterator[DeployLab]:
    """One working copy on the shared stack, applied with a first fleet."""
    lab = copy_of(tmp_path, "alice", emulator, shared)
    try:
        lab.cli.init()
        lab.declare(make_fleet("start"))
        lab.cli.up()
        yield lab
    finally:
        lab.sweep()


def assert_no_secret_in(backend: S3Backend, emulator: UseapiEmulator) -> None:
    """Every object of the bucket (read through S3) and every file of the server's disk."""
    objects = backend.store.objects(backend.bucket)
    assert any(key.endswith("/clitest.json") for key in objects), sorted(objects)
    everything = backend.everything()
    for secret in (PASSWORD_SENTINEL, TOKEN_SENTINEL, emulator.token):
        assert secret not in everything, f"{secret} is stored in plaintext in the bucket"


def s3(lab: DeployLab) -> S3Backend:
    backend = lab.cli.backend
    assert isinstance(backend, S3Backend)
    return backend


def lock_age(backend: S3Backend, key: str) -> float:
    data = json.loads(backend.read(key.removeprefix(f"{backend.prefix}/")))
    written = time.mktime(time.strptime(data["timestamp"][:19], "%Y-%m-%dT%H:%M:%S"))
    return time.mktime(time.gmtime()) - written


@pytest.mark.timeout(240)
def test_two_working_copies_deploy_one_stack_the_second_waits_for_the_lock_then_applies(
    tmp_path: Path, emulator: UseapiEmulator, shared: S3Backend
) -> None:
    alice = copy_of(tmp_path, "alice", emulator, shared)
    bob = copy_of(tmp_path, "bob", emulator, shared)
    try:
        alice.cli.init()
        bob.cli.join(alice.cli)
        fleet = make_fleet("team", size=3)
        alice.declare(fleet)
        bob.cli.stack_file.write_text(alice.cli.stack_file.read_text())  # pulled from git
        emulator.latency = 0.8
        first = alice.start_up()
        wait_until(lambda: emulator.arrived("POST") > 0, 60, "alice's first POST")

        refused = bob.cli.up(check=False)

        assert refused.returncode != 0
        assert "the stack is currently locked by 1 lock(s)" in refused.text
        (lock,) = shared.locks()
        assert f"s3://{shared.bucket}/{lock}?endpoint=" in refused.text
        assert "created by" in refused.text and f"(pid {first.pid})" in refused.text
        assert first.process.wait(timeout=90) == 0, first.output()
        assert sorted(str(r.email) for r in emulator.calls("POST")) == sorted(fleet.accounts)

        emulator.latency = 0.0
        emulator.reset_calls()
        one = sorted(fleet.accounts)[0]
        changed = Fleet({**fleet.accounts, one: 8}, fleet.passwords)
        bob.declare(changed)
        applied = bob.cli.up()

        assert applied.summary()["updated"] == [one]
        assert [str(r.email) for r in emulator.calls("POST")] == [one]
        bob.assert_converged(changed)
        alice.cli.stack_file.write_text(bob.cli.stack_file.read_text())  # alice pulls
        alice.cli.preview("--expect-no-changes")
    finally:
        alice.sweep()
        bob.sweep()


def kill_a_deploy_on_another_host(lab: DeployLab, tag: str) -> tuple[Fleet, str]:
    """Declare a new fleet and SIGKILL its `up`, run on RUNNER, while a create's POST is in
    flight: the lock (written by RUNNER's CLI) and pending creates stay in the bucket. (Not
    "mid-fleet": a kill just after a wave is answered can find every started create recorded
    and the next not yet begun, which leaves no pending create.)"""
    fleet = make_fleet(tag)
    lab.declare(fleet)
    lab.emulator.reset_calls()
    lab.emulator.latency = LATENCY
    run = lab.start_up(host=RUNNER)
    lab.wait_for_kill_point("post-in-flight", FLEET_SIZE)
    os.kill(run.pid, signal.SIGKILL)
    assert run.process.wait(timeout=60) == -signal.SIGKILL
    wait_until(lambda: not lab.provider_hosts(), 10, "the killed run's provider host to end")
    lab.sweep()
    lab.emulator.latency = 0.0
    (lock,) = lab.lock_files()
    assert json.loads(lab.cli.backend.read(lock.removeprefix("pixverse/")))["hostname"] == RUNNER
    assert [kind for kind, _ in lab.pending()].count("creating") >= 1
    return fleet, lock


@needs_another_host
@pytest.mark.timeout(240)
def test_a_deploy_killed_on_another_host_is_refused_while_young_and_cleared_once_old(
    lab: DeployLab,
) -> None:
    fleet, lock = kill_a_deploy_on_another_host(lab, "gone")
    checkpoint = lab.cli.checkpoint()
    lab.emulator.reset_calls()

    young = lab.make_recover()

    # make's own status is 2 when a recipe fails; the recovery's (3: refused) is in its message
    assert young.returncode == 2 and "recover] Error 3" in young.stderr, young.stdout + young.stderr
    assert f"@{RUNNER}, pid " in young.stdout and "MAY BE ALIVE" in young.stdout
    assert "this host cannot see that process" in young.stdout
    assert "make recover STACK=clitest FORCE=1" in young.stdout
    assert lab.lock_files() == [lock] and lab.cli.checkpoint() == checkpoint
    assert lab.emulator.calls() == [], "a refused recovery calls nothing"

    wait_until(lambda: lock_age(s3(lab), lock) > OLD_AFTER, 10, "the lock to age")
    old = lab.make_recover(*OLD)

    assert old.returncode == 0, old.stdout + old.stderr
    assert f"stale: written on {RUNNER}" in old.stdout
    assert "removed (that object only; record: s3://" in old.stdout
    assert "Removed 1 stale lock(s), each alone" in old.stdout
    assert lab.pending() == [] and lab.lock_files() == []
    (record,) = s3(lab).store.keys(s3(lab).bucket, f"pixverse/{RECORDS}")
    assert record == lock.replace(LOCKS, RECORDS)
    kept = json.loads(lab.cli.backend.read(record.removeprefix("pixverse/")))
    assert kept["lock"]["host"] == RUNNER and kept["clearedBy"]["pid"] > 0
    lab.cli.up()
    lab.assert_converged(fleet)


@needs_another_host
@pytest.mark.timeout(240)
def test_two_recoveries_started_together_one_clears_the_stale_lock_the_other_says_so(
    lab: DeployLab,
) -> None:
    fleet, lock = kill_a_deploy_on_another_host(lab, "twice")
    wait_until(lambda: lock_age(s3(lab), lock) > OLD_AFTER, 10, "the lock to age")
    command = lab.make_recover_command(*OLD)
    both = [
        subprocess.Popen(
            command,
            cwd=lab.cli.root,
            env=lab.cli.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    texts = [process.communicate(timeout=150)[0] for process in both]
    codes = [
        3 if "recover] Error 3" in text else process.returncode
        for process, text in zip(both, texts, strict=True)
    ]
    lab.cli.transcript += texts

    assert sorted(codes) in ([0, 0], [0, 3], [3, 3]), texts
    assert sum(text.count("removed (that object only") for text in texts) == 1, texts
    for code, text in zip(codes, texts, strict=True):
        if code == 3:  # a clear refusal, having changed nothing else
            assert "Nothing else was changed" in text or "nothing was changed" in text, text
        assert "pulumi cancel" not in text.replace("not `pulumi cancel`", ""), text
    if lab.pending():  # both refused (each saw the other's refresh): one more, alone
        again = lab.make_recover()
        assert again.returncode == 0, again.stdout
    assert lab.pending() == [] and lab.lock_files() == []
    lab.cli.up()
    lab.assert_converged(fleet)


@pytest.mark.timeout(240)
def test_adopt_drift_the_live_report_and_recover_work_on_the_shared_stack(
    lab: DeployLab, emulator: UseapiEmulator
) -> None:
    cli = lab.cli
    start = make_fleet("start")
    configure_by_hand(emulator, {"byhand@example.com": 4})

    adopted = cli.tool("provider.adopt", "--stack", cli.stack, "--write")
    assert adopted.returncode == 0, adopted.stdout + adopted.stderr
    assert "byhand@example.com" in cli.stack_file.read_text()
    cli.set_secret("pixverse-accounts:passwords", "byhand@example.com", f"{PASSWORD_SENTINEL}-b")
    emulator.reset_calls()
    assert cli.up().summary()["created"] == ["byhand@example.com"]
    fleet = Fleet(
        {**start.accounts, "byhand@example.com": 4},
        {**start.passwords, "byhand@example.com": f"{PASSWORD_SENTINEL}-b"},
    )

    drifted = sorted(start.accounts)[0]
    emulator.oob_set_max_jobs(drifted, 1)
    preview, named = cli.drift_check()
    assert preview.returncode != 0
    assert named.returncode == 1, named.stdout + named.stderr
    assert [line for line in named.stdout.splitlines() if line.startswith("drift: ")] == [
        f"drift: {drifted}: maxJobs {start.accounts[drifted]}→1 (changed on useapi.net; "
        f"`pulumi up` sets it back to {start.accounts[drifted]})"
    ]
    assert cli.up("--refresh").summary()["updated"] == [drifted]  # as the deploy job runs it

    outputs = cli.run("stack", "output", "--json").stdout
    report = cli.tool("provider.report", "--stack", cli.stack, stdin=outputs)
    assert report.returncode == 0, report.stderr
    assert "| byhand@example.com |" in report.stdout
    assert "**Running now:** 0 jobs." in report.stdout

    recovered = cli.tool("provider.recover", "--stack", cli.stack, "--no-plan")
    assert recovered.returncode == 0, recovered.stdout + recovered.stderr
    assert (
        "Lock: none" in recovered.stdout
        and "Done: no lock, no pending operation" in recovered.stdout
    )
    for done in (adopted, named, report, recovered):  # what the tools printed
        for text in (done.stdout, done.stderr):
            assert PASSWORD_SENTINEL not in text and emulator.token not in text
    lab.assert_converged(fleet)
