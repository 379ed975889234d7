"""No secret in plaintext anywhere a user, a log or the state could show it.

Three sentinels travel through every flow, failures included: the account password, the
useapi.net API token and a PixVerse session token (plus a wrong API token and a rotated
password). They must never appear in the engine-visible state outside the values the engine
encrypts (tests/reliability_support.py models which those are; the set_mocks tests below prove
the resource class really marks them, and that the program hands it secrets already), in the
pickled `__provider`, in the provider host's stdout/stderr, in any error text or traceback the
host sends, or in logs.
"""

from __future__ import annotations

import base64
import json
import logging
import runpy
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import pulumi
import pytest
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import rpc
from pulumi.runtime.settings import get_root_resource

import provider as provider_package
from provider import PixVerseAccount, PixVerseAccountProvider
from provider.host.account_provider import SECRET_PROPS
from tests.conftest import HostFactory, stack_config
from tests.support.helpers import (
    PASSWORD_SENTINEL,
    PROJECT_ROOT,
    SERIALIZED_PROVIDER,
    SESSION_TOKEN_SENTINEL,
    TOKEN_SENTINEL,
    account_inputs,
)
from tests.support.mock_support import EchoMocks, RecordingMonitor, install_recording_mocks
from tests.support.reliability_support import (
    ENGINE_SECRET_KEYS,
    SimulatedStack,
    desired_accounts,
    plaintext,
    secret_values,
)
from useapi_emulator import Fault, UseapiEmulator

ROTATED_SENTINEL = "pw-SENTINEL-rotated-51b0"
WRONG_TOKEN_SENTINEL = "useapi-SENTINEL-wrong-9d27"
SENTINELS = (
    PASSWORD_SENTINEL,
    ROTATED_SENTINEL,
    TOKEN_SENTINEL,
    WRONG_TOKEN_SENTINEL,
    SESSION_TOKEN_SENTINEL,
)
OPS, RENDER = "ops@example.com", "render@example.com"


def assert_clean(text: str, where: str) -> None:
    for sentinel in SENTINELS:
        assert sentinel not in text, f"a secret ({sentinel}) leaked into {where}"


def assert_state_clean(stack: SimulatedStack) -> None:
    """Sentinels only inside values the engine encrypts; the API token nowhere at all."""
    assert_clean(plaintext(stack.document()), "the engine-visible state")
    raw = plaintext({name: vars(entry) for name, entry in stack.state.items()})
    for never in (TOKEN_SENTINEL, WRONG_TOKEN_SENTINEL):
        assert never not in raw, "the useapi.net API token reached the state, even encrypted"
    for entry in stack.state.values():
        for props in (entry.inputs, entry.outputs):
            assert props["__provider"] == SERIALIZED_PROVIDER


def assert_everything_clean(stack: SimulatedStack) -> None:
    assert_state_clean(stack)
    assert_clean(stack.host_output(), "the provider host's stdout/stderr")
    assert_clean("\n".join(stack.errors), "an error shown to the user")


@pytest.fixture
def stack(emulator: UseapiEmulator, start_host: HostFactory) -> SimulatedStack:
    config = stack_config(emulator, **{"useapi:timeout": "0.5", "useapi:maxRetries": "1"})
    return SimulatedStack(lambda cfg: start_host(cfg), config)


# -- through the provider host: every flow ----------------------------------------------------


def test_the_whole_lifecycle_keeps_every_secret_out_of_plain_sight(
    stack: SimulatedStack, emulator: UseapiEmulator
) -> None:
    desired = {
        OPS: account_inputs(email=OPS),
        RENDER: account_inputs(email=RENDER, token=SESSION_TOKEN_SENTINEL),
    }
    assert stack.up(desired).created == [OPS, RENDER]
    assert_everything_clean(stack)
    # The password (and the session token) are in state, where the engine encrypts them.
    assert PASSWORD_SENTINEL in secret_values(stack.state)
    assert SESSION_TOKEN_SENTINEL in secret_values(stack.state)
    assert "jwt" in stack.state[OPS].outputs and "token" not in stack.state[OPS].outputs["jwt"]

    desired[OPS] = account_inputs(email=OPS, max_jobs=5)
    assert stack.up(desired).updated == [OPS]
    assert_everything_clean(stack)

    emulator.oob_set_max_jobs(RENDER, 8)
    assert stack.refresh()[RENDER] == "changed"
    assert_everything_clean(stack)

    emulator.oob_delete(OPS)
    assert stack.refresh()[OPS] == "gone"
    assert stack.up(desired).created == [OPS]
    assert_everything_clean(stack)

    assert stack.destroy().deleted == [OPS, RENDER]
    assert_everything_clean(stack)


