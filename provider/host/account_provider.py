"""`PixVerseAccountProvider`: the lifecycle of one useapi.net PixVerse account configuration.

This class is pickled (by reference: it lives in an importable package) into every
resource's `__provider` and rebuilt in the provider host, so the instance carries nothing
at pickle time: the token, the HTTP session and the settings are resolved in `configure`
(or lazily from the environment) inside the host, and `__reduce__` drops them anyway.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)
from pulumi.output import Unknown
from pulumi.runtime import rpc

from . import account_cache, drain, engine_watch, validation
from .settings import ALL_SETTINGS, ProviderSettings, resolve_settings
from .single_flight import SingleFlight
from .useapi.answers import UseapiError  # no HTTP stack: the client still loads lazily

if TYPE_CHECKING:
    # Imported when the first HTTP call needs it: check and diff (a no-op `up`, a preview)
    # never do, and loading requests is most of the provider's first-call cost in the host.
    from .useapi.client import Account, UseapiClient
    from .useapi.scheduler import Scheduler

EMAIL = "email"
PASSWORD = "password"
MAX_JOBS = "maxJobs"
TOKEN_PROP = "token"
JWT = "jwt"
INPUTS = (EMAIL, PASSWORD, MAX_JOBS, TOKEN_PROP)
SECRET_PROPS = (PASSWORD, TOKEN_PROP)
UPDATABLE = (PASSWORD, MAX_JOBS, TOKEN_PROP)
CONFIG_KEYS = tuple(setting.key for setting in ALL_SETTINGS)


def _is_unknown(value: Any) -> bool:
    """Preview values the engine does not know yet (an Unknown, or the raw wire sentinel)."""
    return isinstance(value, Unknown) or value == rpc.UNKNOWN


def _plain(value: Any) -> Any:
    """The host sends plain values (acceptSecrets is false); unwrap a secret envelope anyway."""
    return rpc.unwrap_rpc_secret(value)


def _token_of(props: Mapping[str, Any]) -> Any:
    """An empty or absent token means "not set", so `""`, None and absence compare equal."""
    token = _plain(props.get(TOKEN_PROP))
    return None if token == "" else token


def _same(prop: str, old: Any, new: Any) -> bool:
    if _is_unknown(new):
        return False
    if prop == MAX_JOBS:
        return isinstance(old, (int, float)) and isinstance(new, (int, float)) and old == new
    return bool(old == new)


class PixVerseAccountProvider(ResourceProvider):
    """Creates, updates, reads and deletes one account configuration on useapi.net."""

    # The pickle holds only a reference to this class (tens of bytes, nothing secret), so it is
    # stored in plain state: readable diffs, and a leak test can prove there is nothing in it.
    serialize_as_secret_always = False

    def __init__(self) -> None:
        super().__init__()
        self._config: dict[str, Any] = {}
        self._client: UseapiClient | None = None
        self._lock = threading.Lock()
        # The drain's look at the running jobs, shared by the deletes in flight together.
        self._running_jobs: SingleFlight[Scheduler] = SingleFlight()

    # -- pickling: nothing of the host's state travels in `__provider` ---------------------

    def __reduce__(self) -> tuple[type[PixVerseAccountProvider], tuple[()]]:
        """Pickled as "call the class with no arguments": no state at all, not even an empty
        dict. The SDK's `serialize_provider` (3.260) wraps the pickler's dict writer in one more
        sorting layer on every call and never unwraps it, so each dict it writes costs one layer
        per resource pickled before: quadratic in the fleet, and a RecursionError from about the
        985th account of a program (measured; bench/README.md). Without a dict, no layer runs."""
        return (PixVerseAccountProvider, ())

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        """Releases before `__reduce__` pickled an empty state dict; their `__provider`, in
        every existing stack's state, still unpickles to a fresh provider."""
        self.__init__()  # type: ignore[misc]

    # -- configuration ----------------------------------------------------------------------

    def configure(self, req: ConfigureRequest) -> None:
        """Keep only our keys of the stack config; the client is built on first use."""
        engine_watch.watch_engine()  # once per host: end it when its engine is gone
        config = {key: req.config.get(key) for key in CONFIG_KEYS}
        with self._lock:
            self._config = {key: value for key, value in config.items() if value is not None}
            if self._client is not None:
                self._client.close()
            self._client = None
        # Fail here, at the first call of any operation, with the message naming both places.
        resolve_settings(self._config, os.environ)

    def settings(self) -> ProviderSettings:
        return resolve_settings(self._config, os.environ)

    def client(self) -> UseapiClient:
        """One pooled client per host process: the host keeps this provider object cached."""
        with self._lock:
            if self._client is None:
                from .useapi.client import UseapiClient

                self._client = UseapiClient(self.settings())
            return self._client

    # -- check ------------------------------------------------------------------------------

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        inputs = {key: value for key, value in news.items() if key != "__provider"}
        failures: list[CheckFailure] = []
        rules = (
            (EMAIL, validation.email_problem, True),
            (PASSWORD, validation.password_problem, True),
            (MAX_JOBS, validation.max_jobs_problem, True),
            (TOKEN_PROP, validation.token_problem, False),
        )
        for prop, problem, required in rules:
            value = _plain(news.get(prop))
            if _is_unknown(value):
                continue
            if value is None and required:
                failures.append(CheckFailure(prop, f"{prop} is required"))
                continue
            reason = problem(value)
            if reason is not None:
                failures.append(CheckFailure(prop, reason))
            elif value is not None:
                inputs[prop] = value
        max_jobs = inputs.get(MAX_JOBS)
        if not _is_unknown(max_jobs) and validation.max_jobs_problem(max_jobs) is None:
            inputs[MAX_JOBS] = validation.as_max_jobs(max_jobs)
        if _token_of(inputs) is None:
            inputs.pop(TOKEN_PROP, None)
        return CheckResult(inputs, failures)

    # -- diff: pure, no HTTP ----------------------------------------------------------------

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [] if _same(EMAIL, olds.get(EMAIL), news.get(EMAIL)) else [EMAIL]
        changed = [
            prop
            for prop in UPDATABLE
            if not _same(
                prop,
                _token_of(olds) if prop == TOKEN_PROP else _plain(olds.get(prop)),
                _token_of(news) if prop == TOKEN_PROP else _plain(news.get(prop)),
            )
        ]
        return DiffResult(
            changes=bool(replaces or changed),
            replaces=replaces,
            stables=[],
            # One configuration per email: the old one goes before the new one is made.
            delete_before_replace=True,
        )

    # -- create / update: POST is an upsert --------------------------------------------------

    def create(self, props: dict[str, Any]) -> CreateResult:
        """Adopts an account that already exists: POST creates or updates."""
        email = str(props[EMAIL])
        outs = self._apply(props)
        return CreateResult(email, outs)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._apply(news))

    def _apply(self, props: Mapping[str, Any]) -> dict[str, Any]:
        email = str(props[EMAIL])
        password = str(_plain(props[PASSWORD]))
        token = _token_of(props)
        max_jobs = validation.as_max_jobs(props[MAX_JOBS])
        try:
            account = self.client().put_account(email, password, max_jobs, token)
        finally:
            account_cache.invalidate_all()  # a write, even a failed one, outdates the list
        # An answer without maxJobs: the value just accepted (2xx) is the honest one.
        return self._outputs(account, password, token, max_jobs)

    @staticmethod
    def _outputs(
        account: Account, password: Any, token: Any, known_max_jobs: Any
    ) -> dict[str, Any]:
        """State: the inputs (the password from us: the API masks it) plus the jwt block.

        Every field of the API's answer is optional: a missing maxJobs falls back to
        `known_max_jobs` (what was sent, or what state holds on a read); a missing session
        field is left out of `jwt` rather than guessed.
        """
        max_jobs = account.max_jobs
        if max_jobs is None:
            if validation.max_jobs_problem(_plain(known_max_jobs)) is not None:
                raise UseapiError(
                    f"useapi.net's answer for {account.email} has no maxJobs and state holds "
                    "none to fall back on; run `pulumi up` to set it again",
                    email=account.email,
                )
            max_jobs = validation.as_max_jobs(_plain(known_max_jobs))
        outs: dict[str, Any] = {
            EMAIL: account.email,
            PASSWORD: password,
            MAX_JOBS: max_jobs,
            JWT: account.jwt.to_wire() if account.jwt else None,
        }
        if token is not None:
            outs[TOKEN_PROP] = token
        return outs

    # -- read (refresh) -----------------------------------------------------------------------

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Live maxJobs and jwt; password and token from state; gone (404) drops the resource.

        Answered from one account list per host process (see `account_cache`).
        """
        account = self._lookup(id_)
        if account is None:
            return ReadResult(None, {})
        password = _plain(props.get(PASSWORD))
        token = _token_of(props)
        # maxJobs left out of the answer: what state holds is the last value known to be set.
        outs = self._outputs(account, password, token, props.get(MAX_JOBS))
        inputs = {key: outs[key] for key in INPUTS if outs.get(key) is not None}
        return ReadResult(id_, outs, inputs)

    def _lookup(self, email: str) -> Account | None:
        client = self.client()
        if not account_cache.enabled():
            return client.get_account(email)
        # The client's own settings: resolving them again on every read would be wasted work.
        settings = client.settings
        return account_cache.shared_cache(settings.base_url, settings.token).lookup(email, client)

    # -- delete -------------------------------------------------------------------------------

    def delete(self, id_: str, _props: dict[str, Any]) -> None:
        """Waits for the account's running jobs first (see `drain`); 404 counts as already
        deleted. Past `useapi:drainTimeout` nothing is sent and the account stays in state."""
        client = self.client()
        settings = client.settings

        def look() -> Scheduler:
            # The fleet's jobs, shared by the deletes in flight: it names no one account.
            return self._running_jobs.do(client.get_scheduler)

        drain.wait_for_jobs(
            look,
            id_,
            timeout=settings.drain_timeout,
            interval=settings.drain_poll_interval,
        )
        try:
            client.delete_account(id_)
        finally:
            account_cache.invalidate_all()


# The pickle names the class by its public path, `provider.PixVerseAccountProvider` (the name the
# contract gives), not by this file: state then survives moving the class inside the package.
PixVerseAccountProvider.__module__ = "provider"
