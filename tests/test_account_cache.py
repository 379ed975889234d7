"""The account-list cache on its own, with a real client talking HTTP to the emulator.

Counts what the emulator saw: one list per generation however many reads run at once, a
write (invalidation) forces a fresh list, a list fetched across a write is not kept, misses
are confirmed one by one, a failing list falls back to per-account reads.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from provider import account_cache
from provider.account_cache import AccountCache
from provider.settings import ProviderSettings
from provider.useapi_client import Account, UseapiClient
from useapi_emulator import UseapiEmulator

EMAILS = [f"user{i}@example.com" for i in range(8)]
LIST_PATH = "/v2/pixverse/accounts"


@pytest.fixture
def client(emulator: UseapiEmulator) -> Iterator[UseapiClient]:
    settings = ProviderSettings(
        token=emulator.token, base_url=emulator.base_url, timeout=5, max_retries=0
    )
    api = UseapiClient(settings)
    for email in EMAILS:
        api.put_account(email, "pw", 3)
    emulator.reset_calls()
    yield api
    api.close()


def _lists(emulator: UseapiEmulator) -> int:
    return sum(1 for call in emulator.calls("GET") if call.path == LIST_PATH)


def _singles(emulator: UseapiEmulator) -> int:
    return sum(1 for call in emulator.calls("GET") if call.path != LIST_PATH)


def test_concurrent_reads_share_one_list_call(
    emulator: UseapiEmulator, client: UseapiClient
) -> None:
    emulator.latency = 0.1  # the first fetch is still in flight when the others arrive
    cache = AccountCache()
    with ThreadPoolExecutor(max_workers=4) as pool:
        found = list(pool.map(lambda email: cache.lookup(email, client), EMAILS))
    assert [account.email if account else None for account in found] == EMAILS
    assert (_lists(emulator), _singles(emulator)) == (1, 0)


def test_a_write_invalidates_and_the_next_read_sees_fresh_data(
    emulator: UseapiEmulator, client: UseapiClient
) -> None:
    cache = AccountCache()
    assert cache.lookup(EMAILS[0], client) is not None
    client.put_account(EMAILS[0], "pw", 7)
    assert cache.lookup(EMAILS[0], client).max_jobs == 3  # type: ignore[union-attr]
    cache.invalidate()
    assert cache.lookup(EMAILS[0], client).max_jobs == 7  # type: ignore[union-attr]
    assert _lists(emulator) == 2


def test_a_miss_is_confirmed_by_a_single_read(
    emulator: UseapiEmulator, client: UseapiClient
) -> None:
    cache = AccountCache()
    assert cache.lookup("nobody@example.com", client) is None
    assert (_lists(emulator), _singles(emulator)) == (1, 1)


def test_no_accounts_at_all_is_a_miss_not_an_error(
    emulator: UseapiEmulator, client: UseapiClient
) -> None:
    for email in EMAILS:
        emulator.oob_delete(email)
    assert AccountCache().lookup(EMAILS[0], client) is None  # the list answers 404


def test_a_failing_list_falls_back_to_single_reads_until_the_next_write(
    emulator: UseapiEmulator, client: UseapiClient
) -> None:
    cache = AccountCache()
    sent = client.requests_sent
    emulator.fail_next("GET", 500)  # answered by the fault, so the emulator records no list
    assert [cache.lookup(email, client) is not None for email in EMAILS[:3]] == [True] * 3
    assert client.requests_sent - sent == 1 + 3
    assert (_lists(emulator), _singles(emulator)) == (0, 3)
    cache.invalidate()
    assert cache.lookup(EMAILS[0], client) is not None
    assert _lists(emulator) == 1  # the list is tried again after a write


class _HeldList:
    """The real client, but its list answer is held back until the test lets it go, so a
    write can land between the list leaving the server and the cache storing it."""

    def __init__(self, client: UseapiClient) -> None:
        self.client = client
        self.fetched = threading.Event()
        self.release = threading.Event()

    def list_accounts(self) -> dict[str, Account]:
        accounts = self.client.list_accounts()
        self.fetched.set()
        assert self.release.wait(5)
        return accounts

    def get_account(self, email: str) -> Account | None:
        return self.client.get_account(email)


def test_a_list_fetched_across_a_write_is_not_kept(
    emulator: UseapiEmulator, client: UseapiClient
) -> None:
    cache = AccountCache()
    held = _HeldList(client)
    reader = threading.Thread(target=cache.lookup, args=(EMAILS[0], held))
    reader.start()
    assert held.fetched.wait(5)  # the list has left the server, maxJobs 3 in it
    emulator.oob_set_max_jobs(EMAILS[1], 8)  # a write lands...
    cache.invalidate()  # ...and invalidates, while that list is still on its way
    held.release.set()
    reader.join(timeout=5)
    assert cache.lookup(EMAILS[1], client).max_jobs == 8  # type: ignore[union-attr]
    assert _lists(emulator) == 2


def test_an_old_list_is_fetched_again(emulator: UseapiEmulator, client: UseapiClient) -> None:
    now = [0.0]
    cache = AccountCache(max_age=60, clock=lambda: now[0])
    cache.lookup(EMAILS[0], client)
    now[0] = 59
    cache.lookup(EMAILS[1], client)
    assert _lists(emulator) == 1
    now[0] = 61
    cache.lookup(EMAILS[2], client)
    assert _lists(emulator) == 2


def test_the_shared_cache_is_per_api_root_and_token_and_keeps_no_token() -> None:
    first = account_cache.shared_cache("http://a/v2", "token-one")
    assert account_cache.shared_cache("http://a/v2", "token-one") is first
    assert account_cache.shared_cache("http://a/v2", "token-two") is not first
    assert account_cache.shared_cache("http://b/v2", "token-one") is not first
    assert all("token-one" not in key for keys in account_cache._caches for key in keys)


@pytest.mark.parametrize(("value", "on"), [("", True), ("on", True), ("off", False), ("0", False)])
def test_the_environment_switch(monkeypatch: pytest.MonkeyPatch, value: str, on: bool) -> None:
    monkeypatch.setenv(account_cache.SWITCH_ENV, value)
    assert account_cache.enabled() is on
