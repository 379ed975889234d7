"""The client's two capacity reads, against the emulator over real sockets: an account's plan
(`GET /features/?email=`) and the running jobs (`GET /scheduler/available`), through the same
transport as every other call (retries, timeouts, errors naming the email, nothing secret)."""

from __future__ import annotations

import pytest

from provider.host.settings import ProviderSettings
from provider.host.useapi.client import Plan, UseapiClient
from tests.conftest import ClientFactory
from tests.support.helpers import PASSWORD_SENTINEL, TOKEN_SENTINEL, useapi_error
from useapi_emulator import Fault, UseapiEmulator, Variants

PLUS = "ops+render@example.com"
OPS = "ops@example.com"
SCHEDULER_PATH = "/v2/pixverse/scheduler/available"


@pytest.fixture
def client(make_client: ClientFactory, emulator: UseapiEmulator) -> UseapiClient:
    api = make_client(timeout=2.0, max_retries=2)
    api.put_account(PLUS, PASSWORD_SENTINEL, 3)
    api.put_account(OPS, PASSWORD_SENTINEL, 8)
    emulator.reset_calls()
    return api


def test_the_plan_is_asked_for_with_the_email_encoded_so_that_plus_survives(
    client: UseapiClient, emulator: UseapiEmulator
) -> None:
    emulator.set_plan(PLUS, plan_name="Pro Plan", gen_simultaneously=5, credit_package=20)

    plan = client.get_plan(PLUS)

    assert plan == Plan(
        email=PLUS,
        plan_name="Pro Plan",
        gen_simultaneously=5,
        credit_monthly=12450,
        credit_daily=0,
        credit_package=20,
        expired_date=plan.expired_date if plan else None,
        remaining_days=30,
    )
    assert plan is not None and plan.credits_left == 12470 and plan.expired_date is not None
    (request,) = emulator.calls()
    assert (request.method, request.path, request.query) == (
        "GET",
        "/v2/pixverse/features/",
        "email=ops%2Brender@example.com",
    )
    assert request.email == PLUS  # as the service decodes it: `+` would have been a space


def test_an_email_useapi_net_does_not_know_is_an_error_naming_it_or_none_on_its_404(
    client: UseapiClient, emulator: UseapiEmulator
) -> None:
    error = useapi_error(lambda: client.get_plan("gone@example.com"))
    assert error.status == 400 and error.email == "gone@example.com"
    assert "for gone@example.com failed with HTTP 400" in str(error)
    assert "PixVerse account gone@example.com is not configured" in str(error)

    emulator.variants = Variants(unknown_features="404", not_found="text")
    assert client.get_plan("gone@example.com") is None


def test_plan_reads_are_retried_like_every_call_and_a_401_names_the_token_setting(
    client: UseapiClient, emulator: UseapiEmulator
) -> None:
    emulator.fail_next("GET", 503, times=2)
    assert client.get_plan(OPS) is not None
    assert emulator.statuses("GET") == [503, 503, 200]

    wrong = UseapiClient(
        ProviderSettings(token="not-the-token", base_url=emulator.base_url, max_retries=2)
    )
    try:
        error = useapi_error(lambda: wrong.get_plan(OPS))
    finally:
        wrong.close()
    assert error.status == 401 and "useapi:token" in str(error)
    assert emulator.statuses("GET") == [503, 503, 200, 401]  # never retried


def test_a_plan_answer_that_cannot_be_the_apis_is_one_clear_error_naming_the_email(
    client: UseapiClient, emulator: UseapiEmulator
) -> None:
    emulator.inject("GET", Fault(mutate=lambda plan: {**plan, "gen_simultaneously": "five"}))
    error = useapi_error(lambda: client.get_plan(OPS))
    assert "malformed answer" in str(error) and OPS in str(error)
    assert "`gen_simultaneously` of ops@example.com should be a number, got str" in str(error)

    emulator.malformed_next("GET", "html")
    assert "malformed answer" in str(useapi_error(lambda: client.get_plan(OPS)))


def test_what_the_plan_answer_leaves_out_stays_unknown(
    client: UseapiClient, emulator: UseapiEmulator
) -> None:
    emulator.variants = Variants(
        omit=frozenset(
            {
                "features.gen_simultaneously",
                "features.credit_monthly",
                "features.credit_daily",
                "features.credit_package",
                "features.expired_date",
            }
        )
    )
    plan = client.get_plan(OPS)
    assert plan is not None
    assert (plan.gen_simultaneously, plan.credits_left, plan.expired_date) == (None, None, None)
    assert (plan.plan_name, plan.remaining_days) == ("Premium - Monthly", 30)


def test_the_scheduler_answers_every_accounts_load_in_one_call(
    client: UseapiClient, emulator: UseapiEmulator
) -> None:
    ids = emulator.start_jobs(OPS, 2, seconds=30)

    answer = client.get_scheduler()

    assert answer.executing(OPS) == 2 and answer.executing(PLUS) == 0
    assert [job.id for job in answer.jobs_of(OPS)] == ids and answer.jobs_of(PLUS) == []
    assert answer.executing("unknown@example.com") == 0
    assert [(r.method, r.path) for r in emulator.calls()] == [("GET", SCHEDULER_PATH)]


@pytest.mark.parametrize(
    ("variants", "ops_running"),
    [
        (Variants(job_id_key="video_id"), 2),
        # The docs' rule: not listed, or listed without `executing`, means nothing is running.
        (Variants(busy_unlisted=True), 0),
        (Variants(omit=frozenset({"scheduler.available.executing"})), 0),
        (Variants(omit=frozenset({"scheduler.available", "scheduler.executing"})), 0),
    ],
    ids=["video_id", "busy-unlisted", "no-executing-count", "empty-object"],
)
def test_the_scheduler_is_read_in_every_form_the_docs_allow(
    client: UseapiClient, emulator: UseapiEmulator, variants: Variants, ops_running: int
) -> None:
    emulator.oob_set_max_jobs(OPS, 2)
    emulator.start_jobs(OPS, 2, seconds=30)
    emulator.variants = variants

    answer = client.get_scheduler()

    assert answer.executing(OPS) == ops_running
    if variants.job_id_key == "video_id":
        assert len(answer.jobs_of(OPS)) == 2


def test_a_scheduler_404_from_the_api_lists_nothing_but_a_web_page_is_an_error(
    client: UseapiClient, emulator: UseapiEmulator
) -> None:
    emulator.inject("GET", Fault(status=404, body=b""))
    assert client.get_scheduler().accounts == {}

    emulator.malformed_next("GET", "html-404")
    error = useapi_error(lambda: client.get_scheduler(for_email=OPS))
    assert "web page" in str(error) and f"for {OPS}" in str(error)


def test_scheduler_errors_name_the_account_asked_for_and_never_the_token(
    client: UseapiClient, emulator: UseapiEmulator
) -> None:
    emulator.fail_next("GET", 500, times=3)
    error = useapi_error(lambda: client.get_scheduler(for_email=OPS))
    assert error.status == 500 and error.email == OPS
    assert f"{SCHEDULER_PATH} for {OPS} failed with HTTP 500 after 3 attempts" in str(error)
    assert TOKEN_SENTINEL not in repr(error)
