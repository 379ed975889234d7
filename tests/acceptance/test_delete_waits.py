"""No running job is cut off, through the real `pulumi up`: an account removed from the
inventory while jobs run on it is deleted only once they have ended; one whose jobs outlast
`useapi:drainTimeout` fails the `up`, naming it and its jobs, and stays on useapi.net and in
the stack's state until a later `up` finds it idle."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli_support import PASSWORDS_KEY, CliProject
from useapi_emulator import UseapiEmulator

pytestmark = pytest.mark.cli

OPS, RENDER, BATCH = "ops@example.com", "render@example.com", "batch@example.com"
SCHEDULER_PATH = "/v2/pixverse/scheduler/available"
DRAIN_TIMEOUT = 2
LOOKS_BEFORE_THE_JOBS_END = 3


@pytest.fixture
def project(tmp_path: Path, emulator: UseapiEmulator) -> Iterator[CliProject]:
    cli = CliProject(tmp_path / "project", emulator)
    # Short waits for a test; a real stack keeps the defaults (600 s, looking every 10 s).
    cli.init(**{"useapi:drainTimeout": str(DRAIN_TIMEOUT), "useapi:drainPollInterval": "0.2"})
    yield cli
    emulator.finish_jobs()
    cli.cleanup()


def _end_jobs_once_the_delete_waits(emulator: UseapiEmulator, email: str) -> threading.Thread:
    """Ends the account's jobs once the provider has looked at them a few times: the jobs
    then surely ran while its delete waited, however long the engine took to get there."""

    def end() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            looks = [r for r in emulator.calls("GET") if r.path == SCHEDULER_PATH]
            if len(looks) >= LOOKS_BEFORE_THE_JOBS_END:
                emulator.finish_jobs(email)
                return
            time.sleep(0.05)

    thread = threading.Thread(target=end, daemon=True)
    thread.start()
    return thread


def _remove(project: CliProject, *emails: str) -> None:
    kept = {OPS: 3, RENDER: 5, BATCH: 2}
    for email in emails:
        kept.pop(email)
        project.remove_secret(PASSWORDS_KEY, email)
    project.set_accounts(kept)


@pytest.mark.timeout(180)
def test_a_removed_account_is_deleted_once_its_jobs_end_and_one_still_busy_survives_the_up(
    project: CliProject, emulator: UseapiEmulator
) -> None:
    project.seed({OPS: 3, RENDER: 5, BATCH: 2})
    project.up()
    emulator.start_jobs(RENDER, 2, seconds=600)  # ended by the thread below, while waited for
    (long_job,) = emulator.start_jobs(BATCH, 1, seconds=600)  # outlasts drainTimeout
    _remove(project, RENDER, BATCH)
    emulator.reset_calls()
    ender = _end_jobs_once_the_delete_waits(emulator, RENDER)

    failed = project.up(check=False)
    ender.join(timeout=5)

    # render: waited for, then deleted; batch: not deleted, and the up says why.
    assert failed.returncode != 0
    assert failed.summary()["deleted"] == [RENDER]
    assert emulator.cut_off == []
    assert (
        f"not deleting {BATCH}: 1 job(s) still running on it, after waiting "
        f"{DRAIN_TIMEOUT}s (`useapi:drainTimeout`): {long_job}" in failed.text
    )
    assert sorted(emulator.accounts) == [BATCH, OPS]
    assert project.state_accounts() == [BATCH, OPS]
    calls = [(r.method, r.path) for r in emulator.calls()]
    assert ("DELETE", f"/v2/pixverse/accounts/{BATCH}") not in calls
    render_deleted = calls.index(("DELETE", f"/v2/pixverse/accounts/{RENDER}"))
    assert calls[:render_deleted].count(("GET", SCHEDULER_PATH)) > LOOKS_BEFORE_THE_JOBS_END

    # Once batch's job has ended, the next up deletes it.
    emulator.finish_jobs(BATCH)
    retried = project.up()
    assert retried.summary()["deleted"] == [BATCH]
    assert sorted(emulator.accounts) == [OPS] and project.state_accounts() == [OPS]
    assert emulator.cut_off == []
