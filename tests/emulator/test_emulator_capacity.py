"""The emulator's capacity calls behave as useapi.net's docs describe them: an account's plan
(`GET /features?email=`), the running jobs and each account's load (`GET /scheduler/...`),
jobs that run for a while, and a record of any job a DELETE cut off."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from tests.support.helpers import PASSWORD_SENTINEL, TOKEN_SENTINEL
from useapi_emulator import Fault, UseapiEmulator, Variants

TIMEOUT = 5
OPS, RENDER = "ops@example.com", "render@example.com"


def _get(emu: UseapiEmulator, path: str, token: str = TOKEN_SENTINEL) -> requests.Response:
    return requests.get(
        f"{emu.base_url}/pixverse/{path}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=TIMEOUT,
    )


def _configure(emu: UseapiEmulator, *accounts: tuple[str, int]) -> None:
    for email, max_jobs in accounts:
        answer = requests.post(
            f"{emu.base_url}/pixverse/accounts/{email}",
            json={"email": email, "password": PASSWORD_SENTINEL, "maxJobs": max_jobs},
            headers={"Authorization": f"Bearer {TOKEN_SENTINEL}"},
            timeout=TIMEOUT,
        )
        assert answer.status_code == 201


def test_the_plan_of_the_email_asked_for_with_every_field_the_fleet_reads(
    emulator: UseapiEmulator,
) -> None:
    _configure(emulator, (OPS, 3), (RENDER, 5))
    emulator.set_plan(RENDER, plan_name="Pro Plan", gen_simultaneously=5, credit_package=20)

    plan = _get(emulator, f"features/?email={RENDER}").json()

    assert (plan["plan_name"], plan["gen_simultaneously"], plan["credit_package"]) == (
        "Pro Plan",
        5,
        20,
    )
    for key in ("credit_monthly", "credit_daily", "expired_date", "remaining_days"):
        assert key in plan
    assert _get(emulator, f"features?email={OPS}").json()["plan_name"] == "Premium - Monthly"


def test_email_is_optional_with_one_account_and_required_with_several(
    emulator: UseapiEmulator,
) -> None:
    _configure(emulator, (OPS, 3))
    assert _get(emulator, "features/").status_code == 200
    _configure(emulator, (RENDER, 5))
    answer = _get(emulator, "features/")
    assert answer.status_code == 400 and "required" in answer.json()["error"]


def test_in_the_query_a_plus_is_a_space_unless_sent_as_2b(emulator: UseapiEmulator) -> None:
    _configure(emulator, ("a+b@example.com", 2))

    raw = _get(emulator, "features/?email=a+b@example.com")
    encoded = _get(emulator, "features/?email=a%2Bb@example.com")

    assert raw.status_code == 400 and "a b@example.com" in raw.json()["error"]
    assert encoded.status_code == 200
    assert [r.email for r in emulator.calls("GET")] == ["a b@example.com", "a+b@example.com"]
    assert emulator.calls("GET")[1].query == "email=a%2Bb@example.com"


@pytest.mark.parametrize(("shape", "status"), [("400", 400), ("404", 404)])
def test_an_email_without_configuration_answers_as_the_variant_says(
    emulator: UseapiEmulator, shape: str, status: int
) -> None:
    emulator.variants = Variants(unknown_features=shape)
    assert _get(emulator, f"features/?email={OPS}").status_code == status


def test_plan_fields_can_be_left_out_and_set_plan_none_removes_one(
    emulator: UseapiEmulator,
) -> None:
    _configure(emulator, (OPS, 3))
    emulator.variants = Variants(omit=frozenset({"features.gen_simultaneously"}))
    emulator.set_plan(OPS, credit_daily=None)
    plan = _get(emulator, f"features/?email={OPS}").json()
    assert "gen_simultaneously" not in plan and "credit_daily" not in plan
    assert "credit_monthly" in plan


def test_jobs_run_for_a_while_and_the_scheduler_counts_them_per_account(
    emulator: UseapiEmulator,
) -> None:
    _configure(emulator, (OPS, 3), (RENDER, 5))
    ids = emulator.start_jobs(OPS, 2, seconds=0.6)

    busy = _get(emulator, "scheduler/available").json()
    jobs = _get(emulator, "scheduler/").json()

    assert [job["id"] for job in busy["executing"]] == ids == [job["id"] for job in jobs]
    assert all(f"pixverse:{OPS}-video:" in job_id for job_id in ids)
    assert busy["available"] == [
        {"email": OPS, "maxJobs": 3, "executing": 2, "available": 1},
        {"email": RENDER, "maxJobs": 5, "executing": 0, "available": 5},
    ]
    time.sleep(0.8)
    idle = _get(emulator, "scheduler/available").json()
    assert idle["executing"] == [] and idle["available"][0]["executing"] == 0


def _answer_under(emulator: UseapiEmulator, **variants: Any) -> dict[str, Any]:
    emulator.variants = Variants(**variants)
    answer: dict[str, Any] = _get(emulator, "scheduler/available").json()
    return answer


def test_the_scheduler_answer_in_each_form_the_docs_allow(emulator: UseapiEmulator) -> None:
    _configure(emulator, (OPS, 2), (RENDER, 5))
    emulator.start_jobs(OPS, 2, seconds=30)

    assert "video_id" in _answer_under(emulator, job_id_key="video_id")["executing"][0]
    assert [a["email"] for a in _answer_under(emulator, busy_unlisted=True)["available"]] == [
        RENDER
    ]
    omitted = _answer_under(emulator, omit=frozenset({"scheduler.available.executing"}))
    assert all("executing" not in load for load in omitted["available"])
    bare = _answer_under(emulator, omit=frozenset({"scheduler.executing", "scheduler.available"}))
    assert bare == {}


def test_a_delete_under_running_jobs_cuts_them_off_and_says_so(emulator: UseapiEmulator) -> None:
    _configure(emulator, (OPS, 3), (RENDER, 5))
    ids = emulator.start_jobs(OPS, 2, seconds=30)
    emulator.start_jobs(RENDER, 1, seconds=0.01)
    time.sleep(0.05)

    requests.delete(
        f"{emulator.base_url}/pixverse/accounts/{OPS}",
        headers={"Authorization": f"Bearer {TOKEN_SENTINEL}"},
        timeout=TIMEOUT,
    )
    requests.delete(
        f"{emulator.base_url}/pixverse/accounts/{RENDER}",
        headers={"Authorization": f"Bearer {TOKEN_SENTINEL}"},
        timeout=TIMEOUT,
    )

    assert emulator.cut_off == ids  # render's job had ended: nothing of it was cut off
    assert emulator.running() == []


def test_capacity_calls_need_the_token_and_are_get_only(emulator: UseapiEmulator) -> None:
    assert _get(emulator, "scheduler/available", token="wrong").status_code == 401
    assert _get(emulator, "features/", token="wrong").status_code == 401
    answer = requests.post(
        f"{emulator.base_url}/pixverse/scheduler/available",
        headers={"Authorization": f"Bearer {TOKEN_SENTINEL}"},
        timeout=TIMEOUT,
    )
    assert answer.status_code == 405


def test_a_fault_for_a_path_passes_other_paths_by(emulator: UseapiEmulator) -> None:
    _configure(emulator, (OPS, 3))
    emulator.inject("GET", Fault(status=503), path="/v2/pixverse/scheduler")

    assert _get(emulator, f"accounts/{OPS}").status_code == 200
    assert _get(emulator, "scheduler/available").status_code == 503
    assert _get(emulator, "scheduler/available").status_code == 200
