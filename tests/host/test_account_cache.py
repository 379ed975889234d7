"""The account-list cache, with a real client talking HTTP to the emulator.

Counts what the emulator saw: one list per generation however many reads run at once, a
write through the provider (create, update, delete, even a failed one) forces a fresh list,
a list fetched across such a write is not kept, misses are confirmed one by one, a failing
list falls back to per-account reads. Invalidation is driven by the provider's own writes
(its `read` answers from the same process-wide cache), so a write path that forgets to
invalidate fails here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config

from provider import PixVerseAccountProvider
from provider.host import account_cache
from provider.host.account_cache import AccountCache
from provider.host.settings import ProviderSettings
from provider.host.useapi.client import Account, UseapiClient, UseapiError
from tests.conftest import stack_config
from tests.support.helpers import account_inputs
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


@pytest.fixture
def provider(emulator: UseapiEmulator, client: UseapiClient) -> Iterator[PixVerseAccountProvider]:
    """The provider as the host runs it, its reads answered from the process-wide cache."""
    instance = PixVerseAccountProvider()
    config = stack_config(emulator, **{"useapi:maxRetries": "0"})
    instance.configure(ConfigureRequest(Config(config, "pixverse-accounts")))
    yield instance
    instance.client().close()
    account_cache.invalidate_all()  # the cache is process-wide: leave no list to a later test


def _shared(provider: PixVerseAccountProvider) -> AccountCache:
    """The cache the provider's reads use (and its writes must invalidate)."""
    settings = provider.client().settings
    return account_cache.shared_cache(settings.base_url, settings.token)


def _max_jobs(provider: PixVerseAccountProvider, email: str) -> int | None:
    """What a refresh would record for `email` (None: dropped from state as gone)."""
    read = provider.read(email, account_inputs(email))
    return None if read.id is None else int((read.outs or {})["maxJobs"])


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


def _failed_update(provider: PixVerseAccountProvider, emulator: UseapiEmulator) -> None:
    emulator.reject_login(EMAILS[0])
    with pytest.raises(UseapiError, match="login failed"):
        provider.update(EMAILS[0], {}, account_inputs(EMAILS[0], max_jobs=4))


# Each write the provider makes, and what a read of the written account then finds.
WRITES: dict[str, tuple[Callable[[PixVerseAccountProvider, UseapiEmulator], object], str, Any]] = {
    "create": (
        lambda provider, _: provider.create(account_inputs("new@example.com", max_jobs=2)),
        "new@example.com",
        2,
    ),
    "update": (
        lambda provider, _: provider.update(EMAILS[0], {}, account_inputs(EMAILS[0], max_jobs=7)),
        EMAILS[0],
        7,
    ),
    "delete": (
        lambda provider, _: provider.delete(EMAILS[0], account_inputs(EMAILS[0])),
        EMAILS[0],
        None,  # gone, not answered from the old list
    ),
    "failed update": (_failed_update, EMAILS[0], 3),
}


@pytest.mark.parametrize("write", sorted(WRITES))
def test_a_provider_write_makes_the_next_read_fetch_anew(
    emulator: UseapiEmulator, provider: PixVerseAccountProvider, write: str
) -> None:
    make_write, written, expected = WRITES[write]
    bystander = EMAILS[1]
    assert (_max_jobs(provider, EMAILS[0]), _lists(emulator)) == (3, 1)
    emulator.oob_set_max_jobs(bystander, 6)
    assert _max_jobs(provider, bystander) == 3  # no write since: the list answers
    assert _lists(emulator) == 1

    make_write(provider, emulator)

    assert _max_jobs(provider, written) == expected
    assert _max_jobs(provider, bystander) == 6
    assert _lists(emulator) == 2


def test_invalidate_makes_the_next_lookup_fetch_anew(
    emulator: UseapiEmulator, client: UseapiClient
) -> None:
    """The cache's own contract, which the provider's writes rely on (tested above)."""
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
    emulator: UseapiEmulator, provider: PixVerseAccountProvider
) -> None:
    emulator.fail_next("GET", 500)  # answered by the fault, so the emulator records no list
    assert [_max_jobs(provider, email) for email in EMAILS[:3]] == [3, 3, 3]
    assert emulator.statuses("GET") == [500, 200, 200, 200]  # the list failed, then singles
    assert (_lists(emulator), _singles(emulator)) == (0, 3)
    provider.update(EMAILS[3], {}, account_inputs(EMAILS[3], max_jobs=4))
    assert _max_jobs(provider, EMAILS[0]) == 3
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
    emulator: UseapiEmulator, client: UseapiClient, provider: PixVerseAccountProvider
) -> None:
    cache = _shared(provider)
    held = _HeldList(client)
    reader = threading.Thread(target=cache.lookup, args=(EMAILS[0], held))
    reader.start()
    assert held.fetched.wait(5)  # the list has left the server, maxJobs 3 in it
    # A provider write lands while that list is still on its way to the cache.
    provider.update(EMAILS[1], {}, account_inputs(EMAILS[1], max_jobs=8))
    held.release.set()
    reader.join(timeout=5)
    assert _max_jobs(provider, EMAILS[1]) == 8
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
