"""The team's useapi.net PixVerse accounts, declared from stack config.

stacks/Pulumi.<stack>.yaml holds the reviewable inventory (`accounts`: email → {maxJobs}) and
the encrypted `passwords` (and rarely `tokens`). This program declares one `PixVerseAccount`
per email, named by the email, and exports what a reviewer needs: each account's PixVerse
username, session expiry and maxJobs, plus the fleet's total capacity.

Sessions: an expired one, or one expiring within `jwtWarnDays`, is a warning; with
`failOnExpiredSession: true` an expired one fails `preview` and `up` instead, one line per
account. That check also runs in preview, where an existing account's session is known from
state; see `_session_check`.

Secrets stay Outputs from config to resource: the secret maps are read with
`get_secret_object` and only ever opened inside `apply`, where they are checked against the
inventory and split per account. A validation failure there fails every account's input, so
no resource is registered and no API call is made.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from functools import partial
from typing import Any

import pulumi
from pulumi.output import Unknown

from provider import PixVerseAccount
from provider.program.inventory import (
    AccountSecrets,
    DesiredAccount,
    InventoryError,
    pair_secrets,
    parse_accounts,
    parse_fail_on_expired,
    parse_min_credits,
    parse_warn_days,
)
from provider.program.sessions import (
    account_summary,
    expired_session_error,
    is_expired,
    session_warning,
)


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


def _row(account: PixVerseAccount) -> pulumi.Output[dict[str, Any]]:
    """The account's output row, from its jwt and maxJobs.

    Two nested applies rather than `Output.all(jwt, maxJobs)`: the same value, known-ness,
    secretness and dependencies, but `all` deep-unwraps each value into Outputs of its own (one
    per field of the jwt), and the SDK's end-of-program loop waits on every pending Output again
    each time one completes. At 200 accounts those extra Outputs were most of the program's CPU
    time in `pulumi up` and doubled that loop's wake-ups (bench/README.md, "Where the time goes").
    """
    return account.maxJobs.apply(partial(_row_from_jwt, account.jwt))


def _row_from_jwt(jwt: pulumi.Output[Any], max_jobs: Any) -> pulumi.Output[dict[str, Any]]:
    return jwt.apply(partial(_summary, max_jobs))


def _summary(max_jobs: Any, jwt: Any) -> dict[str, Any]:
    return account_summary(jwt, max_jobs)


def _known(value: Any) -> bool:
    if isinstance(value, Unknown):
        return False
    if isinstance(value, Mapping):
        return all(_known(item) for item in value.values())
    return True


def _session_check(email: str, warn_days: float, fail_on_expired: bool, jwt: Any) -> str | None:
    """Warns about the account's session, or returns the error line for an expired one when
    `failOnExpiredSession` is true.

    Runs with unknowns, so that it always yields a value and the gate in `main` runs in
    preview too: an account about to be created or updated has no session yet (unknown) and
    is skipped, an existing one's session is known from state. Warnings are logged
    synchronously, so they are never lost at shutdown.
    """
    if not _known(jwt):
        return None
    now = datetime.now(UTC)
    expiry = is_expired(jwt, now)
    if fail_on_expired and expiry is not None:
        return expired_session_error(email, expiry)
    warning = session_warning(email, jwt, now, warn_days)
    if warning is not None:
        pulumi.log.warn(warning)
    return None


def _fail_on_expired(lines: list[str | None]) -> None:
    """Raised inside an apply, a RunError fails the program (preview and up alike) and is
    printed as its message, without a traceback: one line per account."""
    errors = [line for line in lines if line]
    if errors:
        listed = "\n".join(f"  - {line}" for line in errors)
        raise pulumi.RunError(
            f"{len(errors)} PixVerse session(s) expired and "
            f"`pixverse-accounts:failOnExpiredSession` is true:\n{listed}"
        )


def main() -> None:
    config = pulumi.Config()
    try:
        accounts = parse_accounts(config.require_object("accounts"))
        warn_days = parse_warn_days(config.get("jwtWarnDays"))
        fail_on_expired = parse_fail_on_expired(config.get("failOnExpiredSession"))
        # Used by the drift check and the fleet report, which read the plans (the program makes
        # no HTTP call); checked here too, so a bad value fails preview, naming the key.
        parse_min_credits(config.get("minCredits"))
    except InventoryError as exc:
        raise _fail(exc) from None

    passwords = config.get_secret_object("passwords") or pulumi.Output.secret(None)
    # Tokens are rare (debugging only): without a `tokens` map no account has one, and no
    # account needs an Output for it (three fewer per account for the SDK to track).
    tokens = config.get_secret_object("tokens")
    secrets = pulumi.Output.all(passwords, tokens or pulumi.Output.secret(None)).apply(
        partial(_paired, accounts)
    )

    outputs: dict[str, pulumi.Output[dict[str, Any]]] = {}
    sessions: list[pulumi.Output[str | None]] = []
    for desired in accounts:
        email = desired.email
        # None when the account has no token: the resource then sends none to useapi.net.
        token: pulumi.Output[Any] | None = (
            secrets.apply(partial(_token_of, email)) if tokens is not None else None
        )
        account = PixVerseAccount(
            email,
            email=email,
            password=secrets.apply(partial(_password_of, email)),
            max_jobs=desired.max_jobs,
            token=token,
        )
        outputs[email] = _row(account)
        sessions.append(
            account.jwt.apply(
                partial(_session_check, email, warn_days, fail_on_expired), run_with_unknowns=True
            )
        )

    # Nothing needs to wait for the gate: before the program exits, the SDK awaits every
    # Output it made, exported or not, and fails the program with the first error among them.
    pulumi.Output.all(*sessions).apply(_fail_on_expired)
    pulumi.export("accounts", outputs)
    pulumi.export("totalMaxJobs", sum(desired.max_jobs for desired in accounts))


main()