def test_rotating_a_password_is_one_post_in_place_and_leaves_only_ciphertext(
    stack: SimulatedStack, emulator: UseapiEmulator
) -> None:
    stack.up(desired_accounts([OPS]))
    emulator.reset_calls()
    result = stack.up(desired_accounts([OPS], password=ROTATED_SENTINEL))
    assert result.updated == [OPS] and result.created == []
    (post,) = emulator.calls()
    assert post.method == "POST" and post.body is not None
    assert post.body["password"] == ROTATED_SENTINEL
    assert stack.state[OPS].outputs["password"] == ROTATED_SENTINEL  # encrypted in state
    assert PASSWORD_SENTINEL not in plaintext({OPS: vars(stack.state[OPS])})
    assert_everything_clean(stack)


FAILURES: dict[str, Callable[[UseapiEmulator], None]] = {
    "failed login": lambda emu: emu.reject_login(OPS),
    "5xx beyond the retries": lambda emu: emu.fail_next("POST", 503, times=2),
    "timeout": lambda emu: emu.delay_next("POST", 3, times=2),
    "dropped": lambda emu: emu.drop_next("POST", times=2),
    "truncated": lambda emu: emu.inject("POST", Fault(truncate=True)),
    "html page": lambda emu: emu.malformed_next("POST", "html"),
    "wrong types": lambda emu: emu.malformed_next("POST", "wrong-types"),
    "subscription expired (402)": lambda emu: setattr(emu, "subscription_expired", True),
    "account in an error state (596)": lambda emu: emu.mark_error(OPS),
    "an API that echoes the secrets": lambda emu: emu.inject(
        "POST",
        Fault(
            status=400,
            body=(
                f'{{"error": "rejected {PASSWORD_SENTINEL} {SESSION_TOKEN_SENTINEL} '
                f'{TOKEN_SENTINEL}"}}'
            ).encode(),
        ),
    ),
}


@pytest.mark.parametrize("fault", sorted(FAILURES))
def test_a_failing_create_leaks_nothing(
    stack: SimulatedStack, emulator: UseapiEmulator, fault: str
) -> None:
    FAILURES[fault](emulator)
    result = stack.up(desired_accounts([OPS], token=SESSION_TOKEN_SENTINEL))
    assert list(result.failed) == [OPS]
    assert "Traceback" in result.failed[OPS]  # what the host sends: format_exc() ...
    assert "useapi.net" in result.failed[OPS]  # ... ending in our message
    assert_everything_clean(stack)


def test_a_failing_update_refresh_and_delete_leak_nothing(
    stack: SimulatedStack, emulator: UseapiEmulator
) -> None:
    stack.up(desired_accounts([OPS], token=SESSION_TOKEN_SENTINEL))
    emulator.fail_next("POST", 500, times=2)
    rotated = desired_accounts([OPS], password=ROTATED_SENTINEL, token=SESSION_TOKEN_SENTINEL)
    assert OPS in stack.up(rotated).failed
    assert stack.state[OPS].outputs["password"] == PASSWORD_SENTINEL  # the old, still true
    emulator.malformed_next("GET", "html", times=2)
    assert "malformed" in stack.refresh()[OPS]
    emulator.drop_next("DELETE", times=2)
    assert OPS in stack.destroy().failed
    assert len(stack.errors) == 3
    assert_everything_clean(stack)


def test_a_delete_refused_for_running_jobs_or_unreadable_jobs_leaks_nothing(
    emulator: UseapiEmulator, start_host: HostFactory
) -> None:
    config = stack_config(emulator, **{"useapi:drainTimeout": "0", "useapi:maxRetries": "0"})
    stack = SimulatedStack(lambda cfg: start_host(cfg), config)
    stack.up(desired_accounts([OPS, RENDER], token=SESSION_TOKEN_SENTINEL))
    # Whether the jobs are still running or cannot be read, no DELETE goes and nothing leaks.
    emulator.start_jobs(OPS, 1, seconds=60)
    emulator.start_jobs(RENDER, 1, seconds=60)
    busy = stack.destroy()
    emulator.finish_jobs()
    emulator.inject("GET", Fault(status=500), times=2, path="/v2/pixverse/scheduler/available")
    unreadable = stack.destroy()

    assert all("job(s) still running" in error for error in busy.failed.values())
    assert all("could not be checked" in error for error in unreadable.failed.values())
    assert set(busy.failed) == set(unreadable.failed) == {OPS, RENDER}
    assert sorted(emulator.accounts) == [OPS, RENDER]
    assert_everything_clean(stack)


