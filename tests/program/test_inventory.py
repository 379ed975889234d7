"""The inventory rules and the session report, without Pulumi (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.provisional import domains

from provider.host.validation import MAX_SECRET_LENGTH
from provider.program.inventory import (
    DEFAULT_WARN_DAYS,
    AccountSecrets,
    DesiredAccount,
    InventoryError,
    pair_secrets,
    parse_accounts,
    parse_fail_on_expired,
    parse_min_credits,
    parse_warn_days,
)
from provider.program.sessions import account_summary, expires_at, session_warning
from tests.support.helpers import PASSWORD_SENTINEL, SESSION_TOKEN_SENTINEL

ACCOUNTS = {"ops@example.com": {"maxJobs": 3}, "render@example.com": {"maxJobs": 5.0}}


def problems_of(raw: Any) -> list[str]:
    with pytest.raises(InventoryError) as info:
        parse_accounts(raw)
    return info.value.problems


# -- accounts -------------------------------------------------------------------------------


def test_accounts_become_sorted_desired_accounts_with_int_max_jobs() -> None:
    assert parse_accounts(ACCOUNTS) == [
        DesiredAccount("ops@example.com", 3),
        DesiredAccount("render@example.com", 5),
    ]
    assert isinstance(parse_accounts(ACCOUNTS)[1].max_jobs, int)


def test_an_empty_inventory_is_allowed() -> None:
    assert parse_accounts({}) == []


@pytest.mark.parametrize("raw", [None, [], "ops@example.com", 3])
def test_accounts_must_be_a_map(raw: Any) -> None:
    assert "must be a map of email" in problems_of(raw)[0]


@pytest.mark.parametrize(
    ("entry", "rule"),
    [
        ({"maxJobs": 0}, "maxJobs must be an integer from 1 to 8, got 0"),
        ({"maxJobs": 9}, "maxJobs must be an integer from 1 to 8, got 9"),
        ({"maxJobs": 2.5}, "maxJobs must be an integer from 1 to 8"),
        ({"maxJobs": "3"}, "maxJobs must be an integer from 1 to 8, got str"),
        ({"maxJobs": True}, "maxJobs must be an integer from 1 to 8, got bool"),
        ({}, "maxJobs is required"),
        (3, "entry must be a map"),
        (None, "entry must be a map"),
    ],
)
def test_a_bad_entry_is_named_by_its_email(entry: Any, rule: str) -> None:
    problems = problems_of({"ops@example.com": entry})
    assert len(problems) == 1
    assert problems[0].startswith(f"ops@example.com: {rule}")


def test_a_typo_in_an_entry_key_is_not_silently_ignored() -> None:
    problems = problems_of({"ops@example.com": {"maxJobs": 3, "maxjobs": 4}})
    assert problems == ["ops@example.com: unknown key(s) maxjobs; allowed: maxJobs"]


@pytest.mark.parametrize("email", ["not-an-email", "a@b", "a b@example.com", "@example.com"])
def test_an_invalid_email_is_named(email: str) -> None:
    problems = problems_of({email: {"maxJobs": 1}})
    assert problems[0].startswith(f"{email}: email must be an address")


def test_emails_differing_only_in_case_are_one_account_twice() -> None:
    problems = problems_of({"ops@example.com": {"maxJobs": 1}, "Ops@Example.com": {"maxJobs": 2}})
    assert len(problems) == 1
    assert "Ops@Example.com" in problems[0] and "ops@example.com" in problems[0]
    assert "differ only in case" in problems[0]


def test_every_problem_is_reported_at_once() -> None:
    problems = problems_of({"a@example.com": {"maxJobs": 0}, "b@example.com": {}, "bad": {}})
    assert [p.split(":", 1)[0] for p in problems] == ["a@example.com", "b@example.com", "bad"]


@given(
    st.dictionaries(
        st.one_of(st.text(max_size=30), st.integers(), st.booleans()),
        st.one_of(
            st.none(),
            st.integers(),
            st.dictionaries(
                st.sampled_from(["maxJobs", "maxjobs", "x"]),
                st.one_of(st.integers(-2, 12), st.floats(), st.text(max_size=3), st.none()),
            ),
        ),
        max_size=6,
    )
)
def test_any_yaml_shaped_inventory_is_accepted_or_rejected_without_crashing(
    raw: dict[Any, Any],
) -> None:
    """YAML allows keys that are numbers or booleans and values of any type: the result is
    either valid accounts or an InventoryError, never a crash. Random keys are rarely valid
    emails, so this mostly shows nothing crashed; the two tests below check the verdicts."""
    try:
        accounts = parse_accounts(raw)
    except InventoryError as exc:
        assert exc.problems
    else:
        assert all(1 <= a.max_jobs <= 8 and isinstance(a.max_jobs, int) for a in accounts)
        assert len({a.email.casefold() for a in accounts}) == len(accounts)


well_formed_emails = st.emails(
    domains=domains().filter(lambda domain: domain.rsplit(".", 1)[-1].isalpha())
).filter(lambda email: not email.casefold().startswith("defect"))
max_jobs_values = st.integers(1, 8) | st.integers(1, 8).map(float)


@st.composite
def valid_inventories(draw: st.DrawFn) -> dict[Any, Any]:
    emails = draw(st.lists(well_formed_emails, unique_by=str.casefold, max_size=5))
    return {email: {"maxJobs": draw(max_jobs_values)} for email in emails}


@given(raw=valid_inventories())
def test_a_valid_inventory_becomes_exactly_its_accounts(raw: dict[Any, Any]) -> None:
    assert parse_accounts(raw) == [
        DesiredAccount(email, int(raw[email]["maxJobs"])) for email in sorted(raw)
    ]


# Entries that must be rejected, each under an email of its own.
BAD_ENTRIES: st.SearchStrategy[Any] = st.one_of(
    st.fixed_dictionaries({"maxJobs": st.sampled_from([0, 9, 2.5, "3", True, None])}),
    st.just({"maxJobs": 3, "maxjobs": 4}),
    st.just({}),
    st.sampled_from([3, None, "maxJobs: 3", [3]]),
)


@st.composite
def defective_inventories(draw: st.DrawFn) -> tuple[dict[Any, Any], set[str]]:
    """A valid inventory plus at least one bad entry put in on purpose; the labels to name."""
    raw = draw(valid_inventories())
    named: set[str] = set()
    for n, entry in enumerate(draw(st.lists(BAD_ENTRIES, max_size=3))):
        raw[f"defect{n}@example.com"] = entry
        named.add(f"defect{n}@example.com")
    emails = [key for key in raw if not key.startswith("defect")]
    if draw(st.booleans()) and emails:
        twin = draw(st.sampled_from(emails)).swapcase()
        if twin not in raw:
            raw[twin] = {"maxJobs": 1}
            named.add(max(twin, twin.swapcase()))  # the later of the two, sorted, is named
    invalid_keys: list[Any] = draw(
        st.lists(st.sampled_from(["not-an-email", "a@b", "a b@x.com", 7]), max_size=2)
    )
    for key in invalid_keys:
        raw[key] = {"maxJobs": 1}
        named.add(str(key))
    if not named:
        raw[7] = {"maxJobs": 1}
        named.add("7")
    return raw, named


@given(inventory=defective_inventories())
def test_a_defective_inventory_fails_naming_exactly_the_bad_entries(
    inventory: tuple[dict[Any, Any], set[str]],
) -> None:
    raw, named = inventory
    problems = problems_of(raw)
    assert {problem.split(": ", 1)[0] for problem in problems} == named, problems


# -- secrets --------------------------------------------------------------------------------

DESIRED = parse_accounts(ACCOUNTS)
PASSWORDS = {"ops@example.com": PASSWORD_SENTINEL, "render@example.com": PASSWORD_SENTINEL + "2"}


def secret_problems(passwords: Any, tokens: Any = None) -> list[str]:
    with pytest.raises(InventoryError) as info:
        pair_secrets(DESIRED, passwords, tokens)
    for problem in info.value.problems:
        assert PASSWORD_SENTINEL not in problem and SESSION_TOKEN_SENTINEL not in problem
    assert PASSWORD_SENTINEL not in str(info.value)
    return info.value.problems


def test_each_account_gets_its_password_and_optional_token() -> None:
    paired = pair_secrets(DESIRED, PASSWORDS, {"render@example.com": SESSION_TOKEN_SENTINEL})
    assert paired == {
        "ops@example.com": AccountSecrets(PASSWORD_SENTINEL, None),
        "render@example.com": AccountSecrets(PASSWORD_SENTINEL + "2", SESSION_TOKEN_SENTINEL),
    }
    assert PASSWORD_SENTINEL not in repr(paired)
    assert SESSION_TOKEN_SENTINEL not in repr(paired)


def test_an_empty_token_means_no_token() -> None:
    paired = pair_secrets(DESIRED, PASSWORDS, {"ops@example.com": ""})
    assert paired["ops@example.com"].token is None


def test_an_account_without_a_password_says_how_to_set_it() -> None:
    problems = secret_problems({"ops@example.com": PASSWORD_SENTINEL})
    assert problems == [
        "render@example.com: has no password in `pixverse-accounts:passwords`; set it with "
        "pulumi config set --secret --path 'passwords[\"render@example.com\"]'"
    ]


def test_no_password_map_at_all_names_every_account() -> None:
    problems = secret_problems(None)
    assert [p.split(":", 1)[0] for p in problems] == ["ops@example.com", "render@example.com"]


def test_a_password_without_an_account_is_named() -> None:
    problems = secret_problems({**PASSWORDS, "ghost@example.com": PASSWORD_SENTINEL})
    assert problems == [
        "ghost@example.com: has a password in `pixverse-accounts:passwords` but no account in "
        "`pixverse-accounts:accounts`"
    ]


def test_a_token_without_an_account_is_named() -> None:
    problems = secret_problems(PASSWORDS, {"ghost@example.com": SESSION_TOKEN_SENTINEL})
    assert problems[0].startswith("ghost@example.com: has a token in `pixverse-accounts:tokens`")


def test_a_password_whose_email_differs_in_case_gets_a_hint() -> None:
    problems = secret_problems(
        {"OPS@example.com": PASSWORD_SENTINEL, "render@example.com": PASSWORD_SENTINEL}
    )
    assert "did you mean ops@example.com?" in problems[0]
    assert problems[1].startswith("ops@example.com: has no password")


@pytest.mark.parametrize(
    ("password", "rule"),
    [("", "password must not be empty"), (3, "password must be a string, got int")],
)
def test_a_bad_password_is_named_without_its_value(password: Any, rule: str) -> None:
    problems = secret_problems({**PASSWORDS, "ops@example.com": password})
    assert problems == [f"ops@example.com: {rule}"]


def test_a_secret_map_that_is_not_a_map_is_rejected() -> None:
    assert "must be a map of email" in secret_problems(PASSWORD_SENTINEL)[0]


DECLARED = [account.email for account in DESIRED]
# Keys no account declares: typos, leftovers, case variants, and what YAML makes of a bare key.
undeclared_keys = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["OPS@example.com", "ghost@example.com", "render@example.com "]),
    st.integers(),
).filter(lambda key: key not in DECLARED)
valid_passwords = st.text(min_size=1, max_size=30).map(lambda text: PASSWORD_SENTINEL + text)
valid_tokens = st.one_of(st.just(""), st.none(), st.text(max_size=30)).map(
    lambda text: text if not text else SESSION_TOKEN_SENTINEL + text
)


@st.composite
def matching_maps(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """A password for every declared email and tokens (if any) only for declared emails."""
    passwords = {email: draw(valid_passwords) for email in DECLARED}
    if draw(st.booleans()):
        return passwords, None
    holders = draw(st.lists(st.sampled_from(DECLARED), unique=True))
    return passwords, {email: draw(valid_tokens) for email in holders}


@given(maps=matching_maps())
def test_matching_secret_maps_pair_every_account_with_its_own_secrets(
    maps: tuple[dict[str, Any], dict[str, Any] | None],
) -> None:
    passwords, tokens = maps
    paired = pair_secrets(DESIRED, passwords, tokens)
    assert paired == {
        email: AccountSecrets(passwords[email], (tokens or {}).get(email) or None)
        for email in DECLARED
    }
    assert PASSWORD_SENTINEL not in repr(paired) and SESSION_TOKEN_SENTINEL not in repr(paired)


# What can be wrong with a declared email's secrets, and a hostile value for it.
PASSWORD_DEFECTS = st.one_of(
    st.none(),  # the same as missing
    st.just(""),
    st.integers(),
    st.lists(st.text(max_size=3), max_size=2),
    st.just(PASSWORD_SENTINEL + "x" * MAX_SECRET_LENGTH),
)
TOKEN_DEFECTS = st.one_of(
    st.integers(), st.booleans(), st.just(SESSION_TOKEN_SENTINEL * (MAX_SECRET_LENGTH // 10))
)


@st.composite
def defective_maps(
    draw: st.DrawFn,
) -> tuple[dict[Any, Any], dict[Any, Any] | None, set[str]]:
    """Matching maps with at least one defect put in on purpose, and the keys it must name."""
    matching_passwords, matching_tokens = draw(matching_maps())
    passwords: dict[Any, Any] = dict(matching_passwords)
    tokens: dict[Any, Any] = dict(matching_tokens or {})
    named: set[str] = set()
    for email in draw(st.lists(st.sampled_from(DECLARED), unique=True)):
        defect = draw(st.sampled_from(["missing password", "bad password", "bad token"]))
        if defect == "missing password":
            del passwords[email]
        elif defect == "bad password":
            passwords[email] = draw(PASSWORD_DEFECTS)
        else:
            tokens[email] = draw(TOKEN_DEFECTS)
        named.add(email)
    for secrets in (passwords, tokens):
        extras = draw(st.dictionaries(undeclared_keys, valid_passwords, max_size=2))
        secrets.update(extras)
        named.update(str(key) for key in extras)
    if not named:  # nothing drawn: put in one stray password
        passwords["ghost@example.com"] = PASSWORD_SENTINEL
        named.add("ghost@example.com")
    return passwords, tokens or None, named


@given(maps=defective_maps())
def test_defective_secret_maps_fail_naming_each_email_and_never_a_value(
    maps: tuple[dict[Any, Any], dict[Any, Any] | None, set[str]],
) -> None:
    passwords, tokens, named = maps
    problems = secret_problems(passwords, tokens)  # raises, and checks no sentinel is quoted
    for key in named:
        assert any(problem.startswith(f"{key}: ") for problem in problems), (key, problems)
    for problem in problems:
        assert any(problem.startswith(f"{key}: ") for key in named), (problem, named)


# -- jwtWarnDays ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "days"), [(None, DEFAULT_WARN_DAYS), ("", 7), ("14", 14), (3, 3), ("0.5", 0.5)]
)
def test_warn_days(raw: Any, days: float) -> None:
    assert parse_warn_days(raw) == days


@pytest.mark.parametrize("raw", ["-1", "soon", "nan", "inf", True])
def test_bad_warn_days_are_rejected(raw: Any) -> None:
    with pytest.raises(InventoryError, match="jwtWarnDays"):
        parse_warn_days(raw)


# -- minCredits -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "credits"), [(None, None), ("", None), ("500", 500), (0, 0), ("250.0", 250), (12, 12)]
)
def test_min_credits(raw: Any, credits: int | None) -> None:
    assert parse_min_credits(raw) == credits


@pytest.mark.parametrize("raw", ["-1", "1.5", "lots", "nan", "inf", True, [500]])
def test_bad_min_credits_are_rejected_naming_the_key(raw: Any) -> None:
    with pytest.raises(InventoryError) as caught:
        parse_min_credits(raw)
    assert caught.value.problems == [
        f"`pixverse-accounts:minCredits` must be a whole number of credits >= 0, got {raw!r}"
    ]


# -- the session report ----------------------------------------------------------------------

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def jwt_at(moment: datetime) -> dict[str, Any]:
    return {
        "AccountId": 1,
        "ExpireTime": int(moment.timestamp()),
        "ExpireTimeUTC": moment.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "Username": "ops",
    }


def test_the_summary_holds_username_expiry_and_max_jobs_only() -> None:
    jwt = {**jwt_at(NOW), "token": "eyJ…secured…"}
    assert account_summary(jwt, 3.0) == {
        "Username": "ops",
        "ExpireTimeUTC": "2026-01-01T00:00:00.000Z",
        "maxJobs": 3,
    }
    assert account_summary(None, 2) == {"Username": "", "ExpireTimeUTC": "", "maxJobs": 2}


def test_a_healthy_session_does_not_warn() -> None:
    assert session_warning("ops@example.com", jwt_at(NOW + timedelta(days=8)), NOW, 7) is None


def test_a_session_expiring_within_the_window_warns_with_email_and_time() -> None:
    warning = session_warning("ops@example.com", jwt_at(NOW + timedelta(days=2)), NOW, 7)
    assert warning == (
        "ops@example.com: the PixVerse session expires at 2026-01-03 00:00:00 UTC "
        "(in 2.0 days, within jwtWarnDays=7)"
    )
    soon = session_warning("ops@example.com", jwt_at(NOW + timedelta(hours=5)), NOW, 7)
    assert soon is not None and "in 5.0 hours" in soon


def test_an_expired_session_warns_with_email_and_time() -> None:
    warning = session_warning("ops@example.com", jwt_at(NOW - timedelta(days=1)), NOW, 7)
    assert warning is not None
    assert warning.startswith("ops@example.com: the PixVerse session expired at 2025-12-31")


def test_zero_warn_days_warns_only_for_expired_sessions() -> None:
    assert session_warning("a@example.com", jwt_at(NOW + timedelta(minutes=1)), NOW, 0) is None
    assert session_warning("a@example.com", jwt_at(NOW), NOW, 0) is not None


def test_no_session_or_an_unreadable_expiry_warns() -> None:
    assert "no PixVerse session" in str(session_warning("a@example.com", None, NOW, 7))
    unreadable = {"ExpireTimeUTC": "tomorrow", "Username": "a"}
    assert "unreadable" in str(session_warning("a@example.com", unreadable, NOW, 7))


def test_expiry_falls_back_to_the_iso_time() -> None:
    assert expires_at({"ExpireTimeUTC": "2026-01-02T00:00:00.000Z"}) == NOW + timedelta(days=1)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(None, False), ("", False), ("true", True), ("False", False), (True, True)],
)
def test_the_setting_reads_true_and_false(raw: object, expected: bool) -> None:
    assert parse_fail_on_expired(raw) is expected


def test_any_other_value_fails_naming_the_key() -> None:
    with pytest.raises(
        InventoryError, match=r"failOnExpiredSession` must be true or false, got 'yes'"
    ):
        parse_fail_on_expired("yes")
