"""HTTP client for the useapi.net v2 PixVerse accounts API.

Kept apart from the lifecycle so that the provider speaks in accounts, not in status codes,
and so that retries, timeouts and error wording live in one place. Nothing secret (the API
token, a password, a PixVerse session token) ever reaches an exception, a log line or a repr.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

import requests
import requests.auth
from requests.adapters import HTTPAdapter
from urllib3.exceptions import (
    ConnectTimeoutError,
    InvalidHeader,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)
from urllib3.util import Timeout
from urllib3.util.retry import Retry

from ..concurrency import host_workers
from ..settings import ProviderSettings
from .answers import (
    Account,
    Jwt,
    UseapiError,
    parse_account,
    parse_account_map,
    parse_jwt,
)
from .plans import Plan, parse_plan
from .scheduler import Scheduler, parse_scheduler
from .status import (
    BASE_URL_HINT,
    api_error_text,
    describe_body,
    is_markup,
    not_found_problem,
    status_hint,
)
from .throttle import THROTTLE_STATUSES, Outcome, Throttle

__all__ = [
    "Account",
    "Jwt",
    "Plan",
    "Scheduler",
    "UseapiClient",
    "UseapiError",
    "parse_account",
    "parse_account_map",
    "parse_jwt",
]

# Statuses that say "try again": rate limiting and the gateway/server family.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# Statuses whose Retry-After is honoured. urllib3 would also retry a 413 that carries one;
# a body too large will not shrink by waiting, so only the statuses retried anyway are kept:
# the same answers that close the host's gate (`throttle`).
RETRY_AFTER_STATUSES = THROTTLE_STATUSES
# A hostile or mistaken Retry-After must not park an unattended pipeline for hours.
RETRY_AFTER_MAX_SECONDS = 60
BACKOFF_FACTOR = 0.5
BACKOFF_MAX_SECONDS = 8.0
# One connection per call the host runs at once (`concurrency`): a call that found the pool
# full would open a connection of its own and throw it away afterwards ("Connection pool is
# full, discarding connection"), a new TCP (and TLS) handshake on every such call.
POOL_SIZE = host_workers()
SECRET_MASK = "[secret]"
# RFC 3986 lets these stand raw in a path segment (sub-delims, ":" and "@"; quote() keeps the
# unreserved ones itself). The docs send the email as it is, and whether the service decodes
# `%40` is not documented: so `@`, `+` and `.` go raw, and only what a segment cannot hold
# (`/`, `?`, `#`, `%`, spaces, non-ASCII, ...) is percent-encoded.
PATH_SEGMENT_SAFE = "!$&'()*+,;=:@"
# In a query string `+` reads as a space, so the email's `+` must go as `%2B` (and `&`, `=`,
# `#`, `%`, spaces are encoded too); `@` may stand raw in a query and stays as the docs send it.
QUERY_SAFE = "@"
T = TypeVar("T")


def _redact(text: str, secrets: Iterable[str | None]) -> str:
    """Mask any secret an API answer might echo, before the text can reach a user.

    Also masks the JSON-escaped and URL-encoded spellings: an API that echoes the request
    body or URL back would show a password with quotes or spaces in one of those forms.
    """
    for secret in secrets:
        if not secret:
            continue
        forms = {secret, json.dumps(secret)[1:-1], quote(secret, safe="")}
        for form in sorted(forms, key=len, reverse=True):  # longest first: no half-masking
            text = text.replace(form, SECRET_MASK)
    return text


class UseapiRetry(Retry):
    """urllib3's Retry, tightened for an unattended pipeline.

    - Retry-After is honoured only on 429 and 503 (urllib3 adds 413, which waiting won't fix).
    - A Retry-After that cannot be parsed (garbage, a negative number, a date out of range)
      falls back to exponential backoff instead of failing the whole call with InvalidHeader.
    - With a `throttle`, every attempt passes the client's gate (`throttle`): a failed attempt
      gives its slot back (`increment`), the next one waits its turn after its own backoff
      (`sleep`), so the calls of one host back off together.
    """

    RETRY_AFTER_STATUS_CODES = RETRY_AFTER_STATUSES

    def __init__(self, *args: Any, throttle: Throttle | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.throttle = throttle

    def new(self, **kw: Any) -> UseapiRetry:
        # urllib3 makes a new Retry for every attempt; the gate goes with it.
        return super().new(**{"throttle": self.throttle, **kw})

    def parse_retry_after(self, retry_after: str) -> float:
        try:
            return super().parse_retry_after(retry_after)
        except (InvalidHeader, ValueError, OverflowError):
            return 0.0  # 0 means "no usable Retry-After": Retry.sleep() backs off instead

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> UseapiRetry:
        if self.throttle is not None:
            self.throttle.release(self._outcome(response))
        return super().increment(method, url, response, error, _pool, _stacktrace)

    def sleep(self, response: Any = None) -> None:
        super().sleep(response)
        if self.throttle is not None:
            self.throttle.acquire(retrying=True)

    def _outcome(self, response: Any) -> Outcome:
        if response is None:
            return Outcome()
        retry_after = None
        if response.status in RETRY_AFTER_STATUSES:
            retry_after = self.get_retry_after(response)
        return Outcome(response.status, retry_after)


def _build_retry(max_retries: int, throttle: Throttle | None = None) -> Retry:
    """Retries of 429/5xx and dropped connections, honouring Retry-After.

    POST is retried too, after a read timeout or a dropped connection as well as after a
    429/5xx: useapi.net's POST /accounts/{email} is an upsert ("create or update"), so
    sending the same body again after a lost answer is harmless. Never retried, even with a
    Retry-After: 400 (bad input or a failed PixVerse login), 401 (wrong token), 402 (the
    useapi.net subscription has expired) and 596 (useapi.net's own "account in an error
    state", outside the 5xx that are retried) — waiting changes none of them.
    """
    return UseapiRetry(
        total=max_retries,
        connect=max_retries,
        read=max_retries,
        status=max_retries,
        other=0,
        redirect=0,
        allowed_methods=frozenset({"GET", "POST", "DELETE"}),
        status_forcelist=RETRY_STATUSES,
        backoff_factor=BACKOFF_FACTOR,
        backoff_max=BACKOFF_MAX_SECONDS,
        respect_retry_after_header=True,
        retry_after_max=RETRY_AFTER_MAX_SECONDS,
        raise_on_status=False,
        throttle=throttle,
    )


def backoff_schedule(max_retries: int) -> list[float]:
    """The sleeps between attempts when no Retry-After is given (urllib3's formula)."""
    retry = _build_retry(max_retries)
    sleeps = []
    for _ in range(max_retries):
        retry = retry.increment(method="GET", url="/", error=ProtocolError("probe"))
        sleeps.append(retry.get_backoff_time())
    return sleeps


def worst_case_seconds(settings: ProviderSettings, retry_after: bool = False) -> float:
    """How long one call can take before it fails: every attempt times out, plus backoff.

    A server that never answers costs (maxRetries + 1) * timeout plus the backoff sleeps;
    when it keeps asking to wait (Retry-After), each retry may wait up to
    RETRY_AFTER_MAX_SECONDS instead. Either way the total is bounded.
    """
    attempts = settings.max_retries + 1
    waits = (
        settings.max_retries * float(RETRY_AFTER_MAX_SECONDS)
        if retry_after
        else sum(backoff_schedule(settings.max_retries))
    )
    return attempts * settings.timeout + waits


@dataclass(frozen=True)
class _Exchange:
    """An answer, with how many attempts and how much time it took to get it."""

    response: requests.Response
    attempts: int
    elapsed: float

    @property
    def status(self) -> int:
        return self.response.status_code


class _BearerAuth(requests.auth.AuthBase):
    """`Authorization: Bearer <token>` on every request; the repr never shows the token."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "_BearerAuth([secret])"


class _BudgetAdapter(HTTPAdapter):
    """Every request through this adapter gets the attempt budget, whatever the caller passed,
    and passes the client's gate (`throttle`) for its first attempt.

    `Timeout(total=t)` bounds connect and read together, so one attempt against a server that
    never answers costs t, not t to connect plus t to read: `useapi:timeout` means "seconds
    one HTTP attempt may take". Setting it here, not at each call, means no call can forget it.
    """

    def __init__(self, timeout: float, retry: Retry, throttle: Throttle) -> None:
        width = throttle.width
        super().__init__(max_retries=retry, pool_connections=width, pool_maxsize=width)
        self._budget = Timeout(connect=timeout, read=timeout, total=timeout)
        self._throttle = throttle

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        # requests hands a urllib3 Timeout through unchanged; its stubs just do not say so.
        budget: Any = self._budget.clone()
        self._throttle.acquire()
        try:
            response = super().send(request, stream, budget, verify, cert, proxies)
        except BaseException:
            self._throttle.release(Outcome())
            raise
        # A no-op when the last attempt already gave its slot back (a retried status whose
        # retries ran out: urllib3 returns that answer after `increment`).
        self._throttle.release(Outcome(response.status_code))
        return response


class UseapiClient:
    """One pooled `requests.Session` for the life of a provider host process."""

    def __init__(self, settings: ProviderSettings) -> None:
        self._settings = settings
        self._accounts_url = f"{settings.base_url}/pixverse/accounts"
        # Both as the docs write them (the features URL with its trailing slash).
        self._features_url = f"{settings.base_url}/pixverse/features/"
        self._scheduler_url = f"{settings.base_url}/pixverse/scheduler/available"
        self._session = requests.Session()
        # One gate and one connection pool, each as wide as the host (see `throttle`).
        self.throttle = Throttle(POOL_SIZE)
        adapter = _BudgetAdapter(
            settings.timeout, _build_retry(settings.max_retries, self.throttle), self.throttle
        )
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        # As the session's auth (not a default header): requests then never swaps in .netrc
        # credentials for the bearer token, while proxies and CA bundles still apply.
        self._session.auth = _BearerAuth(settings.token)
        self._session.headers["Accept"] = "application/json"
        # Proxy and CA-bundle settings come from the environment, which requests would re-read
        # in full on every call (about a third of our CPU per call in the benchmark). Every call
        # goes to one host, so resolve them once, for that host, and stop the per-call lookups.
        env = self._session.merge_environment_settings(settings.base_url, {}, None, None, None)
        self._session.proxies.update(env["proxies"])
        self._session.verify = env["verify"]
        self._session.trust_env = False
        self._lock = threading.Lock()
        self.requests_sent = 0

    def __repr__(self) -> str:
        return f"UseapiClient(base_url={self._settings.base_url!r})"

    @property
    def settings(self) -> ProviderSettings:
        """The settings this client was built with (its API root and token among them)."""
        return self._settings

    def close(self) -> None:
        self._session.close()

    def account_url(self, email: str) -> str:
        """`{email}` as the docs send it: `a+b@x.com` stays as is, `a/b@x.com` → `a%2Fb@x.com`."""
        return f"{self._accounts_url}/{quote(email, safe=PATH_SEGMENT_SAFE)}"

    def features_url(self, email: str) -> str:
        """`…/features/?email=a%2Bb@x.com`: the email encoded so that `+` survives."""
        return f"{self._features_url}?email={quote(email, safe=QUERY_SAFE)}"

    # -- the four calls ---------------------------------------------------------------------

    def get_account(self, email: str) -> Account | None:
        """The account's configuration, or None when useapi.net has none for that email."""
        answer = self._send("GET", self.account_url(email), email=email)
        if self._not_found(answer, "GET", email):
            return None
        self._raise_for_status(answer, "GET", email)
        return self._parse(answer, "GET", email, lambda body: parse_account(body, email))

    def list_accounts(self) -> dict[str, Account]:
        """Every configured account; useapi.net answers 404 when there are none."""
        answer = self._send("GET", self._accounts_url, email=None)
        if self._not_found(answer, "GET", None):
            return {}
        self._raise_for_status(answer, "GET", None)
        return self._parse(answer, "GET", None, parse_account_map)

    def put_account(
        self, email: str, password: str, max_jobs: int, token: str | None = None
    ) -> Account:
        """Create or update (POST is an upsert, so this also adopts an existing account).

        Safe to retry after a timeout or a dropped connection, and safe to run again after a
        failure: the same body sent twice leaves the same configuration.
        """
        body: dict[str, Any] = {"email": email, "password": password, "maxJobs": max_jobs}
        if token:
            body["token"] = token
        secrets = (password, token)
        answer = self._send(
            "POST", self.account_url(email), email=email, body=body, secrets=secrets
        )
        self._raise_for_status(answer, "POST", email, secrets=secrets)
        # Any 2xx with an account object: every field of it is optional (the caller fills a
        # missing maxJobs from what it sent). No object at all is nothing usable.
        return self._parse(answer, "POST", email, lambda body: parse_account(body, email))

    def delete_account(self, email: str) -> bool:
        """Delete; False when there was nothing to delete (the API's 404 means already gone).

        Any 2xx is success, with or without a body (the docs give no status); only a web
        page cannot be the API's answer, whatever its status.
        """
        answer = self._send("DELETE", self.account_url(email), email=email)
        if self._not_found(answer, "DELETE", email):
            return False
        self._raise_for_status(answer, "DELETE", email)
        if is_markup(answer.response):
            raise self._malformed(answer, "DELETE", email, describe_body(answer.response))
        return True

    # -- read-only capacity calls: the plan, the running jobs ------------------------------

    def get_plan(self, email: str) -> Plan | None:
        """The account's PixVerse plan and credits; None when the API answers its own 404 (an
        email useapi.net has no configuration for: the docs leave that answer open)."""
        answer = self._send("GET", self.features_url(email), email=email)
        if self._not_found(answer, "GET", email):
            return None
        self._raise_for_status(answer, "GET", email)
        return self._parse(answer, "GET", email, lambda body: parse_plan(body, email))

    def get_scheduler(self, for_email: str | None = None) -> Scheduler:
        """The jobs running through the API and every account's load, in one call.

        `for_email` only names the account an error is about (a delete waiting for it). An
        API-shaped 404 lists nothing, so nothing is running; a web page is still an error.
        """
        answer = self._send("GET", self._scheduler_url, email=for_email)
        if self._not_found(answer, "GET", for_email):
            return Scheduler()
        self._raise_for_status(answer, "GET", for_email)
        return self._parse(answer, "GET", for_email, parse_scheduler)

    # -- transport --------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        url: str,
        *,
        email: str | None,
        body: Mapping[str, Any] | None = None,
        secrets: Iterable[str | None] = (),
    ) -> _Exchange:
        with self._lock:
            self.requests_sent += 1
        started = time.monotonic()
        failure: requests.exceptions.RequestException | None = None
        try:
            # No redirects: requests would turn a redirected POST into a GET, and a GET that
            # "succeeds" would make an update look applied when it was not.
            response = self._session.request(method, url, json=body, allow_redirects=False)
        except requests.exceptions.RequestException as exc:
            failure = exc
        elapsed = time.monotonic() - started
        if failure is not None:
            # Raised outside the except block, so the urllib3/requests exception (whose
            # request object carries the Authorization header and the body) is not chained.
            raise self._transport_error(method, url, email, failure, elapsed, secrets)
        retries = getattr(response.raw, "retries", None)
        attempts = len(retries.history) + 1 if isinstance(retries, Retry) else 1
        return _Exchange(response, attempts, elapsed)

    def _transport_error(
        self,
        method: str,
        url: str,
        email: str | None,
        exc: requests.exceptions.RequestException,
        elapsed: float,
        secrets: Iterable[str | None],
    ) -> UseapiError:
        what, advice = _describe_transport_failure(exc, self._settings.timeout)
        # urllib3 wraps a failure that used up every retry in MaxRetryError.
        gave_up = exc.args and type(exc.args[0]).__name__ == "MaxRetryError"
        attempts = self._settings.max_retries + 1
        waited = (
            f"gave up after {attempts} attempt(s) over {elapsed:.1f}s"
            if gave_up
            else f"after {elapsed:.1f}s"
        )
        if method == "POST":
            advice += "; POST is an upsert, so running `pulumi up` again is safe"
        who = f" for {email}" if email else ""
        message = f"useapi.net {method} {url}{who}: {what}; {waited}; {advice}"
        return UseapiError(_redact(message, [self._settings.token, *secrets]), email=email)

    def _not_found(self, answer: _Exchange, method: str, email: str | None) -> bool:
        """A 404 from the API itself ("no such account"), as opposed to one from a wrong URL.

        Refresh drops a resource from state on 404, so a 404 page from a mistyped
        `useapi:baseUrl` must not pass for "every account was deleted". The API's 404 may be
        JSON, plain text or empty (see `useapi_status.not_found_problem`); a web page is an
        error that names the setting.
        """
        if answer.status != 404:
            return False
        problem = not_found_problem(answer.response)
        if problem is None:
            return True
        raise self._malformed(answer, method, email, problem)

    def _raise_for_status(
        self,
        answer: _Exchange,
        method: str,
        email: str | None,
        secrets: Iterable[str | None] = (),
    ) -> None:
        status = answer.status
        if 200 <= status < 300:
            return
        if 300 <= status < 400:
            location = answer.response.headers.get("Location", "an unnamed address")
            api_error = f"redirected to {location[:200]}"
            hint = "set `useapi:baseUrl` to the API root itself (https://api.useapi.net/v2)"
        else:
            api_error = api_error_text(answer.response)
            hint = status_hint(status, method)
        who = f" for {email}" if email else ""
        tries = (
            f" after {answer.attempts} attempts over {answer.elapsed:.1f}s"
            if answer.attempts > 1
            else ""
        )
        message = (
            f"useapi.net {method} {answer.response.url}{who} failed with HTTP {status}{tries}: "
            f"{api_error}; {hint}"
        )
        all_secrets = [self._settings.token, *secrets]
        raise UseapiError(
            _redact(message, all_secrets),
            status=status,
            api_error=_redact(api_error, all_secrets),
            email=email,
        )

    def _parse(
        self, answer: _Exchange, method: str, email: str | None, parse: Callable[[Any], T]
    ) -> T:
        """Decode and type the answer; anything unexpected is one clear UseapiError."""
        problem: str | None = None
        try:
            return parse(answer.response.json())
        except ValueError:  # includes the JSON decoder's error
            problem = describe_body(answer.response)
        except UseapiError as exc:
            problem = str(exc)
        raise self._malformed(answer, method, email, problem)

    def _malformed(
        self, answer: _Exchange, method: str, email: str | None, problem: str
    ) -> UseapiError:
        who = f" for {email}" if email else ""
        message = (
            f"useapi.net {method} {answer.response.url}{who} answered HTTP {answer.status} "
            f"with a malformed answer: {problem}; {BASE_URL_HINT}"
        )
        return UseapiError(
            _redact(message, [self._settings.token]), status=answer.status, email=email
        )


def _describe_transport_failure(
    exc: requests.exceptions.RequestException, timeout: float
) -> tuple[str, str]:
    """What went wrong without an HTTP answer, and what to do about it."""
    # requests reports a failure that used up its retries as a ConnectionError whose argument
    # is urllib3's MaxRetryError; its `reason` tells what really happened.
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    slow = (
        "raise `useapi:timeout` (USEAPI_TIMEOUT) if useapi.net is slow, "
        "or `useapi:maxRetries` (USEAPI_MAX_RETRIES) to try more often"
    )
    unreachable = "check `useapi:baseUrl` (USEAPI_BASE_URL) and the network"
    if isinstance(exc, requests.exceptions.RetryError):
        return "useapi.net kept answering with errors", "retry later"
    if isinstance(exc, requests.exceptions.ReadTimeout) or isinstance(reason, ReadTimeoutError):
        return f"no answer within the {timeout:g}s timeout", slow
    # NewConnectionError (refused, no route, unknown host) subclasses ConnectTimeoutError
    # in urllib3, so it is told apart first.
    if isinstance(reason, NewConnectionError):
        return "could not connect (refused, unreachable or unknown host)", unreachable
    if isinstance(exc, requests.exceptions.ConnectTimeout) or isinstance(
        reason, ConnectTimeoutError
    ):
        return f"could not connect within the {timeout:g}s timeout", f"{unreachable}, or {slow}"
    if isinstance(reason, ProtocolError) or isinstance(
        exc, requests.exceptions.ChunkedEncodingError
    ):
        return (
            "the connection was dropped before a full answer arrived",
            "retry later or raise `useapi:maxRetries` (USEAPI_MAX_RETRIES)",
        )
    if isinstance(exc, requests.exceptions.ConnectionError):
        return "the connection failed", unreachable
    return f"the request failed ({type(exc).__name__})", unreachable
