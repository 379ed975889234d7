"""A throttled API is not hammered: the calls of one host back off together
(`provider/host/useapi/throttle.py`).

Against an emulator that serves only K requests at once and answers 429 with Retry-After beyond
them, a fleet created at 32 calls at once through the provider host (as `--parallel 32` sends
them) is applied whole: every account exactly once (the emulator's log), every call within its
retries, a bounded time, and at most two bursts' worth of 429s, not one per call per round. The
rules themselves (the gate closes for everyone, the limit halves once per round and grows back
only below what was throttled) are checked on the gate."""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from provider.host.settings import DEFAULT_MAX_RETRIES
from provider.host.useapi.throttle import Outcome, Throttle
from tests.conftest import HostFactory, stack_config
from tests.support.helpers import account_inputs
from useapi_emulator import UseapiEmulator

AT_ONCE = 32  # the engine's calls in flight (the deploy pipeline's --parallel)
ADMITTED = 4  # what the throttled API serves at once
LATENCY = 0.2
RETRY_AFTER = 1
N = 48


@pytest.mark.timeout(60)
def test_a_throttled_api_gets_every_account_once_within_the_retries_and_a_bounded_time(
    emulator: UseapiEmulator, start_host: HostFactory
) -> None:
    host = start_host(stack_config(emulator, **{"useapi:maxRetries": str(DEFAULT_MAX_RETRIES)}))
    emulator.latency = LATENCY
    emulator.admit_at_once = ADMITTED
    emulator.throttle_retry_after = str(RETRY_AFTER)
    emails = [f"throttled{i:02d}@example.com" for i in range(N)]

    def create(email: str) -> None:
        checked = host.check(email, {}, account_inputs(email=email))
        host.create(email, checked.inputs)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=AT_ONCE) as pool:
        list(pool.map(create, emails))  # any call that failed raises here
    took = time.monotonic() - started

    # Every account applied, and exactly once: nothing lost, nothing doubled.
    assert sorted(emulator.accounts) == emails
    assert Counter(call.email for call in emulator.calls("POST")) == dict.fromkeys(emails, 1)
    # Each call within its retries: its 429s plus the attempt that landed.
    refused = Counter(path.rsplit("/", 1)[-1] for _, path in emulator.throttled)
    assert max(refused.values(), default=0) + 1 <= DEFAULT_MAX_RETRIES + 1
    # The API never served more than it admits, and was not hammered: the burst's excess, then
    # half a burst's, a quarter's...: at most two bursts in all (without the shared gate: the
    # whole remainder again every Retry-After, over twice N, until calls ran out of retries).
    assert emulator.peak_admitted == ADMITTED
    assert len(emulator.throttled) <= 2 * AT_ONCE
    # Bounded: the work at K at once, plus a Retry-After for each halving of the burst.
    ideal = math.ceil(N / ADMITTED) * LATENCY
    assert took <= ideal + (math.log2(AT_ONCE) + 1) * RETRY_AFTER, (took, ideal)


# -- the gate's rules ------------------------------------------------------------------------


def _in_threads(count: int, work: object) -> None:
    threads = [threading.Thread(target=work) for _ in range(count)]  # type: ignore[arg-type]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)


def test_a_retry_after_holds_back_every_call_not_only_the_one_answered() -> None:
    gate = Throttle(width=8)
    gate.acquire()
    gate.release(Outcome(429, retry_after=0.5))

    waited: list[float] = []

    def another_call() -> None:
        started = time.monotonic()
        gate.acquire()
        waited.append(time.monotonic() - started)
        gate.release(Outcome(200))

    _in_threads(3, another_call)
    assert len(waited) == 3 and all(0.4 <= wait < 2 for wait in waited), waited


def test_the_call_answered_waits_out_its_own_retry_after_once() -> None:
    """urllib3's Retry.sleep waited it out before the retry asks the gate: no second wait."""
    gate = Throttle(width=8)
    gate.acquire()
    gate.release(Outcome(429, retry_after=5))
    started = time.monotonic()
    gate.acquire(retrying=True)
    assert time.monotonic() - started < 0.5
    gate.release(Outcome(200))
    # A new call of the same thread (its call failed) waits like any other.
    blocked = threading.Event()

    def new_call() -> None:
        gate.acquire(retrying=False)
        blocked.set()

    thread = threading.Thread(target=new_call, daemon=True)
    thread.start()
    assert not blocked.wait(0.3)


def test_a_burst_halves_the_limit_once_and_it_grows_back_only_below_the_throttled_level() -> None:
    gate = Throttle(width=64)
    ready, go = threading.Barrier(16), threading.Event()

    def throttled_attempt() -> None:
        gate.acquire()
        ready.wait()  # all 16 in flight at once, then all answered 429
        go.wait(5)
        gate.release(Outcome(429))

    threads = [threading.Thread(target=throttled_attempt) for _ in range(16)]
    for thread in threads:
        thread.start()
    while gate.peak_in_flight < 16:
        time.sleep(0.01)
    go.set()
    for thread in threads:
        thread.join(5)

    assert (gate.limit, gate.halvings, gate.throttled_answers) == (8, 1, 16)
    for _ in range(200):  # many rounds of answers: it grows to 15, never back to 16
        gate.acquire()
        gate.release(Outcome(200))
    assert gate.limit == 15
