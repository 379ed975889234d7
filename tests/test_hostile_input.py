"""Hostile input: every value gets a clear failure or is accepted, never an unhandled error.

Property-based (hypothesis) against the rules in provider/validation.py, the provider's
`check` called directly (fast), the settings parser and the client's answer parsing, plus a
few of the nastiest values over the wire through the real provider host, where they arrive
as the engine sends them (numbers as doubles, unknowns at preview).
"""

from __future__ import annotations

import math
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.provisional import domains
from pulumi.output import Unknown
from pulumi.runtime import rpc

from provider import PixVerseAccountProvider
from provider.host import validation
from provider.host.settings import ProviderSettings, SettingsError, resolve_settings
from provider.host.useapi.client import (
    Account,
    UseapiError,
    parse_account,
    parse_account_map,
)
from tests.conftest import HostFactory, stack_config
from tests.support.helpers import PASSWORD_SENTINEL, SERIALIZED_PROVIDER, account_inputs
from useapi_emulator import UseapiEmulator

# Modest and without deadlines: the whole module runs in seconds on two loaded cores.
settings.register_profile(
    "pixverse-hostile",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
HOSTILE = settings.get_profile("pixverse-hostile")

PROPS = ("email", "password", "maxJobs", "token")
SECRET_PROPS = ("password", "token")

# -- strategies ---------------------------------------------------------------------------

odd_text = st.one_of(
    st.text(),  # any unicode, control characters included
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=300),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "a@b",
            "a@b.c",
            "@example.com",
            "ops@",
            "ops@@example.com",
            "ops@example..com",
            ".ops@example.com",
            "ops.@example.com",
            "ops@example.com\n",
            " ops@example.com",
            "ops@exämple.com",
            "öps@example.com",
            "ops@-example.com",
            "ops@example.c",
            "ops@" + "a" * 64 + ".com",
            "a" * 250 + "@example.com",
            "ops@example.com" + "\u202e",
            "ops%40example.com",
            "ops@example.com/../../accounts",
            "ops@example.com?x=1",
            "'; DROP TABLE accounts; --@example.com",
            "\ud7ff@example.com",
            "ops@" + "a-" * 120 + "a.com",
        ]
    ),
)
huge_text = st.sampled_from(["x" * 10_000, "é" * 100_000, "a@" + "b" * 1_000_000 + ".com"])
odd_numbers = st.one_of(
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),  # nan, inf, -0.0, subnormals ...
    st.sampled_from([3.0, 3.5, 0.0, -0.0, 8.0, 8.000001, 1e308, -1e308, 2.0**53 + 1, 10**400]),
    st.booleans(),
)
odd_values = st.one_of(
    st.none(),
    odd_text,
    huge_text,
    odd_numbers,
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    st.just(rpc.UNKNOWN),
    st.builds(Unknown),
    st.binary(max_size=20),
)
some_props = st.dictionaries(st.sampled_from(PROPS), odd_values)


# -- the rules ----------------------------------------------------------------------------

RULES = {
    "email": validation.email_problem,
    "password": validation.password_problem,
    "maxJobs": validation.max_jobs_problem,
    "token": validation.token_problem,
}


# Addresses the email rule must accept: hypothesis's RFC 5322 addresses, punycode top-level
# domains (`xn--p1ai`) included.
well_formed_emails = st.emails(domains=domains())


def _broken(email: str, how: str) -> str:
    local, domain = email.rsplit("@", 1)
    return {
        "no @": local + domain,
        "two @": f"{local}@@{domain}",
        "space": f"{local} x@{domain}",
        "no dot in the domain": f"{local}@{domain.replace('.', '')}",
        "double dot": f"{local}@{domain.replace('.', '..', 1)}",
        "leading dot": f".{email}",
        "dot before @": f"{local}.@{domain}",
        "trailing newline": email + "\n",
        "too long": "a" * 250 + email,
    }[how]


