"""The team's useapi.net PixVerse accounts, declared from stack config.

stacks/Pulumi.<stack>.yaml holds the reviewable inventory (`accounts`: email → {maxJobs}) and
the encrypted `passwords` (and rarely `tokens`). This program declares one `PixVerseAccount`
per email, named by the email, and exports what a reviewer needs: each account's PixVerse
username, session expiry and maxJobs, plus the fleet's total capacity.

Secrets stay Outputs from config to resource: the secret maps are read with
`get_secret_object` and only ever opened inside `apply`, where they are checked against the
inventory and split per account. A validation failure there fails every account's input, so
no resource is registered and no API call is made.
"""

from __future__ import annotations

from datetime import datetime, timezone
from functools import partial
from typing import Any

import pulumi

from provider import PixVerseAccount
from provider.inventory import (
    AccountSecrets,
    DesiredAccount,
    InventoryError,
    pair_secrets,
    parse_accounts,
    parse_warn_days,
)
from provider.sessions import account_summary, session_warning


def _fail(exc: InventoryError) -> pulumi.RunError:
    """RunError prints the message without a traceback: the problem list is the message."""
    return pulumi.RunError(str(exc))


def _paired(accounts: list[DesiredAccount], secret_maps: list[Any]) -> dict[str, AccountSecrets]:
    try:
        return pair_secrets(accounts, secret_maps[0], secret_maps[1])
    except InventoryError as exc:
        raise _fail(exc) from None


def _password_of(email: str, paired: dict[str, AccountSecrets]) -> str:
    return paired[email].password


def _token_of(email: str, paired: dict[str, AccountSecrets]) -> str | None:
    return paired[email].token


def _report(email: str, warn_days: float, values: list[Any]) -> dict[str, Any]:
    """The account's output row from [jwt, maxJobs]; warns (synchronously, so it is never lost
    at shutdown) when its PixVerse session has expired or expires within `jwtWarnDays`."""
    jwt, max_jobs = values
    warning = session_warning(email, jwt, datetime.now(timezone.utc), warn_days)
    if warning is not None:
        pulumi.log.warn(warning)
    return account_summary(jwt, max_jobs)


def main() -> None:
    config = pulumi.Config()
    try:
        accounts = parse_accounts(config.require_object("accounts"))
        warn_days = parse_warn_days(config.get("jwtWarnDays"))
    except InventoryError as exc:
        raise _fail(exc) from None

    passwords = config.get_secret_object("passwords") or pulumi.Output.secret(None)
    tokens = config.get_secret_object("tokens") or pulumi.Output.secret(None)
    secrets = pulumi.Output.all(passwords, tokens).apply(partial(_paired, accounts))

    outputs: dict[str, pulumi.Output[dict[str, Any]]] = {}
    for desired in accounts:
        email = desired.email
        # None when the account has no token: the resource then sends none to useapi.net.
        token: pulumi.Output[Any] = secrets.apply(partial(_token_of, email))
        account = PixVerseAccount(
            email,
            email=email,
            password=secrets.apply(partial(_password_of, email)),
            max_jobs=desired.max_jobs,
            token=token,
        )
        outputs[email] = pulumi.Output.all(account.jwt, account.maxJobs).apply(
            partial(_report, email, warn_days)
        )

    pulumi.export("accounts", outputs)
    pulumi.export("totalMaxJobs", sum(desired.max_jobs for desired in accounts))


main()
