"""The lifecycle through the SDK's own provider host, spoken to as the engine does.

These prove the pickling of `__provider`, configuration from stack config and the
environment, and the wire types (doubles, unknowns) for real: the provider runs in
`python -m pulumi.dynamic` started in the project directory, talking HTTP to the emulator.
"""

from __future__ import annotations

import base64

import pytest
from pulumi.runtime import rpc

from harness import ProviderHost, ProviderHostError
from provider.host.settings import ProviderSettings
from provider.host.useapi.client import UseapiClient
from tests.conftest import HostFactory, stack_config
from tests.support.helpers import (
    PASSWORD_SENTINEL,
    SERIALIZED_PROVIDER,
    SESSION_TOKEN_SENTINEL,
    TOKEN_SENTINEL,
    account_inputs,
    clean_env,
)
from useapi_emulator import UseapiEmulator

EMAIL = "ops@example.com"


def _create(host: ProviderHost, **kwargs: object) -> tuple[str, dict[str, object]]:
    checked = host.check(EMAIL, {}, account_inputs(**kwargs))  # type: ignore[arg-type]
    assert checked.failures == []
    return host.create(EMAIL, checked.inputs)


def test_the_whole_lifecycle(provider_host: ProviderHost, emulator: UseapiEmulator) -> None:
    host = provider_host
    checked = host.check(EMAIL, {}, account_inputs(max_jobs=3))
    assert checked.failures == []
    assert checked.inputs["maxJobs"] == 3

    id_, outs = host.create(EMAIL, checked.inputs)
    assert id_ == EMAIL
    assert outs["email"] == EMAIL and outs["maxJobs"] == 3
    assert outs["password"] == PASSWORD_SENTINEL  # kept from us: the API masks it
    assert set(outs["jwt"]) == {"AccountId", "ExpireTime", "ExpireTimeUTC", "Username"}
    assert "token" not in outs
    assert emulator.accounts[EMAIL].max_jobs == 3

    # Unchanged: no changes and no HTTP call.
    emulator.reset_calls()
    same = host.check(EMAIL, checked.inputs, account_inputs(max_jobs=3.0))
    assert host.diff(id_, EMAIL, outs, same.inputs).changes == "DIFF_NONE"
    assert emulator.calls() == []

    # maxJobs changed: update in place, one POST.
    changed = host.check(EMAIL, checked.inputs, account_inputs(max_jobs=5)).inputs
    diff = host.diff(id_, EMAIL, outs, changed)
    assert (diff.changes, diff.replaces) == ("DIFF_SOME", [])
    outs = host.update(id_, EMAIL, outs, changed)
    assert outs["maxJobs"] == 5 and len(emulator.calls("POST")) == 1
    assert emulator.accounts[EMAIL].max_jobs == 5

    # Refresh sees maxJobs changed out of band, keeps the password from state.
    emulator.oob_set_max_jobs(EMAIL, 2)
    read = host.read(id_, EMAIL, outs, changed)
    assert read.id == EMAIL
    assert read.outputs["maxJobs"] == 2 and read.outputs["password"] == PASSWORD_SENTINEL
    assert read.inputs is not None and read.inputs["maxJobs"] == 2
    assert host.diff(id_, EMAIL, read.outputs, changed).changes == "DIFF_SOME"

    # Delete, and a second delete of what is already gone is fine.
    host.delete(id_, EMAIL, read.outputs)
    assert EMAIL not in emulator.accounts
    host.delete(id_, EMAIL, read.outputs)
    assert len(emulator.calls("DELETE")) == 2


def test_refresh_drops_an_account_deleted_out_of_band(
    provider_host: ProviderHost, emulator: UseapiEmulator
) -> None:
    id_, outs = _create(provider_host)
    emulator.oob_delete(EMAIL)
    read = provider_host.read(id_, EMAIL, outs)
    assert read.id == ""
    assert set(read.outputs) <= {"__provider"}


