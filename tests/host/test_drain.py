"""No running job is cut off: a delete, through the SDK's provider host as the engine sends it,
first waits for the account's running jobs (`GET /scheduler/available`), and past
`useapi:drainTimeout` fails naming the account and its jobs without sending the DELETE.
The timing rules themselves (poll interval, never sleeping past the deadline) are checked on
`drain.wait_for_jobs` with a fake clock."""

from __future__ import annotations

import time
from typing import Any

import pytest

from harness import ProviderHost, ProviderHostError
from provider.host import drain
from provider.host.useapi.scheduler import AccountLoad, Job, Scheduler
from tests.conftest import HostFactory, stack_config
from tests.support.helpers import PASSWORD_SENTINEL, TOKEN_SENTINEL, account_inputs
from useapi_emulator import Fault, UseapiEmulator, Variants

OPS, RENDER = "ops@example.com", "render@example.com"
SCHEDULER_PATH = "/v2/pixverse/scheduler/available"
POLL = "0.1"


def _host(start_host: HostFactory, emulator: UseapiEmulator, timeout: str) -> ProviderHost:
    settings = {
        "useapi:drainTimeout": timeout,
        "useapi:drainPollInterval": POLL,
        "useapi:maxRetries": "1",  # one retry, which urllib3 makes without a backoff sleep
    }
    return start_host(stack_config(emulator, **settings))


def _create(host: ProviderHost, email: str) -> dict[str, Any]:
    checked = host.check(email, {}, account_inputs(email=email))
    _, outputs = host.create(email, checked.inputs)
    return outputs


def _calls(emulator: UseapiEmulator) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in emulator.calls()]


def test_a_delete_waits_for_the_accounts_running_jobs_then_deletes_it(
    emulator: UseapiEmulator, start_host: HostFactory
) -> None:
    host = _host(start_host, emulator, "20")
    outputs = _create(host, OPS)
    _create(host, RENDER)
    emulator.start_jobs(OPS, 2, seconds=1.0)
    others = emulator.start_jobs(RENDER, 1, seconds=60)  # another account's jobs: no wait
    emulator.reset_calls()

    started = time.monotonic()
    host.delete(OPS, OPS, outputs)
    waited = time.monotonic() - started

    assert 0.9 <= waited < 5, waited
    assert emulator.cut_off == []
    assert OPS not in emulator.accounts
    calls = _calls(emulator)
    assert calls[-1] == ("DELETE", f"/v2/pixverse/accounts/{OPS}")
    assert set(calls[:-1]) == {("GET", SCHEDULER_PATH)}
    assert len(calls) - 1 >= 5  # it looked every 0.1 s while the jobs ran
    assert [job.id for job in emulator.running(RENDER)] == others


def test_past_the_drain_timeout_the_delete_fails_naming_the_account_and_jobs_and_keeps_it(
    emulator: UseapiEmulator, start_host: HostFactory
) -> None:
    host = _host(start_host, emulator, "0.5")
    outputs = _create(host, OPS)
    jobs = emulator.start_jobs(OPS, 2, seconds=60)
    emulator.reset_calls()

    started = time.monotonic()
    with pytest.raises(ProviderHostError) as caught:
        host.delete(OPS, OPS, outputs)
    waited = time.monotonic() - started

    details = caught.value.details
    assert (
        f"not deleting {OPS}: 2 job(s) still running on it, after waiting 0.5s "
        "(`useapi:drainTimeout`): " in details
    )
    assert all(job_id in details for job_id in jobs)
    assert "The account stays on useapi.net and in the stack's state" in details
    assert "USEAPI_DRAIN_TIMEOUT" in details
    assert 0.5 <= waited < 3, waited
    assert "DELETE" not in {method for method, _ in _calls(emulator)}
    assert OPS in emulator.accounts and emulator.cut_off == []
    for secret in (PASSWORD_SENTINEL, TOKEN_SENTINEL):
        assert secret not in details


def test_a_drain_timeout_of_zero_never_waits_busy_fails_at_once_idle_deletes_at_once(
    emulator: UseapiEmulator, start_host: HostFactory
) -> None:
    host = _host(start_host, emulator, "0")
    busy, idle = _create(host, OPS), _create(host, RENDER)
    emulator.start_jobs(OPS, 1, seconds=60)
    emulator.reset_calls()

    with pytest.raises(ProviderHostError, match=r"`useapi:drainTimeout` is 0 \(no wait\)"):
        host.delete(OPS, OPS, busy)
    host.delete(RENDER, RENDER, idle)

    assert _calls(emulator) == [
        ("GET", SCHEDULER_PATH),
        ("GET", SCHEDULER_PATH),
        ("DELETE", f"/v2/pixverse/accounts/{RENDER}"),
    ]
    assert sorted(emulator.accounts) == [OPS]


