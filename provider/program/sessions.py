"""What the stack reports per account: the output summary and the session-expiry warning.

useapi.net signs in to PixVerse for each account and refreshes the session itself; a session
that has expired (or is about to) usually means a changed password or a locked account, which
a team wants to see in the `pulumi up` output before generations start failing. Pure
functions, so the wording and the threshold are tested without Pulumi.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from ..host.useapi.answers import EXPIRE_TIME, EXPIRE_TIME_UTC, USERNAME
from .inventory import set_password_command

MAX_JOBS_OUT = "maxJobs"


def account_summary(jwt: Mapping[str, Any] | None, max_jobs: Any) -> dict[str, Any]:
    """The `accounts[email]` stack output: nothing secret, only what a reviewer needs."""
    jwt = jwt or {}
    return {
        USERNAME: str(jwt.get(USERNAME) or ""),
        EXPIRE_TIME_UTC: str(jwt.get(EXPIRE_TIME_UTC) or ""),
        MAX_JOBS_OUT: int(max_jobs) if isinstance(max_jobs, (int, float)) else max_jobs,
    }


def has_expiry(jwt: Mapping[str, Any] | None) -> bool:
    """Whether the API reported an expiry at all: every jwt field is optional in its docs."""
    if not jwt:
        return False
    return any(jwt.get(key) not in (None, "") for key in (EXPIRE_TIME, EXPIRE_TIME_UTC))


def expires_at(jwt: Mapping[str, Any] | None) -> datetime | None:
    """The session's expiry from `ExpireTime` (epoch seconds), else `ExpireTimeUTC`."""
    if not jwt:
        return None
    epoch = jwt.get(EXPIRE_TIME)
    if isinstance(epoch, (int, float)) and not isinstance(epoch, bool):
        try:
            return datetime.fromtimestamp(float(epoch), tz=UTC)
        except (OverflowError, OSError, ValueError):
            pass  # out of range (milliseconds, say): try the ISO form
    text = jwt.get(EXPIRE_TIME_UTC)
    if isinstance(text, str) and text:
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def stamp(moment: datetime) -> str:
    """An expiry as people read it in a log line: `2026-12-01 08:00:00 UTC`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def is_expired(jwt: Mapping[str, Any] | None, now: datetime) -> datetime | None:
    """The expiry time when the session has already expired, else None (also when there is
    no session or its time is unreadable: those are warnings, not a known expiry)."""
    expiry = expires_at(jwt) if isinstance(jwt, Mapping) else None
    return expiry if expiry is not None and expiry <= now else None


def expired_session_error(email: str, expiry: datetime) -> str:
    """One line for `failOnExpiredSession`: the email, when, and what to do. State may be
    older than the service (useapi.net renews sessions itself), hence the refresh first."""
    return (
        f"{email}: the PixVerse session expired at {stamp(expiry)}; `pulumi refresh` to read "
        "it again, and if it is still expired, set the current password "
        f"({set_password_command(email)}) and run `pulumi up`"
    )


def session_warning(
    email: str, jwt: Mapping[str, Any] | None, now: datetime, warn_days: float
) -> str | None:
    """A warning naming the email and the time when the session has expired or expires
    within `warn_days`; None when it is healthy, or when the API did not say when it expires
    (the field is optional: there is nothing to compare, and a warning on every run would
    only teach people to ignore warnings)."""
    if jwt is None:
        return f"{email}: useapi.net reported no PixVerse session for this account"
    if not has_expiry(jwt):
        return None
    expiry = expires_at(jwt)
    if expiry is None:
        return f"{email}: the PixVerse session's expiry time is unreadable"
    if expiry <= now:
        return (
            f"{email}: the PixVerse session expired at {stamp(expiry)}; check the account's "
            "password, then run `pulumi up` again"
        )
    if expiry <= now + timedelta(days=warn_days):
        left = expiry - now
        hours = left.total_seconds() / 3600
        within = f"{hours / 24:.1f} days" if hours >= 24 else f"{hours:.1f} hours"
        return (
            f"{email}: the PixVerse session expires at {stamp(expiry)} (in {within}, "
            f"within jwtWarnDays={warn_days:g})"
        )
    return None