def test_email_change_is_a_delete_before_replace(provider_host: ProviderHost) -> None:
    id_, outs = _create(provider_host)
    news = provider_host.check(
        "new@example.com", outs, account_inputs(email="new@example.com")
    ).inputs
    diff = provider_host.diff(id_, EMAIL, outs, news)
    assert (diff.changes, diff.replaces, diff.delete_before_replace) == (
        "DIFF_SOME",
        ["email"],
        True,
    )


def test_password_and_token_changes_update_in_place(
    provider_host: ProviderHost, emulator: UseapiEmulator
) -> None:
    id_, outs = _create(provider_host)
    for news in (
        account_inputs(password="rotated-password"),
        account_inputs(token=SESSION_TOKEN_SENTINEL),
    ):
        diff = provider_host.diff(id_, EMAIL, outs, news)
        assert (diff.changes, diff.replaces) == ("DIFF_SOME", [])
    outs = provider_host.update(id_, EMAIL, outs, account_inputs(token=SESSION_TOKEN_SENTINEL))
    assert outs["token"] == SESSION_TOKEN_SENTINEL
    last = emulator.calls("POST")[-1]
    assert last.body is not None and last.body["token"] == SESSION_TOKEN_SENTINEL


def test_create_adopts_an_account_that_already_exists(
    provider_host: ProviderHost, emulator: UseapiEmulator
) -> None:
    other = UseapiClient(
        ProviderSettings(token=emulator.token, base_url=emulator.base_url, timeout=5, max_retries=0)
    )
    other.put_account(EMAIL, "set-by-hand", 1)
    other.close()
    id_, outs = _create(provider_host, max_jobs=4)
    assert (id_, outs["maxJobs"]) == (EMAIL, 4)
    assert emulator.accounts[EMAIL].password == PASSWORD_SENTINEL


def test_check_failures_on_the_wire_name_each_property(
    provider_host: ProviderHost, emulator: UseapiEmulator
) -> None:
    checked = provider_host.check(
        EMAIL, {}, account_inputs(email="nope", password="", max_jobs=8.5)
    )
    assert sorted(p for p, _ in checked.failures) == ["email", "maxJobs", "password"]
    assert emulator.calls() == []


def test_unknowns_at_preview_pass_check_and_show_as_changes(provider_host: ProviderHost) -> None:
    id_, outs = _create(provider_host)
    preview = account_inputs(password=rpc.UNKNOWN, max_jobs=rpc.UNKNOWN)
    checked = provider_host.check(EMAIL, outs, preview)
    assert checked.failures == []
    assert provider_host.diff(id_, EMAIL, outs, checked.inputs).changes == "DIFF_SOME"


def test_settings_fall_back_to_the_environment(
    emulator: UseapiEmulator, start_host: HostFactory
) -> None:
    env = clean_env(USEAPI_TOKEN=emulator.token, USEAPI_BASE_URL=emulator.base_url)
    host = start_host({}, env)
    assert _create(host)[0] == EMAIL


def test_stack_config_wins_over_the_environment(
    emulator: UseapiEmulator, start_host: HostFactory
) -> None:
    env = clean_env(USEAPI_TOKEN="stale-env-token", USEAPI_BASE_URL="http://127.0.0.1:9/v2")
    host = start_host(stack_config(emulator), env)
    assert _create(host)[0] == EMAIL


def test_a_missing_token_is_a_clear_error_naming_both_places(start_host: HostFactory) -> None:
    host = start_host({})
    with pytest.raises(ProviderHostError) as caught:
        host.check(EMAIL, {}, account_inputs())
    assert "useapi:token" in caught.value.details and "USEAPI_TOKEN" in caught.value.details


def test_the_serialized_provider_is_small_and_holds_no_secret(provider_host: ProviderHost) -> None:
    _, outs = _create(provider_host)
    assert outs["__provider"] == SERIALIZED_PROVIDER
    assert len(SERIALIZED_PROVIDER) < 1024
    raw = base64.b64decode(SERIALIZED_PROVIDER)
    for secret in (TOKEN_SENTINEL, PASSWORD_SENTINEL):
        assert secret.encode() not in raw
    for stream in (provider_host.stdout, provider_host.stderr):
        assert TOKEN_SENTINEL not in stream and PASSWORD_SENTINEL not in stream
