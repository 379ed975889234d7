"""Small builders shared by the tests: the engine's view of an account's properties."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from pulumi.dynamic.dynamic import serialize_provider

from provider import PixVerseAccountProvider
from provider.host.useapi.client import UseapiError
from useapi_emulator import UseapiEmulator

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# Sentinels: if either string shows up anywhere a user could see it, a secret leaked.
PASSWORD_SENTINEL = "pw-SENTINEL-7f3a9c"
TOKEN_SENTINEL = "useapi-SENTINEL-token-c41d"
SESSION_TOKEN_SENTINEL = "pixverse-SENTINEL-session-88e2"

SERIALIZED_PROVIDER = serialize_provider(PixVerseAccountProvider())


def clean_env(**extra: str) -> dict[str, str]:
    """The test process's environment without any USEAPI_* setting, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("USEAPI_")}
    env.update(extra)
    return env


def account_inputs(
    email: str = "ops@example.com",
    password: str = PASSWORD_SENTINEL,
    max_jobs: Any = 3,
    token: str | None = None,
) -> dict[str, Any]:
    """What the engine sends as `news` for one declared account."""
    props: dict[str, Any] = {
        "email": email,
        "password": password,
        "maxJobs": max_jobs,
        "__provider": SERIALIZED_PROVIDER,
    }
    if token is not None:
        props["token"] = token
    return props


def useapi_error(call: Callable[[], object]) -> UseapiError:
    """The UseapiError `call` raises, checked for what every client error must hold."""
    with pytest.raises(UseapiError) as caught:
        call()
    error = caught.value
    # Nothing chained: requests' exceptions hold the prepared request (headers, body).
    assert error.__cause__ is None and error.__context__ is None
    for secret in (PASSWORD_SENTINEL, TOKEN_SENTINEL):
        assert secret not in str(error) and secret not in repr(error)
    return error


@contextlib.contextmanager
def local_time_elsewhere() -> Iterator[None]:
    """Run as on a machine whose local time is not UTC (UTC-5 as a POSIX rule, so no time zone
    database is needed): reading a time as local time instead of UTC then shows."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "EST5"
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


def configure_by_hand(emulator: UseapiEmulator, accounts: dict[str, int]) -> None:
    """Accounts as a team made them before it had a stack (curl, the dashboard): one POST
    each, straight to the emulator."""
    for email, max_jobs in accounts.items():
        answer = requests.post(
            f"{emulator.base_url}/pixverse/accounts/{email}",
            json={"email": email, "password": f"{PASSWORD_SENTINEL}-{email}", "maxJobs": max_jobs},
            headers={"Authorization": f"Bearer {emulator.token}"},
            timeout=5,
        )
        assert answer.status_code == 201, answer.text
