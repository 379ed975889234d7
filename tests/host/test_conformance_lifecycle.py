"""The whole lifecycle under each form useapi.net's docs allow, through the SDK's provider host.

Each test drives `pulumi up` / `refresh` / `destroy` the way the engine does
(tests/reliability_support.py: one real provider host per operation, spoken to over gRPC)
against the emulator over sockets, with one of its variants switched on, and checks what ends
up in state and on the service.
"""

from __future__ import annotations

import pytest

from tests.conftest import HostFactory, stack_config
from tests.support.helpers import PASSWORD_SENTINEL
from tests.support.reliability_support import SimulatedStack, desired_accounts
from useapi_emulator import Fault, UseapiEmulator, Variants

pytestmark = pytest.mark.timeout(60)
PLUS = "ops+a@example.com"
GONE, KEPT = "gone@example.com", "kept@example.com"
SHAPES = ["json", "text", "empty"]


def _stack(emulator: UseapiEmulator, start_host: HostFactory, **overrides: str) -> SimulatedStack:
    return SimulatedStack(lambda cfg: start_host(cfg), stack_config(emulator, **overrides))


def _two_accounts(
    emulator: UseapiEmulator, start_host: HostFactory, variants: Variants, **overrides: str
) -> SimulatedStack:
    """A stack that has created GONE and KEPT, with the emulator serving `variants`."""
    emulator.variants = variants
    stack = _stack(emulator, start_host, **overrides)
    assert stack.up(desired_accounts([GONE, KEPT])).created == [GONE, KEPT]
    return stack


# -- 1. the email in the path, taken literally -----------------------------------------------------


def test_the_whole_lifecycle_of_a_plus_address_where_the_path_is_taken_literally(
    emulator: UseapiEmulator, start_host: HostFactory
) -> None:
    emulator.variants = Variants(literal_path=True)
    stack = _stack(emulator, start_host)
    assert stack.up(desired_accounts([PLUS])).created == [PLUS]
    assert emulator.accounts[PLUS].max_jobs == 3
    assert stack.refresh() == {PLUS: "same"}
    emulator.oob_set_max_jobs(PLUS, 6)
    assert stack.refresh() == {PLUS: "changed"}
    assert stack.up(desired_accounts([PLUS], max_jobs=5)).updated == [PLUS]
    assert emulator.accounts[PLUS].max_jobs == 5
    assert stack.destroy().deleted == [PLUS]
    assert stack.state == {} and emulator.accounts == {} and stack.errors == []
    assert {r.email for r in emulator.calls() if r.email} == {PLUS}
    assert {r.path for r in emulator.calls() if r.email} == {f"/v2/pixverse/accounts/{PLUS}"}


# -- 3. every 404 shape the API may use means gone ---------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(
    ("deleted", "seen"),
    [
        ([GONE], {GONE: "gone", KEPT: "same"}),
        ([GONE, KEPT], {GONE: "gone", KEPT: "gone"}),
    ],
    ids=["one gone one kept", "the list is a 404"],
)
def test_refresh_drops_exactly_the_accounts_gone(
    emulator: UseapiEmulator,
    start_host: HostFactory,
    shape: str,
    deleted: list[str],
    seen: dict[str, str],
) -> None:
    stack = _two_accounts(emulator, start_host, Variants(not_found=shape))
    for email in deleted:
        emulator.oob_delete(email)
    emulator.reset_calls()
    assert stack.refresh() == seen
    assert set(stack.state) == {KEPT} - set(deleted) and stack.errors == []
    # One list read (a 404 in `shape` once every account is gone); each account missing from
    # it is confirmed with its own GET, which answered 404 in `shape` too.
    assert [r.email for r in emulator.calls("GET")] == [None, *deleted]


@pytest.mark.parametrize("shape", SHAPES)
def test_destroy_of_an_account_already_gone_succeeds(
    emulator: UseapiEmulator, start_host: HostFactory, shape: str
) -> None:
    stack = _two_accounts(emulator, start_host, Variants(not_found=shape))
    emulator.oob_delete(GONE)
    result = stack.destroy()
    assert (result.deleted, result.failed) == ([GONE, KEPT], {})
    assert stack.state == {} and emulator.accounts == {}


@pytest.mark.parametrize("shape", SHAPES)
def test_a_wrong_base_url_fails_refresh_and_destroy_and_loses_nothing(
    emulator: UseapiEmulator, start_host: HostFactory, shape: str
) -> None:
    """Its web server's HTML 404 is never read as "gone", whatever shape the API's own takes."""
    stack = _two_accounts(emulator, start_host, Variants(not_found=shape, website_404=True))
    before = {name: entry.outputs for name, entry in stack.state.items()}
    stack.config["useapi:baseUrl"] = f"{emulator.root_url}/api/v2"  # a typo'd API root

    seen = stack.refresh()
    assert set(seen) == {GONE, KEPT}
    for error in seen.values():
        assert "HTTP 404" in error and "web page (text/html)" in error
        assert "useapi:baseUrl" in error
    destroyed = stack.destroy()
    assert destroyed.deleted == [] and set(destroyed.failed) == {GONE, KEPT}
    assert all("useapi:baseUrl" in error for error in destroyed.failed.values())
    assert {name: entry.outputs for name, entry in stack.state.items()} == before
    assert set(emulator.accounts) == {GONE, KEPT}


