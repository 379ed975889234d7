"""Deploys cut off half-way, through the real CLI: what each leaves, and that the documented
recovery and one `pulumi up` converge.

Each try declares a new fleet (so the run creates five accounts and deletes the previous
five), starts `pulumi up` with the emulator answering in 0.4 s, and cuts it off at a kill point
timed from what the emulator has seen: `before-first-post` (POSTs sent, none applied),
`mid-fleet` (the first wave applied), `after-last-post` (every POST applied: the deletes are
running, or the run is finishing). Then the repair docs/interrupted-deploys.md gives for that
interruption, one `up`, and `DeployLab.assert_converged`: useapi.net and the state hold exactly
the fleet with its maxJobs and passwords, nothing pending, no lock, `preview --expect-no-changes`
passes.

`make test` keeps to its time budget: each SIGKILL kill point once, one SIGINT and one SIGTERM
at a kill point picked at random, one rename cut at a random one of its two cuts.
PIXVERSE_INTERRUPT_SECONDS=N makes each of these tests loop over all its kill points for N
seconds (a soak). The run's summary says how many tries each ran.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.cli_support import PULUMI, SKIP_REASON, CliProject
from tests.support.helpers import PASSWORD_SENTINEL, TOKEN_SENTINEL
from tests.support.interrupt_support import (
    FLEET_SIZE,
    LATENCY,
    DeployLab,
    RunningUp,
    budgeted,
    make_fleet,
    wait_until,
)
from useapi_emulator import UseapiEmulator
from useapi_emulator.server import Fault

pytestmark = [pytest.mark.cli, pytest.mark.skipif(PULUMI is None, reason=SKIP_REASON)]

KILL_POINTS = ["before-first-post", "mid-fleet", "after-last-post"]
HOST_GONE_WITHIN = 6.0  # seconds after the CLI's SIGKILL (the host's watcher needs about 1.5)


@pytest.fixture(scope="module")
def lab_emulator() -> Iterator[UseapiEmulator]:
    with UseapiEmulator(token=TOKEN_SENTINEL) as emu:
        yield emu


@pytest.fixture(scope="module")
def shared_lab(
    tmp_path_factory: pytest.TempPathFactory, lab_emulator: UseapiEmulator
) -> Iterator[DeployLab]:
    """One stack for the module, converged on a first fleet: each try starts from there."""
    cli = CliProject(tmp_path_factory.mktemp("interrupted") / "project", lab_emulator)
    lab = DeployLab(cli, lab_emulator)
    try:
        cli.init()
        first = make_fleet("start")
        lab.declare(first)
        cli.up()
        yield lab
    finally:
        lab.sweep()


@pytest.fixture
def lab(shared_lab: DeployLab) -> Iterator[DeployLab]:
    """The shared stack; whatever a test started is killed when it ends, even on failure."""
    yield shared_lab
    shared_lab.emulator.latency = 0.0
    shared_lab.emulator.clear_faults()
    shared_lab.sweep()


def cut_off(lab: DeployLab, tag: str, point: str, sig: signal.Signals) -> tuple[RunningUp, int]:
    """Declare a new fleet, start `up`, send `sig` to the CLI at `point`; the CLI's exit."""
    fleet = make_fleet(tag)
    lab.declare(fleet)
    lab.emulator.reset_calls()
    lab.emulator.latency = LATENCY
    run = lab.start_up()
    lab.wait_for_kill_point(point, FLEET_SIZE)
    os.kill(run.pid, sig)
    return run, run.process.wait(timeout=60)


def hosts_gone(lab: DeployLab, within: float) -> float:
    return wait_until(lambda: not lab.provider_hosts(), within, "the provider host to end")