broken_emails = st.builds(
    _broken,
    well_formed_emails,
    st.sampled_from(
        [
            "no @",
            "two @",
            "space",
            "no dot in the domain",
            "double dot",
            "leading dot",
            "dot before @",
            "trailing newline",
            "too long",
        ]
    ),
)
# Neither text nor None: what YAML or a wire value can be instead of a string.
not_text = st.one_of(
    st.integers(), st.floats(), st.booleans(), st.binary(max_size=5), st.lists(st.none())
)
too_long_secret = st.integers(1, 50).map(lambda n: "s" * (validation.MAX_SECRET_LENGTH + n))

# Per rule: values it must accept, and values it must reject (the boundaries always tried).
VALID: dict[str, st.SearchStrategy[Any]] = {
    "email": well_formed_emails,
    "password": st.sampled_from(["p", "p" * validation.MAX_SECRET_LENGTH])
    | st.text(min_size=1, max_size=200),
    "maxJobs": st.sampled_from([1, 8, 1.0, 8.0]) | st.integers(1, 8),
    "token": st.sampled_from([None, "", "t" * validation.MAX_SECRET_LENGTH])
    | st.text(max_size=200),
}
INVALID: dict[str, st.SearchStrategy[Any]] = {
    "email": broken_emails | not_text,
    "password": st.sampled_from([""]) | too_long_secret | not_text,
    "maxJobs": st.one_of(
        st.sampled_from([0, 9, 0.0, 9.0, 8.5, True, False, "3", None]),
        st.integers(max_value=0),
        st.integers(min_value=9),
        st.floats().filter(lambda f: not (math.isfinite(f) and f.is_integer() and 1 <= f <= 8)),
    ),
    "token": too_long_secret | not_text,
}


@pytest.mark.parametrize("prop", sorted(RULES))
@HOSTILE
@given(data=st.data())
def test_every_rule_accepts_what_it_must(prop: str, data: st.DataObject) -> None:
    value = data.draw(VALID[prop], label=prop)
    assert RULES[prop](value) is None, value


@pytest.mark.parametrize("prop", sorted(RULES))
@HOSTILE
@given(data=st.data())
def test_every_rule_rejects_what_it_must_with_a_reason_naming_it(
    prop: str, data: st.DataObject
) -> None:
    value = data.draw(INVALID[prop], label=prop)
    reason = RULES[prop](value)
    assert reason is not None, value
    assert prop in reason and len(reason) < 400
    if prop in SECRET_PROPS and isinstance(value, str) and value:
        assert value not in reason  # a rule never quotes a password or token


@HOSTILE
@given(value=odd_values, prop=st.sampled_from(sorted(RULES)))
def test_any_value_gets_none_or_a_short_reason_quoting_no_secret(prop: str, value: Any) -> None:
    """Shape only, for any value at all (the verdicts are checked by the two tests above)."""
    reason = RULES[prop](value)
    assert reason is None or (isinstance(reason, str) and prop in reason and len(reason) < 400)
    if prop in SECRET_PROPS and reason is not None and isinstance(value, str) and value:
        assert value not in reason


