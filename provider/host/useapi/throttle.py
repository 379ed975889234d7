"""One gate for the attempts a provider host sends useapi.net: how many may be in flight, and
when the next may start. A throttled API sees the host back off as one client, not as many.

Why: the host runs as many calls at once as the engine sends (32 in the deploy pipeline).
urllib3's `Retry` honours a 429's `Retry-After` call by call: each call sleeps it out and tries
again, all of them at the same moment, so the burst that was throttled comes back whole, is
throttled again, and calls run out of retries while the API admits only a few of them. Here:

- **Together.** After a 429 or 503 with `Retry-After`, no attempt of any call starts before
  that time: one answer holds back every call, not only the one that got it.
- **Fewer at once.** How many attempts may be in flight adapts the way TCP's congestion window
  does (additive increase, multiplicative decrease): a throttle answer halves the attempts in
  flight (once per round: the other 429s of the same burst say the same thing), and each other
  answer adds 1/limit (one per round). It grows back only to just below the level that was
  throttled (TCP's slow-start threshold, kept): each probe above what the API admits would
  close the gate for everyone again. After a burst the host sends about what the API admits,
  and most calls get through on their first retry.
- **Waiting is not trying.** Time at the gate spends none of a call's retries
  (`useapi:maxRetries` counts attempts), so a call fails only when its own attempts keep failing.
  It does add to the call's time: under throttling a call also waits its turn behind the others.

Until the first throttle answer the gate is as wide as the host and costs one uncontended lock
per attempt. It counts attempts, not calls: urllib3 runs a call's retries inside one `send`, so
the adapter takes a slot for the first attempt, and `UseapiRetry` gives it back when an attempt
fails (`increment`) and takes one again before the next (`sleep`). A thread holds at most one
slot (urllib3 retries in the caller's thread), so taking and giving back are idempotent.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

# Answers that mean "too much, come back later": they halve the limit and may close the gate.
THROTTLE_STATUSES = frozenset({429, 503})


@dataclass(frozen=True)
class Outcome:
    """How one attempt ended: an answer with its status (and Retry-After, in seconds, when it
    had a usable one), or no answer at all (`status` None: a timeout, a dropped connection)."""

    status: int | None = None
    retry_after: float | None = None

    @property
    def throttled(self) -> bool:
        return self.status in THROTTLE_STATUSES


class Throttle:
    """The gate; one per HTTP client, shared by every thread that calls through it."""

    def __init__(
        self,
        width: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.width = width
        self._clock = clock
        self._cond = threading.Condition()
        self._limit = float(width)
        self._cap = float(width)  # how far the limit may grow back: below the last throttle
        self._in_flight = 0
        self._not_before = 0.0
        # Bumped at each halving: a throttle answer to an attempt sent before it halves nothing.
        self._round = 0
        self._mine = threading.local()
        # What happened, for tests and the benchmark.
        self.throttled_answers = 0
        self.halvings = 0
        self.peak_in_flight = 0

    @property
    def limit(self) -> int:
        with self._cond:
            return int(self._limit)

    def acquire(self, retrying: bool = False) -> None:
        """Wait until the gate is open and a slot is free, then take it (no-op if held).

        `retrying`: this is a retry, after urllib3's `Retry.sleep` slept out the Retry-After
        its own attempt was answered with; the gate holds it back only for a later one."""
        if getattr(self._mine, "holding", False):
            return
        slept_until = getattr(self._mine, "set_until", 0.0) if retrying else 0.0
        self._mine.set_until = 0.0
        with self._cond:
            while True:
                closed = self._not_before > slept_until
                wait = self._not_before - self._clock() if closed else 0.0
                if wait <= 0 and self._in_flight < int(self._limit):
                    break
                self._cond.wait(wait if wait > 0 else None)
            self._in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
            self._mine.holding = True
            self._mine.round = self._round

    def release(self, outcome: Outcome) -> None:
        """Give the slot back and learn from how the attempt ended (no-op if none is held)."""
        if not getattr(self._mine, "holding", False):
            return
        self._mine.holding = False
        with self._cond:
            in_flight = self._in_flight
            self._in_flight -= 1
            if outcome.throttled:
                self.throttled_answers += 1
                if outcome.retry_after:
                    until = self._clock() + outcome.retry_after
                    self._not_before = max(self._not_before, until)
                    self._mine.set_until = until
                if self._mine.round == self._round:
                    level = min(int(self._limit), in_flight)  # what was too much
                    self._cap = max(1.0, float(level - 1))
                    self._limit = max(1.0, float(level // 2))
                    self._round += 1
                    self.halvings += 1
            elif outcome.status is not None:
                self._limit = min(self._cap, self._limit + 1.0 / self._limit)
            self._cond.notify_all()
