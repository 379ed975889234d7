"""The fleet at a glance: the stack's outputs as a Markdown table for a job summary or a
terminal. Pure (the clock is an argument), so every marking is tested without a stack.

Expired sessions are marked and listed above the table, because they are what an on-call
engineer has to act on: generations routed to such an account fail.

With the live figures (`report --stack`: each account's plan and the jobs running now) the
table gains the plan, when it ends, its concurrency, the credits left and the running jobs;
accounts over their plan, low on credits or about to lapse are listed above it, and a line
below gives the capacity the plans really allow beside the total maxJobs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from ..host.useapi.answers import EXPIRE_TIME_UTC, USERNAME
from ..host.useapi.plans import Plan
from ..program.sessions import MAX_JOBS_OUT, expires_at
from .live_fleet import LiveCapacity
from .plan_findings import over_plan, plan_capacity, plan_expiry, plan_warnings
from .stack_outputs import StackOutputs

TITLE = "PixVerse fleet"
UNKNOWN = "(unknown)"


def _cell(value: Any) -> str:
    """Table-safe text: a `|` or a line break would split the row."""
    return str(value).replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _nearest(value: float) -> int:
    """Half up, always: `round` rounds halves to even, so 2.5 days would read "2 days" and
    3.5 days "4 days"."""
    return math.floor(value + 0.5)


def _span(seconds: float) -> str:
    """`5 hours`, `3 days`: hours below a day, else whole days, each to the nearest (a fresh
    30-day session reads "30 days", not "29"); under half an hour, "less than an hour"."""
    hours = seconds / 3600
    if hours < 0.5:
        return "less than an hour"
    if hours < 23.5:
        return _plural(_nearest(hours), "hour")
    return _plural(_nearest(hours / 24), "day")


def _when(expiry: datetime, now: datetime, warn_days: float) -> str:
    """`2026-12-27 05:46 UTC (in 30 days)`; expired ones and those expiring soon marked, with
    the same bounds as the program's warning (expired at the instant itself; soon up to and
    including `warn_days`)."""
    stamp = expiry.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    seconds = (expiry - now).total_seconds()
    if seconds <= 0:
        return f"**EXPIRED** {stamp} ({_span(-seconds)} ago)"
    if expiry <= now + timedelta(days=warn_days):
        return f"**soon** {stamp} (in {_span(seconds)})"
    return f"{stamp} (in {_span(seconds)})"


def _max_jobs(row: Mapping[str, Any]) -> int | None:
    value = row.get(MAX_JOBS_OUT)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    return None


def _plan_ends(plan: Plan, now: datetime, warn_days: float) -> str:
    expiry = plan_expiry(plan)
    if expiry is None:
        return UNKNOWN
    if expiry.at is not None:
        return _when(expiry.at, now, warn_days)
    days = expiry.days_left or 0
    if expiry.expired(now):
        return f"**EXPIRED** ({days} days left)"
    left = f"{_plural(days, 'day')} left"
    return f"**soon** ({left})" if expiry.within(now, warn_days) else left


def _live_cells(
    email: str,
    max_jobs: int | None,
    live: LiveCapacity,
    now: datetime,
    warn_days: float,
    min_credits: int | None,
) -> list[str]:
    """Plan, plan ends, concurrency, credits left, running: over-plan and low credits bold."""
    plan = live.plans.get(email)
    running = UNKNOWN if live.scheduler is None else str(live.scheduler.executing(email))
    if plan is None:
        return [UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN, running]
    concurrency = UNKNOWN if plan.gen_simultaneously is None else str(plan.gen_simultaneously)
    if max_jobs is not None and over_plan(max_jobs, plan) is not None:
        concurrency = f"**{concurrency}** (< maxJobs)"
    left = plan.credits_left
    credits = UNKNOWN if left is None else str(left)
    if left is not None and min_credits is not None and left < min_credits:
        credits = f"**{credits}** (low)"
    name = _cell(plan.plan_name) if plan.plan_name else UNKNOWN
    return [name, _plan_ends(plan, now, warn_days), concurrency, credits, running]


def _attention(
    outputs: StackOutputs,
    live: LiveCapacity,
    now: datetime,
    warn_days: float,
    min_credits: int | None,
) -> list[str]:
    """One line per account over its plan, low on credits or about to lapse (the drift
    check's wording), then why any live figure is missing."""
    lines: list[str] = []
    for email, row in sorted(outputs.accounts.items()):
        plan = live.plans.get(email)
        jobs = _max_jobs(row) if isinstance(row, Mapping) else None
        if plan is None:
            continue
        if jobs is not None and (over := over_plan(jobs, plan)) is not None:
            lines.append(f"- {_cell(email)}: {over}")
        lines += [
            f"- {_cell(line)}" for line in plan_warnings(email, plan, now, warn_days, min_credits)
        ]
    missing = [
        f"- {_cell(email)}: plan unknown: {_cell(why)}"
        for email, why in sorted(live.unknown.items())
    ]
    if live.scheduler_error is not None:
        missing.append(f"- running jobs unknown: {_cell(live.scheduler_error)}")
    out: list[str] = []
    if lines:
        out += ["**Needs attention:**", "", *lines, ""]
    if missing:
        out += ["**Not read live:**", "", *missing, ""]
    return out


def render_markdown(
    outputs: StackOutputs,
    now: datetime,
    warn_days: float = 7,
    title: str = TITLE,
    live: LiveCapacity | None = None,
    min_credits: int | None = None,
) -> str:
    """The report; an empty fleet gets a sentence and a zero total, not an empty table.

    `live` (plans and running jobs read from useapi.net) adds their columns and lines;
    without it the report is the offline table of the stack's outputs alone.
    """
    lines = [f"### {_cell(title)}", ""]
    if not outputs.accounts:
        total = outputs.total_max_jobs or 0
        lines += [
            "No accounts: the stack declares none, or it has not been applied yet.",
            "",
            f"**Fleet total:** 0 accounts, {total} maxJobs.",
        ]
        return "\n".join(lines) + "\n"
    rows: list[str] = []
    expired: list[str] = []
    known_jobs = 0
    capacity = 0
    credits_total = 0
    for email, row in sorted(outputs.accounts.items()):
        if not isinstance(row, Mapping):
            cells = [_cell(email), UNKNOWN, UNKNOWN, UNKNOWN]
            if live is not None:
                cells += _live_cells(email, None, live, now, warn_days, min_credits)
            rows.append(f"| {' | '.join(cells)} |")
            continue
        expiry = expires_at({EXPIRE_TIME_UTC: row.get(EXPIRE_TIME_UTC)})
        session = "no session" if expiry is None else _when(expiry, now, warn_days)
        if expiry is not None and expiry <= now:
            expired.append(email)
        jobs = _max_jobs(row)
        known_jobs += jobs or 0
        user = row.get(USERNAME) or UNKNOWN
        max_jobs = UNKNOWN if jobs is None else str(jobs)
        cells = [_cell(email), _cell(user), session, max_jobs]
        if live is not None:
            cells += _live_cells(email, jobs, live, now, warn_days, min_credits)
            plan = live.plans.get(email)
            capacity += plan_capacity(jobs or 0, plan)
            credits_total += (plan.credits_left or 0) if plan is not None else 0
        rows.append(f"| {' | '.join(cells)} |")
    total = outputs.total_max_jobs if outputs.total_max_jobs is not None else known_jobs
    if expired:
        lines += [
            f"**{_plural(len(expired), 'expired session')}:** {', '.join(expired)}. "
            "Generations routed to them fail: check each account's password, then "
            "`pulumi up --refresh`.",
            "",
        ]
    accounts = _plural(len(outputs.accounts), "account")
    if live is None:
        lines += [
            "| Account | PixVerse user | Session expires | maxJobs |",
            "| --- | --- | --- | ---: |",
            *rows,
            f"| **Fleet total** | {accounts} | | **{total}** |",
        ]
        return "\n".join(lines) + "\n"
    running = (
        UNKNOWN
        if live.scheduler is None
        else str(sum(live.scheduler.executing(email) for email in outputs.accounts))
    )
    running_now = running if live.scheduler is None else _plural(int(running), "job")
    lines += _attention(outputs, live, now, warn_days, min_credits)
    lines += [
        "| Account | PixVerse user | Session expires | maxJobs | Plan | Plan ends "
        "| Concurrency | Credits left | Running |",
        "| --- | --- | --- | ---: | --- | --- | ---: | ---: | ---: |",
        *rows,
        f"| **Fleet total** | {accounts} | | **{total}** | | | | **{credits_total}** "
        f"| **{running}** |",
        "",
        f"**Capacity the plans allow:** {capacity} of {total} maxJobs at once (per account "
        "min(maxJobs, the plan's gen_simultaneously); an account whose plan is unknown counts "
        f"its maxJobs). **Running now:** {running_now}.",
    ]
    return "\n".join(lines) + "\n"