@HOSTILE
@given(value=odd_numbers)
def test_max_jobs_accepts_exactly_the_integers_one_to_eight(value: Any) -> None:
    reason = validation.max_jobs_problem(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        ok = False
    elif isinstance(value, float):
        ok = math.isfinite(value) and value.is_integer() and 1 <= value <= 8
    else:
        ok = 1 <= value <= 8
    assert (reason is None) == ok, (value, reason)
    if ok:
        assert validation.as_max_jobs(value) == int(value)


@pytest.mark.parametrize(
    "value",
    [math.nan, math.inf, -math.inf, 3.5, 0.0, 9.0, 10**5000],
    ids=["nan", "inf", "-inf", "3.5", "0.0", "9.0", "5000-digit int"],
)
def test_max_jobs_failures_say_the_rule(value: Any) -> None:
    reason = validation.max_jobs_problem(value)
    assert reason is not None and reason.startswith("maxJobs must be an integer from 1 to 8")


@HOSTILE
@given(email=well_formed_emails)
def test_well_formed_emails_are_accepted(email: str) -> None:
    assert validation.email_problem(email) is None


@HOSTILE
@given(email=broken_emails)
def test_broken_emails_are_rejected_naming_the_rule(email: str) -> None:
    reason = validation.email_problem(email)
    assert reason is not None and reason.startswith("email must")


def test_the_email_rule_is_fast_on_its_worst_cases() -> None:
    started = time.monotonic()
    for evil in ("a@" + "a" * 250, "a@" + "a-" * 125, "a@" + "a." * 125, "a" * 253 + "@"):
        assert validation.email_problem(evil) is not None
    assert time.monotonic() - started < 0.5


# -- check, called directly ---------------------------------------------------------------


@pytest.fixture(scope="module")
def provider() -> PixVerseAccountProvider:
    return PixVerseAccountProvider()


@HOSTILE
@given(news=some_props, olds=some_props)
def test_check_never_raises_and_names_each_bad_property(
    provider: PixVerseAccountProvider, news: dict[str, Any], olds: dict[str, Any]
) -> None:
    result = provider.check(olds, {**news, "__provider": SERIALIZED_PROVIDER})
    failures = {f.property: f.reason for f in result.failures}
    for prop, reason in failures.items():
        assert prop in PROPS and prop in reason
        value = news.get(prop)
        if prop in SECRET_PROPS and isinstance(value, str) and value:
            assert value not in reason
    for prop in PROPS:  # each property fails exactly when its rule (tested above) says so
        value = news.get(prop)
        if isinstance(value, Unknown) or value == rpc.UNKNOWN:
            assert prop not in failures  # preview: checked again once known
        elif value is None:
            assert (prop in failures) == (prop != "token")  # required, but for the token
        else:
            assert (prop in failures) == (RULES[prop](value) is not None), (prop, value)
    if not failures:
        inputs = result.inputs
        for prop in PROPS:
            value = inputs.get(prop)
            if isinstance(value, Unknown) or value == rpc.UNKNOWN:
                continue  # preview: checked again once known
            if prop == "maxJobs":
                assert type(value) is int and 1 <= value <= 8
            elif prop == "token":
                assert value is None or (isinstance(value, str) and value)
            else:
                assert isinstance(value, str) and value


@HOSTILE
@given(max_jobs=st.sampled_from([1.0, 3.0, 8.0, 1, 8]))
def test_check_normalises_wire_doubles_to_int(
    provider: PixVerseAccountProvider, max_jobs: Any
) -> None:
    result = provider.check({}, account_inputs(max_jobs=max_jobs))
    assert result.failures == [] and result.inputs["maxJobs"] == int(max_jobs)
    assert type(result.inputs["maxJobs"]) is int


# -- over the wire, through the provider host -------------------------------------------------


WIRE_CASES: list[tuple[dict[str, Any], set[str]]] = [
    ({"maxJobs": math.nan}, {"maxJobs"}),
    ({"maxJobs": math.inf}, {"maxJobs"}),
    ({"maxJobs": 3.5}, {"maxJobs"}),
    ({"maxJobs": "3"}, {"maxJobs"}),
    ({"maxJobs": None}, {"maxJobs"}),
    ({"maxJobs": [3]}, {"maxJobs"}),
    ({"email": "öps@exämple.com", "password": ""}, {"email", "password"}),
    ({"email": "a@" + "b" * 100_000 + ".com"}, {"email"}),
    ({"email": {"nested": "ops@example.com"}, "password": 12345}, {"email", "password"}),
    ({"password": "p" * 5000, "token": ["x"]}, {"password", "token"}),
    ({"maxJobs": 3.0, "password": "ünïcødé \x00 pass"}, set()),
]


def test_hostile_values_over_the_wire_fail_cleanly(
    emulator: UseapiEmulator, start_host: HostFactory
) -> None:
    host = start_host(stack_config(emulator))
    for overrides, bad in WIRE_CASES:
        news = {**account_inputs(), **overrides}
        if news.get("maxJobs") is None:
            news.pop("maxJobs", None)
        checked = host.check("ops@example.com", {}, news)
        assert {p for p, _ in checked.failures} == bad, (overrides, checked.failures)
        for _, reason in checked.failures:
            assert PASSWORD_SENTINEL not in reason and len(reason) < 400
    assert emulator.calls() == []  # check never calls the API
    assert "Traceback" not in host.stderr


def test_a_valid_hostile_password_round_trips_through_create(
    emulator: UseapiEmulator, start_host: HostFactory
) -> None:
    host = start_host(stack_config(emulator))
    password = 'ünïcødé \x00 "quoted" \\ pass \u202e'
    checked = host.check("ops@example.com", {}, account_inputs(password=password, max_jobs=3.0))
    assert checked.failures == []
    _, outs = host.create("ops@example.com", checked.inputs)
    assert outs["password"] == password
    assert emulator.accounts["ops@example.com"].password == password


# -- settings -----------------------------------------------------------------------------


@HOSTILE
@given(
    timeout=st.one_of(st.none(), odd_text, st.floats().map(str), st.integers().map(str)),
    retries=st.one_of(st.none(), odd_text, st.floats().map(str), st.integers().map(str)),
    base_url=st.one_of(st.none(), odd_text),
)
@example(timeout="1e308", retries="0", base_url=None)  # once an OverflowError mid-request
@example(timeout="nan", retries="inf", base_url="ftp://x")
@example(timeout="-1", retries="2.5", base_url="http://" + "x" * 10_000)
def test_settings_resolve_or_fail_naming_the_key(
    timeout: str | None, retries: str | None, base_url: str | None
) -> None:
    config = {
        "useapi:token": "t",
        "useapi:timeout": timeout,
        "useapi:maxRetries": retries,
        "useapi:baseUrl": base_url,
    }
    try:
        resolved = resolve_settings(config, {})
    except SettingsError as exc:
        assert "useapi:" in str(exc) and len(str(exc)) < 400
        return
    assert isinstance(resolved, ProviderSettings)
    assert 0 < resolved.timeout <= 3600 and 0 <= resolved.max_retries <= 20


# -- the client's answer parsing ------------------------------------------------------------

json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(max_size=20),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.sampled_from(
                ["email", "maxJobs", "jwt", "AccountId", "ExpireTime", "ExpireTimeUTC", "Username"]
            )
            | st.text(max_size=5),
            children,
            max_size=6,
        ),
    ),
    max_leaves=20,
)
account_like = st.fixed_dictionaries(
    {},
    optional={
        "email": json_values,
        "maxJobs": json_values | st.integers(1, 8),
        "jwt": json_values
        | st.fixed_dictionaries(
            {},
            optional={
                "AccountId": json_values,
                "ExpireTime": json_values,
                "ExpireTimeUTC": json_values,
                "Username": json_values,
            },
        ),
    },
)