def test_jobs_that_cannot_be_checked_fail_the_delete_and_keep_the_account(
    emulator: UseapiEmulator, start_host: HostFactory
) -> None:
    host = _host(start_host, emulator, "20")
    outputs = _create(host, OPS)
    emulator.inject("GET", Fault(status=500), times=2, path=SCHEDULER_PATH)  # maxRetries 1
    emulator.reset_calls()

    with pytest.raises(ProviderHostError) as caught:
        host.delete(OPS, OPS, outputs)

    details = caught.value.details
    # The look is the fleet's, shared by the deletes in flight: the delete names the account.
    assert f"{SCHEDULER_PATH} failed with HTTP 500 after 2 attempts" in details
    assert f"{OPS} was not deleted: its running jobs could not be checked" in details
    assert emulator.calls("DELETE") == [] and OPS in emulator.accounts
    assert TOKEN_SENTINEL not in details


@pytest.mark.parametrize(
    "variants",
    [Variants(busy_unlisted=True), Variants(omit=frozenset({"scheduler.available.executing"}))],
    ids=["account-not-listed", "no-executing-count"],
)
def test_an_answer_that_does_not_say_the_account_is_busy_means_nothing_runs(
    emulator: UseapiEmulator, start_host: HostFactory, variants: Variants
) -> None:
    """The docs' rule, followed as written: the delete goes ahead at once. (The job list is
    not consulted: its ids only name jobs, their format is a sample, not a promise.)"""
    host = _host(start_host, emulator, "20")
    outputs = _create(host, OPS)
    emulator.oob_set_max_jobs(OPS, 1)  # one job fills it: no free slot, so it may go unlisted
    emulator.start_jobs(OPS, 1, seconds=60)
    emulator.variants = variants
    emulator.reset_calls()

    host.delete(OPS, OPS, outputs)

    assert [method for method, _ in _calls(emulator)] == ["GET", "DELETE"]
    assert OPS not in emulator.accounts


# -- the timing rules, on the function itself --------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


class BusyFor:
    """Answers "busy" (with one named job) for the first `times` looks, then idle."""

    def __init__(self, times: int) -> None:
        self.times = times
        self.looks = 0

    def get_scheduler(self, for_email: str | None = None) -> Scheduler:
        self.looks += 1
        running = 2 if self.looks <= self.times else 0
        return Scheduler(
            jobs=(Job(id=f"user:1-pixverse:{OPS}-video:9", type="video", elapsed="01:02"),),
            accounts={OPS: AccountLoad(OPS, max_jobs=3, executing=running)},
        )


def _wait(client: BusyFor, clock: FakeClock, timeout: float, interval: float) -> int:
    return drain.wait_for_jobs(
        client.get_scheduler,
        OPS,
        timeout=timeout,
        interval=interval,
        clock=clock,
        sleep=clock.sleep,
    )


def test_the_wait_looks_every_interval_and_ends_at_the_first_idle_answer() -> None:
    clock, client = FakeClock(), BusyFor(times=3)
    assert _wait(client, clock, timeout=60, interval=10) == 4
    assert clock.sleeps == [10, 10, 10]


def test_the_wait_never_sleeps_past_the_deadline_and_looks_once_more_at_it() -> None:
    clock, client = FakeClock(), BusyFor(times=99)
    with pytest.raises(drain.JobsStillRunning) as caught:
        _wait(client, clock, timeout=25, interval=10)
    assert clock.sleeps == [10, 10, 5]
    assert client.looks == 4 and clock.now == 125
    error = caught.value
    assert (error.email, error.running, error.jobs) == (OPS, 2, [f"user:1-pixverse:{OPS}-video:9"])
    assert f"user:1-pixverse:{OPS}-video:9 (video, running 01:02)" in str(error)


def test_an_idle_account_costs_one_look_and_no_sleep() -> None:
    clock, client = FakeClock(), BusyFor(times=0)
    assert _wait(client, clock, timeout=600, interval=10) == 1
    assert clock.sleeps == []
