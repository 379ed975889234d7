"""Callers that ask for the same read at the same time share one call in flight.

Go's `golang.org/x/sync/singleflight` (`Group.Do`), for one key: the first caller runs the
function; a caller that arrives while it runs waits for it and gets the same result (or the
same exception); a caller that arrives once it has finished runs it anew. So nobody is handed
an answer that was already complete when they asked, and nothing is cached: the answer a
caller gets was still being fetched at the moment it asked.

The drain uses it (`drain`): deletes in flight together share one `GET /scheduler/available`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class _Call(Generic[T]):
    """One run of the function, and whoever waits for it."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: T | None = None
        self.error: BaseException | None = None


class SingleFlight(Generic[T]):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._call: _Call[T] | None = None
        # How many times the function really ran, and how many callers shared a run instead.
        self.runs = 0
        self.shared = 0

    def do(self, fn: Callable[[], T]) -> T:
        """`fn()`, or the result of the run of it already in flight when this was called."""
        with self._lock:
            call = self._call
            leader = call is None
            if call is None:
                call = self._call = _Call()
                self.runs += 1
            else:
                self.shared += 1
        if leader:
            try:
                call.result = fn()
            except BaseException as exc:
                call.error = exc
            finally:
                # Forgotten before it is marked done: whoever asks from now on runs it anew.
                with self._lock:
                    self._call = None
                call.done.set()
        else:
            call.done.wait()
        if call.error is not None:
            raise call.error
        return call.result  # type: ignore[return-value]  # set when there is no error
