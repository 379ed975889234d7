"""`PixVerseAccount` as a program uses it, under Pulumi's own mocks (`set_mocks`)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pulumi
import pytest
from pulumi.runtime import rpc

from provider import PixVerseAccount
from tests.support.helpers import PASSWORD_SENTINEL, SESSION_TOKEN_SENTINEL
from tests.support.mock_support import JWT, RecordingMonitor, install_recording_mocks


def _secretness(output: pulumi.Output[Any]) -> pulumi.Output[bool]:
    """`Output.is_secret()` is a coroutine; lift it into an Output to chain assertions on it."""
    return pulumi.Output.from_input(output.is_secret())


@pytest.fixture
def monitor() -> RecordingMonitor:
    return install_recording_mocks()


def _registered(monitor: RecordingMonitor) -> Any:
    (request,) = [r for r in monitor.requests if r.type != "pulumi:pulumi:Stack"]
    return request


@pulumi.runtime.test
def test_inputs_go_out_under_their_wire_names_with_secrets_marked(monitor: RecordingMonitor) -> Any:
    account = PixVerseAccount(
        "ops@example.com", email="ops@example.com", password=PASSWORD_SENTINEL, max_jobs=3
    )

    def verify(_: Any) -> None:
        request = _registered(monitor)
        assert request.type == "pulumi-python:dynamic/pixverse:PixVerseAccount"
        assert request.name == "ops@example.com"
        fields = dict(request.object.fields)
        assert {"email", "password", "maxJobs", "__provider"} <= set(fields)
        assert fields["maxJobs"].number_value == 3
        # A plain-string password still leaves the program as a secret.
        password = rpc.deserialize_properties(request.object)["password"]
        assert rpc.is_rpc_secret(password) and rpc.unwrap_rpc_secret(password) == PASSWORD_SENTINEL
        assert set(request.additionalSecretOutputs) >= {"password", "token"}
        # The pickled provider is a small, plain reference: nothing secret to hide in it.
        provider = fields["__provider"].string_value
        assert len(provider) < 1024 and PASSWORD_SENTINEL.encode() not in base64.b64decode(provider)

    return account.urn.apply(verify)


@pulumi.runtime.test
def test_password_and_token_outputs_are_secret(monitor: RecordingMonitor) -> Any:
    account = PixVerseAccount(
        "ops@example.com",
        email="ops@example.com",
        password=PASSWORD_SENTINEL,
        max_jobs=3,
        token=SESSION_TOKEN_SENTINEL,
    )

    def verify(secrets: list[bool]) -> None:
        assert secrets == [True, True]
        token = rpc.deserialize_properties(_registered(monitor).object)["token"]
        assert rpc.is_rpc_secret(token)

    return pulumi.Output.all(
        _secretness(account.password),
        _secretness(account.token),
    ).apply(verify)


# How a program may pass the password or token: the class must send each as a secret.
SECRET_FORMS: dict[str, Callable[[str], Any]] = {
    "plain str": lambda value: value,
    "plain Output": pulumi.Output.from_input,
    "secret Output": pulumi.Output.secret,
}


@pytest.mark.parametrize("form", sorted(SECRET_FORMS))
@pulumi.runtime.test
def test_the_class_sends_password_and_token_as_secrets_however_they_are_passed(
    monitor: RecordingMonitor, form: str
) -> Any:
    """The class's own wrapping, apart from the program's (tests/test_secrets.py checks that
    the program hands over secret Outputs): a plain password must leave as a secret too."""
    wrap = SECRET_FORMS[form]
    account = PixVerseAccount(
        "ops@example.com",
        email="ops@example.com",
        password=wrap(PASSWORD_SENTINEL),
        max_jobs=3,
        token=wrap(SESSION_TOKEN_SENTINEL),
    )

    def verify(values: list[Any]) -> None:
        password_secret, token_secret = values
        sent = rpc.deserialize_properties(_registered(monitor).object)
        for key, value in (("password", PASSWORD_SENTINEL), ("token", SESSION_TOKEN_SENTINEL)):
            assert rpc.is_rpc_secret(sent[key]), f"{form} {key} left the program in plaintext"
            assert rpc.unwrap_rpc_secret(sent[key]) == value
        assert password_secret and token_secret

    return pulumi.Output.all(_secretness(account.password), _secretness(account.token)).apply(
        verify
    )


@pulumi.runtime.test
def test_typed_outputs_come_from_the_jwt(monitor: RecordingMonitor) -> Any:
    account = PixVerseAccount("ops@example.com", email="ops@example.com", password="pw", max_jobs=2)

    def verify(values: list[Any]) -> None:
        jwt, username, expires, max_jobs = values
        assert jwt == JWT
        assert username == "pixuser"
        assert expires == "2026-01-01T00:33:14.000Z"
        assert max_jobs == 2

    return pulumi.Output.all(
        account.jwt, account.username, account.expire_time_utc, account.max_jobs
    ).apply(verify)


@pulumi.runtime.test
def test_no_token_means_no_token_on_the_wire(monitor: RecordingMonitor) -> Any:
    account = PixVerseAccount("ops@example.com", email="ops@example.com", password="pw", max_jobs=1)

    def verify(_: Any) -> None:
        fields = dict(_registered(monitor).object.fields)
        assert "token" not in fields or fields["token"].WhichOneof("kind") == "null_value"

    return account.urn.apply(verify)
