"""HTTP client for the useapi.net v2 PixVerse accounts API.

Kept apart from the lifecycle so that the provider speaks in accounts, not in status codes,
and so that retries, timeouts and error wording live in one place. Nothing secret (the API
token, a password, a PixVerse session token) ever reaches an exception, a log line or a repr.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import TimeoutError as Urllib3Timeout
from urllib3.util.retry import Retry

from .settings import ProviderSettings

# Statuses that say "try again": rate limiting and the gateway/server family.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# A hostile or mistaken Retry-After must not park an unattended pipeline for hours.
RETRY_AFTER_MAX_SECONDS = 60
BACKOFF_FACTOR = 0.5
BACKOFF_MAX_SECONDS = 8.0
# The provider host serves four calls at once; a few spare connections cost nothing.
POOL_SIZE = 8
SECRET_MASK = "[secret]"


@dataclass(frozen=True)
class Jwt:
    """The PixVerse session useapi.net holds for an account (its masked token is not kept)."""

    account_id: int
    expire_time: int
    expire_time_utc: str
    username: str

    def to_wire(self) -> dict[str, Any]:
        """The shape stored in state as the resource's `jwt` output."""
        return {
            "AccountId": self.account_id,
            "ExpireTime": self.expire_time,
            "ExpireTimeUTC": self.expire_time_utc,
            "Username": self.username,
        }


@dataclass(frozen=True)
class Account:
    """An account configuration as useapi.net reports it. The API never returns the password."""

    email: str
    max_jobs: int
    jwt: Jwt | None


class UseapiError(Exception):
    """Any failure talking to useapi.net, worded so a user can act on it.

    Carries the HTTP status (None when no answer came), the API's own `error` text and the
    account's email; never a password or the API token.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        api_error: str | None = None,
        email: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.api_error = api_error
        self.email = email


def _hint(status: int | None, method: str) -> str:
    """What to do next, by status: the part of an error message a user acts on."""
    if status == 401:
        return "check the useapi.net API token in `useapi:token` (or USEAPI_TOKEN)"
    if status == 400 and method == "POST":
        return (
            "check the password, that the PixVerse account signs in with email and password "
            "(Gmail, Apple and Discord sign-ins are not supported) and that maxJobs is 1..8"
        )
    if status == 429:
        return "useapi.net is rate limiting; retry later or raise `useapi:maxRetries`"
    if status is not None and status >= 500:
        return "useapi.net is failing; retry later or raise `useapi:maxRetries`"
    return "see the useapi.net PixVerse accounts documentation"


def _redact(text: str, secrets: Iterable[str | None]) -> str:
    """Mask any secret an API answer might echo, before the text can reach a user."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, SECRET_MASK)
    return text


def _build_retry(max_retries: int) -> Retry:
    """Retries of 429/5xx and dropped connections, honouring Retry-After.

    POST is retried too: useapi.net's POST /accounts/{email} is an upsert ("create or
    update"), so sending the same body again after a lost answer is harmless.
    """
    return Retry(
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
    )


