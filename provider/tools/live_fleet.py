"""The live fleet for the command-line tools (adopt, drift, report): the provider's settings
from a stack file, then one `GET /accounts` with the provider's own client; for the drift check
and the fleet report also each account's plan (`GET /features`, one per account) and, for the
report, the jobs running now (one `GET /scheduler/available` for the whole fleet).

The provider host gets the stack config decrypted by the Pulumi CLI; a tool run on its own
reads the stack file itself and can only use plain values. An encrypted (`secure:`) value —
typically `useapi:token` — is skipped, and the setting's environment variable is used
instead, as the provider itself falls back to it. The tool says so, because a silent switch
to a different token would point it at a different subscription.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
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
from ..host.useapi.client import Account, Plan, Scheduler, UseapiClient, UseapiError
from .stack_file import StackFile, is_secure

SETTINGS = (TOKEN, BASE_URL, TIMEOUT, MAX_RETRIES)
# Plans are read this many at a time: a fleet of 50 is not 50 round trips in a row, and
# useapi.net is not sent more at once than the provider host itself would send.
PLAN_READERS = 4


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


@dataclass(frozen=True)
class LiveCapacity:
    """Each account's plan, why a plan is unknown, and (when asked for) the running jobs."""

    plans: dict[str, Plan] = field(default_factory=dict)
    unknown: dict[str, str] = field(default_factory=dict)  # email → why no plan is known
    scheduler: Scheduler | None = None
    scheduler_error: str | None = None


def _plan_of(client: UseapiClient, email: str) -> Plan | str:
    try:
        plan = client.get_plan(email)
    except UseapiError as exc:
        return str(exc)
    return plan if plan is not None else "useapi.net has no configuration for this email"


def read_capacity(
    settings: ProviderSettings, emails: Iterable[str], *, jobs: bool = False
) -> LiveCapacity:
    """Reads only (GETs). One account's plan failing to read does not hide the others': it is
    reported as unknown, with the reason, and is never taken for a healthy plan."""
    client = UseapiClient(settings)
    try:
        wanted = sorted(set(emails))
        with ThreadPoolExecutor(max_workers=PLAN_READERS) as pool:
            read = pool.map(lambda email: _plan_of(client, email), wanted)
            found = dict(zip(wanted, read, strict=True))
        scheduler: Scheduler | None = None
        scheduler_error: str | None = None
        if jobs:
            try:
                scheduler = client.get_scheduler()
            except UseapiError as exc:
                scheduler_error = str(exc)
    finally:
        client.close()
    return LiveCapacity(
        plans={email: plan for email, plan in found.items() if isinstance(plan, Plan)},
        unknown={email: why for email, why in found.items() if isinstance(why, str)},
        scheduler=scheduler,
        scheduler_error=scheduler_error,
    )
