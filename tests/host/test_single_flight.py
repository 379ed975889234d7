"""`SingleFlight`: callers that ask while a run is in flight share it; a caller that asks once it
is complete gets a run of its own, never that answer (the drain's rule, provider/host/drain.py).
"""

from __future__ import annotations

import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from provider.host.single_flight import SingleFlight

pytestmark = pytest.mark.timeout(30)


class Gated:
    """A function whose runs are numbered and wait until the test lets them finish."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.finish = threading.Event()
        self._numbers = itertools.count(1)

    def __call__(self) -> int:
        number = next(self._numbers)
        self.started.set()
        self.finish.wait(10)
        return number


def test_callers_that_ask_while_a_run_is_in_flight_share_it() -> None:
    flight: SingleFlight[int] = SingleFlight()
    gated = Gated()
    with ThreadPoolExecutor(max_workers=8) as pool:
        first = pool.submit(flight.do, gated)
        assert gated.started.wait(5)
        joiners = [pool.submit(flight.do, gated) for _ in range(7)]
        while flight.shared < 7:  # every joiner is waiting on the run in flight
            time.sleep(0.001)
        gated.finish.set()
        answers = [first.result(5), *(f.result(5) for f in joiners)]
    assert answers == [1] * 8
    assert flight.runs == 1


def test_a_caller_that_asks_once_the_run_is_complete_never_gets_its_answer() -> None:
    flight: SingleFlight[int] = SingleFlight()
    gated = Gated()
    gated.finish.set()
    assert flight.do(gated) == 1
    assert flight.do(gated) == 2  # complete before this asked: a run of its own
    assert flight.runs == 2


def test_a_failed_run_fails_everyone_who_shared_it_and_the_next_caller_runs_anew() -> None:
    flight: SingleFlight[int] = SingleFlight()
    release = threading.Event()
    started = threading.Event()

    def failing() -> int:
        started.set()
        release.wait(10)
        raise RuntimeError("the API failed")

    with ThreadPoolExecutor(max_workers=3) as pool:
        first = pool.submit(flight.do, failing)
        assert started.wait(5)
        second = pool.submit(flight.do, failing)
        while flight.shared < 1:
            time.sleep(0.001)
        release.set()
        for future in (first, second):
            with pytest.raises(RuntimeError, match="the API failed"):
                future.result(5)
    assert flight.do(lambda: 7) == 7
