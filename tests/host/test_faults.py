"""Faults survived, through the SDK's provider host, as the engine would meet them.

Each test runs `pulumi up` / `refresh` the way the engine does (tests/reliability_support.py)
against the emulator with faults injected, and checks three things: the run converges or
stops with an error a user can act on, it does so in bounded time, and the state it leaves
records exactly what exists on useapi.net.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from provider.host.settings import ProviderSettings
from provider.host.useapi.client import worst_case_seconds
from tests.conftest import HostFactory, stack_config
from tests.support.helpers import PASSWORD_SENTINEL, TOKEN_SENTINEL
from tests.support.reliability_support import SimulatedStack, desired_accounts
from useapi_emulator import Fault, UseapiEmulator

EMAIL = "ops@example.com"
FIVE = [f"team{i}@example.com" for i in range(1, 6)]
# Short budgets: a hang shows as a failure in seconds, not at the pytest timeout.
TIMEOUT = "1"
RETRIES = "4"
# Starting a provider host and a gRPC round trip, on a loaded 2-core CI machine.
HOST_SLACK = 3.0


def _stack(emulator: UseapiEmulator, start_host: HostFactory, **overrides: str) -> SimulatedStack:
    config = stack_config(
        emulator, **{"useapi:timeout": TIMEOUT, "useapi:maxRetries": RETRIES, **overrides}
    )
    return SimulatedStack(lambda cfg: start_host(cfg), config)


def _no_chained_noise(text: str) -> None:
    """The error is ours alone: no urllib3/requests exception chained under it."""
    assert "During handling of the above exception" not in text
    assert "The above exception was the direct cause" not in text
    assert "MaxRetryError" not in text


# -- retried faults: the run converges -------------------------------------------------------


def test_429_then_success_honours_retry_after(
    emulator: UseapiEmulator, start_host: HostFactory
) -> None:
    stack = _stack(emulator, start_host)
    emulator.fail_next("POST", 429, retry_after="1")
    started = time.monotonic()
    result = stack.up(desired_accounts([EMAIL]))
    elapsed = time.monotonic() - started
    assert result.created == [EMAIL] and result.failed == {}
    # urllib3 backs off 0 s before the first retry: a wait of a second is the Retry-After.
    assert elapsed >= 1.0
    assert emulator.statuses("POST") == [429, 201]  # each answer the server gave, in order
    assert set(stack.state) == set(emulator.accounts) == {EMAIL}


def test_a_5xx_storm_then_success(emulator: UseapiEmulator, start_host: HostFactory) -> None:
    stack = _stack(emulator, start_host)
    for status in (500, 502, 504):
        emulator.fail_next("POST", status)
    emulator.fail_next("POST", 503, retry_after="1")
    result = stack.up(desired_accounts([EMAIL]))
    assert result.created == [EMAIL] and result.failed == {}
    assert [kind for _, _, kind in emulator.faults_served] == [
        "status 500",
        "status 502",
        "status 504",
        "status 503",
    ]
    assert emulator.attempts("POST") == 5
    assert stack.state[EMAIL].outputs["maxJobs"] == 3


def test_a_storm_longer_than_the_retries_fails_naming_status_and_attempts(
    emulator: UseapiEmulator, start_host: HostFactory
) -> None:
    stack = _stack(emulator, start_host, **{"useapi:maxRetries": "1"})
    emulator.fail_next("POST", 503, times=2)
    result = stack.up(desired_accounts([EMAIL]))
    error = result.failed[EMAIL]
    assert "HTTP 503" in error and "after 2 attempts" in error and EMAIL in error
    assert "useapi:maxRetries" in error
    assert stack.state == {} and emulator.accounts == {}


def test_a_dropped_connection_is_retried(emulator: UseapiEmulator, start_host: HostFactory) -> None:
    stack = _stack(emulator, start_host)
    emulator.drop_next("POST")
    result = stack.up(desired_accounts([EMAIL]))
    assert result.created == [EMAIL]
    assert emulator.attempts("POST") == 2
    assert set(stack.state) == set(emulator.accounts) == {EMAIL}


def test_a_lost_answer_to_post_is_retried_safely_because_post_is_an_upsert(
    emulator: UseapiEmulator, start_host: HostFactory
) -> None:
    stack = _stack(emulator, start_host)
    emulator.lose_answer_next("POST")
    result = stack.up(desired_accounts([EMAIL], max_jobs=4))
    assert result.created == [EMAIL]
    first, second = emulator.calls("POST")  # the first landed; its answer never came back
    assert first.body == second.body
    assert list(emulator.accounts) == [EMAIL] and emulator.accounts[EMAIL].max_jobs == 4
    assert stack.state[EMAIL].outputs["maxJobs"] == 4


def test_a_lost_answer_to_delete_counts_as_deleted(
    emulator: UseapiEmulator, start_host: HostFactory
) -> None:
    stack = _stack(emulator, start_host)
    stack.up(desired_accounts([EMAIL]))
    emulator.lose_answer_next("DELETE")
    result = stack.destroy()
    assert result.deleted == [EMAIL] and result.failed == {}
    assert [r.method for r in emulator.calls("DELETE")] == ["DELETE", "DELETE"]  # 2nd: 404
    assert stack.state == {} and emulator.accounts == {}


def test_a_read_timeout_on_post_is_retried(
    emulator: UseapiEmulator, start_host: HostFactory
) -> None:
    stack = _stack(emulator, start_host)
    emulator.delay_next("POST", 2.0)  # longer than the 1 s budget: the first attempt times out
    result = stack.up(desired_accounts([EMAIL]))
    assert result.created == [EMAIL] and result.failed == {}
    assert EMAIL in emulator.accounts


# -- faults that must stop the run: bounded time, one request, clear words --------------------


def test_a_server_slower_than_the_timeout_fails_in_bounded_time(
    emulator: UseapiEmulator, start_host: HostFactory
) -> None:
    stack = _stack(emulator, start_host, **{"useapi:timeout": "0.5", "useapi:maxRetries": "2"})
    emulator.delay_next("POST", 5.0, times=3)
    budget = worst_case_seconds(ProviderSettings(token="-", timeout=0.5, max_retries=2))
    started = time.monotonic()
    result = stack.up(desired_accounts([EMAIL]))
    elapsed = time.monotonic() - started
    assert 3 * 0.5 <= elapsed <= budget + HOST_SLACK, (elapsed, budget)
    error = result.failed[EMAIL]
    url = f"{emulator.base_url}/pixverse/accounts/ops@example.com"
    assert url in error and EMAIL in error
    assert "no answer within the 0.5s timeout" in error and "3 attempt(s)" in error
    assert "useapi:timeout" in error
    _no_chained_noise(error)
    assert stack.state == {}


@pytest.fixture
def black_hole() -> Iterator[str]:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/v2"


def test_a_server_that_never_answers_does_not_hang_the_run(
    emulator: UseapiEmulator, start_host: HostFactory, black_hole: str
) -> None:
    stack = _stack(
        emulator,
        start_host,
        **{"useapi:baseUrl": black_hole, "useapi:timeout": "0.4", "useapi:maxRetries": "1"},
    )
    started = time.monotonic()
    result = stack.up(desired_accounts([EMAIL, "render@example.com"]))
    elapsed = time.monotonic() - started
    budget = worst_case_seconds(ProviderSettings(token="-", timeout=0.4, max_retries=1))
    assert elapsed <= budget + HOST_SLACK, (elapsed, budget)  # both ran at once, not in turn
    assert set(result.failed) == {EMAIL, "render@example.com"}
    assert all("no answer within the 0.4s timeout" in e for e in result.failed.values())
    assert stack.state == {}


def test_a_wrong_token_is_one_request_and_names_the_setting(
    emulator: UseapiEmulator, start_host: HostFactory
) -> None:
    stack = _stack(emulator, start_host, **{"useapi:token": "wrong-SENTINEL-token"})
    result = stack.up(desired_accounts([EMAIL]))
    error = result.failed[EMAIL]
    assert emulator.attempts() == 1
    assert "HTTP 401" in error and "Unauthorized" in error and EMAIL in error
    assert "useapi:token" in error
    for secret in ("wrong-SENTINEL-token", TOKEN_SENTINEL, PASSWORD_SENTINEL):
        assert secret not in error
    assert stack.state == {}


def test_401_is_never_retried_even_with_retry_after(
    emulator: UseapiEmulator, start_host: HostFactory
) -> None:
    stack = _stack(emulator, start_host)
    emulator.fail_next("POST", 401, retry_after="1")
    result = stack.up(desired_accounts([EMAIL]))
    assert "HTTP 401" in result.failed[EMAIL]
    assert emulator.attempts() == 1


def test_a_failed_login_is_one_request_and_says_what_to_check(
    emulator: UseapiEmulator, start_host: HostFactory
) -> None:
    stack = _stack(emulator, start_host)
    emulator.reject_login(EMAIL)
    result = stack.up(desired_accounts([EMAIL]))
    error = result.failed[EMAIL]
    assert emulator.attempts() == 1
    assert "HTTP 400" in error and "login failed" in error and EMAIL in error
    assert "password" in error and all(n in error for n in ("Gmail", "Apple", "Discord"))
    assert PASSWORD_SENTINEL not in error and TOKEN_SENTINEL not in error
    _no_chained_noise(error)
    assert stack.state == {}


# -- partial failure: state records exactly what exists ----------------------------------------


def test_one_of_five_failing_leaves_four_in_state_and_the_next_run_creates_only_it(
    emulator: UseapiEmulator, start_host: HostFactory
) -> None:
    stack = _stack(emulator, start_host)
    bad = FIVE[2]
    emulator.reject_login(bad)
    desired = desired_accounts(FIVE)

    first = stack.up(desired)
    assert list(first.failed) == [bad] and bad in first.failed[bad]
    assert first.created == sorted(set(FIVE) - {bad})
    assert set(stack.state) == set(emulator.accounts) == set(FIVE) - {bad}

    emulator.rejected_logins.clear()  # the user fixed the password
    emulator.reset_calls()
    second = stack.up(desired)
    assert second.created == [bad] and second.failed == {}
    assert second.unchanged == sorted(set(FIVE) - {bad})
    assert [r.email for r in emulator.calls()] == [bad]  # one POST, nothing else
    assert set(stack.state) == set(emulator.accounts) == set(FIVE)


def test_a_malformed_answer_fails_the_account_and_the_next_run_converges(
    emulator: UseapiEmulator, start_host: HostFactory
) -> None:
    stack = _stack(emulator, start_host)
    emulator.malformed_next("POST", "wrong-types")
    first = stack.up(desired_accounts([EMAIL]))
    assert "`maxJobs`" in first.failed[EMAIL] and "useapi:baseUrl" in first.failed[EMAIL]
    assert stack.state == {}  # never a resource from an answer that cannot be the API's
    second = stack.up(desired_accounts([EMAIL]))
    assert second.created == [EMAIL]  # POST adopts what the first run configured
    assert set(stack.state) == set(emulator.accounts) == {EMAIL}


# -- refresh sees out-of-band changes ---------------------------------------------------------


def test_refresh_sees_out_of_band_delete_and_change(
    emulator: UseapiEmulator, start_host: HostFactory
) -> None:
    stack = _stack(emulator, start_host)
    gone, changed, expired, same = FIVE[:4]
    desired = desired_accounts([gone, changed, expired, same], max_jobs=3)
    stack.up(desired)
    old_expiry = stack.state[expired].outputs["jwt"]["ExpireTime"]

    emulator.oob_delete(gone)
    emulator.oob_set_max_jobs(changed, 7)
    emulator.oob_expire_session(expired)
    seen = stack.refresh()
    assert seen == {gone: "gone", changed: "changed", expired: "changed", same: "same"}
    assert gone not in stack.state
    assert stack.state[changed].outputs["maxJobs"] == 7
    assert stack.state[changed].inputs["maxJobs"] == 7  # so the next diff shows the drift
    assert stack.state[changed].outputs["password"] == PASSWORD_SENTINEL  # kept from state
    assert stack.state[expired].outputs["jwt"]["ExpireTime"] < old_expiry

    # The next up puts back what the inventory says: one POST each, nothing else.
    emulator.reset_calls()
    result = stack.up(desired)
    assert (result.created, result.updated) == ([gone], [changed])
    assert sorted(r.email or "" for r in emulator.calls()) == sorted([gone, changed])
    assert emulator.accounts[changed].max_jobs == 3


def test_refresh_survives_a_flaky_read(emulator: UseapiEmulator, start_host: HostFactory) -> None:
    stack = _stack(emulator, start_host)
    stack.up(desired_accounts([EMAIL]))
    emulator.inject("GET", Fault(status=502))
    emulator.drop_next("GET")
    assert stack.refresh() == {EMAIL: "same"}
    assert emulator.pending_faults() == 0


def test_refresh_keeps_state_when_a_404_is_not_the_apis(
    emulator: UseapiEmulator, start_host: HostFactory
) -> None:
    """A web server's 404 page (a mistyped base URL) fails the refresh; it drops nothing."""
    stack = _stack(emulator, start_host)
    stack.up(desired_accounts([EMAIL]))
    emulator.malformed_next("GET", "html-404", times=2)  # a list read, then a single GET
    seen = stack.refresh()
    assert "HTTP 404" in seen[EMAIL] and "useapi:baseUrl" in seen[EMAIL]
    assert set(stack.state) == {EMAIL}
