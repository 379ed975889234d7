"""What a fleet's owner must hear about each account's PixVerse plan: over it, running dry,
about to lapse. Pure (the plan, the clock and the thresholds are arguments), so every line is
tested without a service; the drift check prints them and the fleet report marks them.

Over the plan is drift: useapi.net routes up to `maxJobs` jobs at once to an account, and the
ones beyond the plan's concurrent generations (`gen_simultaneously`) fail at PixVerse. An
answer without `gen_simultaneously` is never called over the plan. Credits below
`pixverse-accounts:minCredits` and a plan that has expired or expires within `jwtWarnDays` are
warnings: a person acts on them (buy credits, renew), but the stack is not wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ..host.useapi.plans import Plan
from ..program.inventory import MIN_CREDITS_KEY
from ..program.sessions import stamp


@dataclass(frozen=True)
class PlanExpiry:
    """When the plan ends (or how many days it has left, when that is all the answer says)."""

    at: datetime | None
    days_left: int | None

    def expired(self, now: datetime) -> bool:
        if self.at is not None:
            return self.at <= now
        return self.days_left is not None and self.days_left <= 0

    def within(self, now: datetime, days: float) -> bool:
        if self.at is not None:
            return self.at <= now + timedelta(days=days)
        return self.days_left is not None and self.days_left <= days


def plan_label(plan: Plan) -> str:
    return f"plan {plan.plan_name!r}" if plan.plan_name else "its plan"


def plan_expiry(plan: Plan) -> PlanExpiry | None:
    """`expired_date` when the answer has a readable one, else `remaining_days`, else None."""
    if plan.expired_date is None and plan.remaining_days is None:
        return None
    return PlanExpiry(plan.expired_date, None if plan.expired_date else plan.remaining_days)


def over_plan(max_jobs: int, plan: Plan) -> str | None:
    """`maxJobs 8 > gen_simultaneously 5 of plan 'Pro'…` when the account may be sent more
    jobs than its plan runs at once; None when it may not, or when the plan does not say."""
    allowed = plan.gen_simultaneously
    if allowed is None or max_jobs <= allowed:
        return None
    return (
        f"over the plan: maxJobs {max_jobs} > gen_simultaneously {allowed} of "
        f"{plan_label(plan)} (jobs beyond {allowed} at once fail at PixVerse: set maxJobs to "
        f"{allowed} or less, or upgrade the plan)"
    )


def plan_capacity(max_jobs: int, plan: Plan | None) -> int:
    """The jobs the account can really run at once: min(maxJobs, gen_simultaneously), or its
    maxJobs when the plan's concurrency is unknown."""
    if plan is None or plan.gen_simultaneously is None:
        return max_jobs
    return min(max_jobs, plan.gen_simultaneously)


def _days(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 24 else f"{hours:.1f} hours"


def expiry_warning(email: str, plan: Plan, now: datetime, warn_days: float) -> str | None:
    """A plan that has expired, or expires within `jwtWarnDays` (the stack's one warning
    horizon, shared with the sessions); an unreadable `expired_date` is said, not guessed."""
    label = plan_label(plan)
    if plan.expired_date_unreadable and plan.remaining_days is None:
        return f"{email}: the expiry date of {label} is unreadable"
    expiry = plan_expiry(plan)
    if expiry is None or not expiry.within(now, warn_days):
        return None
    renew = "renew it on PixVerse, or generations routed to this account fail"
    if expiry.at is not None:
        if expiry.expired(now):
            return f"{email}: {label} expired at {stamp(expiry.at)}; {renew}"
        return (
            f"{email}: {label} expires at {stamp(expiry.at)} (in {_days(expiry.at - now)}, "
            f"within jwtWarnDays={warn_days:g}); {renew}"
        )
    days = expiry.days_left
    if expiry.expired(now):
        return f"{email}: {label} has expired (remaining_days {days}); {renew}"
    return f"{email}: {label} has {days} day(s) left (within jwtWarnDays={warn_days:g}); {renew}"


def credits_warning(email: str, plan: Plan, min_credits: int | None) -> str | None:
    """Credits left (monthly + daily + package) below `minCredits`; None without a threshold
    or when the answer says nothing about credits."""
    left = plan.credits_left
    if min_credits is None or left is None or left >= min_credits:
        return None
    return (
        f"{email}: {left} credits left, below {MIN_CREDITS_KEY}={min_credits} "
        f"(monthly {plan.credit_monthly or 0} + daily {plan.credit_daily or 0} + package "
        f"{plan.credit_package or 0}); buy credits or move jobs off this account"
    )


def plan_warnings(
    email: str, plan: Plan, now: datetime, warn_days: float, min_credits: int | None
) -> list[str]:
    return [
        line
        for line in (
            credits_warning(email, plan, min_credits),
            expiry_warning(email, plan, now, warn_days),
        )
        if line is not None
    ]
