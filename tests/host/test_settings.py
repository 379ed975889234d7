"""Where the token, URL and network budget come from, and how bad values are reported."""

from __future__ import annotations

import pytest

from provider.host.settings import (
    DEFAULT_BASE_URL,
    DEFAULT_DRAIN_POLL_INTERVAL,
    DEFAULT_DRAIN_TIMEOUT,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    SettingsError,
    resolve_settings,
)
from tests.support.helpers import TOKEN_SENTINEL


def test_defaults_with_only_a_token() -> None:
    settings = resolve_settings({"useapi:token": TOKEN_SENTINEL}, {})
    assert settings.token == TOKEN_SENTINEL
    assert settings.base_url == DEFAULT_BASE_URL == "https://api.useapi.net/v2"
    assert settings.timeout == DEFAULT_TIMEOUT
    assert settings.max_retries == DEFAULT_MAX_RETRIES


def test_stack_config_wins_over_the_environment() -> None:
    config = {
        "useapi:token": "from-config",
        "useapi:baseUrl": "http://127.0.0.1:1/v2/",
        "useapi:timeout": "2.5",
        "useapi:maxRetries": "0",
    }
    env = {
        "USEAPI_TOKEN": "from-env",
        "USEAPI_BASE_URL": "http://127.0.0.1:2/v2",
        "USEAPI_TIMEOUT": "9",
        "USEAPI_MAX_RETRIES": "7",
    }
    settings = resolve_settings(config, env)
    assert settings.token == "from-config"
    assert settings.base_url == "http://127.0.0.1:1/v2"
    assert settings.timeout == 2.5
    assert settings.max_retries == 0


def test_the_environment_is_the_fallback() -> None:
    env = {"USEAPI_TOKEN": "from-env", "USEAPI_TIMEOUT": "4", "USEAPI_MAX_RETRIES": "3.0"}
    settings = resolve_settings({"useapi:token": ""}, env)
    assert (settings.token, settings.timeout, settings.max_retries) == ("from-env", 4.0, 3)


def test_a_missing_token_names_both_places() -> None:
    with pytest.raises(SettingsError) as caught:
        resolve_settings({}, {})
    assert "useapi:token" in str(caught.value) and "USEAPI_TOKEN" in str(caught.value)


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("useapi:timeout", "0", "useapi:timeout"),
        ("useapi:timeout", "-1", "useapi:timeout"),
        ("useapi:timeout", "soon", "useapi:timeout"),
        ("useapi:timeout", "nan", "useapi:timeout"),
        ("useapi:maxRetries", "-1", "useapi:maxRetries"),
        ("useapi:maxRetries", "1.5", "useapi:maxRetries"),
        ("useapi:maxRetries", "many", "useapi:maxRetries"),
        ("useapi:maxRetries", "1000", "useapi:maxRetries"),
        ("useapi:baseUrl", "api.useapi.net", "useapi:baseUrl"),
    ],
)
def test_malformed_settings_name_the_key(key: str, value: str, named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        resolve_settings({"useapi:token": TOKEN_SENTINEL, key: value}, {})


def test_repr_hides_the_token() -> None:
    settings = resolve_settings({"useapi:token": TOKEN_SENTINEL}, {})
    assert TOKEN_SENTINEL not in repr(settings)
    assert TOKEN_SENTINEL not in str(settings)


# -- how long a delete waits for the account's running jobs -----------------------------------


def test_the_drain_defaults_and_where_they_come_from() -> None:
    defaults = resolve_settings({"useapi:token": TOKEN_SENTINEL}, {})
    assert (defaults.drain_timeout, defaults.drain_poll_interval) == (600.0, 10.0)
    assert (defaults.drain_timeout, defaults.drain_poll_interval) == (
        DEFAULT_DRAIN_TIMEOUT,
        DEFAULT_DRAIN_POLL_INTERVAL,
    )

    env = {"USEAPI_DRAIN_TIMEOUT": "0", "USEAPI_DRAIN_POLL_INTERVAL": "0.25"}
    from_env = resolve_settings({"useapi:token": TOKEN_SENTINEL}, env)
    assert (from_env.drain_timeout, from_env.drain_poll_interval) == (0.0, 0.25)

    config = {
        "useapi:token": TOKEN_SENTINEL,
        "useapi:drainTimeout": "90",
        "useapi:drainPollInterval": "5",
    }
    from_config = resolve_settings(config, env)
    assert (from_config.drain_timeout, from_config.drain_poll_interval) == (90.0, 5.0)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("useapi:drainTimeout", "-1"),
        ("useapi:drainTimeout", "forever"),
        ("useapi:drainTimeout", "inf"),
        ("useapi:drainTimeout", "86401"),
        ("useapi:drainPollInterval", "0"),
        ("useapi:drainPollInterval", "-2"),
        ("useapi:drainPollInterval", "301"),
    ],
)
def test_a_malformed_drain_setting_names_the_key_and_its_variable(key: str, value: str) -> None:
    env_name = {"useapi:drainTimeout": "USEAPI_DRAIN_TIMEOUT"}.get(
        key, "USEAPI_DRAIN_POLL_INTERVAL"
    )
    with pytest.raises(SettingsError) as caught:
        resolve_settings({"useapi:token": TOKEN_SENTINEL, key: value}, {})
    assert key in str(caught.value) and env_name in str(caught.value)
    assert repr(value) in str(caught.value)
