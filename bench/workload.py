"""The operations the benchmark times: the engine's calls through the provider host, and the
loop a user would otherwise write.

The engine sends a resource's calls as soon as it may, many resources at once (`pulumi up
--parallel` is unbounded by default); the host serves four at a time. `parallel` threads here
play the engine: more calls in flight than the host has workers, so the host is the limit.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote

import requests
from pulumi.dynamic.dynamic import serialize_provider

from harness import ProviderHost
from provider import PixVerseAccountProvider
from provider.host.useapi.client import PATH_SEGMENT_SAFE
from useapi_emulator import UseapiEmulator

T = TypeVar("T")
R = TypeVar("R")

PASSWORD = "bench-password"  # the emulator's; never a real one
MAX_JOBS = 3
LIST_PATH = "/v2/pixverse/accounts"
SERIALIZED_PROVIDER = serialize_provider(PixVerseAccountProvider())


@dataclass
class Measured:
    """One timed operation and what the emulator saw during it."""

    seconds: float
    http_calls: int
    connections: int
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 4),
            "http_calls": self.http_calls,
            "connections_opened": self.connections,
            **self.extra,
        }


@dataclass(frozen=True)
class Deployed:
    email: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]


class Window:
    """Counts the emulator's requests and connections over a `with` block, and its time."""

    def __init__(self, emulator: UseapiEmulator) -> None:
        self.emulator = emulator
        self.seconds = 0.0
        self.calls: list[Any] = []
        self.connections = 0

    def __enter__(self) -> Window:
        self._requests = len(self.emulator.calls())
        self._connections = self.emulator.connections_opened
        self._start = time.perf_counter()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.seconds = time.perf_counter() - self._start
        self.calls = self.emulator.calls()[self._requests :]
        self.connections = self.emulator.connections_opened - self._connections

    def measured(self, **extra: Any) -> Measured:
        return Measured(self.seconds, len(self.calls), self.connections, dict(extra))


def emails(n: int, tag: str = "fleet") -> list[str]:
    return [f"{tag}{i:04d}@example.com" for i in range(n)]


def news(email: str, provider: str = SERIALIZED_PROVIDER) -> dict[str, Any]:
    """What the engine sends as a declared account's inputs."""
    return {
        "email": email,
        "password": PASSWORD,
        "maxJobs": MAX_JOBS,
        "__provider": provider,
    }


def in_parallel(fn: Callable[[T], R], items: Iterable[T], parallel: int) -> list[R]:
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        return list(pool.map(fn, items))


def emulator_parallelism(emulator: UseapiEmulator, requests_at_once: int = 8) -> float:
    """Seconds `requests_at_once` concurrent GETs take: ≈ one latency if the emulator serves
    them in parallel (as the real API does), that many latencies if it serialises them."""
    url = f"{emulator.base_url}/pixverse/accounts/nobody@example.com"
    headers = {"Authorization": f"Bearer {emulator.token}"}

    def get(_: int) -> int:
        return requests.get(url, headers=headers, timeout=30).status_code

    start = time.perf_counter()
    in_parallel(get, range(requests_at_once), requests_at_once)
    return time.perf_counter() - start


def baseline_create(emulator: UseapiEmulator, addresses: Sequence[str]) -> Measured:
    """What a user would write instead: a plain sequential loop of the same POSTs (with one
    keep-alive Session, the fairest version of it)."""
    headers = {"Authorization": f"Bearer {emulator.token}"}
    with Window(emulator) as window, requests.Session() as session:
        for email in addresses:
            response = session.post(
                f"{emulator.base_url}/pixverse/accounts/{quote(email, safe=PATH_SEGMENT_SAFE)}",
                json={"email": email, "password": PASSWORD, "maxJobs": MAX_JOBS},
                headers=headers,
                timeout=30,
            )
            response.raise_for_status()
    return window.measured()


def host_create(
    host: ProviderHost,
    emulator: UseapiEmulator,
    addresses: Sequence[str],
    parallel: int,
    provider: str = SERIALIZED_PROVIDER,
) -> tuple[Measured, list[Deployed]]:
    """`pulumi up` of new accounts: Check, then Create, for each."""

    def create(email: str) -> Deployed:
        checked = host.check(email, {}, news(email, provider))
        if checked.failures:
            raise RuntimeError(f"check failed for {email}: {checked.failures}")
        id_, outs = host.create(email, checked.inputs)
        return Deployed(id_, checked.inputs, outs)

    with Window(emulator) as window:
        deployed = in_parallel(create, addresses, parallel)
    return window.measured(), deployed


def host_noop(
    host: ProviderHost, emulator: UseapiEmulator, fleet: Sequence[Deployed], parallel: int
) -> Measured:
    """`pulumi up` with nothing changed: Check (old inputs, new inputs), then Diff, for each.

    The first call of a fresh host loads the provider (unpickles `__provider`, imports the
    package): it is timed on its own, then the rest run in parallel.
    """
    pair_seconds: list[float] = []

    def check_and_diff(item: Deployed) -> str:
        start = time.perf_counter()
        checked = host.check(item.email, item.inputs, news(item.email))
        changes = host.diff(item.email, item.email, item.outputs, checked.inputs).changes
        pair_seconds.append(time.perf_counter() - start)
        return changes

    with Window(emulator) as window:
        changes = [check_and_diff(fleet[0])]
        first = pair_seconds[0]
        changes += in_parallel(check_and_diff, fleet[1:], parallel)
    if set(changes) != {"DIFF_NONE"}:
        raise RuntimeError(f"a no-op up found changes: {sorted(set(changes))}")
    rest = pair_seconds[1:]
    return window.measured(
        per_resource_ms=round(1000 * window.seconds / len(fleet), 3),
        first_check_plus_diff_ms=round(1000 * first, 3),
        mean_check_plus_diff_ms=round(1000 * sum(rest) / max(len(rest), 1), 3),
    )


def host_refresh(
    host: ProviderHost, emulator: UseapiEmulator, fleet: Sequence[Deployed], parallel: int
) -> Measured:
    """`pulumi refresh`: Read of each account (old outputs and inputs)."""

    def read(item: Deployed) -> str:
        return host.read(item.email, item.email, item.outputs, item.inputs).id

    with Window(emulator) as window:
        ids = in_parallel(read, fleet, parallel)
    if ids != [item.email for item in fleet]:
        raise RuntimeError("a refresh dropped accounts that exist")
    lists = sum(1 for call in window.calls if call.path == LIST_PATH)
    return window.measured(list_calls=lists, single_gets=len(window.calls) - lists)