@pytest.mark.timeout(150)
def test_sigkill_of_the_cli_then_make_recover_and_one_up_converge(lab: DeployLab) -> None:
    """A runner that vanished: the lock and the started creates stay behind, and without the
    host's watcher the provider host would run on; `make recover` repairs the rest."""
    for n, point in enumerate(budgeted("SIGKILL of the CLI", KILL_POINTS, seconds=0)):
        fleet = make_fleet(f"kill{n}")
        run, status = cut_off(lab, f"kill{n}", point, signal.SIGKILL)
        assert status == -signal.SIGKILL
        gone_after = hosts_gone(lab, within=HOST_GONE_WITHIN)
        print(f"{point}: provider host ended {gone_after:.2f}s after the CLI's SIGKILL")
        lab.sweep()  # the language host: it checks its engine only every five minutes
        lab.emulator.latency = 0.0
        pending = [name for kind, name in lab.pending() if kind == "creating" and "@" in name]
        if n == 0:
            done = lab.make_recover()
            assert done.returncode == 0, done.stdout + done.stderr
            text = done.stdout
        else:
            code, text = lab.recover()
            assert code == 0, text
        if lab.lock_files() == [] and "stale" in text:
            assert "Removed 1 stale lock(s), each alone" in text
        assert "MAY BE ALIVE" not in text
        assert PASSWORD_SENTINEL not in text and TOKEN_SENTINEL not in text
        for name in pending:
            assert f"{name}: pending create (cut off); dropped the pending create" in text
        assert lab.pending() == []
        lab.cli.up()
        lab.assert_converged(fleet)
        assert run.pid not in lab.processes()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_one_sigint_or_sigterm_leaves_nothing_behind_and_one_up_converges(
    lab: DeployLab, sig: signal.Signals
) -> None:
    """The CLI's graceful cancel: in-flight calls finish, nothing is pending, the lock is
    released and the plugins are closed; the next plain `up` converges."""
    tries = budgeted(f"{sig.name} of the CLI", KILL_POINTS, seconds=0, at_least=2)
    for n, point in enumerate(tries):
        fleet = make_fleet(f"{sig.name.lower()}{n}")
        run, status = cut_off(lab, f"{sig.name.lower()}{n}", point, sig)
        if status != 0:
            assert "canceled" in run.output().lower() or "cancel" in run.output().lower()
        assert lab.lock_files() == [], run.output()
        assert lab.pending() == []
        hosts_gone(lab, within=HOST_GONE_WITHIN)
        lab.emulator.latency = 0.0
        lab.cli.up()
        lab.assert_converged(fleet)


@pytest.mark.timeout(120)
def test_a_killed_provider_host_fails_the_run_and_one_up_converges(lab: DeployLab) -> None:
    fleet = make_fleet("hostkill")
    lab.declare(fleet)
    lab.emulator.reset_calls()
    lab.emulator.latency = LATENCY
    run = lab.start_up()
    wait_until(lambda: lab.emulator.arrived("POST") > 0, 60, "the first POST")
    (host,) = lab.provider_hosts()
    os.killpg(os.getpgid(host), signal.SIGKILL)
    assert run.process.wait(timeout=60) != 0
    assert lab.lock_files() == [] and lab.pending() == []
    lab.emulator.latency = 0.0
    lab.cli.up()
    lab.assert_converged(fleet)


@pytest.mark.timeout(120)
def test_while_a_deploy_runs_a_second_up_and_recover_are_refused_and_change_nothing(
    lab: DeployLab,
) -> None:
    """Two `up`s of one stack: the second stops at the lock before starting any provider, so
    every account is POSTed once, by the first. Recovery run meanwhile sees a lock whose pid
    is a running pulumi on this host: it says so and changes nothing, and the first run
    completes as if nobody had looked."""
    fleet = make_fleet("twice")
    lab.declare(fleet)
    lab.emulator.reset_calls()
    lab.emulator.latency = 0.8
    first = lab.start_up()
    wait_until(lambda: lab.emulator.arrived("POST") > 0, 60, "the first run's first POST")
    locks = lab.lock_files()
    second = lab.cli.up(check=False)
    assert second.returncode != 0
    assert "the stack is currently locked by 1 lock(s)" in second.text
    code, text = lab.recover()
    assert code == 3, text
    assert f"pulumi (pid {first.pid}) is still running on this host" in text
    assert "MAY BE ALIVE" in text and "nothing was changed" in text
    assert lab.lock_files() == locks
    # --force is a person's word that another host's run is gone: never a pulumi running here
    forced = lab.make_recover("FORCE=1")
    assert forced.returncode == 2 and "recover] Error 3" in forced.stderr, forced.stdout
    assert f"pulumi (pid {first.pid}) is still running on this host" in forced.stdout
    assert lab.lock_files() == locks
    assert first.process.wait(timeout=60) == 0, first.output()
    posts = sorted(r.email or "" for r in lab.emulator.calls("POST"))
    assert posts == sorted(fleet.accounts), "each account POSTed once, by the first run only"
    assert lab.emulator.arrived("POST") == FLEET_SIZE
    lab.emulator.latency = 0.0
    lab.assert_converged(fleet)


