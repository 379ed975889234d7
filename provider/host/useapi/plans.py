"""`GET /pixverse/features?email=…`, read tolerantly: an account's PixVerse plan and credits.

The docs' model says "all fields are optional", and the answer carries far more than the fleet
needs (payment links among them): only the fields below are read, and nothing else of the
answer is ever kept or shown. A missing field stays None for the caller to treat honestly
(no plan concurrency known is never "over the plan"); a field that is present with a type the
model rules out is an error, as for the account object (`answers.py`).

Credits left are `credit_monthly + credit_daily + credit_package`. The `*_gift` fields are not
added: in the docs' samples they are the allowance the balance counts down from, not more
credits (`credit_monthly` 12450 beside `credit_monthly_gift` 15000 on a 15,000-credit plan;
`credit_daily` 0 beside `credit_daily_gift` 60), so adding them would count credits twice.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .answers import UseapiError, _is_number, _malformed_field, _optional_text

PLAN_NAME = "plan_name"
GEN_SIMULTANEOUSLY = "gen_simultaneously"
CREDIT_MONTHLY = "credit_monthly"
CREDIT_DAILY = "credit_daily"
CREDIT_PACKAGE = "credit_package"
EXPIRED_DATE = "expired_date"
REMAINING_DAYS = "remaining_days"
# PixVerse's backend writes an unset date as Go's zero time (`cancel_updated_at` in the docs'
# sample is "0001-01-01T00:00:00Z"): a date in year 1 means "no date", not "expired long ago".
_UNSET_YEAR = 1


@dataclass(frozen=True)
class Plan:
    """What the fleet needs of one account's plan; None wherever the answer said nothing.

    `expired_date_unreadable` is set when the answer had an `expired_date` that is not a date:
    the caller says so rather than guess the plan's end.
    """

    email: str
    plan_name: str | None = None
    gen_simultaneously: int | None = None
    credit_monthly: int | None = None
    credit_daily: int | None = None
    credit_package: int | None = None
    expired_date: datetime | None = None
    remaining_days: int | None = None
    expired_date_unreadable: bool = False

    @property
    def credits_left(self) -> int | None:
        """Monthly + daily + package, a missing one counting 0; None when all three are
        missing (an answer silent about credits is not an account with none left)."""
        counts = (self.credit_monthly, self.credit_daily, self.credit_package)
        if all(count is None for count in counts):
            return None
        return sum(count or 0 for count in counts)


def _optional_count(data: Mapping[str, Any], key: str, where: str) -> int | None:
    """A count (credits, days, generations): a number, floored; None when absent or null.

    Floored, not rounded: 12.5 credits left is 12 whole generations' worth at most.
    """
    value = data.get(key)
    if value is None:
        return None
    if not _is_number(value):
        raise _malformed_field(where, key, "a number", value)
    return math.floor(float(value))


def _optional_date(data: Mapping[str, Any], key: str, where: str) -> tuple[datetime | None, bool]:
    """An ISO-8601 instant as UTC, and whether a present value could not be read as one."""
    text = _optional_text(data, key, where)
    if text is None or text.strip() == "":
        return None, False
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None, True
    if parsed.year <= _UNSET_YEAR:
        return None, False
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)), False


def parse_plan(data: Any, email: str) -> Plan:
    """Typed plan from a `GET /features` answer; only a wrong shape or type is an error."""
    if not isinstance(data, dict):
        raise UseapiError(
            f"expected the plan object of {email}, got {type(data).__name__}", email=email
        )
    expired, unreadable = _optional_date(data, EXPIRED_DATE, email)
    return Plan(
        email=email,
        plan_name=_optional_text(data, PLAN_NAME, email),
        gen_simultaneously=_optional_count(data, GEN_SIMULTANEOUSLY, email),
        credit_monthly=_optional_count(data, CREDIT_MONTHLY, email),
        credit_daily=_optional_count(data, CREDIT_DAILY, email),
        credit_package=_optional_count(data, CREDIT_PACKAGE, email),
        expired_date=expired,
        remaining_days=_optional_count(data, REMAINING_DAYS, email),
        expired_date_unreadable=unreadable,
    )
