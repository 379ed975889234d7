"""The client's retry policy and error wording, over real sockets to the emulator.

What is retried (429 with Retry-After, 5xx, dropped connections, read timeouts on POST too),
what never is (400, 401, 413), how long a call may take, and that every failure, malformed
answers included, is one UseapiError that names the account, the URL or status, and what
to do — with nothing chained under it that could carry the request's headers or body.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest
import urllib3.util.retry

from provider.host.settings import ProviderSettings
from provider.host.useapi.client import (
    RETRY_AFTER_MAX_SECONDS,
    UseapiRetry,
    backoff_schedule,
    worst_case_seconds,
)
from tests.conftest import ClientFactory
from tests.support.helpers import PASSWORD_SENTINEL, TOKEN_SENTINEL
from tests.support.helpers import useapi_error as _error
from useapi_emulator import MALFORMED, Fault, UseapiEmulator

EMAIL = "ops@example.com"


# -- the retry policy -----------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_each_transient_status_is_retried(
    make_client: ClientFactory, emulator: UseapiEmulator, status: int
) -> None:
    emulator.fail_next("POST", status)
    assert make_client().put_account(EMAIL, PASSWORD_SENTINEL, 3).max_jobs == 3
    assert emulator.attempts("POST") == 2


@pytest.mark.parametrize("status", [400, 401, 403, 413])
def test_client_errors_are_never_retried_even_with_retry_after(
    make_client: ClientFactory, emulator: UseapiEmulator, status: int
) -> None:
    emulator.fail_next("POST", status, retry_after="1")
    error = _error(lambda: make_client().put_account(EMAIL, PASSWORD_SENTINEL, 3))
    assert error.status == status and emulator.attempts() == 1


def test_retry_after_is_honoured_and_reported(
    make_client: ClientFactory, emulator: UseapiEmulator
) -> None:
    emulator.fail_next("GET", 429, times=2, retry_after="1")
    client = make_client(max_retries=1)
    started = time.monotonic()
    error = _error(lambda: client.get_account(EMAIL))
    elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 3.0  # the Retry-After, not the (zero) first backoff
    assert error.status == 429 and "after 2 attempts over 1." in str(error)
    assert "rate limiting" in str(error) and "useapi:maxRetries" in str(error)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("2", 2.0),
        ("  7 ", 7.0),
        ("86400", float(RETRY_AFTER_MAX_SECONDS)),  # a day is capped
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # in the past: no wait
        ("soon", 0.0),  # garbage: back off instead of failing the call
        ("-5", 0.0),
        ("9" * 5000, 0.0),  # too many digits for int(): backoff, not a ValueError
        ("Mon, 99 Foo 99999 99:99:99 GMT", 0.0),
    ],
)
def test_retry_after_parsing_is_capped_and_never_raises(header: str, seconds: float) -> None:
    retry = UseapiRetry(retry_after_max=RETRY_AFTER_MAX_SECONDS)
    assert retry.parse_retry_after(header) == seconds


class _SleepRecorder(ModuleType):
    """urllib3's `time` module, except that `sleep` records the wait instead of waiting."""

    def __init__(self) -> None:
        super().__init__("time")
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


@pytest.fixture
def urllib3_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every wait the client's retry policy asks for (Retry-After or backoff), not waited out:
    a capped Retry-After is a minute, and the suite must stay fast."""
    recorder = _SleepRecorder()
    monkeypatch.setattr(urllib3.util.retry, "time", recorder)
    return recorder.sleeps


# A server asking to wait a day, in both forms the header allows.
DAY_LONG = ["86400", "Fri, 31 Dec 9999 23:59:59 GMT"]


@pytest.mark.timeout(20)
@pytest.mark.parametrize("retry_after", DAY_LONG, ids=["seconds", "http-date"])
def test_a_day_long_retry_after_makes_a_real_call_wait_only_the_cap(
    make_client: ClientFactory,
    emulator: UseapiEmulator,
    urllib3_sleeps: list[float],
    retry_after: str,
) -> None:
    """The policy the client builds for a real call, over a socket: not one a test assembles."""
    emulator.fail_next("POST", 429, retry_after=retry_after)
    started = time.monotonic()
    assert make_client().put_account(EMAIL, PASSWORD_SENTINEL, 3).max_jobs == 3
    assert urllib3_sleeps == [RETRY_AFTER_MAX_SECONDS]
    assert RETRY_AFTER_MAX_SECONDS <= 60  # an unattended run waits a minute, not a day
    assert emulator.statuses("POST") == [429, 201]
    assert time.monotonic() - started < 5  # nothing else waited


@pytest.mark.timeout(20)
@pytest.mark.parametrize("max_retries", [1, 4])
@pytest.mark.parametrize(
    ("status", "retry_after"), [(429, "86400"), (503, None)], ids=["retry-after", "backoff"]
)
def test_worst_case_seconds_is_what_the_client_really_waits(
    make_client: ClientFactory,
    emulator: UseapiEmulator,
    urllib3_sleeps: list[float],
    max_retries: int,
    status: int,
    retry_after: str | None,
) -> None:
    """Every attempt answered with `status`: the waits the client asks for are exactly what
    `worst_case_seconds` adds to the attempts' timeouts."""
    settings = ProviderSettings(token="-", timeout=1.0, max_retries=max_retries)
    emulator.fail_next("GET", status, times=max_retries + 1, retry_after=retry_after)
    error = _error(lambda: make_client(max_retries=max_retries).get_account(EMAIL))
    assert error.status == status
    assert emulator.statuses("GET") == [status] * (max_retries + 1)
    waits = worst_case_seconds(settings, retry_after=retry_after is not None)
    assert sum(urllib3_sleeps) == waits - (max_retries + 1) * settings.timeout
    if retry_after is not None:
        assert urllib3_sleeps == [RETRY_AFTER_MAX_SECONDS] * max_retries
    else:  # urllib3 skips a zero wait: the schedule's first backoff is 0 s
        assert urllib3_sleeps == [s for s in backoff_schedule(max_retries) if s > 0]


