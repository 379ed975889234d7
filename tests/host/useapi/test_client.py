"""The useapi.net client against the emulator, over real sockets."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from provider.host.settings import ProviderSettings
from provider.host.useapi.client import Account, UseapiClient, UseapiError
from tests.support.helpers import PASSWORD_SENTINEL, SESSION_TOKEN_SENTINEL, TOKEN_SENTINEL
from useapi_emulator import UseapiEmulator


@pytest.fixture
def client(emulator: UseapiEmulator) -> Iterator[UseapiClient]:
    api = UseapiClient(
        ProviderSettings(token=emulator.token, base_url=emulator.base_url, timeout=5, max_retries=2)
    )
    yield api
    api.close()


def test_put_returns_a_typed_account_and_sends_bearer_auth(
    client: UseapiClient, emulator: UseapiEmulator
) -> None:
    account = client.put_account("ops@example.com", PASSWORD_SENTINEL, 3)
    assert isinstance(account, Account)
    assert (account.email, account.max_jobs) == ("ops@example.com", 3)
    assert account.jwt is not None and account.jwt.username == "ops"
    assert account.jwt.to_wire().keys() == {"AccountId", "ExpireTime", "ExpireTimeUTC", "Username"}
    (post,) = emulator.calls("POST")
    assert post.authorized
    assert post.body == {"email": "ops@example.com", "password": PASSWORD_SENTINEL, "maxJobs": 3}
    assert emulator.accounts["ops@example.com"].password == PASSWORD_SENTINEL


def test_the_email_is_one_path_segment_sent_as_the_docs_send_it(
    client: UseapiClient, emulator: UseapiEmulator
) -> None:
    client.put_account("a+b@x.com", PASSWORD_SENTINEL, 1)
    assert client.get_account("a+b@x.com") is not None
    assert client.delete_account("a+b@x.com")
    assert {r.path for r in emulator.calls()} == {"/v2/pixverse/accounts/a+b@x.com"}


def test_the_session_token_is_sent_only_when_set(
    client: UseapiClient, emulator: UseapiEmulator
) -> None:
    client.put_account("ops@example.com", PASSWORD_SENTINEL, 3)
    client.put_account("ops@example.com", PASSWORD_SENTINEL, 3, token=SESSION_TOKEN_SENTINEL)
    first, second = emulator.calls("POST")
    assert first.body is not None and "token" not in first.body
    assert second.body is not None and second.body["token"] == SESSION_TOKEN_SENTINEL


def test_post_is_an_upsert(client: UseapiClient, emulator: UseapiEmulator) -> None:
    client.put_account("ops@example.com", PASSWORD_SENTINEL, 3)
    updated = client.put_account("ops@example.com", PASSWORD_SENTINEL, 6)
    assert updated.max_jobs == 6
    assert list(emulator.accounts) == ["ops@example.com"]


def test_get_list_and_delete(client: UseapiClient) -> None:
    assert client.get_account("ops@example.com") is None
    assert client.list_accounts() == {}
    client.put_account("ops@example.com", PASSWORD_SENTINEL, 3)
    client.put_account("render@example.com", PASSWORD_SENTINEL, 5)
    listed = client.list_accounts()
    assert {email: a.max_jobs for email, a in listed.items()} == {
        "ops@example.com": 3,
        "render@example.com": 5,
    }
    fetched = client.get_account("render@example.com")
    assert fetched is not None and fetched.max_jobs == 5
    assert client.delete_account("render@example.com") is True
    assert client.delete_account("render@example.com") is False
    assert client.get_account("render@example.com") is None


def test_a_wrong_token_is_one_401_with_advice_and_no_secret(emulator: UseapiEmulator) -> None:
    api = UseapiClient(
        ProviderSettings(
            token="not-the-token", base_url=emulator.base_url, timeout=5, max_retries=3
        )
    )
    with pytest.raises(UseapiError) as caught:
        api.put_account("ops@example.com", PASSWORD_SENTINEL, 3)
    api.close()
    error = caught.value
    assert (error.status, error.api_error, error.email) == (401, "Unauthorized", "ops@example.com")
    assert "useapi:token" in str(error) and "ops@example.com" in str(error)
    assert "not-the-token" not in str(error) and PASSWORD_SENTINEL not in str(error)
    assert len(emulator.calls()) == 1


def test_a_failed_login_is_one_400_naming_the_email_not_the_password(
    client: UseapiClient, emulator: UseapiEmulator
) -> None:
    emulator.reject_login("ops@example.com")
    with pytest.raises(UseapiError) as caught:
        client.put_account("ops@example.com", PASSWORD_SENTINEL, 3)
    error = caught.value
    assert error.status == 400 and error.email == "ops@example.com"
    assert error.api_error is not None and "login failed" in error.api_error
    assert "Gmail" in str(error)
    assert PASSWORD_SENTINEL not in str(error) and TOKEN_SENTINEL not in str(error)
    assert len(emulator.calls()) == 1


def test_retries_a_429_then_succeeds(client: UseapiClient, emulator: UseapiEmulator) -> None:
    emulator.fail_next("POST", 429, retry_after="0")
    assert client.put_account("ops@example.com", PASSWORD_SENTINEL, 3).max_jobs == 3
    # What the server answered, in order: the injected 429, then the retry's 201.
    assert emulator.statuses("POST") == [429, 201]
    assert len(emulator.calls("POST")) == 1  # the injected answer is served before recording


def test_a_slow_server_fails_within_the_budget(emulator: UseapiEmulator) -> None:
    api = UseapiClient(
        ProviderSettings(
            token=emulator.token, base_url=emulator.base_url, timeout=0.3, max_retries=0
        )
    )
    emulator.delay_next("GET", 3)
    started = time.monotonic()
    with pytest.raises(UseapiError) as caught:
        api.get_account("ops@example.com")
    api.close()
    assert time.monotonic() - started < 2
    assert "timeout" in str(caught.value) and caught.value.status is None


def test_repr_holds_no_token(client: UseapiClient) -> None:
    assert TOKEN_SENTINEL not in repr(client)


def test_proxy_settings_come_from_the_environment_once(
    emulator: UseapiEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Resolved when the client is built (not re-read per call), and still honoured."""
    monkeypatch.setenv("HTTP_PROXY", emulator.root_url)  # the emulator plays a forward proxy
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    api = UseapiClient(
        ProviderSettings(token=emulator.token, base_url="http://useapi.invalid/v2", timeout=5)
    )
    monkeypatch.delenv("HTTP_PROXY")
    try:
        assert api.put_account("ops@example.com", PASSWORD_SENTINEL, 3).max_jobs == 3
    finally:
        api.close()
    assert emulator.calls("POST")[0].path == "/v2/pixverse/accounts/ops@example.com"


def test_no_proxy_bypasses_the_proxy(
    emulator: UseapiEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    api = UseapiClient(
        ProviderSettings(token=emulator.token, base_url=emulator.base_url, timeout=5, max_retries=0)
    )
    try:
        assert api.get_account("ops@example.com") is None
    finally:
        api.close()
