"""The readers of the plan and scheduler answers, as pure functions: every field optional, the
docs' samples read as the docs mean them, a wrong type one clear error naming no value."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from provider.host.useapi.answers import UseapiError
from provider.host.useapi.plans import parse_plan
from provider.host.useapi.scheduler import parse_scheduler

EMAIL = "ops@example.com"
# The docs' June 2026 sample, cut to what matters here (the payment links left in).
DOCS_PLAN: dict[str, Any] = {
    "plan_name": "Premium - Monthly",
    "credit_daily": 0,
    "credit_daily_gift": 60,
    "credit_monthly": 12450,
    "credit_monthly_gift": 15000,
    "credit_package": 0,
    "expired_date": "2026-07-23T00:48:50Z",
    "invoice_url": "https://stripe.pay.pixverse.ai/...",
    "gen_simultaneously": 5,
    "cancel_updated_at": "0001-01-01T00:00:00Z",
    "remaining_days": 30,
}


def test_the_docs_sample_reads_as_the_plan_it_describes() -> None:
    plan = parse_plan(DOCS_PLAN, EMAIL)

    assert (plan.plan_name, plan.gen_simultaneously, plan.remaining_days) == (
        "Premium - Monthly",
        5,
        30,
    )
    assert plan.expired_date == datetime(2026, 7, 23, 0, 48, 50, tzinfo=UTC)
    # The *_gift fields are the allowance the balance counts down from: not added.
    assert plan.credits_left == 12450


@pytest.mark.parametrize(
    ("fields", "left"),
    [
        ({"credit_monthly": 100}, 100),
        ({"credit_daily": 5, "credit_package": 20}, 25),
        ({"credit_monthly": 0, "credit_daily": 0, "credit_package": 0}, 0),
        ({"credit_monthly": 12.9}, 12),  # floored: whole generations' worth at most
        ({}, None),  # an answer silent about credits is not one with none left
        ({"credit_monthly_gift": 6000}, None),
    ],
)
def test_credits_left_count_a_missing_field_as_zero_unless_all_are_missing(
    fields: dict[str, Any], left: int | None
) -> None:
    assert parse_plan(fields, EMAIL).credits_left == left


@pytest.mark.parametrize(
    ("text", "expected", "unreadable"),
    [
        ("2026-07-23T00:48:50.000Z", datetime(2026, 7, 23, 0, 48, 50, tzinfo=UTC), False),
        ("2026-07-23T02:48:50+02:00", datetime(2026, 7, 23, 0, 48, 50, tzinfo=UTC), False),
        ("2026-07-23", datetime(2026, 7, 23, tzinfo=UTC), False),
        ("0001-01-01T00:00:00Z", None, False),  # Go's zero time: no date, not long expired
        ("", None, False),
        ("next month", None, True),
    ],
)
def test_the_plans_end_is_read_from_the_date_forms_an_answer_may_carry(
    text: str, expected: datetime | None, unreadable: bool
) -> None:
    plan = parse_plan({"expired_date": text}, EMAIL)
    assert plan.expired_date == expected
    assert plan.expired_date_unreadable is unreadable


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ([DOCS_PLAN], "expected the plan object of ops@example.com, got list"),
        ({"gen_simultaneously": "5"}, "`gen_simultaneously` of ops@example.com should be a number"),
        ({"credit_monthly": True}, "`credit_monthly` of ops@example.com should be a number"),
        ({"plan_name": 7}, "`plan_name` of ops@example.com should be text, got int"),
        ({"expired_date": 1767225194}, "`expired_date` of ops@example.com should be text"),
    ],
)
def test_a_plan_field_of_a_type_the_model_rules_out_is_an_error_naming_no_value(
    answer: Any, problem: str
) -> None:
    with pytest.raises(UseapiError) as caught:
        parse_plan(answer, EMAIL)
    assert problem in str(caught.value)
    assert "Premium" not in str(caught.value)


SCHEDULER = {
    "executing": [
        {"id": f"user:1-pixverse:{EMAIL}-video:a1", "type": "video", "elapsed": "03:57"},
        {"video_id": f"user:1-pixverse:{EMAIL}-video:a2"},
        {"id": "user:1-pixverse:render@example.com-image:b1", "type": "image"},
        {},
    ],
    "available": [
        {"email": EMAIL, "maxJobs": 5, "executing": 2, "available": 3},
        {"email": "render@example.com", "maxJobs": 8, "executing": 1, "available": 7},
        {"maxJobs": 3, "executing": 3},  # no email: names no account
        {"email": EMAIL, "maxJobs": 5, "executing": 1},  # the same account again, less busy
    ],
}


def test_the_scheduler_answer_keeps_each_accounts_busiest_entry_and_names_its_jobs() -> None:
    answer = parse_scheduler(SCHEDULER)

    assert answer.executing(EMAIL) == 2  # exact spelling first
    assert answer.executing("Ops@Example.com") == 2  # then the same email in another case
    assert answer.executing("render@example.com") == 1
    assert [job.id for job in answer.jobs_of(EMAIL)] == [
        f"user:1-pixverse:{EMAIL}-video:a1",
        f"user:1-pixverse:{EMAIL}-video:a2",
    ]
    assert len(answer.jobs) == 4 and answer.jobs[3].id is None


@pytest.mark.parametrize(
    "answer",
    [
        {},
        {"executing": []},
        {"available": []},
        {"available": [{"email": EMAIL}]},
        {"available": [{"email": EMAIL, "executing": None}]},
        {"available": [{"email": "someone@example.com", "executing": 4}]},
        {"available": [{"email": EMAIL, "executing": -1}]},
        {"executing": [{"id": f"user:1-pixverse:{EMAIL}-video:a1"}]},  # named, yet not counted
    ],
)
def test_not_listed_or_without_executing_means_nothing_runs(answer: dict[str, Any]) -> None:
    assert parse_scheduler(answer).executing(EMAIL) == 0


@pytest.mark.parametrize(
    "answer",
    [
        [],
        {"executing": "3"},
        {"available": {"email": EMAIL}},
        {"available": ["ops@example.com"]},
        {"available": [{"email": EMAIL, "executing": "2"}]},
        {"executing": [{"id": 7}]},
    ],
)
def test_a_scheduler_answer_of_a_shape_the_model_rules_out_is_an_error(answer: Any) -> None:
    with pytest.raises(UseapiError):
        parse_scheduler(answer)