class UseapiClient:
    """One pooled `requests.Session` for the life of a provider host process."""

    def __init__(self, settings: ProviderSettings) -> None:
        self._settings = settings
        self._accounts_url = f"{settings.base_url}/pixverse/accounts"
        self._session = requests.Session()
        adapter = HTTPAdapter(
            max_retries=_build_retry(settings.max_retries),
            pool_connections=POOL_SIZE,
            pool_maxsize=POOL_SIZE,
        )
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.headers["Authorization"] = f"Bearer {settings.token}"
        self._session.headers["Accept"] = "application/json"
        self._lock = threading.Lock()
        self.requests_sent = 0

    def __repr__(self) -> str:
        return f"UseapiClient(base_url={self._settings.base_url!r})"

    def close(self) -> None:
        self._session.close()

    def account_url(self, email: str) -> str:
        """`{email}` is one path segment: `a+b@x.com` → `a%2Bb%40x.com`."""
        return f"{self._accounts_url}/{quote(email, safe='')}"

    # -- the four calls ---------------------------------------------------------------------

    def get_account(self, email: str) -> Account | None:
        """The account's configuration, or None when useapi.net has none for that email."""
        response = self._send("GET", self.account_url(email), email=email)
        if response.status_code == 404:
            return None
        self._raise_for_status(response, "GET", email)
        return parse_account(self._json(response, email), email)

    def list_accounts(self) -> dict[str, Account]:
        """Every configured account; useapi.net answers 404 when there are none."""
        response = self._send("GET", self._accounts_url, email=None)
        if response.status_code == 404:
            return {}
        self._raise_for_status(response, "GET", None)
        body = self._json(response, None)
        if not isinstance(body, dict):
            raise self._malformed(None, "expected a map of email to account")
        return {key: parse_account(value, key) for key, value in body.items()}

    def put_account(
        self, email: str, password: str, max_jobs: int, token: str | None = None
    ) -> Account:
        """Create or update (POST is an upsert, so this also adopts an existing account)."""
        body: dict[str, Any] = {"email": email, "password": password, "maxJobs": max_jobs}
        if token:
            body["token"] = token
        response = self._send(
            "POST", self.account_url(email), email=email, body=body, secrets=(password, token)
        )
        self._raise_for_status(response, "POST", email, secrets=(password, token))
        return parse_account(self._json(response, email), email)

    def delete_account(self, email: str) -> bool:
        """Delete; False when there was nothing to delete (404 counts as already deleted)."""
        response = self._send("DELETE", self.account_url(email), email=email)
        if response.status_code == 404:
            return False
        self._raise_for_status(response, "DELETE", email)
        return True

    # -- transport --------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        url: str,
        *,
        email: str | None,
        body: Mapping[str, Any] | None = None,
        secrets: Iterable[str | None] = (),
    ) -> requests.Response:
        timeout = self._settings.timeout
        with self._lock:
            self.requests_sent += 1
        try:
            return self._session.request(method, url, json=body, timeout=(timeout, timeout))
        except requests.exceptions.RequestException as exc:
            # Raised from None: the chained urllib3 text adds nothing a user can act on.
            raise self._transport_error(method, url, email, exc, secrets) from None

    def _transport_error(
        self,
        method: str,
        url: str,
        email: str | None,
        exc: requests.exceptions.RequestException,
        secrets: Iterable[str | None],
    ) -> UseapiError:
        attempts = self._settings.max_retries + 1
        budget = f"{attempts} attempt(s) of up to {self._settings.timeout:g}s each"
        # requests reports a read timeout that used up its retries as a ConnectionError whose
        # argument is urllib3's MaxRetryError; its `reason` tells what really happened.
        reason = getattr(exc.args[0], "reason", None) if exc.args else None
        if isinstance(exc, requests.exceptions.RetryError):
            # Retries ran out on 429/5xx: raise_on_status=False hands the last answer back
            # normally, so this only fires when urllib3 itself gives up.
            what = f"useapi.net kept failing ({budget})"
        elif isinstance(exc, requests.exceptions.Timeout) or isinstance(reason, Urllib3Timeout):
            what = f"no answer within the timeout ({budget}); raise `useapi:timeout` if needed"
        elif isinstance(exc, requests.exceptions.ConnectionError):
            what = f"could not connect ({budget}); check `useapi:baseUrl` and the network"
        else:
            what = f"request failed: {type(exc).__name__}"
        who = f" for {email}" if email else ""
        message = _redact(
            f"useapi.net {method} {url}{who}: {what}", [self._settings.token, *secrets]
        )
        return UseapiError(message, status=None, email=email)

    def _raise_for_status(
        self,
        response: requests.Response,
        method: str,
        email: str | None,
        secrets: Iterable[str | None] = (),
    ) -> None:
        if 200 <= response.status_code < 300:
            return
        api_error = _api_error_text(response)
        who = f" for {email}" if email else ""
        message = (
            f"useapi.net {method} {response.request.path_url if response.request else ''}{who} "
            f"failed with HTTP {response.status_code}: {api_error}; "
            f"{_hint(response.status_code, method)}"
        )
        all_secrets = [self._settings.token, *secrets]
        raise UseapiError(
            _redact(message, all_secrets),
            status=response.status_code,
            api_error=_redact(api_error, all_secrets),
            email=email,
        )

    def _json(self, response: requests.Response, email: str | None) -> Any:
        try:
            return response.json()
        except (ValueError, json.JSONDecodeError):
            raise self._malformed(email, "the answer is not JSON") from None

    def _malformed(self, email: str | None, why: str) -> UseapiError:
        who = f" for {email}" if email else ""
        return UseapiError(f"useapi.net sent a malformed answer{who}: {why}", email=email)


def _api_error_text(response: requests.Response) -> str:
    """The API's own `error` text, or a short, safe description of a non-JSON answer."""
    try:
        body = response.json()
    except ValueError:
        kind = response.headers.get("Content-Type", "unknown content type").split(";")[0]
        return f"non-JSON answer ({kind}, {len(response.content)} bytes)"
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return str(body["error"])[:500]
    return "no error text in the answer"


def _int_field(data: Mapping[str, Any], key: str, where: str) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise UseapiError(
            f"useapi.net sent a malformed answer for {where}: `{key}` is not a number"
        )
    return int(value)


def _str_field(data: Mapping[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise UseapiError(f"useapi.net sent a malformed answer for {where}: `{key}` is not text")
    return value


def parse_jwt(data: Any, email: str) -> Jwt | None:
    """The session block, minus its masked token; None when useapi.net holds no session."""
    if data is None:
        return None
    if not isinstance(data, dict):
        raise UseapiError(f"useapi.net sent a malformed answer for {email}: `jwt` is not an object")
    return Jwt(
        account_id=_int_field(data, "AccountId", email),
        expire_time=_int_field(data, "ExpireTime", email),
        expire_time_utc=_str_field(data, "ExpireTimeUTC", email),
        username=_str_field(data, "Username", email),
    )


def parse_account(data: Any, email: str) -> Account:
    """Typed account from an API answer; a malformed answer is a clear UseapiError."""
    if not isinstance(data, dict):
        raise UseapiError(f"useapi.net sent a malformed answer for {email}: expected an object")
    return Account(
        email=_str_field(data, "email", email) if "email" in data else email,
        max_jobs=_int_field(data, "maxJobs", email),
        jwt=parse_jwt(data.get("jwt"), email),
    )
