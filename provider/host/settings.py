"""Provider settings: where the useapi.net token, URL and network budget come from.

The provider host hands `configure` the whole stack config as strings; the environment is
the fallback so that a pipeline can inject the token without writing it into stack config.
These values are resolved in the host at run time and never pickled into `__provider`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .validation import describe

DEFAULT_BASE_URL = "https://api.useapi.net/v2"
# One HTTP attempt may take this long (connect and read). PixVerse logins behind POST can take
# several seconds, so the default leaves room for them while a dead server still fails fast.
DEFAULT_TIMEOUT = 30.0
# 429, 5xx and dropped connections are retried this many times with exponential backoff.
DEFAULT_MAX_RETRIES = 4
MAX_RETRIES_LIMIT = 20
# An hour per attempt is already more than any pipeline waits; beyond about 1e9 s the socket
# layer cannot even represent the timeout and fails with an OverflowError mid-request.
MAX_TIMEOUT = 3600.0
# How long a delete waits for the account's running jobs. A PixVerse video takes minutes (the
# docs' own sample shows one still running at 3:57), so ten minutes lets the jobs in flight
# finish, while a deploy still ends well inside its job's timeout (30 minutes in deploy.yml).
# A waiting delete holds one of the provider host's workers (and one engine step) that long.
DEFAULT_DRAIN_TIMEOUT = 600.0
# A day: a deploy that waits longer than that for one account is better failed and retried.
MAX_DRAIN_TIMEOUT = 86400.0
# Between two looks at the running jobs: a job takes minutes, so looking every ten seconds
# costs at most 61 GETs per waiting delete and ends the wait within ten seconds of the last job.
DEFAULT_DRAIN_POLL_INTERVAL = 10.0
MAX_DRAIN_POLL_INTERVAL = 300.0


class SettingsError(ValueError):
    """A provider setting is missing or malformed; the message names the key and its fallback."""


@dataclass(frozen=True)
class Setting:
    """One provider setting: its stack config key and its environment fallback."""

    key: str
    env: str


TOKEN = Setting("useapi:token", "USEAPI_TOKEN")
BASE_URL = Setting("useapi:baseUrl", "USEAPI_BASE_URL")
TIMEOUT = Setting("useapi:timeout", "USEAPI_TIMEOUT")
MAX_RETRIES = Setting("useapi:maxRetries", "USEAPI_MAX_RETRIES")
DRAIN_TIMEOUT = Setting("useapi:drainTimeout", "USEAPI_DRAIN_TIMEOUT")
DRAIN_POLL_INTERVAL = Setting("useapi:drainPollInterval", "USEAPI_DRAIN_POLL_INTERVAL")
# Every setting, in the order docs/resource.md lists them: what `configure` keeps of the stack
# config, and what a command-line tool reads from a stack file.
ALL_SETTINGS = (TOKEN, BASE_URL, TIMEOUT, MAX_RETRIES, DRAIN_TIMEOUT, DRAIN_POLL_INTERVAL)


@dataclass(frozen=True)
class ProviderSettings:
    """Resolved settings; `repr` hides the token so a logged settings object leaks nothing."""

    token: str = field(repr=False)
    base_url: str = DEFAULT_BASE_URL
    timeout: float = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    drain_timeout: float = DEFAULT_DRAIN_TIMEOUT
    drain_poll_interval: float = DEFAULT_DRAIN_POLL_INTERVAL


def _raw(setting: Setting, config: Mapping[str, Any], environ: Mapping[str, str]) -> str | None:
    """Stack config wins over the environment; an empty value counts as unset."""
    value = config.get(setting.key)
    if value is None or str(value).strip() == "":
        value = environ.get(setting.env)
    if value is None or str(value).strip() == "":
        return None
    return str(value).strip()


def _where(setting: Setting) -> str:
    return f"`{setting.key}` (stack config) or {setting.env} (environment)"


def _parse_timeout(raw: str | None) -> float:
    return _parse_seconds(TIMEOUT, raw, DEFAULT_TIMEOUT, MAX_TIMEOUT, zero_ok=False)


def _parse_max_retries(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_MAX_RETRIES
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not value.is_integer() or not 0 <= value <= MAX_RETRIES_LIMIT:
        raise SettingsError(
            f"{_where(MAX_RETRIES)} must be a whole number from 0 to {MAX_RETRIES_LIMIT}, "
            f"got {describe(raw)}"
        )
    return int(value)


def _parse_seconds(
    setting: Setting, raw: str | None, default: float, limit: float, *, zero_ok: bool
) -> float:
    """A number of seconds in (0, limit], or [0, limit] where 0 means something (no wait)."""
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    low_ok = value >= 0 if zero_ok else value > 0
    if not math.isfinite(value) or not low_ok or value > limit:
        rule = (
            f"a number of seconds from 0 (no wait) up to {limit:g}"
            if zero_ok
            else f"a positive number of seconds up to {limit:g}"
        )
        raise SettingsError(f"{_where(setting)} must be {rule}, got {describe(raw)}")
    return value


def _parse_base_url(raw: str | None) -> str:
    if raw is None:
        return DEFAULT_BASE_URL
    if not raw.startswith(("http://", "https://")):
        raise SettingsError(f"{_where(BASE_URL)} must be an http(s) URL, got {describe(raw)}")
    return raw.rstrip("/")


def resolve_settings(config: Mapping[str, Any], environ: Mapping[str, str]) -> ProviderSettings:
    """Resolve every setting, failing with a message that names both places to set it."""
    token = _raw(TOKEN, config, environ)
    if token is None:
        raise SettingsError(
            "the useapi.net API token is not set: run "
            "`pulumi config set --secret useapi:token <token>` or export USEAPI_TOKEN"
        )
    return ProviderSettings(
        token=token,
        base_url=_parse_base_url(_raw(BASE_URL, config, environ)),
        timeout=_parse_timeout(_raw(TIMEOUT, config, environ)),
        max_retries=_parse_max_retries(_raw(MAX_RETRIES, config, environ)),
        drain_timeout=_parse_seconds(
            DRAIN_TIMEOUT,
            _raw(DRAIN_TIMEOUT, config, environ),
            DEFAULT_DRAIN_TIMEOUT,
            MAX_DRAIN_TIMEOUT,
            zero_ok=True,
        ),
        drain_poll_interval=_parse_seconds(
            DRAIN_POLL_INTERVAL,
            _raw(DRAIN_POLL_INTERVAL, config, environ),
            DEFAULT_DRAIN_POLL_INTERVAL,
            MAX_DRAIN_POLL_INTERVAL,
            zero_ok=False,
        ),
    )
