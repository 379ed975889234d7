"""check, diff and pickling of the provider object itself: pure logic, no HTTP."""

from __future__ import annotations

import base64
import pickle
import subprocess
import sys
from typing import Any

import dill
import pytest
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.output import Unknown
from pulumi.runtime import rpc

from provider import PixVerseAccountProvider
from tests.support.helpers import (
    PASSWORD_SENTINEL,
    PROJECT_ROOT,
    SESSION_TOKEN_SENTINEL,
    TOKEN_SENTINEL,
)

GOOD = {"email": "ops@example.com", "password": PASSWORD_SENTINEL, "maxJobs": 3.0}


def _check(news: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    result = PixVerseAccountProvider().check({}, news)
    return result.inputs, {f.property: f.reason for f in result.failures}


def test_check_accepts_a_double_and_returns_an_int() -> None:
    inputs, failures = _check(dict(GOOD))
    assert failures == {}
    assert inputs == {"email": "ops@example.com", "password": PASSWORD_SENTINEL, "maxJobs": 3}
    assert type(inputs["maxJobs"]) is int


def test_check_reports_one_failure_per_bad_property_naming_it_and_the_rule() -> None:
    _, failures = _check({"email": "not-an-email", "password": "", "maxJobs": 9})
    assert set(failures) == {"email", "password", "maxJobs"}
    assert "name@example.com" in failures["email"]
    assert "must not be empty" in failures["password"]
    assert "integer from 1 to 8" in failures["maxJobs"] and "9" in failures["maxJobs"]


@pytest.mark.parametrize("max_jobs", [0, 9, 2.5, "3", True, None, float("nan"), float("inf"), [3]])
def test_check_rejects_bad_max_jobs(max_jobs: Any) -> None:
    _, failures = _check({**GOOD, "maxJobs": max_jobs})
    assert list(failures) == ["maxJobs"]


def test_check_names_missing_required_properties() -> None:
    _, failures = _check({})
    assert failures == {p: f"{p} is required" for p in ("email", "password", "maxJobs")}


def test_check_never_quotes_a_password_or_token() -> None:
    _, failures = _check({**GOOD, "password": 12345, "token": 67890})
    assert set(failures) == {"password", "token"}
    assert "12345" not in failures["password"] and "67890" not in failures["token"]


@pytest.mark.parametrize("unknown", [Unknown(), rpc.UNKNOWN])
def test_check_lets_unknown_preview_values_through(unknown: Any) -> None:
    inputs, failures = _check(
        {"email": unknown, "password": unknown, "maxJobs": unknown, "token": unknown}
    )
    assert failures == {}
    assert set(inputs) == {"email", "password", "maxJobs", "token"}


def test_check_drops_an_empty_token_and_keeps_a_set_one() -> None:
    assert "token" not in _check({**GOOD, "token": ""})[0]
    assert "token" not in _check({**GOOD, "token": None})[0]
    assert _check({**GOOD, "token": SESSION_TOKEN_SENTINEL})[0]["token"] == SESSION_TOKEN_SENTINEL


OLDS = {
    "email": "ops@example.com",
    "password": PASSWORD_SENTINEL,
    "maxJobs": 3,
    "jwt": {"Username": "ops"},
    "__provider": "x",
}


def _diff(**news: Any) -> tuple[bool | None, list[str] | None, bool | None]:
    merged = {
        k: v for k, v in {**OLDS, "__provider": "changed pickle", **news}.items() if k != "jwt"
    }
    result = PixVerseAccountProvider().diff("ops@example.com", dict(OLDS), merged)
    return result.changes, result.replaces, result.delete_before_replace


def test_diff_nothing_changed_ignores_the_pickle_and_doubles() -> None:
    assert _diff(maxJobs=3.0)[:2] == (False, [])


def test_diff_email_replaces_deleting_first() -> None:
    assert _diff(email="new@example.com") == (True, ["email"], True)


@pytest.mark.parametrize(
    "change", [{"password": "other"}, {"maxJobs": 4}, {"token": SESSION_TOKEN_SENTINEL}]
)
def test_diff_password_max_jobs_token_update_in_place(change: dict[str, Any]) -> None:
    assert _diff(**change)[:2] == (True, [])


def test_diff_an_empty_token_is_no_token() -> None:
    assert _diff(token="")[:2] == (False, [])
    assert _diff(token=None)[:2] == (False, [])


def test_diff_unknowns_are_changes() -> None:
    assert _diff(maxJobs=Unknown())[:2] == (True, [])
    assert _diff(email=Unknown()) == (True, ["email"], True)


def test_the_pickle_is_a_small_reference_with_nothing_of_the_host_in_it() -> None:
    provider = PixVerseAccountProvider()
    before = serialize_provider(provider)
    provider.configure(
        ConfigureRequest(Config({"useapi:token": TOKEN_SENTINEL}, "pixverse-accounts"))
    )
    provider.client()  # a live session and the token now hang off the instance
    after = serialize_provider(provider)
    assert before == after
    raw = base64.b64decode(after)
    assert len(after) < 1024
    # By the public path the contract gives, so moving the class inside the package keeps state.
    assert b"\x8c\x08provider\x94\x8c\x17PixVerseAccountProvider" in raw
    assert TOKEN_SENTINEL.encode() not in raw and b"Session" not in raw
    revived = dill.loads(raw)
    assert isinstance(revived, PixVerseAccountProvider)
    assert revived._config == {} and revived._client is None
    assert pickle.loads(pickle.dumps(provider)).__class__ is PixVerseAccountProvider
    assert PixVerseAccountProvider.serialize_as_secret_always is False


def test_a_fleet_of_thousands_pickles_at_the_same_cost_and_never_recurses() -> None:
    """One `serialize_provider` per resource, as the SDK's dynamic Resource does: the SDK wraps
    the pickler's dict writer once more on every call (3.260), so a provider whose pickle held a
    dict hit a RecursionError at about the 985th account of a program. Ours holds no dict."""
    provider = PixVerseAccountProvider()
    first = serialize_provider(provider)
    for _ in range(3000):
        assert serialize_provider(provider) == first


# `__provider` as releases before the package layout by where code runs pickled it: every
# resource in such a stack's state carries it, and refresh and destroy unpickle it in the host.
LEGACY_PICKLE = (
    "gASVPwAAAAAAAACMGXByb3ZpZGVyLmFjY291bnRfcHJvdmlkZXKU"
    "jBdQaXhWZXJzZUFjY291bnRQcm92aWRlcpSTlCmBlH2UYi4="
)


def test_a_provider_pickled_by_an_earlier_release_still_loads() -> None:
    script = (
        "import base64, dill; "
        f"revived = dill.loads(base64.b64decode({LEGACY_PICKLE!r})); "
        "print(type(revived).__name__, type(revived).__module__)"
    )
    # A fresh interpreter, as the provider host is: nothing of this test run imported yet.
    completed = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.split() == ["PixVerseAccountProvider", "provider"]
