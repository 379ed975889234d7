"""The client against every answer useapi.net's docs allow, over sockets to the emulator.

One section per point of docs/conformance.md: the email in the path, the tolerant reader,
the 404 shapes, and the statuses documented across useapi.net's APIs.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from provider.host.useapi.client import Account, Jwt, UseapiClient
from tests.conftest import ClientFactory
from tests.support.helpers import PASSWORD_SENTINEL
from tests.support.helpers import useapi_error as _error
from useapi_emulator import Fault, UseapiEmulator, Variants

pytestmark = pytest.mark.timeout(30)
EMAIL = "ops+a@example.com"
OTHER = "render@example.com"


def _calls(client: UseapiClient) -> dict[str, Callable[[], object]]:
    return {
        "get": lambda: client.get_account(EMAIL),
        "list": client.list_accounts,
        "post": lambda: client.put_account(EMAIL, PASSWORD_SENTINEL, 3),
        "delete": lambda: client.delete_account(EMAIL),
    }


def _method(call: str) -> str:
    return {"get": "GET", "list": "GET", "post": "POST", "delete": "DELETE"}[call]


# -- 1. the email in the path, as the docs send it ----------------------------------------------


@pytest.mark.parametrize(
    ("email", "segment"),
    [
        ("ops+a@example.com", "ops+a@example.com"),
        ("first.last@example.com", "first.last@example.com"),
        ("a!$&'*=~_-b@example.com", "a!$&'*=~_-b@example.com"),
        ("a/b@example.com", "a%2Fb@example.com"),
        ("a?b#c@example.com", "a%3Fb%23c@example.com"),
        ("a%40b@example.com", "a%2540b@example.com"),
        ("a b@example.com", "a%20b@example.com"),
        ("a{b}|c^d`e@example.com", "a%7Bb%7D%7Cc%5Ed%60e@example.com"),
        ("ü@example.com", "%C3%BC@example.com"),
    ],
)
def test_the_email_goes_raw_and_only_what_a_segment_cannot_hold_is_encoded(
    make_client: ClientFactory, emulator: UseapiEmulator, email: str, segment: str
) -> None:
    client = make_client()
    assert client.account_url(email) == f"{emulator.base_url}/pixverse/accounts/{segment}"
    client.get_account(email)  # and that is what goes on the wire: nothing re-encodes it
    assert emulator.calls("GET")[-1].path == f"/v2/pixverse/accounts/{segment}"


def test_the_whole_lifecycle_works_where_the_path_is_taken_literally(
    make_client: ClientFactory, emulator: UseapiEmulator
) -> None:
    emulator.variants = Variants(literal_path=True)
    client = make_client()
    assert client.put_account(EMAIL, PASSWORD_SENTINEL, 3).max_jobs == 3
    fetched = client.get_account(EMAIL)
    assert fetched is not None and fetched.email == EMAIL
    assert set(client.list_accounts()) == {EMAIL}
    assert client.put_account(EMAIL, PASSWORD_SENTINEL, 5).max_jobs == 5
    assert client.delete_account(EMAIL) is True
    assert client.get_account(EMAIL) is None and emulator.accounts == {}
    assert {r.email for r in emulator.calls() if r.email} == {EMAIL}


# -- 2. a tolerant reader ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("omit", "jwt"),
    [
        ({"jwt"}, None),
        ({"jwt.AccountId", "jwt.ExpireTime", "jwt.token"}, {"ExpireTimeUTC", "Username"}),
        ({"jwt.ExpireTime", "jwt.ExpireTimeUTC"}, {"AccountId", "Username"}),
        ({"jwt.AccountId", "jwt.ExpireTime", "jwt.ExpireTimeUTC", "jwt.Username"}, set()),
        ({"email", "password"}, {"AccountId", "ExpireTime", "ExpireTimeUTC", "Username"}),
    ],
    ids=["no jwt", "no id, epoch or token", "no expiry", "only the token", "no email"],
)
def test_an_answer_without_a_field_keeps_what_is_there(
    make_client: ClientFactory, emulator: UseapiEmulator, omit: set[str], jwt: set[str] | None
) -> None:
    emulator.variants = Variants(omit=frozenset(omit))
    client = make_client()
    created = client.put_account(EMAIL, PASSWORD_SENTINEL, 3)
    fetched = client.get_account(EMAIL)
    listed = client.list_accounts()[EMAIL]
    for account in (created, fetched, listed):
        assert isinstance(account, Account) and account.email == EMAIL
        assert account.max_jobs == 3
        if jwt is None:
            assert account.jwt is None
        else:
            assert isinstance(account.jwt, Jwt) and set(account.jwt.to_wire()) == jwt


def test_an_answer_without_max_jobs_leaves_it_to_the_caller(
    make_client: ClientFactory, emulator: UseapiEmulator
) -> None:
    emulator.variants = Variants(omit=frozenset({"maxJobs"}))
    client = make_client()
    assert client.put_account(EMAIL, PASSWORD_SENTINEL, 3).max_jobs is None
    fetched = client.get_account(EMAIL)
    assert fetched is not None and fetched.max_jobs is None and fetched.jwt is not None


@pytest.mark.parametrize("kind", ["empty", "not-json", "json-list", "html"])
def test_a_post_with_nothing_usable_fails_saying_running_again_is_safe(
    make_client: ClientFactory, emulator: UseapiEmulator, kind: str
) -> None:
    emulator.malformed_next("POST", kind)
    error = _error(lambda: make_client().put_account(EMAIL, PASSWORD_SENTINEL, 3))
    assert "malformed answer" in str(error) and "useapi:baseUrl" in str(error)


# -- 3. every 404 shape the API may use means gone; a web page does not --------------------------


@pytest.mark.parametrize("shape", ["json", "text", "empty"])
def test_the_apis_own_404_means_gone_in_every_shape(
    make_client: ClientFactory, emulator: UseapiEmulator, shape: str
) -> None:
    emulator.variants = Variants(not_found=shape)
    client = make_client()
    assert client.get_account(EMAIL) is None
    assert client.list_accounts() == {}
    assert client.delete_account(EMAIL) is False
    assert emulator.attempts() == 3  # one request each: a 404 is an answer, not a fault


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"Not Found", "text/plain"),
        (b'"Configuration not found."', "application/json"),
        (b"Configuration not found.", "application/json"),  # prose under a JSON label
        (b"   ", "text/plain"),
    ],
    ids=["text", "json string", "mislabelled text", "whitespace"],
)
@pytest.mark.parametrize("call", ["get", "list", "delete"])
def test_other_api_shaped_404_bodies_mean_gone(
    make_client: ClientFactory, emulator: UseapiEmulator, call: str, body: bytes, content_type: str
) -> None:
    emulator.inject(_method(call), Fault(status=404, body=body, content_type=content_type))
    assert _calls(make_client())[call]() in (None, {}, False)


@pytest.mark.parametrize(
    ("body", "content_type", "says"),
    [
        (b"<html><h1>Not Found</h1></html>", "text/html", "web page (text/html)"),
        (b"<?xml version='1.0'?><Error/>", "application/xml", "web page (application/xml)"),
        (b"<!DOCTYPE html><p>404</p>", "text/plain", "web page (text/plain)"),
        (b"[]", "application/json", "JSON list"),
        (b"null", "application/json", "JSON NoneType"),
    ],
    ids=["html", "xml", "sniffed html", "json list", "json null"],
)
@pytest.mark.parametrize("call", ["get", "list", "delete"])
def test_a_404_that_cannot_be_the_api_is_an_error_naming_the_setting(
    make_client: ClientFactory,
    emulator: UseapiEmulator,
    call: str,
    body: bytes,
    content_type: str,
    says: str,
) -> None:
    emulator.inject(_method(call), Fault(status=404, body=body, content_type=content_type))
    error = _error(_calls(make_client())[call])
    assert error.status == 404 and says in str(error) and "useapi:baseUrl" in str(error)
    assert "<" not in str(error)  # the page is described, never quoted


def test_a_wrong_base_url_meets_a_website_404_and_fails_every_call(
    make_client: ClientFactory, emulator: UseapiEmulator
) -> None:
    emulator.variants = Variants(website_404=True)
    client = make_client(base_url=f"{emulator.root_url}/v1")  # the wrong API version
    for call in ("get", "list", "delete"):
        error = _error(_calls(client)[call])
        assert error.status == 404 and "useapi:baseUrl" in str(error)


# -- 4. the statuses useapi.net documents across its APIs -----------------------------------------


def _refused_once(emulator: UseapiEmulator, call: Callable[[], object], status: int) -> str:
    """The error text of a call useapi.net refused with `status`: one request, and no advice
    to retry (waiting fixes neither 402 nor 596)."""
    error = _error(call)
    assert error.status == status and emulator.attempts() == 1
    text = str(error)
    assert f"HTTP {status}" in text and "retry later" not in text
    return text


@pytest.mark.parametrize("call", ["get", "list", "post", "delete"])
def test_401_on_any_call_is_one_request_naming_the_token_setting(
    make_client: ClientFactory, emulator: UseapiEmulator, call: str
) -> None:
    emulator.fail_next(_method(call), 401, retry_after="1")
    text = _refused_once(emulator, _calls(make_client(max_retries=3))[call], 401)
    assert "useapi:token" in text and "USEAPI_TOKEN" in text


@pytest.mark.parametrize("call", ["get", "list", "post", "delete"])
def test_402_is_not_retried_and_says_to_renew_the_subscription(
    make_client: ClientFactory, emulator: UseapiEmulator, call: str
) -> None:
    emulator.subscription_expired = True
    emulator.fail_next(_method(call), 402, retry_after="1")  # even asked to wait: no retry
    text = _refused_once(emulator, _calls(make_client(max_retries=3))[call], 402)
    assert "subscription has expired" in text and "renew" in text


@pytest.mark.parametrize("call", ["get", "list", "post", "delete"])
def test_596_is_not_retried_and_says_what_a_person_must_do(
    make_client: ClientFactory, emulator: UseapiEmulator, call: str
) -> None:
    client = make_client(max_retries=3)
    client.put_account(EMAIL, PASSWORD_SENTINEL, 3)
    emulator.mark_error(EMAIL, "refresh token rejected")  # GET and POST for it answer 596
    if call in ("list", "delete"):
        emulator.fail_next(_method(call), 596, retry_after="1")
    emulator.reset_calls()
    text = _refused_once(emulator, _calls(client)[call], 596)
    assert "error state" in text and "sign in to PixVerse" in text and "delete the account" in text
    if call in ("get", "post"):
        assert "refresh token rejected" in text and EMAIL in text


@pytest.mark.parametrize("status", [418, 451, 226])
def test_an_undocumented_status_is_an_error_that_names_it(
    make_client: ClientFactory, emulator: UseapiEmulator, status: int
) -> None:
    emulator.inject("GET", Fault(status=status, body=b"I'm a teapot", content_type="text/plain"))
    if 200 <= status < 300:
        # A 2xx is success; one without an account object is nothing usable, and says so.
        error = _error(lambda: make_client().get_account(EMAIL))
        assert f"HTTP {status}" in str(error) and "malformed answer" in str(error)
        return
    error = _error(lambda: make_client().get_account(EMAIL))
    text = str(error)
    assert error.status == status and f"HTTP {status}" in text
    assert "not a status the useapi.net accounts API uses" in text and "useapi:baseUrl" in text
    assert "I'm a teapot" in text  # the answer's own words, plain text being safe to show


@pytest.mark.parametrize("answer", ["204", "200-json", "200-empty"])
def test_delete_accepts_the_answers_the_docs_leave_open(
    make_client: ClientFactory, emulator: UseapiEmulator, answer: str
) -> None:
    emulator.variants = Variants(delete_answer=answer)
    client = make_client()
    client.put_account(EMAIL, PASSWORD_SENTINEL, 3)
    assert client.delete_account(EMAIL) is True and emulator.accounts == {}


@pytest.mark.parametrize(
    ("status", "body", "content_type"),
    [
        (200, b"OK", "text/plain"),
        (202, b"", "application/json"),
        (200, b'{"deleted": true}', "application/json"),
    ],
)
def test_delete_accepts_any_2xx_with_or_without_a_body(
    make_client: ClientFactory,
    emulator: UseapiEmulator,
    status: int,
    body: bytes,
    content_type: str,
) -> None:
    emulator.inject("DELETE", Fault(status=status, body=body, content_type=content_type))
    assert make_client().delete_account(EMAIL) is True


def test_a_delete_answered_by_a_web_page_is_not_a_success(
    make_client: ClientFactory, emulator: UseapiEmulator
) -> None:
    """A web server that answers every path with 200 must not make a destroy pass."""
    emulator.malformed_next("DELETE", "html")
    error = _error(lambda: make_client().delete_account(EMAIL))
    assert error.status == 200 and "useapi:baseUrl" in str(error)


def test_an_upstream_error_object_is_quoted_by_its_message(
    make_client: ClientFactory, emulator: UseapiEmulator
) -> None:
    body = b'{"error": {"code": 400, "message": "Request contains an invalid argument."}}'
    emulator.inject("POST", Fault(status=400, body=body))
    error = _error(lambda: make_client().put_account(EMAIL, PASSWORD_SENTINEL, 3))
    assert error.api_error == "Request contains an invalid argument."


def test_an_answers_text_reaches_the_user_as_one_printable_line(
    make_client: ClientFactory, emulator: UseapiEmulator
) -> None:
    body = b"Subscription\x1b[31m expired\r\n\tplease renew"
    emulator.inject("GET", Fault(status=402, body=body, content_type="text/plain"))
    error = _error(lambda: make_client().get_account(EMAIL))
    assert error.api_error == "Subscription [31m expired please renew"
