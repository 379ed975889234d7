"""A local stand-in for useapi.net's PixVerse v2 accounts API, and its two read-only capacity
calls: an account's plan (`GET /features?email=`) and the jobs running (`GET /scheduler/...`).

It serves real HTTP on 127.0.0.1 so the client, the provider host and the demo stack are
exercised over sockets exactly as against the real service: bearer auth (401), body
validation and failed PixVerse logins (400), upsert POST (201), 404 for unknown accounts,
the `GET /accounts` map, and masked `password` / `jwt.token` in every answer.

For tests it records every request (bodies kept, but masked in any repr) and can inject
faults per method: queued statuses (with Retry-After), slow answers, dropped connections,
plus out-of-band changes (an account deleted, maxJobs changed, a session expired), a plan per
account (`set_plan`) and jobs that run on an account for a while (`start_jobs`): a job still
running when its account is deleted is recorded in `cut_off`, so a test can prove none was.

Where useapi.net's docs leave a behaviour open, `Variants` switches between the forms they
allow (the path segment taken literally, the 404 body, fields left out, DELETE's answer),
and `subscription_expired` / `mark_error` serve the documented 402 and 596. POST bodies may
be JSON or multipart/form-data, and `maxJobs` a numeric string, as the docs and the Postman
collection allow: the emulator is never stricter than the service it stands in for.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

API_PREFIX = "/v2/pixverse/accounts"
FEATURES_PATH = "/v2/pixverse/features"
SCHEDULER_PATH = "/v2/pixverse/scheduler"
SCHEDULER_AVAILABLE_PATH = "/v2/pixverse/scheduler/available"
MASKED_PASSWORD = "…secured…"
SESSION_SECONDS = 30 * 24 * 3600
MAX_BODY_BYTES = 1 << 20
ALL_METHODS = ("GET", "POST", "DELETE")
# The docs' own 404 text for GET /accounts and GET /accounts/{email}.
NOT_FOUND_TEXT = "Configuration not found. To create configuration use POST /accounts/email."
SUBSCRIPTION_EXPIRED_ERROR = "Account has no subscription or subscription expired"
# Fields an answer may leave out (the docs' model: "all fields are optional").
OMITTABLE = frozenset(
    {
        "email",
        "password",
        "maxJobs",
        "jwt",
        "jwt.AccountId",
        "jwt.ExpireTime",
        "jwt.ExpireTimeUTC",
        "jwt.Username",
        "jwt.token",
        # GET /features: the plan fields the fleet reads.
        "features.plan_name",
        "features.gen_simultaneously",
        "features.credit_monthly",
        "features.credit_daily",
        "features.credit_package",
        "features.expired_date",
        "features.remaining_days",
        # GET /scheduler/available: the job list, the account list, an account's count.
        "scheduler.executing",
        "scheduler.available",
        "scheduler.available.executing",
    }
)
NOT_FOUND_SHAPES = ("json", "text", "empty")
# What GET /features answers for an email useapi.net has no configuration for (undocumented).
UNKNOWN_FEATURES_ANSWERS = ("400", "404")
JOB_ID_KEYS = ("id", "video_id")  # the current docs' key, and the one older pages show
PLAN_DAYS = 30
# A plan like the docs' June 2026 sample (Premium, 15,000 credits a month, 12,450 left), with
# the 8 concurrent generations useapi.net's cost table gives that plan; the payment links are
# there because the real answer has them, and nothing may ever show them.
DEFAULT_PLAN: dict[str, Any] = {
    "plan_name": "Premium - Monthly",
    "current_plan_type": 2,
    "gen_simultaneously": 8,
    "credit_daily": 0,
    "credit_daily_gift": 60,
    "credit_monthly": 12450,
    "credit_monthly_gift": 15000,
    "credit_package": 0,
    "price": "60",
    "invoice_url": "https://stripe.pay.pixverse.ai/emulated-invoice",
    "stripe_bill_url": "https://stripe.pay.pixverse.ai/emulated-bill",
    "cancel_updated_at": "0001-01-01T00:00:00Z",
}
DELETE_ANSWERS = ("204", "200-json", "200-empty")
# How a throttled request shows in the request log (`THROTTLED GET /v2/...`): not a handled call.
THROTTLED_MARK = "THROTTLED"
_NUMERIC = re.compile(r"\s*[0-9]{1,3}\s*")


@dataclass(frozen=True)
class RawAnswer:
    """An answer that is not JSON: plain text, an HTML page, bytes as they go on the wire."""

    body: bytes
    content_type: str


@dataclass
class Variants:
    """The forms useapi.net's docs allow where they do not pin one down; tests switch them.

    - `literal_path`: the `{email}` path segment is taken as it is, not percent-decoded, as a
      service that does not decode `%40` would (a client that encodes `@` then misses).
    - `not_found`: the body of the API's own 404s: "json" (`{"error", "code"}`), "text" (the
      docs' prose) or "empty".
    - `omit`: fields left out of every account object (see OMITTABLE), e.g. {"jwt"}.
    - `delete_answer`: "204" (no body), "200-json" or "200-empty".
    - `website_404`: paths outside the API get a web server's HTML 404 page, as a mistyped
      `useapi:baseUrl` would.
    - `unknown_features`: GET /features for an email with no configuration answers "400"
      (`{"error", "code"}`) or "404" (the API's own 404, in the `not_found` shape).
    - `job_id_key`: a running job's id under "id" (the docs today) or "video_id" (older pages).
    - `busy_unlisted`: `available` leaves out accounts with no free slot (as some of
      useapi.net's scheduler pages describe the list: "accounts with available capacity").
    """

    literal_path: bool = False
    not_found: str = "json"
    omit: frozenset[str] = frozenset()
    delete_answer: str = "204"
    website_404: bool = False
    unknown_features: str = "400"
    job_id_key: str = "id"
    busy_unlisted: bool = False

    def __post_init__(self) -> None:
        unknown = set(self.omit) - OMITTABLE
        if unknown or self.not_found not in NOT_FOUND_SHAPES:
            raise ValueError(f"unknown variant: omit {sorted(unknown)}, 404 {self.not_found!r}")
        if self.delete_answer not in DELETE_ANSWERS:
            raise ValueError(f"unknown DELETE answer {self.delete_answer!r}")
        if self.unknown_features not in UNKNOWN_FEATURES_ANSWERS:
            raise ValueError(f"unknown GET /features answer {self.unknown_features!r}")
        if self.job_id_key not in JOB_ID_KEYS:
            raise ValueError(f"unknown job id key {self.job_id_key!r}")


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@dataclass
class RunningJob:
    """A job running through the API on one account until `ends_at` (time.monotonic())."""

    id: str
    email: str
    type: str
    started: float  # epoch seconds
    ends_at: float

    def to_json(self, id_key: str) -> dict[str, Any]:
        elapsed = max(0, int(time.time() - self.started))
        return {
            id_key: self.id,
            "type": self.type,
            "started": _iso(self.started),
            "elapsed": f"{elapsed // 60:02d}:{elapsed % 60:02d}",
        }


@dataclass
class RecordedRequest:
    """One request as the emulator saw it. The body is kept for assertions, masked in repr."""

    method: str
    path: str
    email: str | None
    authorized: bool
    body: dict[str, Any] | None = field(repr=False, default=None)
    query: str = ""  # as sent, before any decoding: how a test sees `%2B`

    def __repr__(self) -> str:
        keys = sorted(self.body) if isinstance(self.body, dict) else None
        query = f"?{self.query}" if self.query else ""
        return (
            f"RecordedRequest({self.method} {self.path}{query}, email={self.email!r}, "
            f"authorized={self.authorized}, body_keys={keys})"
        )


@dataclass
class Fault:
    """What to do instead of (or before, or after) answering one request.

    - `delay`: sleep first (a slow server); combined with anything below.
    - `drop`: hang up before the request is handled (nothing changes on the server).
    - `status` (+ `retry_after`, `body`, `content_type`): answer this instead of handling it.
    - `answer_after`: handle the request (the change is made), then wait this long before
      answering: a client cut off meanwhile never learns that its call succeeded.
    - `lose_answer`: handle the request (the change is made), then hang up without answering:
      the case where a client cannot know whether its POST landed.
    - `truncate`: handle it, send the headers and half the body, then hang up.
    - `mutate`: handle it, then answer `mutate(real JSON answer)` (a malformed answer);
      a `bytes` result is sent as is, with `content_type`.
    - `path`: only for requests whose path starts with it (`SCHEDULER_AVAILABLE_PATH`, say);
      requests to other paths pass it by.
    """

    status: int | None = None
    retry_after: str | None = None
    delay: float = 0.0
    drop: bool = False
    body: bytes | None = None
    content_type: str = "application/json"
    answer_after: float = 0.0
    lose_answer: bool = False
    truncate: bool = False
    mutate: Callable[[Any], Any] | None = None
    path: str | None = None

    @property
    def kind(self) -> str:
        for name in ("drop", "lose_answer", "truncate", "answer_after"):
            if getattr(self, name):
                return name
        if self.status is not None:
            return f"status {self.status}"
        return "mutate" if self.mutate is not None else "delay"


def _without_jwt(answer: Any) -> Any:
    return {k: v for k, v in answer.items() if k != "jwt"} if isinstance(answer, dict) else answer


def _wrong_types(answer: Any) -> Any:
    if not isinstance(answer, dict):
        return answer
    return {**answer, "maxJobs": str(answer.get("maxJobs")), "jwt": ["not", "an", "object"]}


WEBSITE_404_PAGE = (
    b"<!DOCTYPE html><html><head><title>404 Not Found</title></head>"
    b"<body><h1>Not Found</h1><p>The requested URL was not found on this server.</p>"
    b"</body></html>"
)
HTML_ERROR_PAGE = (
    b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
    b"<body><h1>502 Bad Gateway</h1><p>upstream unavailable</p></body></html>"
)
# Answers a broken proxy, a wrong base URL or a buggy release could give, by name.
MALFORMED: dict[str, Fault] = {
    "not-json": Fault(status=200, body=b"OK", content_type="text/plain"),
    "html": Fault(status=200, body=HTML_ERROR_PAGE, content_type="text/html"),
    "html-502": Fault(status=502, body=HTML_ERROR_PAGE, content_type="text/html"),
    # What a mistyped base URL gets from a web server: must not read as "account deleted".
    "html-404": Fault(
        status=404, body=b"<html><h1>Not Found</h1></html>", content_type="text/html"
    ),
    "empty": Fault(status=200, body=b"", content_type="application/json"),
    "json-list": Fault(status=200, body=b"[1, 2, 3]"),
    "json-null": Fault(status=200, body=b"null"),
    "nan": Fault(status=200, body=b'{"email": "x@example.com", "maxJobs": NaN, "jwt": null}'),
    "missing-jwt": Fault(mutate=_without_jwt),
    "wrong-types": Fault(mutate=_wrong_types),
}


@dataclass
class StoredAccount:
    email: str
    password: str = field(repr=False)
    max_jobs: int
    token: str | None = field(repr=False)
    account_id: int
    expire_time: int
    username: str

    def to_json(self, omit: frozenset[str] = frozenset()) -> dict[str, Any]:
        """The account object as useapi.net answers it: password and session token masked,
        and the fields in `omit` ("maxJobs", "jwt.ExpireTime", ...) left out."""
        jwt = {
            "AccountId": self.account_id,
            "ExpireTime": self.expire_time,
            "ExpireTimeUTC": _iso(self.expire_time),
            "Username": self.username,
            "token": "eyJ…secured…xYz",
        }
        answer: dict[str, Any] = {
            "email": self.email,
            "password": MASKED_PASSWORD,
            "maxJobs": self.max_jobs,
            "jwt": {k: v for k, v in jwt.items() if f"jwt.{k}" not in omit},
        }
        return {k: v for k, v in answer.items() if k not in omit}


class _QuietServer(ThreadingHTTPServer):
    """A client that gave up (timed out, or was hung up on) is routine under fault injection:
    writing to it fails, and that is not worth a traceback on stderr."""

    daemon_threads = True
    # The listen backlog. The default (5) drops the SYNs of a burst of new connections (an
    # engine's worth of parallel calls), and each dropped SYN costs a 1 s retransmit.
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)):
            return
        super().handle_error(request, client_address)


class UseapiEmulator:
    """The emulated service: start() on a free port, stop() always (a fixture does both)."""

    def __init__(
        self,
        token: str = "test-useapi-token",
        host: str = "127.0.0.1",
        port: int = 0,
        state_path: str | Path | None = None,
        request_log: str | Path | None = None,
    ) -> None:
        self.token = token
        self._address = (host, port)
        self.accounts: dict[str, StoredAccount] = {}
        # Optional persistence, so the demo's accounts survive an emulator restart between
        # two `make up` runs exactly as they survive on useapi.net.
        self.state_path = Path(state_path) if state_path is not None else None
        if self.state_path is not None:
            self.accounts = _load_accounts(self.state_path)
        self.requests: list[RecordedRequest] = []
        # Optional: one line per request (`METHOD path`, never a body), appended as it arrives,
        # so a benchmark that runs the emulator in a process of its own can count its calls.
        self.request_log = Path(request_log) if request_log is not None else None
        self.rejected_logins: set[str] = set()
        self.variants = Variants()
        # Documented statuses: 402 for every API call while set; 596 for calls naming an
        # account in `error_accounts` (reason by email) until it is deleted.
        self.subscription_expired = False
        self.error_accounts: dict[str, str] = {}
        # Plans: fields set per account on top of DEFAULT_PLAN (a None value leaves one out).
        self.plans: dict[str, dict[str, Any]] = {}
        self.plan_expires = time.time() + PLAN_DAYS * 86400
        # Jobs running through the API, and the ids of those cut off by a DELETE of their account.
        self.jobs: list[RunningJob] = []
        self.cut_off: list[str] = []
        self._job_serial = 0
        self.latency = 0.0
        # Throttling, as an API that serves a token only so many requests at once: with
        # `admit_at_once` = K, a request that arrives while K are being served is answered 429
        # at once, with `Retry-After: throttle_retry_after` (and the docs' `retryAfter` in the
        # body), and is not handled. `throttled` records each such (method, path);
        # `peak_admitted` the most served at once.
        self.admit_at_once: int | None = None
        self.throttle_retry_after = "1"
        self.throttled: list[tuple[str, str]] = []
        self.peak_admitted = 0
        self._admitted = 0
        # TCP connections accepted so far: how a test or the benchmark sees keep-alive reuse.
        self.connections_opened = 0
        self._faults: dict[str, deque[Fault]] = {method: deque() for method in ALL_METHODS}
        # (method, path, fault kind) of every request a fault was applied to, in order.
        self.faults_served: list[tuple[str, str, str]] = []
        # (method, status) of every answer sent, injected faults included, in order; a request
        # hung up on without a status line is recorded as None.
        self.answers: list[tuple[str, int | None]] = []
        # The method of every request as it arrived, before any delay or fault. One counted here
        # and not yet in `requests` is in flight: how a test times a kill between a client
        # sending a call and the change being made.
        self.arrivals: list[str] = []
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> UseapiEmulator:
        server = _QuietServer(self._address, _make_handler(self))
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name="useapi-emulator"
        )
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> UseapiEmulator:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "emulator not started"
        return int(self._server.server_address[1])

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """What `useapi:baseUrl` should be set to: the API root, version included."""
        return f"{self.root_url}/v2"

    # -- what tests look at ------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if method is None or r.method == method]

    def reset_calls(self) -> None:
        with self._lock:
            self.requests.clear()
            self.answers.clear()
            self.arrivals.clear()

    def arrived(self, method: str | None = None) -> int:
        """Requests that reached the emulator so far, answered or not."""
        with self._lock:
            return sum(1 for m in self.arrivals if method is None or m == method)

    def statuses(self, method: str | None = None) -> list[int | None]:
        """What the server answered, in order: each status (None: hung up without one)."""
        with self._lock:
            return [status for m, status in self.answers if method is None or m == method]

    def _answered(self, method: str, status: int | None) -> None:
        with self._lock:
            self.answers.append((method, status))

    # -- throttling -------------------------------------------------------------------------

    def _admit(self, method: str, path: str) -> bool:
        """Start serving a request, or refuse it (throttled: nothing is handled)."""
        with self._lock:
            limit = self.admit_at_once
            if limit is not None and self._admitted >= limit:
                self.throttled.append((method, path))
                if self.request_log is not None:
                    with self.request_log.open("a", encoding="utf-8") as log:
                        log.write(f"{THROTTLED_MARK} {method} {path}\n")
                return False
            self._admitted += 1
            self.peak_admitted = max(self.peak_admitted, self._admitted)
            return True

    def _leave(self) -> None:
        with self._lock:
            self._admitted -= 1

    def _throttle_answer(self) -> tuple[int, bytes, str, dict[str, str]]:
        """429 with Retry-After, and the body useapi.net documents (`retryAfter`: when)."""
        seconds = (
            float(self.throttle_retry_after)
            if _NUMERIC.fullmatch(self.throttle_retry_after)
            else 0.0
        )
        body = {
            "error": f"Too many requests: {self.admit_at_once} at once at most",
            "code": 429,
            "retryAfter": _iso(time.time() + seconds),
        }
        headers = {"Retry-After": self.throttle_retry_after}
        return 429, json.dumps(body).encode(), "application/json", headers

    # -- fault injection ---------------------------------------------------------------------

    def inject(self, method: str, fault: Fault, times: int = 1, path: str | None = None) -> None:
        """Queue `fault` for the next `times` requests of `method` ("*" for every method),
        or with `path`, for the next ones to a path starting with it."""
        with self._lock:
            for m in ALL_METHODS if method == "*" else (method.upper(),):
                self._faults[m].extend(
                    Fault(**{**fault.__dict__, "path": path or fault.path}) for _ in range(times)
                )

    def fail_next(
        self, method: str, status: int, times: int = 1, retry_after: str | None = None
    ) -> None:
        self.inject(method, Fault(status=status, retry_after=retry_after), times)

    def delay_next(self, method: str, seconds: float, times: int = 1) -> None:
        self.inject(method, Fault(delay=seconds), times)

    def drop_next(self, method: str, times: int = 1) -> None:
        self.inject(method, Fault(drop=True), times)

    def malformed_next(self, method: str, kind: str, times: int = 1) -> None:
        """Answer the next `times` requests with a named malformed answer (see MALFORMED)."""
        self.inject(method, MALFORMED[kind], times)

    def lose_answer_next(self, method: str, times: int = 1) -> None:
        """Apply the next request(s), then hang up without answering."""
        self.inject(method, Fault(lose_answer=True), times)

    def attempts(self, method: str | None = None) -> int:
        """Requests that reached the emulator: recorded ones plus those a fault answered."""
        with self._lock:
            faulted = sum(
                1
                for m, _, kind in self.faults_served
                if (method is None or m == method) and (kind == "drop" or kind.startswith("status"))
            )
        return len(self.calls(method)) + faulted

    def pending_faults(self) -> int:
        with self._lock:
            return sum(len(queue) for queue in self._faults.values())

    def clear_faults(self) -> None:
        with self._lock:
            for queue in self._faults.values():
                queue.clear()

    def _next_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            queue = self._faults.get(method) or deque()
            fault = next((f for f in queue if f.path is None or path.startswith(f.path)), None)
            if fault is not None:
                queue.remove(fault)
                self.faults_served.append((method, path, fault.kind))
            return fault

    # -- out-of-band changes (someone used the dashboard) --------------------------------------

    def oob_delete(self, email: str) -> None:
        with self._lock:
            self.accounts.pop(email, None)
            self._persist()

    def oob_set_max_jobs(self, email: str, max_jobs: int) -> None:
        with self._lock:
            self.accounts[email].max_jobs = max_jobs
            self._persist()

    def oob_expire_session(self, email: str, at: int | None = None) -> None:
        with self._lock:
            self.accounts[email].expire_time = int(time.time()) - 3600 if at is None else at
            self._persist()

    def _persist(self) -> None:
        """Write the accounts to `state_path` (atomically); called with the lock held."""
        if self.state_path is not None:
            _save_accounts(self.state_path, self.accounts)

    # -- plans and running jobs -----------------------------------------------------------------

    def set_plan(self, email: str, **fields: Any) -> None:
        """The account's plan: `fields` on top of DEFAULT_PLAN (None leaves a field out)."""
        with self._lock:
            self.plans.setdefault(email, {}).update(fields)

    def plan_json(self, email: str) -> dict[str, Any]:
        """GET /features' answer for the account, before any `Variants.omit`."""
        with self._lock:
            plan: dict[str, Any] = {
                **DEFAULT_PLAN,
                "expired_date": _iso(self.plan_expires).replace(".000Z", "Z"),
                "billing_renewal_date": _iso(self.plan_expires).replace(".000Z", "Z"),
                "remaining_days": PLAN_DAYS,
                **self.plans.get(email, {}),
            }
        return {key: value for key, value in plan.items() if value is not None}

    def start_jobs(
        self, email: str, count: int = 1, seconds: float = 5.0, kind: str = "video"
    ) -> list[str]:
        """Jobs on the account for `seconds` from now, as if routed to it by useapi.net."""
        digest = hashlib.sha256(email.encode()).digest()
        user_id = int.from_bytes(digest[4:8], "big") % 100_000_000
        started, ends_at = time.time(), time.monotonic() + seconds
        ids = []
        with self._lock:
            for _ in range(count):
                self._job_serial += 1
                job_id = f"user:{user_id}-pixverse:{email}-{kind}:{self._job_serial}"
                self.jobs.append(RunningJob(job_id, email, kind, started, ends_at))
                ids.append(job_id)
        return ids

    def finish_jobs(self, email: str | None = None) -> None:
        """End the account's running jobs now (every account's without an email)."""
        with self._lock:
            self.jobs = [j for j in self.jobs if email is not None and j.email != email]

    def running(self, email: str | None = None) -> list[RunningJob]:
        """The jobs still running (on one account, or on all); ended ones are dropped."""
        now = time.monotonic()
        with self._lock:
            self.jobs = [job for job in self.jobs if job.ends_at > now]
            return [job for job in self.jobs if email is None or job.email == email]

    def reject_login(self, email: str) -> None:
        """Make PixVerse refuse this account's login, as for a wrong password."""
        with self._lock:
            self.rejected_logins.add(email)

    def mark_error(self, email: str, reason: str = "refresh token rejected") -> None:
        """Put the account in useapi.net's error state: GET and POST for it answer 596 until
        it is deleted (the docs' remedy: delete it and add it again)."""
        with self._lock:
            self.error_accounts[email] = reason

    # -- the API ------------------------------------------------------------------------------

    def handle(
        self, method: str, path: str, authorized: bool, body: Any, query: str = ""
    ) -> tuple[int, Any]:
        """The API's answer as (status, JSON body, RawAnswer or None)."""
        variants = self.variants
        if variants.website_404 and not path.startswith("/v2/pixverse/"):
            return 404, RawAnswer(WEBSITE_404_PAGE, "text/html; charset=utf-8")
        email = None
        if path.startswith(API_PREFIX + "/"):
            segment = path[len(API_PREFIX) + 1 :]
            email = segment if variants.literal_path else unquote(segment)
        route = path.rstrip("/")
        capacity_call = route in (FEATURES_PATH, SCHEDULER_PATH, SCHEDULER_AVAILABLE_PATH)
        if route == FEATURES_PATH:
            # A query string decodes as a form does: `+` is a space unless sent as `%2B`.
            emails = parse_qs(query).get("email")
            email = emails[0] if emails else None
        with self._lock:
            self.requests.append(
                RecordedRequest(
                    method,
                    path,
                    email,
                    authorized,
                    body if isinstance(body, dict) else None,
                    query,
                )
            )
            if self.request_log is not None:
                with self.request_log.open("a", encoding="utf-8") as log:
                    log.write(f"{method} {path}\n")
        if not authorized:
            return 401, {"error": "Unauthorized", "code": 401}
        if self.subscription_expired:
            return 402, {"error": SUBSCRIPTION_EXPIRED_ERROR, "code": 402}
        if capacity_call:
            if method != "GET":
                return 405, {"error": f"Method {method} not allowed", "code": 405}
            if route == FEATURES_PATH:
                return self._features(email)
            return self._scheduler(available=route == SCHEDULER_AVAILABLE_PATH)
        if path.rstrip("/") == API_PREFIX:
            if method != "GET":
                return 405, {"error": f"Method {method} not allowed", "code": 405}
            return self._list()
        if email is None or email == "" or "/" in email:
            return 404, {"error": f"Not found: {path}", "code": 404}
        reason = self.error_accounts.get(email)
        if reason is not None and method in ("GET", "POST"):
            return 596, {"error": f"Account {email} in error state: {reason}", "code": 596}
        if method == "GET":
            return self._get(email)
        if method == "DELETE":
            return self._delete(email)
        if method == "POST":
            return self._post(email, body)
        return 405, {"error": f"Method {method} not allowed", "code": 405}

    def _not_found(self, error: str) -> tuple[int, Any]:
        """The API's own 404, in the shape `variants.not_found` names."""
        shape = self.variants.not_found
        if shape == "text":
            return 404, RawAnswer(NOT_FOUND_TEXT.encode(), "text/plain; charset=utf-8")
        if shape == "empty":
            return 404, None
        return 404, {"error": error, "code": 404}

    def _list(self) -> tuple[int, Any]:
        with self._lock:
            if not self.accounts:
                return self._not_found("No PixVerse accounts configured")
            omit = self.variants.omit
            return 200, {e: a.to_json(omit) for e, a in sorted(self.accounts.items())}

    def _get(self, email: str) -> tuple[int, Any]:
        with self._lock:
            account = self.accounts.get(email)
            if account is None:
                return self._not_found(f"PixVerse account {email} not found")
            return 200, account.to_json(self.variants.omit)

    def _features(self, email: str | None) -> tuple[int, Any]:
        """The plan of `email`; without one, of the only account (the docs: `email` is
        optional with one account configured, required with several)."""
        with self._lock:
            if email is None:
                if len(self.accounts) != 1:
                    return 400, {
                        "error": "Parameter email is required when more than one account "
                        "is configured",
                        "code": 400,
                    }
                email = next(iter(self.accounts))
            if email not in self.accounts:
                error = f"PixVerse account {email} is not configured"
                if self.variants.unknown_features == "404":
                    return self._not_found(error)
                return 400, {"error": error, "code": 400}
            reason = self.error_accounts.get(email)
            if reason is not None:
                return 596, {"error": f"Account {email} in error state: {reason}", "code": 596}
            omit = self.variants.omit
        plan = self.plan_json(email)
        return 200, {k: v for k, v in plan.items() if f"features.{k}" not in omit}

    def _scheduler(self, available: bool) -> tuple[int, Any]:
        """GET /scheduler/ (the running jobs) or /scheduler/available (and each account's load)."""
        variants = self.variants
        running = self.running()
        jobs = [job.to_json(variants.job_id_key) for job in running]
        if not available:
            return 200, jobs
        loads = []
        with self._lock:
            accounts = sorted(self.accounts.items())
        for email, account in accounts:
            executing = sum(1 for job in running if job.email == email)
            free = max(0, account.max_jobs - executing)
            if variants.busy_unlisted and free == 0:
                continue
            load = {"email": email, "maxJobs": account.max_jobs, "executing": executing}
            if "scheduler.available.executing" in variants.omit:
                load.pop("executing")
            loads.append({**load, "available": free})
        answer: dict[str, Any] = {"executing": jobs, "available": loads}
        for key in ("executing", "available"):
            if f"scheduler.{key}" in variants.omit:
                answer.pop(key)
        return 200, answer

    def _delete(self, email: str) -> tuple[int, Any]:
        with self._lock:
            if self.accounts.pop(email, None) is None:
                return self._not_found(f"PixVerse account {email} not found")
            self.error_accounts.pop(email, None)
            # What becomes of them on useapi.net is not documented: here they are cut off.
            now = time.monotonic()
            self.cut_off += [j.id for j in self.jobs if j.email == email and j.ends_at > now]
            self.jobs = [j for j in self.jobs if j.email != email]
            self._persist()
            remaining = len(self.accounts)
        answer = self.variants.delete_answer
        if answer == "200-json":
            return 200, {"account": email, "deleted": True, "remaining": remaining}
        if answer == "200-empty":
            return 200, RawAnswer(b"", "application/json")
        return 204, None

    def _post(self, email: str, body: Any) -> tuple[int, Any]:
        def bad(message: str) -> tuple[int, Any]:
            return 400, {"error": message, "code": 400}

        if not isinstance(body, dict):
            return bad("Request body must be a JSON object or multipart/form-data")
        if body.get("email") != email:
            return bad("Parameter email is required and must match the email in the path")
        password = body.get("password")
        if not isinstance(password, str) or password == "":
            return bad("Parameter password is required")
        max_jobs = body.get("maxJobs")
        if isinstance(max_jobs, str) and _NUMERIC.fullmatch(max_jobs):
            max_jobs = int(max_jobs)  # a form field is text; the Postman collection sends text
        if isinstance(max_jobs, bool) or not isinstance(max_jobs, int) or not 1 <= max_jobs <= 8:
            return bad("Parameter maxJobs must be an integer from 1 to 8")
        token = body.get("token")
        if token is not None and not isinstance(token, str):
            return bad("Parameter token must be a string")
        with self._lock:
            if email in self.rejected_logins:
                return bad(f"PixVerse login failed for {email}: wrong email or password")
            existing = self.accounts.get(email)
            digest = hashlib.sha256(email.encode()).digest()
            account = StoredAccount(
                email=email,
                password=password,
                max_jobs=max_jobs,
                token=token,
                account_id=int.from_bytes(digest[:4], "big") % 100_000_000,
                expire_time=(
                    existing.expire_time if existing else int(time.time()) + SESSION_SECONDS
                ),
                username=email.split("@", 1)[0].replace(".", "_")[:32] or "pixuser",
            )
            self.accounts[email] = account
            self._persist()
            return 201, account.to_json(self.variants.omit)

    def stored(self) -> Iterator[StoredAccount]:
        with self._lock:
            yield from list(self.accounts.values())


# The state file keeps what a real service would, minus the secrets: the emulator never
# returns a password or session token, so a fingerprint stands in for each.
_STATE_VERSION = 1


def _fingerprint(value: str | None) -> str | None:
    return None if value is None else "sha256:" + hashlib.sha256(value.encode()).hexdigest()


def _save_accounts(path: Path, accounts: dict[str, StoredAccount]) -> None:
    records = [
        {
            "email": a.email,
            "password": _fingerprint(a.password),
            "maxJobs": a.max_jobs,
            "token": _fingerprint(a.token),
            "accountId": a.account_id,
            "expireTime": a.expire_time,
            "username": a.username,
        }
        for a in sorted(accounts.values(), key=lambda a: a.email)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"version": _STATE_VERSION, "accounts": records}, indent=2))
    os.replace(tmp, path)


