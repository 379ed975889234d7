"""Name what drifted, per account: the stack's inventory against useapi.net's live list.

`pulumi preview --refresh --expect-no-changes` decides whether the fleet matches the stack,
but says so in resource steps. An on-call engineer wants one line per account saying what
changed: `maxJobs 5→1`, `deleted`, `session expired at …`. An expired session is no change
to Pulumi at all (the session is an output), so only this check catches it. Nor is an account
sent more jobs than its PixVerse plan runs at once (`plan_findings`): that too is drift here,
with credits running low and a plan about to lapse as warnings. Pure: the live list, the
plans, the last applied outputs and the clock are arguments.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..host.useapi.client import Account, Plan
from ..program.inventory import DesiredAccount
from ..program.sessions import MAX_JOBS_OUT, is_expired, session_warning, stamp
from .plan_findings import over_plan, plan_warnings


@dataclass(frozen=True)
class DriftFindings:
    drifted: list[str] = field(default_factory=list)  # one "email: what" line per account
    warnings: list[str] = field(default_factory=list)  # sessions expiring soon, no session
    undeclared: list[str] = field(default_factory=list)  # on useapi.net, not in the stack


def _applied_max_jobs(applied: Mapping[str, Any] | None, email: str) -> int | None:
    row = (applied or {}).get(email)
    value = row.get(MAX_JOBS_OUT) if isinstance(row, Mapping) else None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    return None


def _missing(email: str, applied: Mapping[str, Any] | None) -> str:
    if applied is not None and email not in applied:
        return f"{email}: not on useapi.net yet (declared, never applied): `pulumi up` creates it"
    return f"{email}: deleted on useapi.net: `pulumi up` creates it again"


def _max_jobs_drift(desired: DesiredAccount, live: int | None, applied: int | None) -> str | None:
    # The API's model makes every field optional: an answer without maxJobs claims no drift.
    if live is None or live == desired.max_jobs:
        return None
    if applied == live:
        # useapi.net still has what was applied: the stack changed, not the service.
        return f"maxJobs {live}→{desired.max_jobs} in the stack, not applied yet"
    return (
        f"maxJobs {desired.max_jobs}→{live} (changed on useapi.net; `pulumi up` sets it back "
        f"to {desired.max_jobs})"
    )


def find_drift(
    declared: Iterable[DesiredAccount],
    live: Mapping[str, Account],
    applied: Mapping[str, Any] | None,
    now: datetime,
    warn_days: float,
    plans: Mapping[str, Plan] | None = None,
    min_credits: int | None = None,
) -> DriftFindings:
    """`applied` is the last `accounts` output (None when unknown): it tells an account deleted
    on useapi.net from one declared but never created. `plans` (email → plan, for the accounts
    whose plan was read) adds "over the plan" to an account's line and its plan warnings."""
    findings = DriftFindings()
    declared_emails: set[str] = set()
    for desired in sorted(declared, key=lambda account: account.email):
        email = desired.email
        declared_emails.add(email)
        account = live.get(email)
        if account is None:
            findings.drifted.append(_missing(email, applied))
            continue
        what: list[str] = []
        jobs = _max_jobs_drift(desired, account.max_jobs, _applied_max_jobs(applied, email))
        if jobs is not None:
            what.append(jobs)
        jwt = account.jwt.to_wire() if account.jwt is not None else None
        expiry = is_expired(jwt, now)
        if expiry is not None:
            what.append(f"session expired at {stamp(expiry)} (check the account's password)")
        elif (warning := session_warning(email, jwt, now, warn_days)) is not None:
            findings.warnings.append(warning)
        plan = (plans or {}).get(email)
        if plan is not None:
            # The larger of the stack's and useapi.net's: either is what jobs are routed by
            # now or after the next `pulumi up`.
            over = over_plan(max(desired.max_jobs, account.max_jobs or 0), plan)
            if over is not None:
                what.append(over)
            findings.warnings.extend(plan_warnings(email, plan, now, warn_days, min_credits))
        if what:
            findings.drifted.append(f"{email}: {'; '.join(what)}")
    for email in sorted(set(live) - declared_emails):
        findings.undeclared.append(
            f"{email}: on useapi.net (maxJobs {live[email].max_jobs}) but not in the stack"
        )
    return findings
