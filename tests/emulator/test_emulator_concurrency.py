"""The emulator serves the way the benchmark needs: latency per request, in parallel.

The benchmark compares the host's four concurrent calls against a sequential loop; that
comparison means something only if the emulator overlaps concurrent requests' latency (as a
real service does) and accepts a burst of new connections without dropping any.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import requests

from useapi_emulator import UseapiEmulator

LATENCY = 0.3


def _burst(emulator: UseapiEmulator, count: int) -> float:
    url = f"{emulator.base_url}/pixverse/accounts/nobody@example.com"

    def get(_: int) -> int:
        return requests.get(url, timeout=10).status_code

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=count) as pool:
        statuses = list(pool.map(get, range(count)))
    assert set(statuses) == {401}  # answered, after the latency
    return time.perf_counter() - start


def test_concurrent_requests_wait_out_their_latency_together(emulator: UseapiEmulator) -> None:
    emulator.latency = LATENCY
    # Sequential would take 8 x 0.3 s; overlapping takes about one latency.
    assert _burst(emulator, 8) < 3 * LATENCY


def test_a_burst_of_new_connections_is_not_dropped(emulator: UseapiEmulator) -> None:
    """A listen backlog of 5 drops SYNs beyond it, and each drop costs a 1 s retransmit."""
    emulator.latency = LATENCY
    assert _burst(emulator, 32) < 1.0 + LATENCY
    assert emulator.connections_opened == 32
