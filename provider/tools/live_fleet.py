"""The live fleet for the command-line tools (adopt, drift): the provider's settings from a
stack file, then one `GET /accounts` with the provider's own client.

The provider host gets the stack config decrypted by the Pulumi CLI; a tool run on its own
reads the stack file itself and can only use plain values. An encrypted (`secure:`) value —
typically `useapi:token` — is skipped, and the setting's environment variable is used
instead, as the provider itself falls back to it. The tool says so, because a silent switch
to a different token would point it at a different subscription.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..host.settings import (
    BASE_URL,
    MAX_RETRIES,
    TIMEOUT,
    TOKEN,
    ProviderSettings,
    SettingsError,
    resolve_settings,
)
from ..host.useapi.client import Account, UseapiClient
from .stack_file import StackFile, is_secure

SETTINGS = (TOKEN, BASE_URL, TIMEOUT, MAX_RETRIES)


def tool_settings(
    stack_file: StackFile, stack: str, environ: Mapping[str, str]
) -> tuple[ProviderSettings, list[str]]:
    """The resolved settings and a note per encrypted setting that the environment replaced.

    Raises SettingsError (naming both places) when a required setting is in neither.
    """
    config: dict[str, str] = {}
    notes: list[str] = []
    for setting in SETTINGS:
        value = stack_file.value(setting.key)
        if is_secure(value):
            found = "found" if environ.get(setting.env, "").strip() else "NOT set"
            get = f"pulumi config get {setting.key} --stack {shlex.quote(stack)}"
            notes.append(
                f"`{setting.key}` in {stack_file.path.name} is encrypted and only the pulumi CLI "
                f"can decrypt it, so {setting.env} from the environment is used instead "
                f"({found}); to use the stack's own value: "
                f'export {setting.env}="$({get})"'
            )
        elif value is not None:
            config[setting.key] = str(value)
    try:
        return resolve_settings(config, environ), notes
    except SettingsError as exc:
        # The notes explain why a setting the stack file does hold was not used.
        raise SettingsError("\n".join([str(exc), *(f"note: {note}" for note in notes)])) from None


@dataclass(frozen=True)
class LiveFleet:
    settings: ProviderSettings
    accounts: dict[str, Account]
    notes: list[str] = field(default_factory=list)


def read_live_fleet(stack_file: StackFile, stack: str, environ: Mapping[str, str]) -> LiveFleet:
    """Every account useapi.net has, read once; the only call is a GET."""
    settings, notes = tool_settings(stack_file, stack, environ)
    client = UseapiClient(settings)
    try:
        accounts = client.list_accounts()
    finally:
        client.close()
    return LiveFleet(settings, accounts, notes)
