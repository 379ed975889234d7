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


@dataclass(frozen=True)
class ProviderSettings:
    """Resolved settings; `repr` hides the token so a logged settings object leaks nothing."""

    token: str = field(repr=False)
    base_url: str = DEFAULT_BASE_URL
    timeout: float = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES


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
    if raw is None:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not 0 < value <= MAX_TIMEOUT:
        raise SettingsError(
            f"{_where(TIMEOUT)} must be a positive number of seconds up to {MAX_TIMEOUT:g}, "
            f"got {describe(raw)}"
        )
    return value


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
    )
