"""The emulator's throttled mode: it serves K requests at once and answers the rest at once
with 429, `Retry-After` and the `retryAfter` time useapi.net's docs show in the body, without
handling them (nothing changes, nothing is recorded as a call), and logs them apart."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import requests

from useapi_emulator import UseapiEmulator
from useapi_emulator.server import THROTTLED_MARK

K = 3
BURST = 10


def test_beyond_k_at_once_requests_are_answered_429_and_not_handled(tmp_path: Path) -> None:
    log = tmp_path / "requests.log"
    with UseapiEmulator(token="t", request_log=log) as emulator:
        emulator.latency = 0.3
        emulator.admit_at_once = K
        emulator.throttle_retry_after = "2"

        def post(i: int) -> requests.Response:
            url = f"{emulator.base_url}/pixverse/accounts/k{i}@example.com"
            body = {"email": f"k{i}@example.com", "password": "p", "maxJobs": 1}
            return requests.post(url, json=body, headers={"Authorization": "Bearer t"}, timeout=10)

        asked = time.time()
        with ThreadPoolExecutor(max_workers=BURST) as pool:
            answers = list(pool.map(post, range(BURST)))

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [201] * K + [429] * (BURST - K)
    refused = next(answer for answer in answers if answer.status_code == 429)
    assert refused.headers["Retry-After"] == "2"
    body = refused.json()
    assert body["code"] == 429
    when = datetime.fromisoformat(body["retryAfter"].replace("Z", "+00:00"))
    assert 1 <= when.timestamp() - asked <= 4 and when.tzinfo == UTC
    assert emulator.peak_admitted == K
    assert len(emulator.accounts) == K and len(emulator.calls("POST")) == K
    assert len(emulator.throttled) == BURST - K
    lines = log.read_text().splitlines()
    assert sum(line.startswith(THROTTLED_MARK) for line in lines) == BURST - K
    assert sum(line.startswith("POST ") for line in lines) == K


def test_without_a_limit_nothing_is_throttled(emulator: UseapiEmulator) -> None:
    emulator.latency = 0.2
    url = f"{emulator.base_url}/pixverse/accounts"
    with ThreadPoolExecutor(max_workers=BURST) as pool:
        statuses = set(pool.map(lambda _: requests.get(url, timeout=10).status_code, range(BURST)))
    assert statuses == {401} and emulator.throttled == []
    assert emulator.peak_admitted == BURST