def test_a_wrong_api_token_leaks_neither_token(
    emulator: UseapiEmulator, start_host: HostFactory
) -> None:
    stack = SimulatedStack(
        lambda cfg: start_host(cfg),
        stack_config(emulator, **{"useapi:token": WRONG_TOKEN_SENTINEL}),
    )
    assert "HTTP 401" in stack.up(desired_accounts([OPS])).failed[OPS]
    assert_everything_clean(stack)


def test_check_failures_never_quote_a_secret(
    emulator: UseapiEmulator, start_host: HostFactory
) -> None:
    host = start_host(stack_config(emulator))
    long_secret = PASSWORD_SENTINEL * 1000  # over the length limit: rejected, not quoted
    checked = host.check(OPS, {}, account_inputs(password=long_secret, token=long_secret))
    assert sorted(p for p, _ in checked.failures) == ["password", "token"]
    assert_clean(repr(checked.failures), "a check failure")
    assert_clean(host.stdout + host.stderr, "the provider host's output")


# -- in process: logs and tracebacks ----------------------------------------------------------


@pytest.fixture
def provider(emulator: UseapiEmulator) -> Iterator[PixVerseAccountProvider]:
    instance = PixVerseAccountProvider()
    config = stack_config(emulator, **{"useapi:timeout": "0.5", "useapi:maxRetries": "1"})
    instance.configure(ConfigureRequest(Config(config, "pixverse-accounts")))
    yield instance
    instance.client().close()


def _exception_text(call: Callable[[], Any]) -> str:
    """Everything the host's `traceback.format_exc()` would send, chained exceptions included."""
    try:
        call()
    except Exception as exc:
        return "".join(traceback.format_exception(exc, chain=True))
    raise AssertionError("expected a failure")


