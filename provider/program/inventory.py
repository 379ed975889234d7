"""The account inventory: stack config in, the accounts to declare out — no Pulumi needed.

`__main__.py` hands this module the plain `accounts` map and, inside an `apply` on the secret
Outputs, the `passwords` and `tokens` maps. Every rule fails with an `InventoryError` that
names the email (and the config key to fix) before any resource is registered, so a bad
inventory never reaches useapi.net. Messages never quote a password or token: only the email,
the rule, and for `maxJobs` the value.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..host import validation

PROJECT = "pixverse-accounts"
ACCOUNTS_KEY = f"{PROJECT}:accounts"
PASSWORDS_KEY = f"{PROJECT}:passwords"
TOKENS_KEY = f"{PROJECT}:tokens"
WARN_DAYS_KEY = f"{PROJECT}:jwtWarnDays"
FAIL_ON_EXPIRED_KEY = f"{PROJECT}:failOnExpiredSession"
MIN_CREDITS_KEY = f"{PROJECT}:minCredits"
DEFAULT_WARN_DAYS = 7
ENTRY_KEYS = frozenset({"maxJobs"})


class InventoryError(ValueError):
    """The inventory is inconsistent; one line per problem, each naming the email."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"the account inventory has {len(self.problems)} problem(s):\n{lines}")


@dataclass(frozen=True)
class DesiredAccount:
    """One account the stack declares: the resource name and id are the email."""

    email: str
    max_jobs: int


@dataclass(frozen=True)
class AccountSecrets:
    """An account's password and optional PixVerse session token; never printed."""

    password: str = field(repr=False)
    token: str | None = field(repr=False, default=None)


def set_password_command(email: str, stack: str | None = None) -> str:
    """The exact command that stores an account's password as a secret, shell-quoted (an
    email may hold a `'`); the value is prompted for, so it never lands in shell history."""
    path = 'passwords["' + email + '"]'
    command = f"pulumi config set --secret --path {shlex.quote(path)}"
    return f"{command} --stack {shlex.quote(stack)}" if stack else command


def parse_accounts(raw: Any) -> list[DesiredAccount]:
    """`pixverse-accounts:accounts` (email → {maxJobs}) as a list sorted by email.

    Rejects a non-map, an invalid email, a missing or invalid `maxJobs`, unknown entry keys
    (a typo such as `maxjobs` would otherwise be silently ignored) and two emails that differ
    only in case (useapi.net would see one account configured twice).
    """
    if not isinstance(raw, Mapping):
        raise InventoryError(
            [
                f"`{ACCOUNTS_KEY}` must be a map of email → {{maxJobs: 1..8}}, "
                f"got {type(raw).__name__}"
            ]
        )
    problems: list[str] = []
    accounts: list[DesiredAccount] = []
    by_folded: dict[str, str] = {}
    for email in sorted(raw, key=str):
        entry = raw[email]
        label = email if isinstance(email, str) else repr(email)
        reason = validation.email_problem(email)
        if reason is not None:
            problems.append(f"{label}: {reason}")
            continue
        folded = email.casefold()
        if folded in by_folded:
            problems.append(
                f"{email}: duplicates {by_folded[folded]} (emails differ only in case; "
                "keep one entry)"
            )
            continue
        by_folded[folded] = email
        if not isinstance(entry, Mapping):
            problems.append(f"{email}: entry must be a map like {{maxJobs: 3}}")
            continue
        unknown = sorted(str(key) for key in entry if key not in ENTRY_KEYS)
        if unknown:
            problems.append(f"{email}: unknown key(s) {', '.join(unknown)}; allowed: maxJobs")
        if "maxJobs" not in entry:
            problems.append(f"{email}: maxJobs is required (an integer from 1 to 8)")
            continue
        reason = validation.max_jobs_problem(entry["maxJobs"])
        if reason is not None:
            problems.append(f"{email}: {reason}")
            continue
        accounts.append(DesiredAccount(email, validation.as_max_jobs(entry["maxJobs"])))
    if problems:
        raise InventoryError(problems)
    return accounts