# Every command that writes state takes the lock; each is judged by its process, not its name.
# (A live `up` is the test above; every command line's form, flags first included, is judged in
# tests/tools/test_stack_locks.py.)
WRITERS = {
    "refresh": ["refresh", "--yes", "--skip-preview", "--non-interactive"],
    "destroy": ["destroy", "--yes", "--skip-preview", "--non-interactive"],
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_recovery_judges_every_kind_of_live_pulumi_run_alive(lab: DeployLab, writer: str) -> None:
    """A live `refresh` or `destroy` holds its lock as an `up` does: recovery refuses,
    --force too, and the run completes."""
    fleet = make_fleet(f"w{writer[:3]}", size=2)
    lab.declare(fleet)
    lab.cli.up()  # so that the refresh reads, and the destroy deletes, this fleet
    lab.emulator.latency = 2.5  # one wave of calls outlasts the recovery's two CLI runs
    lab.emulator.reset_calls()
    run = subprocess.Popen(
        [lab.cli.pulumi, *WRITERS[writer]],
        cwd=lab.cli.root,
        env=lab.cli.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    wait_until(lambda: lab.emulator.arrived() > 0, 60, f"the live {writer}'s first call")
    locks = lab.lock_files()
    assert len(locks) == 1
    forced = lab.make_recover("FORCE=1")
    assert forced.returncode == 2 and "recover] Error 3" in forced.stderr, forced.stdout
    assert f"pulumi (pid {run.pid}) is still running on this host" in forced.stdout
    assert lab.lock_files() == locks
    assert run.wait(timeout=60) == 0
    lab.emulator.latency = 0.0
    if writer == "destroy":
        lab.cli.up()
    lab.assert_converged(fleet)


def write_lock(lab: DeployLab, host: str, age: timedelta, pid: int = 4242) -> Path:
    """A lock as another machine's CLI writes it (pkg/backend/diy/lock.go)."""
    folder = lab.cli.state_dir / ".pulumi" / "locks" / "organization" / "pixverse-accounts"
    path = folder / lab.cli.stack / f"{uuid.uuid4()}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    created = (datetime.now(UTC) - age).isoformat().replace("+00:00", "Z")
    record = {"pid": pid, "username": "runner", "hostname": host, "timestamp": created}
    path.write_text(json.dumps(record))
    return path


@pytest.mark.timeout(120)
def test_a_lock_from_another_host_is_broken_only_once_no_deploy_can_still_hold_it(
    lab: DeployLab,
) -> None:
    other = f"not-{socket.gethostname()}"
    young = write_lock(lab, other, timedelta(minutes=3))
    code, text = lab.recover()
    assert code == 3, text
    assert "MAY BE ALIVE" in text and "make recover STACK=clitest FORCE=1" in text
    assert young.exists()
    young.unlink()
    old = write_lock(lab, other, timedelta(minutes=36))  # the job's 30-minute timeout + 5 + 1
    code, text = lab.recover()
    assert code == 0, text
    assert f"runner@{other}" in text and "stale: written on" in text
    assert not old.exists() and lab.lock_files() == []


STRACE = shutil.which("strace")


@pytest.mark.timeout(120)
def test_a_checkpoint_whose_attributes_file_a_kill_tore_is_repaired_by_the_recovery(
    lab: DeployLab,
) -> None:
    """The file backend (gocloud.dev's fileblob) renames each checkpoint into place, but
    rewrites the `.attrs` file beside it in place: open with O_TRUNC, then write. A CLI killed
    between the two leaves it empty, and every command then stops with "failed to load
    checkpoint: EOF" (seen once under load after SIGKILL-then-recover). That instant lasts
    microseconds; strace widens it (the CLI's first write to that file waits 5 s on entry,
    nothing else changes) and the real `pulumi up` is SIGKILLed in it. Where strace is not
    installed the file is left as that kill leaves it, by hand."""
    fleet = make_fleet("torn", size=2)
    lab.declare(fleet)
    folder = lab.cli.state_dir / ".pulumi" / "stacks" / "pixverse-accounts"
    attrs = folder / "clitest.json.attrs"
    assert "user.content_type" in json.loads(attrs.read_text())  # what fileblob keeps there
    if STRACE is None:
        attrs.write_bytes(b"")
    else:
        up = [lab.cli.pulumi, "up", "--yes", "--skip-preview", "--non-interactive"]
        delay = ["-e", "trace=write", "-e", "inject=write:delay_enter=5000000"]
        widened = subprocess.Popen(
            [STRACE, "-f", "--seccomp-bpf", "-o", os.devnull, "-P", str(attrs), *delay, *up],
            cwd=lab.cli.root,
            env=lab.cli.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            wait_until(lambda: attrs.stat().st_size == 0, 60, "the CLI to truncate .attrs")
        finally:
            os.killpg(widened.pid, signal.SIGKILL)  # strace and the CLI it runs
            widened.wait(timeout=30)
        lab.sweep()
        assert attrs.stat().st_size == 0

    refused = lab.cli.run("stack", "export", check=False)
    assert refused.returncode != 0 and "failed to load checkpoint: EOF" in refused.text

    code, text = lab.recover()

    assert code == 0, text
    assert "clitest.json.attrs was torn" in text and "clitest.json itself is whole" in text
    lab.cli.up()
    lab.assert_converged(fleet)


@pytest.mark.timeout(120)
def test_a_checkpoint_caught_while_a_live_run_saves_it_is_read_again_not_repaired(
    lab: DeployLab,
) -> None:
    """What a recovery beside a live deploy met once in make test: its refresh read the
    checkpoint in the instant the live run was rewriting the `.attrs` file ("failed to load
    checkpoint: EOF"). The file is empty here until the recovery says it reads again, as the
    live run's write would fill it: the recovery reads again and repairs nothing."""
    fleet = make_fleet("midsave")
    lab.declare(fleet)
    lab.cli.up()
    folder = lab.cli.state_dir / ".pulumi" / "stacks" / "pixverse-accounts"
    attrs = folder / "clitest.json.attrs"
    whole = attrs.read_bytes()
    attrs.write_bytes(b"")

    def heard(line: str) -> None:
        if line.startswith("note: `pulumi stack export` could not load the checkpoint"):
            attrs.write_bytes(whole)  # the live run's save completes

    code, text = lab.recover(heard=heard)

    assert code == 0, text
    assert "failed to load checkpoint: EOF); reading it again in 0.2 s" in text
    assert "was torn" not in text and "does not load" not in text
    lab.assert_converged(fleet)


PROGRAM_WITH_ONE_NAMED_ACCOUNT = '''
"""One account under a fixed resource name: a new email replaces it (delete, then create)."""
import pulumi
from provider import PixVerseAccount

config = pulumi.Config()
((email, entry),) = config.require_object("accounts").items()
password = config.require_secret_object("passwords").apply(lambda p: p[email])
PixVerseAccount("the-account", email=email, password=password, max_jobs=entry["maxJobs"])
'''


@pytest.fixture
def rename_lab(tmp_path: Path, emulator: UseapiEmulator) -> Iterator[DeployLab]:
    cli = CliProject(tmp_path / "project", emulator, program=PROGRAM_WITH_ONE_NAMED_ACCOUNT)
    lab = DeployLab(cli, emulator)
    try:
        cli.init()
        yield lab
    finally:
        lab.sweep()


RENAME_POINTS = ["delete-applied-answer-pending", "create-in-flight"]


@pytest.mark.timeout(150)
def test_a_rename_cut_between_its_delete_and_its_create_recovers(rename_lab: DeployLab) -> None:
    """Email changed on one resource: the engine deletes the old account, then creates the new
    one. SIGKILL between the two halves: with the DELETE made on useapi.net but its answer not
    yet back (the engine never learns it succeeded), or with the create's POST in flight."""
    lab = rename_lab
    fleet = make_fleet("rename0", size=1)
    lab.declare(fleet)
    lab.cli.up()
    points = budgeted("SIGKILL mid-rename", RENAME_POINTS, seconds=0, at_least=2)
    for n, point in enumerate(points):
        fleet = make_fleet(f"rename{n + 1}", size=1)
        lab.declare(fleet)
        lab.emulator.reset_calls()
        if point == "delete-applied-answer-pending":
            lab.emulator.inject("DELETE", Fault(answer_after=1.5))
        else:
            lab.emulator.delay_next("POST", 1.5)  # the create's POST lands after the kill
        run = lab.start_up()
        wait_until(lambda: lab.emulator.calls("DELETE") != [], 60, "the old account's DELETE")
        if point == "create-in-flight":
            wait_until(lambda: lab.emulator.arrived("POST") > 0, 60, "the create's POST")
        time.sleep(random.uniform(0, 0.3))  # noqa: S311 - a kill time, not a secret
        assert lab.applied_posts() == 0
        os.kill(run.pid, signal.SIGKILL)
        run.process.wait(timeout=60)
        hosts_gone(lab, within=HOST_GONE_WITHIN)
        lab.sweep()
        code, text = lab.recover()
        assert code == 0, text
        old = f"rename{n}-0@example.com"
        if point == "create-in-flight":
            assert f"{old}: deleted by a replacement that was cut off before its create" in text
        else:
            assert f"{old}: pending delete (cut off)" in text
            assert "gone from useapi.net: dropped from state" in text
        lab.cli.up()
        lab.assert_converged(fleet)
        print(f"{point}:\n{text}")


def test_recover_needs_a_stack_name() -> None:
    done = subprocess.run(
        ["make", "--no-print-directory", "recover"],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "usage: make recover STACK=<stack>" in done.stdout