# -- 2. a tolerant reader --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("omit", "jwt"),
    [
        ({"jwt"}, None),
        # An empty session object is a session with nothing known, not "no session": `{}`.
        (
            {"jwt.AccountId", "jwt.ExpireTime", "jwt.ExpireTimeUTC", "jwt.Username", "jwt.token"},
            set(),
        ),
        ({"jwt.AccountId", "jwt.ExpireTime", "jwt.token"}, {"ExpireTimeUTC", "Username"}),
        ({"jwt.ExpireTime", "jwt.ExpireTimeUTC"}, {"AccountId", "Username"}),
        ({"maxJobs", "email"}, {"AccountId", "ExpireTime", "ExpireTimeUTC", "Username"}),
    ],
    ids=["no jwt", "empty jwt", "no id, epoch or token", "no expiry", "no maxJobs or email"],
)
def test_create_and_refresh_keep_what_the_answer_has(
    emulator: UseapiEmulator, start_host: HostFactory, omit: set[str], jwt: set[str] | None
) -> None:
    emulator.variants = Variants(omit=frozenset(omit))
    stack = _stack(emulator, start_host)
    assert stack.up(desired_accounts([PLUS], max_jobs=4)).created == [PLUS]
    created = stack.state[PLUS].outputs
    assert stack.refresh() == {PLUS: "same"} and stack.errors == []
    for outputs in (created, stack.state[PLUS].outputs):
        assert outputs["email"] == PLUS and outputs["password"] == PASSWORD_SENTINEL
        assert outputs["maxJobs"] == 4  # sent (create), then kept from state (refresh)
        session = outputs.get("jwt")  # a None output does not survive the wire: absent
        if jwt is None:
            assert session is None
        else:
            assert session is not None and set(session) == jwt
            assert None not in session.values()
    assert stack.state[PLUS].inputs["maxJobs"] == 4


def test_a_refresh_without_max_jobs_anywhere_fails_instead_of_guessing(
    emulator: UseapiEmulator, start_host: HostFactory
) -> None:
    """A read with no old outputs (as `Resource.get` sends) cannot fall back on state."""
    emulator.variants = Variants(omit=frozenset({"maxJobs"}))
    stack = _stack(emulator, start_host)
    stack.up(desired_accounts([PLUS]))
    stack.state[PLUS].outputs.pop("maxJobs")
    error = stack.refresh()[PLUS]
    assert "has no maxJobs and state holds none" in error and PLUS in error
    assert PLUS in stack.state


# -- 4. DELETE's answer, and the statuses documented across useapi.net -------------------------


@pytest.mark.parametrize("answer", ["204", "200-json", "200-empty"])
def test_destroy_accepts_each_answer_delete_may_give(
    emulator: UseapiEmulator, start_host: HostFactory, answer: str
) -> None:
    stack = _two_accounts(emulator, start_host, Variants(delete_answer=answer))
    result = stack.destroy()
    assert (result.deleted, result.failed) == ([GONE, KEPT], {})
    assert stack.state == {} and emulator.accounts == {}


def test_an_expired_subscription_fails_each_call_once_and_state_keeps_everything(
    emulator: UseapiEmulator, start_host: HostFactory
) -> None:
    stack = _two_accounts(emulator, start_host, Variants(), **{"useapi:maxRetries": "3"})
    before = {name: entry.outputs for name, entry in stack.state.items()}
    emulator.subscription_expired = True
    emulator.reset_calls()

    failed = stack.up(desired_accounts([GONE, KEPT], max_jobs=5)).failed
    refreshed = stack.refresh()
    destroyed = stack.destroy().failed
    for error in (*failed.values(), *refreshed.values(), *destroyed.values()):
        assert "HTTP 402" in error and "subscription has expired" in error and "renew" in error
    assert set(failed) == set(refreshed) == set(destroyed) == {GONE, KEPT}
    # Never retried: two POSTs, one list then two GETs, two DELETEs.
    assert emulator.attempts() == 7
    assert {name: entry.outputs for name, entry in stack.state.items()} == before
    assert {a.max_jobs for a in emulator.stored()} == {3}


def test_an_account_in_error_fails_alone_with_what_a_person_must_do(
    emulator: UseapiEmulator, start_host: HostFactory
) -> None:
    stack = _two_accounts(emulator, start_host, Variants(), **{"useapi:maxRetries": "3"})
    emulator.mark_error(GONE, "refresh token rejected")
    emulator.inject("GET", Fault(status=596))  # the list too: reads fall back to one GET each

    seen = stack.refresh()
    assert seen[KEPT] == "same" and GONE in stack.state  # an error never drops state
    assert "HTTP 596" in seen[GONE] and "refresh token rejected" in seen[GONE]
    assert "sign in to PixVerse" in seen[GONE]

    result = stack.up(desired_accounts([GONE, KEPT], max_jobs=5))
    assert result.updated == [KEPT] and list(result.failed) == [GONE]
    assert "HTTP 596" in result.failed[GONE] and "delete the account" in result.failed[GONE]
    assert len([r for r in emulator.calls("POST") if r.email == GONE]) == 1 + 1  # create + one