@HOSTILE
@given(answer=json_values | account_like)
def test_any_answer_parses_or_is_a_useapi_error(answer: Any) -> None:
    try:
        account = parse_account(answer, "ops@example.com")
    except UseapiError as exc:
        assert str(exc) and len(str(exc)) < 400
        return
    assert isinstance(account, Account)
    # Left out (every field is optional): None, for the caller to fill from what it knows.
    if isinstance(answer, dict) and answer.get("maxJobs") is None:
        assert account.max_jobs is None
    else:
        assert type(account.max_jobs) is int


@HOSTILE
@given(answer=json_values | st.dictionaries(st.text(max_size=10), account_like, max_size=3))
def test_any_account_list_parses_or_is_a_useapi_error(answer: Any) -> None:
    try:
        accounts = parse_account_map(answer)
    except UseapiError:
        return
    assert all(isinstance(a, Account) for a in accounts.values())


@pytest.mark.parametrize(
    ("email", "accepted"),
    [
        ("ops@example.xn--p1ai", True),  # .рф in its punycode form
        ("ops@example.XN--P1AI", True),
        ("ops@example.xn--", False),
        ("ops@example.xn--p1ai-", False),
        ("ops@example.c0m", False),
    ],
)
def test_punycode_top_level_domains_are_addresses(email: str, accepted: bool) -> None:
    assert (validation.email_problem(email) is None) is accepted