def test_logs_and_tracebacks_hold_no_secret(
    provider: PixVerseAccountProvider,
    emulator: UseapiEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # urllib3 logs every request and retry at DEBUG/WARNING
    props = {**account_inputs(token=SESSION_TOKEN_SENTINEL)}
    outs = provider.create(props).outs or {}
    provider.update(OPS, outs, {**props, "password": ROTATED_SENTINEL, "maxJobs": 4})
    provider.read(OPS, outs)
    texts = []
    emulator.drop_next("POST", times=2)
    texts.append(_exception_text(lambda: provider.create(props)))
    # Enough failing GETs for a read from an account list and a fallback to a single GET.
    emulator.fail_next("GET", 503, times=4)
    texts.append(_exception_text(lambda: provider.read(OPS, outs)))
    emulator.clear_faults()
    emulator.reject_login(OPS)
    texts.append(_exception_text(lambda: provider.update(OPS, outs, props)))
    emulator.malformed_next("DELETE", "html-502", times=2)
    texts.append(_exception_text(lambda: provider.delete(OPS, outs)))
    assert all("UseapiError" in text for text in texts)
    assert all("During handling" not in text for text in texts)
    assert_clean("\n".join(texts), "a traceback")
    assert caplog.records, "urllib3 logged nothing: this test would prove nothing"
    assert_clean(caplog.text, "the logs")
    assert_clean(repr(provider) + repr(provider.client()), "a repr")


def test_the_pickled_provider_holds_nothing_after_use(
    provider: PixVerseAccountProvider,
) -> None:
    """`__provider` is stored in plain state: prove the live, configured object pickles empty."""
    provider.create(account_inputs(token=SESSION_TOKEN_SENTINEL))
    pickled = serialize_provider(provider)
    assert pickled == SERIALIZED_PROVIDER
    assert_clean(base64.b64decode(pickled).decode("latin-1"), "the pickled provider")


# -- the resource class marks what the engine must encrypt -------------------------------------


@pytest.fixture
def monitor() -> RecordingMonitor:
    return install_recording_mocks()


def _contains(value: Any, needle: str) -> bool:
    return needle in plaintext(rpc.unwrap_rpc_secret(value))


@pulumi.runtime.test
def test_every_property_carrying_a_secret_is_sent_as_a_secret(monitor: RecordingMonitor) -> Any:
    accounts = [
        PixVerseAccount(OPS, email=OPS, password=PASSWORD_SENTINEL, max_jobs=3),
        PixVerseAccount(
            RENDER,
            email=RENDER,
            password=pulumi.Output.secret(PASSWORD_SENTINEL),
            max_jobs=2,
            token=SESSION_TOKEN_SENTINEL,
        ),
    ]

    def verify(_: Any) -> None:
        registered = [r for r in monitor.requests if r.type != "pulumi:pulumi:Stack"]
        assert len(registered) == 2
        for request in registered:
            # Outputs the engine encrypts whatever the provider returns: exactly the model's.
            assert set(request.additionalSecretOutputs) == ENGINE_SECRET_KEYS == set(SECRET_PROPS)
            props = rpc.deserialize_properties(request.object, keep_unknowns=True)
            for key, value in props.items():
                if _contains(value, PASSWORD_SENTINEL) or _contains(value, SESSION_TOKEN_SENTINEL):
                    assert rpc.is_rpc_secret(value), f"{key} carries a secret in plaintext"
                    assert key in ENGINE_SECRET_KEYS
            assert rpc.is_rpc_secret(props["password"])
            assert_clean(base64.b64decode(props["__provider"]).decode("latin-1"), "__provider")

    return pulumi.Output.all(*(a.urn for a in accounts)).apply(verify)


@pulumi.runtime.test
def test_the_password_output_is_secret_even_from_a_plain_string(
    monitor: RecordingMonitor,
) -> Any:
    account = PixVerseAccount(OPS, email=OPS, password=PASSWORD_SENTINEL, max_jobs=3)

    def verify(secret: bool) -> None:
        assert secret

    return _secretness(account.password).apply(verify)


def _secretness(output: pulumi.Output[Any]) -> pulumi.Output[bool]:
    """`Output.is_secret()` is a coroutine; lift it into an Output to chain on it."""
    return pulumi.Output.from_input(output.is_secret())


# -- stack outputs of the real program -----------------------------------------------------------

PROGRAM = PROJECT_ROOT / "__main__.py"


# A session far from expiry, so the program has no warning to print.
FAR_SESSION = {
    "AccountId": 1,
    "ExpireTime": 4102444800,
    "ExpireTimeUTC": "2100-01-01T00:00:00.000Z",
    "Username": "pixuser",
}


@pytest.fixture(params=[True], ids=["with-tokens"])
def program_config(request: pytest.FixtureRequest) -> Iterator[bool]:
    """The stack config a run hands the program: a plain inventory, secret passwords and
    (unless the test parametrizes `program_config` with False) secret tokens."""
    config = {
        "pixverse-accounts:accounts": json.dumps({OPS: {"maxJobs": 3}, RENDER: {"maxJobs": 5}}),
        "pixverse-accounts:passwords": json.dumps(
            {OPS: PASSWORD_SENTINEL, RENDER: ROTATED_SENTINEL}
        ),
    }
    if request.param:
        config["pixverse-accounts:tokens"] = json.dumps({RENDER: SESSION_TOKEN_SENTINEL})
    secret_keys = ["pixverse-accounts:passwords", "pixverse-accounts:tokens"]
    pulumi.runtime.set_all_config(config, secret_keys)
    mocks = EchoMocks(FAR_SESSION)
    pulumi.runtime.set_mocks(mocks, project="pixverse-accounts", stack="test", preview=False)
    yield bool(request.param)
    pulumi.runtime.set_all_config({}, [])


@pulumi.runtime.test
def test_stack_outputs_hold_no_secret(program_config: bool) -> Any:
    runpy.run_path(str(PROGRAM), run_name="__main__")
    stack = get_root_resource()
    assert stack is not None
    outputs: dict[str, Any] = dict(getattr(stack, "outputs", {}))
    assert {"accounts", "totalMaxJobs"} <= set(outputs)
    names = sorted(outputs)

    def verify(values: list[Any]) -> None:
        exported = dict(zip(names, values, strict=True))
        assert_clean(plaintext(exported), "the stack outputs")
        assert exported["totalMaxJobs"] == 8
        assert set(exported["accounts"]) == {OPS, RENDER}

    def secretness(secrets: list[bool]) -> None:
        assert not any(secrets), "a stack output is secret: the contract says none is"

    resolved = [pulumi.Output.from_input(outputs[name]) for name in names]
    return pulumi.Output.all(
        pulumi.Output.all(*resolved).apply(verify),
        pulumi.Output.all(*(_secretness(o) for o in resolved)).apply(secretness),
    )


# -- the program's own values: secret before they reach the resource --------------------------
#
# The resource class wraps the password (and token) in a secret again, so the program could read
# its maps as plain config and every test of what reaches the engine would still pass; the next
# export, log line or second resource fed from those values would leak. These tests look at the
# program's side of the hand-over: how it reads the maps, and what it hands the resource class.

SECRET_MAPS = ("passwords", "tokens")
CONFIG_GETTERS = sorted(
    name
    for name in vars(pulumi.Config)
    if name.startswith(("get", "require")) and callable(getattr(pulumi.Config, name))
)


@pytest.fixture
def config_reads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """(getter, key) of every config read the program makes (the SDK's getters call each other:
    only the outermost call, the one the program made, is kept)."""
    reads: list[tuple[str, str]] = []
    depth = [0]

    def spy(name: str, getter: Callable[..., Any]) -> Callable[..., Any]:
        def read(self: pulumi.Config, key: str, *args: Any, **kwargs: Any) -> Any:
            if depth[0] == 0:
                reads.append((name, key))
            depth[0] += 1
            try:
                return getter(self, key, *args, **kwargs)
            finally:
                depth[0] -= 1

        return read

    for name in CONFIG_GETTERS:
        monkeypatch.setattr(pulumi.Config, name, spy(name, getattr(pulumi.Config, name)))
    return reads


@pytest.fixture
def handed(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What the program hands `PixVerseAccount`, before the class wraps anything."""
    received: list[dict[str, Any]] = []

    def recording(resource_name: str, **kwargs: Any) -> PixVerseAccount:
        received.append({"name": resource_name, **kwargs})
        return PixVerseAccount(resource_name, **kwargs)

    monkeypatch.setattr(provider_package, "PixVerseAccount", recording)
    return received


@pulumi.runtime.test
def test_the_program_reads_passwords_and_tokens_only_as_secret_config(
    program_config: bool, config_reads: list[tuple[str, str]]
) -> Any:
    runpy.run_path(str(PROGRAM), run_name="__main__")
    for key in SECRET_MAPS:
        getters = [name for name, read in config_reads if read == key]
        assert getters, f"the program never reads `{key}`"
        plain = [name for name in getters if "secret" not in name]
        assert not plain, f"`{key}` is read as plain config with {plain}"
    assert any(key == "accounts" for _, key in config_reads)  # the spy sees the program's reads


@pytest.mark.parametrize(
    "program_config", [True, False], ids=["tokens", "no-tokens"], indirect=True
)
@pulumi.runtime.test
def test_the_program_hands_each_account_a_secret_password_and_token(
    program_config: bool, handed: list[dict[str, Any]]
) -> Any:
    runpy.run_path(str(PROGRAM), run_name="__main__")
    by_email = {entry["name"]: entry for entry in handed}
    assert sorted(by_email) == [OPS, RENDER]
    values: list[pulumi.Output[Any]] = []
    for email in (OPS, RENDER):
        for key in SECRET_PROPS:
            value = by_email[email][key]
            if key == "token" and not program_config:
                # No `tokens` map: there is no secret to hand over, and no Output is made for
                # nothing (fewer Outputs per account at fleet size: bench/README.md).
                assert value is None, f"{email}: a token without a tokens map"
                continue
            assert isinstance(value, pulumi.Output), f"{email}: {key} handed over as plain data"
            values.append(value)

    def secret(flags: list[bool]) -> None:
        assert all(flags), f"a password or token Output is not secret: {flags}"

    def right_values(resolved: list[Any]) -> None:
        if program_config:
            assert resolved == [PASSWORD_SENTINEL, None, ROTATED_SENTINEL, SESSION_TOKEN_SENTINEL]
        else:
            assert resolved == [PASSWORD_SENTINEL, ROTATED_SENTINEL]

    return pulumi.Output.all(
        pulumi.Output.all(*(_secretness(value) for value in values)).apply(secret),
        pulumi.Output.all(*values).apply(right_values),
    )
