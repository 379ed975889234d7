"""One `GET /accounts` per provider host process answers every refresh read.

Why: `pulumi refresh` (or `up --refresh`) calls Read once per account. Asked one by one, a
fleet of N accounts costs N round trips; the API's list call returns every account in one.
So the first read fetches the list, and every read after it is answered from memory.

Why this is safe (staleness):
- The provider host is one process per Pulumi operation (`up`, `refresh`, `destroy`), so the
  list lives at most as long as one operation; it is never written to disk or into state, and
  a new operation starts with nothing cached. Within the operation it is also dropped after
  `MAX_AGE_SECONDS`, so even an unusually long operation reads again.
- Any write (create, update, delete), successful or not, drops the list, so a read after a
  write fetches anew. A list fetched while a write was in flight is not kept: every
  invalidation bumps a generation number and a fetch only stores its result if the
  generation it started with is still current.
- A refresh is a snapshot of the service at about the time it runs; a list fetched once at
  its start is the same kind of snapshot as N reads fetched a few milliseconds apart.
- An account missing from the list is confirmed with `GET /accounts/{email}` before the
  caller drops it from state: dropping is the one destructive outcome of a read, and a
  miss costs one call only for accounts that are really gone (none in the normal case).
- If the list call fails (or is malformed), reads fall back to `GET /accounts/{email}` for
  the rest of that generation: slower, never wrong.

The cache is process-wide (keyed by API root and a digest of the token), not per provider
object: the host keeps one provider object per distinct `__provider` pickle, and a write
through one of them must invalidate the list a read through another would use. Nothing here
is reachable from the provider instance, so nothing of it is ever pickled.

`PIXVERSE_ACCOUNT_LIST_CACHE=off` in the host's environment turns the list off (one GET per
read, as before): an escape hatch, and how the benchmark measures the "before".
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .useapi.client import Account

MAX_AGE_SECONDS = 60.0
SWITCH_ENV = "PIXVERSE_ACCOUNT_LIST_CACHE"
_OFF_VALUES = frozenset({"0", "off", "false", "no"})


class AccountSource(Protocol):
    """The two client calls the cache needs (`UseapiClient` has both)."""

    def list_accounts(self) -> dict[str, Account]: ...

    def get_account(self, email: str) -> Account | None: ...


class AccountCache:
    """The account list of one useapi.net API root and token, shared by concurrent reads."""

    def __init__(
        self,
        max_age: float = MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_age = max_age
        self._clock = clock
        # Guards the fields below; never held across an HTTP call.
        self._state_lock = threading.Lock()
        # Held across the list call, so four concurrent reads make one call, not four.
        self._fetch_lock = threading.Lock()
        self._accounts: dict[str, Account] | None = None
        self._fetched_at = 0.0
        self._generation = 0
        self._list_failed_generation: int | None = None

    def invalidate(self) -> None:
        """Forget the list: call after every write, whatever its outcome."""
        with self._state_lock:
            self._accounts = None
            self._generation += 1
            self._list_failed_generation = None

    def lookup(self, email: str, source: AccountSource) -> Account | None:
        """The account as the service has it now, or None when it has none for `email`."""
        accounts = self._accounts_from(source)
        if accounts is not None:
            found = accounts.get(email)
            if found is not None:
                return found
        # Not in the list (confirm before anyone drops it), or no list to answer from.
        return source.get_account(email)

    def _fresh(self) -> dict[str, Account] | None:
        """The cached list if it is young enough; call with `_state_lock` held."""
        if self._accounts is not None and self._clock() - self._fetched_at <= self._max_age:
            return self._accounts
        return None

    def _accounts_from(self, source: AccountSource) -> dict[str, Account] | None:
        from .useapi.answers import UseapiError  # loaded already: the source is its client

        with self._state_lock:
            cached = self._fresh()
            if cached is not None or self._list_failed_generation == self._generation:
                return cached
        with self._fetch_lock:
            with self._state_lock:
                # Another read may have fetched (or failed) while this one waited.
                cached = self._fresh()
                if cached is not None or self._list_failed_generation == self._generation:
                    return cached
                generation = self._generation
            try:
                accounts = source.list_accounts()
            except UseapiError:
                with self._state_lock:
                    if generation == self._generation:
                        self._list_failed_generation = generation
                return None
            with self._state_lock:
                if generation == self._generation:
                    self._accounts = accounts
                    self._fetched_at = self._clock()
            # Even when a write overtook the fetch, this read may use what it fetched: it
            # ran concurrently with that write, so either answer is a correct snapshot.
            return accounts


_caches: dict[tuple[str, str], AccountCache] = {}
_caches_lock = threading.Lock()


def enabled() -> bool:
    """False when the host's environment switches the list off."""
    return os.environ.get(SWITCH_ENV, "").strip().lower() not in _OFF_VALUES


def shared_cache(base_url: str, token: str) -> AccountCache:
    """The process-wide cache for one API root and token (the token is kept only as a digest)."""
    key = (base_url, hashlib.sha256(token.encode()).hexdigest())
    with _caches_lock:
        cache = _caches.get(key)
        if cache is None:
            cache = _caches[key] = AccountCache()
        return cache


def invalidate_all() -> None:
    """Drop every list this process holds: a write through any provider object calls this."""
    with _caches_lock:
        caches = list(_caches.values())
    for cache in caches:
        cache.invalidate()
