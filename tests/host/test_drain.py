"""No running job is cut off: a delete, through the provider host as the engine sends it,
first waits for the account's running jobs (`GET /scheduler/available`), and past
`useapi:drainTimeout` fails naming the account and its jobs without sending the DELETE.
Deletes in flight together share one look in flight, and each still follows those rules. The
timing rules themselves (poll interval, never sleeping past the deadline) are checked on
`drain.wait_for_jobs` with a fake clock."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
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


# -- deletes in flight together share their looks ----------------------------------------------

FLEET = [f"drain{i:02d}@example.com" for i in range(16)]


def _delete_at_once(host: ProviderHost, fleet: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Every delete at once, as `destroy --parallel 16` sends them: email → "" or the error."""

    def delete(email: str) -> tuple[str, str]:
        try:
            host.delete(email, email, fleet[email])
        except ProviderHostError as exc:
            return email, exc.details
        return email, ""

    with ThreadPoolExecutor(max_workers=len(fleet)) as pool:
        return dict(pool.map(delete, fleet))


def _fleet_with_a_busy_account(
    host: ProviderHost, emulator: UseapiEmulator, jobs: int, seconds: float
) -> tuple[dict[str, dict[str, Any]], str, list[str]]:
    """FLEET created, `jobs` running on one of them for `seconds`: (outputs, that one, its
    job ids); 0.1 s per request from here on, the calls so far forgotten."""
    fleet = {email: _create(host, email) for email in FLEET}
    busy = FLEET[5]
    running = emulator.start_jobs(busy, jobs, seconds=seconds)
    emulator.latency = 0.1
    emulator.reset_calls()
    return fleet, busy, running


def _scheduler_looks(emulator: UseapiEmulator) -> int:
    return sum(1 for method, path in _calls(emulator) if path == SCHEDULER_PATH)


def test_deletes_in_flight_together_share_one_look_at_the_running_jobs(
    emulator: UseapiEmulator, start_host: HostFactory
) -> None:
    host = _host(start_host, emulator, "20")
    fleet = {email: _create(host, email) for email in FLEET}
    emulator.latency = 0.3  # the deletes arrive while the first look is still in flight
    emulator.reset_calls()

    assert _delete_at_once(host, fleet) == dict.fromkeys(FLEET, "")

    assert emulator.accounts == {}
    assert sorted(str(call.email) for call in emulator.calls("DELETE")) == FLEET  # each once
    # One look for the 16, give or take one for a delete that arrived as it completed.
    assert 1 <= _scheduler_looks(emulator) <= 2


def test_a_busy_account_still_waits_while_the_idle_ones_sharing_its_look_are_deleted(
    emulator: UseapiEmulator, start_host: HostFactory
) -> None:
    host = _host(start_host, emulator, "20")
    fleet, busy, _ = _fleet_with_a_busy_account(host, emulator, jobs=1, seconds=1.5)

    started = time.monotonic()
    assert _delete_at_once(host, fleet) == dict.fromkeys(FLEET, "")
    took = time.monotonic() - started

    assert emulator.cut_off == [] and emulator.accounts == {}
    deletes = [str(call.email) for call in emulator.calls("DELETE")]
    assert deletes[-1] == busy and sorted(deletes) == FLEET  # the idle ones did not wait
    assert 1.4 <= took < 5, took
    # The busy one looked again every 0.1 s on its own: only it was still asking.
    assert _scheduler_looks(emulator) >= 5


def test_past_the_timeout_a_busy_account_sharing_a_look_fails_before_its_delete(
    emulator: UseapiEmulator, start_host: HostFactory
) -> None:
    host = _host(start_host, emulator, "0.5")
    fleet, busy, jobs = _fleet_with_a_busy_account(host, emulator, jobs=2, seconds=60)

    outcome = _delete_at_once(host, fleet)

    assert {email for email, error in outcome.items() if error} == {busy}
    assert f"not deleting {busy}: 2 job(s) still running on it" in outcome[busy]
    assert all(job in outcome[busy] for job in jobs)
    assert busy not in {call.email for call in emulator.calls("DELETE")}
    assert sorted(emulator.accounts) == [busy] and emulator.cut_off == []


def test_a_look_that_fails_fails_every_delete_that_shared_it_and_deletes_none(
    emulator: UseapiEmulator, start_host: HostFactory
) -> None:
    host = _host(start_host, emulator, "20")
    fleet = {email: _create(host, email) for email in FLEET[:6]}
    emulator.latency = 0.2
    emulator.inject("GET", Fault(status=500), times=50, path=SCHEDULER_PATH)
    emulator.reset_calls()

    outcome = _delete_at_once(host, fleet)

    for email, error in outcome.items():
        assert f"{email} was not deleted: its running jobs could not be checked" in error
    assert emulator.calls("DELETE") == [] and sorted(emulator.accounts) == FLEET[:6]