def test_a_garbage_retry_after_still_retries(
    make_client: ClientFactory, emulator: UseapiEmulator
) -> None:
    emulator.fail_next("GET", 503, retry_after="in a while")
    assert make_client().get_account(EMAIL) is None
    assert emulator.attempts("GET") == 2


def test_a_read_timeout_on_post_is_retried(
    make_client: ClientFactory, emulator: UseapiEmulator
) -> None:
    emulator.delay_next("POST", 1.5)
    client = make_client(timeout=0.3)
    assert client.put_account(EMAIL, PASSWORD_SENTINEL, 3).max_jobs == 3
    assert [kind for _, _, kind in emulator.faults_served] == ["delay"]


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_a_dropped_connection_is_retried_for_every_method(
    make_client: ClientFactory, emulator: UseapiEmulator, method: str
) -> None:
    client = make_client()
    client.put_account(EMAIL, PASSWORD_SENTINEL, 3)
    emulator.drop_next(method, times=2)
    calls: dict[str, Callable[[], object]] = {
        "GET": lambda: client.get_account(EMAIL),
        "POST": lambda: client.put_account(EMAIL, PASSWORD_SENTINEL, 3),
        "DELETE": lambda: client.delete_account(EMAIL),
    }
    assert calls[method]()
    assert emulator.attempts(method) == 3 + (method == "POST")


def test_drops_beyond_the_retries_say_so(
    make_client: ClientFactory, emulator: UseapiEmulator
) -> None:
    emulator.drop_next("POST", times=2)
    error = _error(lambda: make_client(max_retries=1).put_account(EMAIL, PASSWORD_SENTINEL, 3))
    text = str(error)
    assert "dropped" in text and "2 attempt(s)" in text and EMAIL in text
    assert "upsert" in text  # running again is safe, and the message says so
    assert error.status is None and error.email == EMAIL


# -- bounded time ---------------------------------------------------------------------------


def test_the_worst_case_is_attempts_times_timeout_plus_backoff() -> None:
    assert backoff_schedule(4) == [0.0, 1.0, 2.0, 4.0]
    assert max(backoff_schedule(20)) == 8.0  # capped
    settings = ProviderSettings(token="-", timeout=0.5, max_retries=3)
    assert worst_case_seconds(settings) == 4 * 0.5 + 3.0
    assert worst_case_seconds(settings, retry_after=True) == 4 * 0.5 + 3 * 60
    # The defaults: 5 attempts of 30 s and 7 s of backoff.
    default = ProviderSettings(token="-")
    assert worst_case_seconds(default) == 5 * 30 + 7


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/v2"


def test_a_silent_server_fails_within_the_worst_case(
    make_client: ClientFactory, silent_server: str
) -> None:
    client = make_client(timeout=0.3, max_retries=2, base_url=silent_server)
    started = time.monotonic()
    error = _error(lambda: client.put_account(EMAIL, PASSWORD_SENTINEL, 3))
    elapsed = time.monotonic() - started
    bound = worst_case_seconds(ProviderSettings(token="-", timeout=0.3, max_retries=2))
    assert 3 * 0.3 <= elapsed <= bound + 0.5, (elapsed, bound)
    text = str(error)
    assert f"{silent_server}/pixverse/accounts/ops@example.com" in text
    assert "no answer within the 0.3s timeout" in text and "3 attempt(s) over" in text
    assert "useapi:timeout" in text


def test_one_attempt_is_bounded_connect_and_read_together(
    make_client: ClientFactory, emulator: UseapiEmulator
) -> None:
    emulator.delay_next("GET", 3)
    client = make_client(timeout=0.4, max_retries=0)
    started = time.monotonic()
    _error(lambda: client.get_account(EMAIL))
    assert time.monotonic() - started < 0.4 + 0.3