def _secret_map(raw: Any, key: str) -> Mapping[Any, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise InventoryError([f"`{key}` must be a map of email → secret string"])
    return raw


def pair_secrets(
    accounts: Iterable[DesiredAccount], passwords: Any, tokens: Any = None
) -> dict[str, AccountSecrets]:
    """Each declared email with its password (required) and token (optional).

    Called inside an `apply` on the secret Outputs, so the values stay secret; only emails and
    rules reach the error. A password or token for an undeclared email is an error: it is
    usually a typo or a leftover, and silently ignoring it would hide the mistake.
    """
    password_map = _secret_map(passwords, PASSWORDS_KEY)
    token_map = _secret_map(tokens, TOKENS_KEY)
    declared = {account.email for account in accounts}
    folded = {email.casefold(): email for email in declared}
    problems: list[str] = []
    for kind, key, secrets in (
        ("password", PASSWORDS_KEY, password_map),
        ("token", TOKENS_KEY, token_map),
    ):
        for email in sorted(secrets, key=str):
            if email in declared:
                continue
            hint = ""
            if isinstance(email, str) and email.casefold() in folded:
                hint = f" (did you mean {folded[email.casefold()]}? emails must match exactly)"
            problems.append(
                f"{email}: has a {kind} in `{key}` but no account in `{ACCOUNTS_KEY}`{hint}"
            )
    paired: dict[str, AccountSecrets] = {}
    for email in sorted(declared):
        password = password_map.get(email)
        token = token_map.get(email)
        if password is None:
            problems.append(
                f"{email}: has no password in `{PASSWORDS_KEY}`; set it with "
                f"{set_password_command(email)}"
            )
            continue
        reason = validation.password_problem(password)
        if reason is None:
            reason = validation.token_problem(token)
        if reason is not None:
            problems.append(f"{email}: {reason}")
            continue
        paired[email] = AccountSecrets(password, None if token == "" else token)
    if problems:
        raise InventoryError(problems)
    return paired


def parse_warn_days(raw: Any) -> float:
    """`pixverse-accounts:jwtWarnDays`: a non-negative number of days (default 7)."""
    if raw is None or raw == "":
        return float(DEFAULT_WARN_DAYS)
    try:
        days = float(raw)
    except (TypeError, ValueError):
        days = math.nan
    if isinstance(raw, bool) or not math.isfinite(days) or days < 0:
        raise InventoryError([f"`{WARN_DAYS_KEY}` must be a number of days >= 0, got {raw!r}"])
    return days


def parse_min_credits(raw: Any) -> int | None:
    """`pixverse-accounts:minCredits`: a whole number of credits >= 0, or None (no check).

    Config arrives as text (`"500"`); `500.0` is whole and accepted, `1.5`, `-1`, `true` and
    `many` are refused, naming the key, before any API call.
    """
    if raw is None or raw == "":
        return None
    try:
        credits = float(raw)
    except (TypeError, ValueError):
        credits = math.nan
    if isinstance(raw, bool) or not math.isfinite(credits) or credits < 0:
        credits = math.nan
    if math.isnan(credits) or not credits.is_integer():
        raise InventoryError(
            [f"`{MIN_CREDITS_KEY}` must be a whole number of credits >= 0, got {raw!r}"]
        )
    return int(credits)


def parse_fail_on_expired(raw: Any) -> bool:
    """`pixverse-accounts:failOnExpiredSession`: true or false (default false).

    Config arrives as text (`"true"`); YAML's other spellings of a boolean (`yes`, `on`) are
    refused rather than guessed, as Pulumi's own `get_bool` does.
    """
    if raw is None or raw == "":
        return False
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("true", "false"):
        return text == "true"
    raise InventoryError([f"`{FAIL_ON_EXPIRED_KEY}` must be true or false, got {raw!r}"])
