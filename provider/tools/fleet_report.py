"""The fleet at a glance: the stack's outputs as a Markdown table for a job summary or a
terminal. Pure (the clock is an argument), so every marking is tested without a stack.

Expired sessions are marked and listed above the table, because they are what an on-call
engineer has to act on: generations routed to such an account fail.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from ..host.useapi.answers import EXPIRE_TIME_UTC, USERNAME
from ..program.sessions import MAX_JOBS_OUT, expires_at
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
    stamp = expiry.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
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


def render_markdown(
    outputs: StackOutputs, now: datetime, warn_days: float = 7, title: str = TITLE
) -> str:
    """The report; an empty fleet gets a sentence and a zero total, not an empty table."""
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
    for email, row in sorted(outputs.accounts.items()):
        if not isinstance(row, Mapping):
            rows.append(f"| {_cell(email)} | {UNKNOWN} | {UNKNOWN} | {UNKNOWN} |")
            continue
        expiry = expires_at({EXPIRE_TIME_UTC: row.get(EXPIRE_TIME_UTC)})
        session = "no session" if expiry is None else _when(expiry, now, warn_days)
        if expiry is not None and expiry <= now:
            expired.append(email)
        jobs = _max_jobs(row)
        known_jobs += jobs or 0
        user = row.get(USERNAME) or UNKNOWN
        max_jobs = UNKNOWN if jobs is None else str(jobs)
        rows.append(f"| {_cell(email)} | {_cell(user)} | {session} | {max_jobs} |")
    total = outputs.total_max_jobs if outputs.total_max_jobs is not None else known_jobs
    if expired:
        lines += [
            f"**{_plural(len(expired), 'expired session')}:** {', '.join(expired)}. "
            "Generations routed to them fail: check each account's password, then "
            "`pulumi up --refresh`.",
            "",
        ]
    lines += [
        "| Account | PixVerse user | Session expires | maxJobs |",
        "| --- | --- | --- | ---: |",
        *rows,
        f"| **Fleet total** | {_plural(len(outputs.accounts), 'account')} | | **{total}** |",
    ]
    return "\n".join(lines) + "\n"
