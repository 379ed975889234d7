"""The tolerant reader and the session warning, on answers the docs' model allows.

"All fields are optional": a missing field is never an error, and nothing is made up for it;
a field present with a type the model rules out still is one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from provider.host.useapi.client import UseapiError, parse_account, parse_account_map
from provider.program.sessions import account_summary, expires_at, is_expired, session_warning
from tests.support.helpers import local_time_elsewhere

pytestmark = pytest.mark.timeout(10)
EMAIL = "ops@example.com"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
FULL_JWT = {
    "AccountId": 66778899,
    "ExpireTime": 1767225194,
    "ExpireTimeUTC": "2026-01-01T00:33:14.000Z",
    "Username": "pixuser",
    "token": "abc…secured…cde",
}


@pytest.mark.parametrize("missing", ["AccountId", "ExpireTime", "ExpireTimeUTC", "Username"])
def test_a_jwt_without_one_field_keeps_the_others(missing: str) -> None:
    jwt = {k: v for k, v in FULL_JWT.items() if k != missing}
    account = parse_account({"email": EMAIL, "maxJobs": 3, "jwt": jwt}, EMAIL)
    assert account.jwt is not None
    wire = account.jwt.to_wire()
    assert missing not in wire and set(wire) == {
        "AccountId",
        "ExpireTime",
        "ExpireTimeUTC",
        "Username",
    } - {missing}
    assert "token" not in wire  # the masked session token is never kept


@pytest.mark.parametrize(
    "answer",
    [{}, {"email": EMAIL}, {"jwt": None}, {"maxJobs": None, "jwt": {}}, {"password": "…secured…"}],
    ids=["empty object", "email only", "null jwt", "null maxJobs, empty jwt", "password only"],
)
def test_an_account_object_with_fields_left_out_parses(answer: dict[str, Any]) -> None:
    account = parse_account(answer, EMAIL)
    assert account.email == EMAIL and account.max_jobs is None
    assert account.jwt is None or account.jwt.to_wire() == {}


@pytest.mark.parametrize("jwt", [{}, {"token": "abc…secured…cde"}], ids=["empty", "token only"])
def test_an_empty_session_object_is_a_session_with_nothing_known_not_no_session(
    jwt: dict[str, Any],
) -> None:
    """`"jwt": {}` and no `jwt` are different answers: the first reads as a session whose
    fields were all left out (no warning: nothing to compare), the second as no session (a
    warning). The state, the outputs and the warning must keep them apart."""
    session = parse_account({"maxJobs": 3, "jwt": jwt}, EMAIL).jwt
    assert session is not None and session.to_wire() == {}
    assert session_warning(EMAIL, session.to_wire(), NOW, 7) is None
    for answer in ({"maxJobs": 3}, {"maxJobs": 3, "jwt": None}):
        assert parse_account(answer, EMAIL).jwt is None
    assert "no PixVerse session" in str(session_warning(EMAIL, None, NOW, 7))
    # The exported row reads the same for both: every field the API left out is "".
    assert account_summary(session.to_wire(), 3) == account_summary(None, 3)


def test_the_email_is_the_one_asked_for_even_if_the_answer_spells_it_otherwise() -> None:
    """An answer that normalises the address must not rename the resource (a replace)."""
    assert parse_account({"email": "Ops@Example.com", "maxJobs": 3}, EMAIL).email == EMAIL


def test_a_fractional_expiry_is_floored_not_refused() -> None:
    account = parse_account({"jwt": {"ExpireTime": 1734858598.864}}, EMAIL)
    assert account.jwt is not None and account.jwt.expire_time == 1734858598


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        ({"maxJobs": "3"}, "`maxJobs` of ops@example.com should be a whole number, got str"),
        ({"maxJobs": 3.5}, "`maxJobs` of ops@example.com should be a whole number, got float"),
        ({"jwt": ["x"]}, "`jwt` of ops@example.com should be an object, got list"),
        ({"jwt": {"Username": 7}}, "`Username` of ops@example.com should be text, got int"),
        ({"jwt": {"ExpireTime": "soon"}}, "`ExpireTime` of ops@example.com should be a number"),
        ({"email": 5}, "`email` of ops@example.com should be text, got int"),
        # JSON's true is not the number 1 (Python's bool is an int: the reader must not say so).
        ({"maxJobs": True}, "`maxJobs` of ops@example.com should be a whole number, got bool"),
        ({"maxJobs": False}, "`maxJobs` of ops@example.com should be a whole number, got bool"),
        ({"jwt": {"AccountId": True}}, "`AccountId` of ops@example.com should be a whole number"),
        ({"jwt": {"ExpireTime": True}}, "`ExpireTime` of ops@example.com should be a number"),
    ],
)
def test_a_field_present_with_a_type_the_model_rules_out_is_an_error(
    answer: dict[str, Any], says: str
) -> None:
    with pytest.raises(UseapiError, match=says.replace("(", r"\(")):
        parse_account(answer, EMAIL)


def test_a_list_entry_without_email_or_jwt_is_keyed_by_the_map() -> None:
    accounts = parse_account_map({EMAIL: {"maxJobs": 2}, "b@example.com": {}})
    assert {e: (a.email, a.max_jobs, a.jwt) for e, a in accounts.items()} == {
        EMAIL: (EMAIL, 2, None),
        "b@example.com": ("b@example.com", None, None),
    }


# -- the session warning copes with what is missing ----------------------------------------------


@pytest.mark.parametrize(
    "jwt",
    [{}, {"Username": "pixuser"}, {"AccountId": 1, "ExpireTimeUTC": ""}],
    ids=["empty", "username only", "empty expiry text"],
)
def test_a_session_without_an_expiry_gives_no_warning_and_an_empty_output(
    jwt: dict[str, Any],
) -> None:
    assert session_warning(EMAIL, jwt, NOW, 7) is None
    assert account_summary(jwt, 3)["ExpireTimeUTC"] == ""


def test_no_session_at_all_is_reported_as_such() -> None:
    assert session_warning(EMAIL, None, NOW, 7) == (
        f"{EMAIL}: useapi.net reported no PixVerse session for this account"
    )


def test_an_expiry_out_of_range_falls_back_to_the_iso_time() -> None:
    """Milliseconds instead of seconds (a year past 9999) must not crash the program."""
    jwt = {"ExpireTime": 10**15, "ExpireTimeUTC": "2026-01-03T00:00:00.000Z"}
    assert expires_at(jwt) == NOW + timedelta(days=2)
    warning = session_warning(EMAIL, jwt, NOW, 7)
    assert warning is not None and "2026-01-03 00:00:00 UTC" in warning
    assert "unreadable" in str(session_warning(EMAIL, {"ExpireTime": 10**15}, NOW, 7))


@pytest.mark.parametrize("text", ["2026-01-03T00:00:00", "2026-01-03T00:00:00.000"])
def test_an_expiry_without_a_timezone_is_read_as_utc_not_local_time_nor_a_crash(text: str) -> None:
    """`ExpireTimeUTC` says UTC in its name; an answer that drops the `Z` must not move the
    expiry by the machine's offset, nor make the aware/naive comparison raise."""
    jwt = {"ExpireTimeUTC": text}
    with local_time_elsewhere():
        assert expires_at(jwt) == NOW + timedelta(days=2)
        assert is_expired(jwt, NOW) is None
        assert is_expired(jwt, NOW + timedelta(days=2)) == NOW + timedelta(days=2)
        assert session_warning(EMAIL, jwt, NOW, 7) == (
            f"{EMAIL}: the PixVerse session expires at 2026-01-03 00:00:00 UTC (in 2.0 days, "
            "within jwtWarnDays=7)"
        )
