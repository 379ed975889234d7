"""The emulator behaves like the documented useapi.net API; every other test relies on it."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests

from tests.support.helpers import PASSWORD_SENTINEL, TOKEN_SENTINEL
from useapi_emulator import UseapiEmulator
from useapi_emulator.server import Fault

TIMEOUT = 5


def _auth(token: str = TOKEN_SENTINEL) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _post(
    emu: UseapiEmulator, email: str, body: Any, token: str = TOKEN_SENTINEL
) -> requests.Response:
    url = f"{emu.base_url}/pixverse/accounts/{quote(email, safe='')}"
    return requests.post(url, json=body, headers=_auth(token), timeout=TIMEOUT)


def _body(email: str = "ops@example.com", **overrides: Any) -> dict[str, Any]:
    body = {"email": email, "password": PASSWORD_SENTINEL, "maxJobs": 3}
    body.update(overrides)
    return body


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN_SENTINEL}]
)
def test_without_the_right_bearer_token_every_call_is_401(
    emulator: UseapiEmulator, headers: dict[str, str]
) -> None:
    response = requests.get(
        f"{emulator.base_url}/pixverse/accounts", headers=headers, timeout=TIMEOUT
    )
    assert response.status_code == 401
    assert response.json() == {"error": "Unauthorized", "code": 401}


def test_post_creates_then_updates_and_masks_secrets(emulator: UseapiEmulator) -> None:
    first = _post(emulator, "a+b@example.com", _body("a+b@example.com"))
    assert first.status_code == 201
    account = first.json()
    assert account["email"] == "a+b@example.com"
    assert account["password"] == "…secured…"
    assert "secured" in account["jwt"]["token"]
    assert set(account["jwt"]) == {"AccountId", "ExpireTime", "ExpireTimeUTC", "Username", "token"}
    assert PASSWORD_SENTINEL not in first.text

    second = _post(emulator, "a+b@example.com", _body("a+b@example.com", maxJobs=5))
    assert second.status_code == 201
    assert second.json()["maxJobs"] == 5
    assert list(emulator.accounts) == ["a+b@example.com"]
    assert emulator.calls("POST")[0].path == "/v2/pixverse/accounts/a%2Bb%40example.com"


@pytest.mark.parametrize(
    "body",
    [
        _body(password=""),
        {"email": "ops@example.com", "maxJobs": 3},
        _body(maxJobs=0),
        _body(maxJobs=9),
        _body(maxJobs="three"),
        _body(maxJobs="3.5"),
        _body(maxJobs="9"),
        _body(maxJobs=3.5),
        _body(maxJobs=True),
        _body(email="other@example.com"),
        _body(token=5),
        ["not", "an", "object"],
    ],
)
def test_bad_bodies_are_400_with_an_error_text(emulator: UseapiEmulator, body: Any) -> None:
    response = _post(emulator, "ops@example.com", body)
    assert response.status_code == 400
    assert response.json()["code"] == 400 and response.json()["error"]
    assert emulator.accounts == {}


def test_a_failed_pixverse_login_is_400(emulator: UseapiEmulator) -> None:
    emulator.reject_login("ops@example.com")
    response = _post(emulator, "ops@example.com", _body())
    assert response.status_code == 400
    assert "login failed" in response.json()["error"]


def test_get_delete_and_the_accounts_map(emulator: UseapiEmulator) -> None:
    root = f"{emulator.base_url}/pixverse/accounts"
    assert requests.get(root, headers=_auth(), timeout=TIMEOUT).status_code == 404
    assert (
        requests.get(f"{root}/ops%40example.com", headers=_auth(), timeout=TIMEOUT).status_code
        == 404
    )
    _post(emulator, "ops@example.com", _body())
    _post(emulator, "render@example.com", _body("render@example.com", maxJobs=5))
    listing = requests.get(root, headers=_auth(), timeout=TIMEOUT)
    assert listing.status_code == 200
    assert {e: a["maxJobs"] for e, a in listing.json().items()} == {
        "ops@example.com": 3,
        "render@example.com": 5,
    }
    one = requests.get(f"{root}/ops%40example.com", headers=_auth(), timeout=TIMEOUT)
    assert one.status_code == 200 and one.json()["password"] == "…secured…"
    assert (
        requests.delete(f"{root}/ops%40example.com", headers=_auth(), timeout=TIMEOUT).status_code
        == 204
    )
    assert (
        requests.delete(f"{root}/ops%40example.com", headers=_auth(), timeout=TIMEOUT).status_code
        == 404
    )


def test_recorded_requests_never_show_the_password_in_repr(emulator: UseapiEmulator) -> None:
    _post(emulator, "ops@example.com", _body())
    (recorded,) = emulator.calls("POST")
    assert recorded.body is not None and recorded.body["password"] == PASSWORD_SENTINEL
    assert PASSWORD_SENTINEL not in repr(recorded)
    assert recorded.authorized and recorded.email == "ops@example.com"


def test_the_request_log_has_a_line_per_request_and_no_secret(tmp_path: Path) -> None:
    """What the benchmark counts when the emulator runs in a process of its own."""
    log = tmp_path / "requests.log"
    with UseapiEmulator(token=TOKEN_SENTINEL, request_log=log) as emu:
        _post(emu, "ops@example.com", _body())
        requests.get(f"{emu.base_url}/pixverse/accounts", headers=_auth(), timeout=TIMEOUT)
    assert log.read_text().splitlines() == [
        "POST /v2/pixverse/accounts/ops%40example.com",
        "GET /v2/pixverse/accounts",
    ]
    assert PASSWORD_SENTINEL not in log.read_text()


def test_injected_status_with_retry_after_is_served_once(emulator: UseapiEmulator) -> None:
    emulator.fail_next("GET", 429, retry_after="1")
    url = f"{emulator.base_url}/pixverse/accounts"
    first = requests.get(url, headers=_auth(), timeout=TIMEOUT)
    assert first.status_code == 429 and first.headers["Retry-After"] == "1"
    assert requests.get(url, headers=_auth(), timeout=TIMEOUT).status_code == 404


def test_every_answer_is_recorded_in_order_injected_faults_included(
    emulator: UseapiEmulator,
) -> None:
    """`statuses()` is how retry tests count what the server said, so it must see faults too."""
    emulator.fail_next("POST", 429, retry_after="1")
    emulator.fail_next("POST", 503)
    emulator.drop_next("POST")
    url = f"{emulator.base_url}/pixverse/accounts/ops%40example.com"
    statuses: list[int | None] = []
    for _ in range(4):
        try:
            answer = requests.post(url, json=_body(), headers=_auth(), timeout=TIMEOUT)
        except requests.ConnectionError:
            statuses.append(None)
        else:
            statuses.append(answer.status_code)
    requests.get(url, headers=_auth(), timeout=TIMEOUT)
    assert statuses == [429, 503, None, 201]
    assert emulator.statuses("POST") == [429, 503, None, 201]
    assert emulator.statuses() == [429, 503, None, 201, 200]
    assert len(emulator.calls("POST")) == 1  # only the request the API itself handled
    emulator.reset_calls()
    assert emulator.statuses() == []


def test_the_emulator_state_file_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "emulator.json"
    with UseapiEmulator(token="t", state_path=state) as first:
        first.handle(
            "POST",
            "/v2/pixverse/accounts/ops@example.com",
            True,
            {"email": "ops@example.com", "password": "pw-x", "maxJobs": 4},
        )
        expiry = first.accounts["ops@example.com"].expire_time
    assert "pw-x" not in state.read_text()

    with UseapiEmulator(token="t", state_path=state) as second:
        status, body = second.handle("GET", "/v2/pixverse/accounts/ops@example.com", True, None)
        assert status == 200
        assert body["maxJobs"] == 4
        assert body["jwt"]["ExpireTime"] == expiry
        second.handle("DELETE", "/v2/pixverse/accounts/ops@example.com", True, None)
    assert json.loads(state.read_text())["accounts"] == []


def test_answer_after_makes_the_change_first_and_answers_later(emulator: UseapiEmulator) -> None:
    """What a client cut off between a call's effect and its answer leaves: the change made,
    the answer never read. Arrivals count the call before anything happens."""
    _post(emulator, "ops@example.com", _body())
    emulator.inject("DELETE", Fault(answer_after=0.6))
    url = f"{emulator.base_url}/pixverse/accounts/ops@example.com"
    answers: list[int] = []
    call = threading.Thread(
        target=lambda: answers.append(
            requests.delete(url, headers=_auth(), timeout=TIMEOUT).status_code
        )
    )
    call.start()
    deadline = time.monotonic() + 3
    while "ops@example.com" in emulator.accounts and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "ops@example.com" not in emulator.accounts and answers == []
    assert emulator.arrived("DELETE") == 1
    call.join(timeout=5)
    assert answers == [204]
