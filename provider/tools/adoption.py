"""What adopting existing useapi.net accounts into a stack means: which accounts, with which
`maxJobs`, and what is left to do by hand. Pure functions, so the rules are tested without
a network or a file.

An account is adopted with the `maxJobs` useapi.net reports, so the first `pulumi up` after
adoption sends the same configuration back (one POST each: create is an upsert) and changes
nothing. Passwords cannot be adopted: useapi.net answers `…secured…`, so each adopted
account still needs `pulumi config set --secret`, and the inventory refuses an account
without a password before any API call.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML

from ..host import validation
from ..host.useapi.client import Account
from ..program.inventory import ACCOUNTS_KEY, set_password_command
from .stack_file import CONFIG, namespaced


@dataclass(frozen=True)
class AdoptionPlan:
    """The live fleet measured against the stack's inventory."""

    new: dict[str, int] = field(default_factory=dict)  # email → live maxJobs, sorted by email
    skipped: list[str] = field(default_factory=list)  # "email: why", one per account
    declared_live: list[str] = field(default_factory=list)
    declared_missing: list[str] = field(default_factory=list)


def plan_adoption(live: Mapping[str, Account], declared: Iterable[Any]) -> AdoptionPlan:
    """Every live account the stack does not declare, unless it cannot be declared as it is.

    Skipped, with the reason: an email that differs from a declared one only in case (the
    inventory rejects such pairs: fix the spelling instead), and an account whose email or
    `maxJobs` the inventory would reject.
    """
    declared_emails = {str(email) for email in declared}
    folded = {email.casefold(): email for email in declared_emails}
    plan = AdoptionPlan(
        declared_live=sorted(declared_emails & set(live)),
        declared_missing=sorted(declared_emails - set(live)),
    )
    for email in sorted(set(live) - declared_emails):
        twin = folded.get(email.casefold())
        live_jobs = live[email].max_jobs
        problem = validation.email_problem(email) or validation.max_jobs_problem(live_jobs)
        if live_jobs is None:
            plan.skipped.append(
                f"{email}: useapi.net did not report its maxJobs; declare it by hand with the "
                f"maxJobs you want"
            )
        elif twin is not None:
            plan.skipped.append(
                f"{email}: the stack declares it as {twin} (emails differ only in case); "
                f"spell it as useapi.net does in the stack instead of adopting a second entry"
            )
        elif problem is not None:
            plan.skipped.append(f"{email}: cannot be declared as it is on useapi.net: {problem}")
        else:
            plan.new[email] = live_jobs
    return plan


def inventory_snippet(new: Mapping[str, int], indent: int = 2) -> str:
    """The entries as they would stand under `config:` in a stack file."""
    yaml = YAML()
    yaml.indent(mapping=indent, sequence=indent, offset=0)
    out = io.StringIO()
    yaml.dump({ACCOUNTS_KEY: {email: {"maxJobs": jobs} for email, jobs in new.items()}}, out)
    return "".join(" " * indent + line for line in out.getvalue().splitlines(keepends=True))


def password_commands(emails: Iterable[str], stack: str) -> list[str]:
    """One exact command per adopted account; each prompts for the password."""
    return [set_password_command(email, stack) for email in emails]


def _accounts_key(config: Mapping[Any, Any]) -> Any:
    """The inventory's key as the file spells it (`accounts` or `pixverse-accounts:accounts`)."""
    for key in config:
        if namespaced(str(key)) == ACCOUNTS_KEY:
            return key
    return ACCOUNTS_KEY


def merge_damage(before: Any, after: Any, added: Mapping[str, int]) -> list[str]:
    """What a merge did besides adding `added`, read as plain data (what Pulumi will read):
    one line per existing entry or setting that it lost or changed. Empty when the merged
    file is exactly the old one plus the new entries.

    The stack file is the team's record of who gets how many jobs; a writer that dropped or
    rewrote an entry would be applied by the next `pulumi up` as a delete or an update, so
    such a merge must never be saved.
    """
    old = dict(before) if isinstance(before, Mapping) else {}
    new = dict(after) if isinstance(after, Mapping) else {}
    old_config = dict(old.pop(CONFIG, None) or {})
    new_config = dict(new.pop(CONFIG, None) or {})
    key = _accounts_key(old_config)
    old_accounts = dict(old_config.pop(key, None) or {})
    new_accounts = new_config.pop(key, None)
    new_accounts = dict(new_accounts) if isinstance(new_accounts, Mapping) else {}
    damage = [
        f"{email}: {'lost' if email not in new_accounts else 'changed'}"
        for email, entry in old_accounts.items()
        if new_accounts.get(email, object()) != entry
    ]
    expected = {**old_accounts, **{email: {"maxJobs": jobs} for email, jobs in added.items()}}
    damage += [
        f"{email}: added, though useapi.net did not list it"
        for email in new_accounts
        if email not in expected
    ]
    damage += [
        f"{email}: not added as useapi.net has it"
        for email in added
        if email not in old_accounts and new_accounts.get(email) != expected[email]
    ]
    for setting in sorted({*old_config, *new_config}, key=str):
        if old_config.get(setting, object()) != new_config.get(setting, object()):
            damage.append(f"`{setting}`: {'lost' if setting not in new_config else 'changed'}")
    if old != new:
        damage.append("the keys outside `config:` changed")
    return damage