def test_nothing_listening_is_could_not_connect_not_a_timeout(
    make_client: ClientFactory,
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    client = make_client(max_retries=0, base_url=f"http://127.0.0.1:{port}/v2")
    text = str(_error(lambda: client.get_account(EMAIL)))
    assert "could not connect" in text and "useapi:baseUrl" in text and "timeout" not in text


# -- answers that are not what the API sends --------------------------------------------------


# A POST answer without `jwt` is one the docs allow (every field is optional): not malformed.
@pytest.mark.parametrize("kind", sorted(set(MALFORMED) - {"html-502", "html-404", "missing-jwt"}))
def test_a_malformed_answer_to_post_is_one_clear_error(
    make_client: ClientFactory, emulator: UseapiEmulator, kind: str
) -> None:
    emulator.malformed_next("POST", kind)
    error = _error(lambda: make_client().put_account(EMAIL, PASSWORD_SENTINEL, 3))
    text = str(error)
    assert "malformed answer" in text and EMAIL in text and "useapi:baseUrl" in text
    assert error.status in (200, 201) and error.email == EMAIL


@pytest.mark.parametrize("kind", sorted(set(MALFORMED) - {"html-502", "missing-jwt"}))
def test_a_malformed_answer_to_get_is_one_clear_error(
    make_client: ClientFactory, emulator: UseapiEmulator, kind: str
) -> None:
    client = make_client()
    client.put_account(EMAIL, PASSWORD_SENTINEL, 3)
    emulator.malformed_next("GET", kind)
    assert "malformed answer" in str(_error(lambda: client.get_account(EMAIL)))


def test_a_read_without_a_session_is_accepted(
    make_client: ClientFactory, emulator: UseapiEmulator
) -> None:
    """Refresh must not fail because useapi.net holds no session right now; POST must."""
    client = make_client()
    client.put_account(EMAIL, PASSWORD_SENTINEL, 3)
    emulator.malformed_next("GET", "missing-jwt")
    account = client.get_account(EMAIL)
    assert account is not None and account.jwt is None


def test_an_html_error_page_from_a_gateway_is_retried_then_described(
    make_client: ClientFactory, emulator: UseapiEmulator
) -> None:
    emulator.malformed_next("GET", "html-502", times=2)
    error = _error(lambda: make_client(max_retries=1).list_accounts())
    assert error.status == 502
    assert "not JSON (text/html" in str(error) and "<html" not in str(error).lower()


def test_a_truncated_answer_is_a_clear_error(
    make_client: ClientFactory, emulator: UseapiEmulator
) -> None:
    emulator.inject("POST", Fault(truncate=True))
    text = str(_error(lambda: make_client().put_account(EMAIL, PASSWORD_SENTINEL, 3)))
    assert "dropped before a full answer" in text and "upsert" in text


def test_a_redirect_is_not_followed(make_client: ClientFactory, emulator: UseapiEmulator) -> None:
    """Following it would turn POST into GET and make an update look applied."""
    emulator.inject("POST", Fault(status=301, body=b""))
    error = _error(lambda: make_client().put_account(EMAIL, PASSWORD_SENTINEL, 3))
    assert error.status == 301 and "useapi:baseUrl" in str(error)
    assert emulator.attempts() == 1 and emulator.accounts == {}


def test_an_api_that_echoes_the_password_is_redacted(
    make_client: ClientFactory, emulator: UseapiEmulator
) -> None:
    text = f"login failed for password {PASSWORD_SENTINEL}, token {TOKEN_SENTINEL}"
    echoed = json.dumps({"error": text, "code": 400}).encode()
    emulator.inject("POST", Fault(status=400, body=echoed))
    error = _error(lambda: make_client().put_account(EMAIL, PASSWORD_SENTINEL, 3))
    assert error.api_error is not None and "[secret]" in error.api_error
    assert PASSWORD_SENTINEL not in error.api_error and TOKEN_SENTINEL not in error.api_error


def test_an_echoed_password_with_quotes_and_unicode_is_redacted(
    make_client: ClientFactory, emulator: UseapiEmulator
) -> None:
    password = 'pw "quoted" SENTINEL/ü'
    echoed = b'{"error": "bad password pw \\"quoted\\" SENTINEL/\\u00fc"}'
    emulator.inject("POST", Fault(status=400, body=echoed))
    error = _error(lambda: make_client().put_account(EMAIL, password, 3))
    assert "SENTINEL" not in str(error)


@pytest.mark.parametrize("call", ["get", "list", "delete"])
def test_a_404_page_that_is_not_the_api_is_not_read_as_gone(
    make_client: ClientFactory, emulator: UseapiEmulator, call: str
) -> None:
    """A mistyped base URL must not make refresh drop every account, nor destroy "succeed"."""
    client = make_client()
    client.put_account(EMAIL, PASSWORD_SENTINEL, 3)
    emulator.malformed_next("DELETE" if call == "delete" else "GET", "html-404")
    calls: dict[str, Callable[[], object]] = {
        "get": lambda: client.get_account(EMAIL),
        "list": client.list_accounts,
        "delete": lambda: client.delete_account(EMAIL),
    }
    error = _error(calls[call])
    assert error.status == 404 and "useapi:baseUrl" in str(error)
    assert "a 404 that is a web page (text/html)" in str(error)
    assert EMAIL in emulator.accounts


def test_the_apis_own_404_still_means_gone(make_client: ClientFactory) -> None:
    client = make_client()
    assert client.get_account(EMAIL) is None
    assert client.list_accounts() == {}
    assert client.delete_account(EMAIL) is False