def _load_accounts(path: Path) -> dict[str, StoredAccount]:
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    accounts: dict[str, StoredAccount] = {}
    for record in data.get("accounts", []):
        accounts[record["email"]] = StoredAccount(
            email=record["email"],
            password=record["password"] or "",
            max_jobs=int(record["maxJobs"]),
            token=record["token"],
            account_id=int(record["accountId"]),
            expire_time=int(record["expireTime"]),
            username=record["username"],
        )
    return accounts


def _parse_body(content_type: str, raw: bytes) -> Any:
    """A request body as a dict: JSON, or multipart/form-data (the docs allow either).

    Anything else is returned as a marker string, which POST rejects with a 400.
    """
    if not raw:
        return None
    if content_type.split(";")[0].strip().lower() == "multipart/form-data":
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + raw
        )
        if not message.is_multipart():
            return "<not a form>"
        fields: dict[str, Any] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if isinstance(name, str):
                payload = part.get_payload(decode=True)
                if isinstance(payload, bytes):
                    fields[name] = payload.decode("utf-8", errors="replace")
        return fields
    try:
        return json.loads(raw)
    except ValueError:
        return "<not json>"


def _make_handler(emulator: UseapiEmulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, so the client's connection pool is real
        server_version = "useapi-emulator/1"
        # Headers and body go out in two writes; with Nagle on, delayed ACKs add ~40 ms a call.
        disable_nagle_algorithm = True
        # Whether this request's status line went out (a truncated answer, then a hang-up).
        _status_sent = False

        def setup(self) -> None:
            super().setup()
            with emulator._lock:
                emulator.connections_opened += 1

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: request lines carry emails only, but tests want clean output."""

        def _dispatch(self) -> None:
            self._status_sent = False
            method = self.command
            with emulator._lock:
                emulator.arrivals.append(method)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(min(length, MAX_BODY_BYTES)) if length else b""
            # A request through a forward proxy names the absolute URL: keep only its path.
            if "://" in self.path:
                parts = urlsplit(self.path)
                path, query = parts.path, parts.query
            else:
                path, _, query = self.path.partition("?")
            if not emulator._admit(method, path):
                self._send(*emulator._throttle_answer())
                return
            try:
                self._serve(method, path, query, raw)
            finally:
                emulator._leave()

        def _serve(self, method: str, path: str, query: str, raw: bytes) -> None:
            fault = emulator._next_fault(method, path)
            delay = emulator.latency + (fault.delay if fault else 0.0)
            if delay:
                time.sleep(delay)
            if fault and fault.drop:
                # Hang up without an answer, as a proxy or a crashed server would.
                self._hang_up()
                return
            if fault and fault.status is not None:
                body = (
                    fault.body
                    if fault.body is not None
                    else json.dumps(
                        {"error": f"Injected {fault.status}", "code": fault.status}
                    ).encode()
                )
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                self._send(fault.status, body, fault.content_type, headers)
                return
            parsed = _parse_body(self.headers.get("Content-Type", ""), raw)
            authorized = self.headers.get("Authorization") == f"Bearer {emulator.token}"
            status, answer = emulator.handle(method, path, authorized, parsed, query)
            content_type = "application/json"
            if isinstance(answer, RawAnswer):
                content_type = answer.content_type
                answer = answer.body
            if fault and fault.mutate is not None:
                answer = fault.mutate(answer)
                content_type = fault.content_type
            if isinstance(answer, bytes):
                payload = answer
            else:
                payload = b"" if answer is None else json.dumps(answer).encode()
            if fault and fault.answer_after:
                time.sleep(fault.answer_after)
            if fault and fault.lose_answer:
                self._hang_up()
                return
            if fault and fault.truncate:
                self._record_status(status)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload[: len(payload) // 2])
                self.wfile.flush()
                self._hang_up()
                return
            self._send(status, payload, content_type, {})

        def _record_status(self, status: int) -> None:
            self._status_sent = True
            emulator._answered(self.command, status)

        def _hang_up(self) -> None:
            if not self._status_sent:
                emulator._answered(self.command, None)
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)

        def _send(
            self, status: int, body: bytes, content_type: str, headers: dict[str, str]
        ) -> None:
            self._record_status(status)
            self.send_response(status)
            if body:
                self.send_header("Content-Type", content_type)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if body:
                self.wfile.write(body)

        do_GET = _dispatch
        do_POST = _dispatch
        do_DELETE = _dispatch

    return Handler
