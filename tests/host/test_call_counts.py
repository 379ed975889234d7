"""HTTP call counts of fleet-sized operations, through the project's provider host (not
timings).

The engine sends many calls at once (24 here, as `--parallel 24` would; the host serves as many
as it sends), so every operation here is driven from a thread pool: a no-op `up` (Check + Diff
of each account) makes no HTTP call, a refresh of N accounts makes at most two, a write between
reads makes the next read fetch anew, changes made out of band (an account deleted, maxJobs
changed) are still seen, and a whole operation runs on one pool of connections no wider than
the calls in flight.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

from harness import ProviderHost, ProviderHostError
from provider.host.account_cache import SWITCH_ENV
from tests.conftest import HostFactory, stack_config
from tests.support.helpers import account_inputs, clean_env
from useapi_emulator import UseapiEmulator

N = 32
ENGINE_PARALLEL = 24  # what a pipeline's `--parallel` sends: more than the SDK host's four
EMAILS = [f"fleet{i:02d}@example.com" for i in range(N)]
LIST_PATH = "/v2/pixverse/accounts"

T = TypeVar("T")
R = TypeVar("R")


def _in_parallel(fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
    with ThreadPoolExecutor(max_workers=ENGINE_PARALLEL) as pool:
        return list(pool.map(fn, items))


@dataclass(frozen=True)
class Deployed:
    email: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]


def _deploy(host: ProviderHost, email: str) -> Deployed:
    checked = host.check(email, {}, account_inputs(email=email))
    assert checked.failures == []
    id_, outs = host.create(email, checked.inputs)
    assert id_ == email
    return Deployed(email, checked.inputs, outs)


@pytest.fixture
def fleet(provider_host: ProviderHost, emulator: UseapiEmulator) -> list[Deployed]:
    deployed = _in_parallel(lambda email: _deploy(provider_host, email), EMAILS)
    emulator.reset_calls()
    return deployed


def _refresh(host: ProviderHost, fleet: list[Deployed]) -> dict[str, dict[str, Any]]:
    """Read every account at once; the outputs by email, {} for an account dropped."""

    def read(item: Deployed) -> tuple[str, dict[str, Any]]:
        result = host.read(item.email, item.email, item.outputs, item.inputs)
        return item.email, (result.outputs if result.id else {})

    return dict(_in_parallel(read, fleet))


def _counts(emulator: UseapiEmulator) -> tuple[int, int]:
    """(list calls, single-account GETs) the emulator answered."""
    gets = emulator.calls("GET")
    lists = sum(1 for call in gets if call.path == LIST_PATH)
    return lists, len(gets) - lists


def _kind(path: str) -> str:
    return "list" if path == LIST_PATH else "scheduler" if "scheduler" in path else "account"


def test_a_no_op_up_makes_no_http_call(
    provider_host: ProviderHost, emulator: UseapiEmulator, fleet: list[Deployed]
) -> None:
    def check_and_diff(item: Deployed) -> str:
        checked = provider_host.check(item.email, item.inputs, account_inputs(email=item.email))
        return provider_host.diff(item.email, item.email, item.outputs, checked.inputs).changes

    assert _in_parallel(check_and_diff, fleet) == ["DIFF_NONE"] * N
    assert emulator.calls() == []


def test_a_refresh_of_the_fleet_makes_one_list_call(
    provider_host: ProviderHost, emulator: UseapiEmulator, fleet: list[Deployed]
) -> None:
    emulator.latency = 0.05  # reads overlap the list call, as they do against the real API
    refreshed = _refresh(provider_host, fleet)
    assert {email: outs["maxJobs"] for email, outs in refreshed.items()} == dict.fromkeys(EMAILS, 3)
    assert _counts(emulator) == (1, 0)
    assert len(emulator.calls()) <= 2


def test_without_the_list_a_refresh_reads_each_account(
    emulator: UseapiEmulator, start_host: HostFactory, fleet: list[Deployed]
) -> None:
    """The "before": the switch restores one GET per account (how the benchmark compares)."""
    host = start_host(stack_config(emulator), clean_env(**{SWITCH_ENV: "off"}))
    _refresh(host, fleet)
    assert _counts(emulator) == (0, N)


def test_a_write_between_reads_makes_the_next_read_fetch_anew(
    provider_host: ProviderHost, emulator: UseapiEmulator, fleet: list[Deployed]
) -> None:
    first, second = fleet[0], fleet[1]
    _refresh(provider_host, fleet)
    emulator.oob_set_max_jobs(second.email, 7)
    # Within one operation and with no write since, the list fetched at its start answers.
    read = provider_host.read(second.email, second.email, second.outputs, second.inputs)
    assert read.outputs["maxJobs"] == 3
    assert _counts(emulator) == (1, 0)

    news = provider_host.check(first.email, first.inputs, account_inputs(first.email, max_jobs=5))
    provider_host.update(first.email, first.email, first.outputs, news.inputs)

    refreshed = _refresh(provider_host, fleet)
    assert refreshed[first.email]["maxJobs"] == 5
    assert refreshed[second.email]["maxJobs"] == 7
    assert _counts(emulator) == (2, 0)


def test_a_delete_invalidates_too(
    provider_host: ProviderHost, emulator: UseapiEmulator, fleet: list[Deployed]
) -> None:
    gone = fleet[0]
    _refresh(provider_host, fleet)
    provider_host.delete(gone.email, gone.email, gone.outputs)
    assert _refresh(provider_host, [gone])[gone.email] == {}


def test_a_failed_write_invalidates_too(
    provider_host: ProviderHost, emulator: UseapiEmulator, fleet: list[Deployed]
) -> None:
    first, second = fleet[0], fleet[1]
    _refresh(provider_host, fleet)
    emulator.oob_set_max_jobs(second.email, 6)
    emulator.reject_login(first.email)
    news = provider_host.check(first.email, first.inputs, account_inputs(first.email, max_jobs=4))
    with pytest.raises(ProviderHostError, match="login failed"):
        provider_host.update(first.email, first.email, first.outputs, news.inputs)
    assert _refresh(provider_host, [second])[second.email]["maxJobs"] == 6


def test_out_of_band_changes_are_seen_by_the_next_refresh(
    emulator: UseapiEmulator, start_host: HostFactory, fleet: list[Deployed]
) -> None:
    """`pulumi refresh` is a new host process: it starts with nothing cached."""
    gone, changed = fleet[0], fleet[1]
    emulator.oob_delete(gone.email)
    emulator.oob_set_max_jobs(changed.email, 8)
    host = start_host(stack_config(emulator))

    refreshed = _refresh(host, fleet)

    assert refreshed[gone.email] == {}  # dropped from state
    assert refreshed[changed.email]["maxJobs"] == 8  # drift
    assert all(refreshed[item.email]["maxJobs"] == 3 for item in fleet[2:])
    # One list, and one GET confirming the account missing from it before it is dropped.
    assert _counts(emulator) == (1, 1)
    read = host.read(changed.email, changed.email, changed.outputs, changed.inputs)
    assert read.inputs is not None and read.inputs["maxJobs"] == 8


def test_one_pooled_session_serves_the_whole_operation(
    emulator: UseapiEmulator, start_host: HostFactory
) -> None:
    """The host configures the provider once per `__provider` pickle, and the provider keeps
    one pooled session as wide as the host: however many calls, no more connections than
    calls in flight, and none thrown away for want of room in the pool."""
    host = start_host(stack_config(emulator))
    emulator.latency = 0.05  # the calls overlap, as the engine's do against the real API
    opened = emulator.connections_opened
    fleet = _in_parallel(lambda email: _deploy(host, email), EMAILS)
    _refresh(host, fleet)
    _in_parallel(lambda item: host.delete(item.email, item.email, item.outputs), fleet)
    calls = Counter(f"{call.method} {_kind(call.path)}" for call in emulator.calls())
    # N creates, one list, N DELETEs, and the deletes' looks at the running jobs shared by the
    # deletes in flight together (tests/host/test_drain.py pins the rule).
    assert calls["POST account"] == N and calls["DELETE account"] == N
    assert calls["GET list"] == 1
    assert 1 <= calls["GET scheduler"] <= N // 4
    assert sum(calls.values()) == 2 * N + 1 + calls["GET scheduler"]
    assert emulator.connections_opened - opened <= ENGINE_PARALLEL
    assert "Connection pool is full" not in host.stderr
