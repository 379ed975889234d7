"""The inventory's life through the real engine: `pulumi preview/up/refresh/destroy` of the
project's own `__main__.py` on the file backend, against the emulator over HTTP.

Each test has its own project, backend folder and PULUMI_HOME, and destroys what it made even
when it fails. Requests are read from the emulator's record, so "the preview called nobody" and
"up did exactly what the diff said" are facts about the wire, not about the CLI's report.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli_support import (
    ACCOUNTS,
    PASSWORDS,
    PASSWORDS_KEY,
    TOKENS_KEY,
    CliProject,
)
from tests.support.helpers import PASSWORD_SENTINEL, SESSION_TOKEN_SENTINEL
from useapi_emulator import UseapiEmulator

pytestmark = pytest.mark.cli

OPS, RENDER, BATCH = "ops@example.com", "render@example.com", "batch@example.com"
FLEET = 12
FLEET_EMAILS = {f"fleet{i:02d}@example.com": 1 + i % 8 for i in range(FLEET)}
LIST_PATH = "/v2/pixverse/accounts"
# A delete first asks which jobs are running (and waits for them): this call, then the DELETE.
SCHEDULER = ("GET", "/v2/pixverse/scheduler/available")


def requests_made(emulator: UseapiEmulator) -> list[tuple[str, str | None]]:
    """(method, email) of each account call, (method, path) of any other."""
    return [
        (r.method, r.email if r.path.startswith(LIST_PATH) else r.path) for r in emulator.calls()
    ]


@pytest.mark.timeout(240)
def test_a_fleet_no_op_makes_no_call_and_a_refresh_at_most_two(
    project: CliProject, emulator: UseapiEmulator
) -> None:
    """The call counts a pipeline pays on every run, for a fleet of 12 (more than the SDK
    host's four workers): a no-op `up` and `preview` make no HTTP call, a refresh one list
    call, a destroy one DELETE per account and fewer looks at the running jobs than accounts
    (the deletes in flight together share one)."""
    project.seed(FLEET_EMAILS)
    created = project.up()
    assert created.summary()["created"] == sorted(FLEET_EMAILS)
    assert sorted(requests_made(emulator)) == sorted(("POST", e) for e in FLEET_EMAILS)

    emulator.reset_calls()
    again = project.up()
    assert again.summary()["unchanged"] == sorted(FLEET_EMAILS)
    planned = project.preview("--expect-no-changes")
    assert json.loads(planned.stdout)["changeSummary"] == {"same": FLEET + 1}  # + the stack
    assert emulator.calls() == []

    refreshed = project.refresh()
    assert refreshed.summary()["updated"] == []
    calls = emulator.calls()
    assert len(calls) <= 2, [(c.method, c.path) for c in calls]
    assert [(c.method, c.path) for c in calls][:1] == [("GET", LIST_PATH)]

    emulator.reset_calls()
    emulator.latency = 0.2  # the deletes overlap, as they do against the real API
    gone = project.destroy()
    assert gone.summary()["deleted"] == sorted(FLEET_EMAILS)
    made = requests_made(emulator)
    looks = made.count(SCHEDULER)
    assert sorted(made) == sorted([*(("DELETE", e) for e in FLEET_EMAILS), *[SCHEDULER] * looks])
    assert 1 <= looks < FLEET
    assert emulator.accounts == {}
    assert project.state_accounts() == []


@pytest.mark.timeout(300)
def test_inventory_edits_update_rename_remove_each_as_previewed(
    project: CliProject, emulator: UseapiEmulator
) -> None:
    project.seed({OPS: 3, RENDER: 5, BATCH: 2})
    previewed = project.preview()
    assert previewed.preview_summary()["created"] == sorted([OPS, RENDER, BATCH])
    assert emulator.calls() == [] and emulator.accounts == {}
    created = project.up()
    assert created.summary()["created"] == sorted([OPS, RENDER, BATCH])
    assert sorted(requests_made(emulator)) == sorted(("POST", e) for e in (OPS, RENDER, BATCH))
    assert project.outputs()["totalMaxJobs"] == 10

    # maxJobs changed: the preview says one update and calls nobody; up does exactly that.
    project.set_accounts({OPS: 8, RENDER: 5, BATCH: 2})
    emulator.reset_calls()
    planned = project.preview()
    assert planned.preview_summary()["updated"] == [OPS]
    assert json.loads(planned.stdout)["changeSummary"] == {"update": 1, "same": 3}  # + the stack
    assert emulator.calls() == []
    updated = project.up()
    assert updated.summary()["updated"] == [OPS]
    assert requests_made(emulator) == [("POST", OPS)]
    assert emulator.accounts[OPS].max_jobs == 8
    outputs = project.outputs()
    assert outputs["accounts"][OPS]["maxJobs"] == 8 and outputs["totalMaxJobs"] == 15

    # A password rotated: one POST with the new password, in place. State kept the old one
    # (encrypted), which is the only way the diff can see it changed: the API masks it.
    rotated = f"{PASSWORD_SENTINEL}-rotated"
    project.set_secret(PASSWORDS_KEY, RENDER, rotated)
    emulator.reset_calls()
    assert project.preview().preview_summary()["updated"] == [RENDER]
    project.up()
    posts = emulator.calls("POST")
    assert [r.email for r in posts] == [RENDER]
    assert posts[0].body is not None and posts[0].body["password"] == rotated

    # A session token added later: an update in place that sends it.
    project.set_secret(TOKENS_KEY, OPS, SESSION_TOKEN_SENTINEL)
    emulator.reset_calls()
    tokened = project.up()
    assert tokened.summary()["updated"] == [OPS]
    posts = emulator.calls("POST")
    assert [r.email for r in posts] == [OPS]
    assert posts[0].body is not None and posts[0].body["token"] == SESSION_TOKEN_SENTINEL

    # An email renamed in the inventory: a new resource name, so the engine creates the new
    # account and then deletes the old one (two different accounts on useapi.net).
    renamed = "render2@example.com"
    project.set_accounts({OPS: 8, renamed: 5, BATCH: 2})
    project.set_secret(PASSWORDS_KEY, renamed, PASSWORDS[RENDER])
    project.remove_secret(PASSWORDS_KEY, RENDER)
    emulator.reset_calls()
    moved = project.up()
    assert moved.summary()["created"] == [renamed]
    assert moved.summary()["deleted"] == [RENDER]
    assert requests_made(emulator) == [("POST", renamed), SCHEDULER, ("DELETE", RENDER)]

    # An account removed from the inventory is deleted, and only it.
    project.set_accounts({OPS: 8, renamed: 5})
    project.remove_secret(PASSWORDS_KEY, BATCH)
    emulator.reset_calls()
    removed = project.up()
    assert removed.summary()["deleted"] == [BATCH]
    assert requests_made(emulator) == [SCHEDULER, ("DELETE", BATCH)]
    assert sorted(emulator.accounts) == sorted([OPS, renamed])
    assert project.state_accounts() == sorted([OPS, renamed])
    assert project.outputs()["totalMaxJobs"] == 13


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("accounts", "named", "rule"),
    [
        ({"not-an-email": 3}, "not-an-email", "email must be an address"),
        ({OPS: 99}, OPS, "maxJobs must be an integer from 1 to 8"),
        ({OPS: 3, "OPS@example.com": 1}, "OPS@example.com", "differ only in case"),
    ],
    ids=["malformed-email", "maxJobs-out-of-range", "case-twins"],
)
def test_an_invalid_inventory_fails_preview_naming_it_and_calls_nobody(
    project: CliProject, emulator: UseapiEmulator, accounts: dict[str, int], named: str, rule: str
) -> None:
    project.seed(accounts)
    failed = project.preview(check=False)
    assert failed.returncode != 0
    assert named in failed.text and rule in failed.text
    assert "Traceback" not in failed.text
    assert emulator.calls() == []


@pytest.mark.timeout(120)
def test_a_secret_without_an_account_fails_before_any_api_call(
    project: CliProject, emulator: UseapiEmulator
) -> None:
    project.seed({OPS: 3})
    project.set_secret(PASSWORDS_KEY, "ghost@example.com", "x-pw")
    project.set_secret(TOKENS_KEY, "spectre@example.com", SESSION_TOKEN_SENTINEL)
    failed = project.up(check=False)
    assert failed.returncode != 0
    assert "ghost@example.com: has a password" in failed.text
    assert "spectre@example.com: has a token" in failed.text
    assert emulator.calls() == []


@pytest.mark.timeout(180)
def test_a_bad_inventory_after_a_good_one_deletes_nothing(
    project: CliProject, emulator: UseapiEmulator
) -> None:
    project.seed(ACCOUNTS)
    project.up()
    emulator.reset_calls()
    # Dropping the password map entirely must not read as "delete every account".
    project.run("config", "rm", PASSWORDS_KEY)
    failed = project.up(check=False)
    assert failed.returncode != 0
    assert f"{OPS}: has no password" in failed.text
    assert emulator.calls() == []
    assert sorted(emulator.accounts) == sorted(ACCOUNTS)
    assert project.state_accounts() == sorted(ACCOUNTS)


@pytest.mark.timeout(240)
def test_refresh_shows_drift_and_drops_a_deleted_account_then_up_repairs_both(
    project: CliProject, emulator: UseapiEmulator
) -> None:
    project.seed({OPS: 3, RENDER: 5, BATCH: 2})
    project.up()
    emulator.oob_set_max_jobs(RENDER, 1)
    emulator.oob_delete(BATCH)
    emulator.reset_calls()

    refreshed = project.refresh()
    assert refreshed.summary()["updated"] == [RENDER]
    assert refreshed.summary()["deleted"] == [BATCH]
    assert {method for method, _ in requests_made(emulator)} == {"GET"}
    assert project.state_accounts() == sorted([OPS, RENDER])

    # The stack still declares both: the next up puts them back, and only them.
    emulator.reset_calls()
    planned = project.preview()
    assert planned.preview_summary()["updated"] == [RENDER]
    assert planned.preview_summary()["created"] == [BATCH]
    repaired = project.up()
    assert repaired.summary()["updated"] == [RENDER]
    assert repaired.summary()["created"] == [BATCH]
    assert sorted(requests_made(emulator)) == sorted([("POST", RENDER), ("POST", BATCH)])
    assert emulator.accounts[RENDER].max_jobs == 5
    project.preview("--expect-no-changes")


@pytest.mark.timeout(240)
def test_one_failing_account_keeps_the_others_and_the_next_up_creates_only_it(
    project: CliProject, emulator: UseapiEmulator
) -> None:
    project.seed({OPS: 3, RENDER: 5, BATCH: 2})
    emulator.reject_login(RENDER)
    failed = project.up(check=False)
    assert failed.returncode != 0
    assert RENDER in failed.text and "PixVerse login failed" in failed.text
    assert project.state_accounts() == sorted([BATCH, OPS])

    emulator.rejected_logins.discard(RENDER)
    emulator.reset_calls()
    fixed = project.up()
    assert fixed.summary()["created"] == [RENDER]
    assert requests_made(emulator) == [("POST", RENDER)]


@pytest.mark.timeout(240)
def test_flaky_answers_during_up_are_retried_and_the_fleet_converges(
    project: CliProject, emulator: UseapiEmulator
) -> None:
    """A 503, a 429 with Retry-After and a dropped connection, each once, mid-deploy: the
    client retries them (POST is an upsert), so the engine sees three clean creates."""
    project.set_config({"useapi:maxRetries": "4"})  # one request may meet all three faults
    project.seed({OPS: 3, RENDER: 5, BATCH: 2})
    emulator.fail_next("POST", 503)
    emulator.fail_next("POST", 429, retry_after="1")
    emulator.drop_next("POST")
    created = project.up()
    assert created.summary()["created"] == sorted([OPS, RENDER, BATCH])
    assert emulator.pending_faults() == 0
    assert len(emulator.calls("POST")) == 3  # each account applied once
    assert emulator.attempts("POST") == 3 + 3  # and three retried attempts
    assert {e: a.max_jobs for e, a in emulator.accounts.items()} == {OPS: 3, RENDER: 5, BATCH: 2}
    project.preview("--expect-no-changes")


@pytest.mark.timeout(180)
def test_a_dead_api_fails_the_up_naming_the_account_and_changes_nothing(
    project: CliProject, emulator: UseapiEmulator
) -> None:
    project.seed({OPS: 3})
    project.up()
    project.set_accounts({OPS: 4})
    emulator.fail_next("POST", 503, times=10)  # more than maxRetries=1 allows
    failed = project.up(check=False)
    assert failed.returncode != 0
    assert OPS in failed.text and "503" in failed.text
    assert emulator.accounts[OPS].max_jobs == 3
    emulator.clear_faults()
    project.up()
    assert emulator.accounts[OPS].max_jobs == 4


ONE_ACCOUNT_PROGRAM = """
import pulumi
from provider import PixVerseAccount

config = pulumi.Config()
PixVerseAccount(
    "the-account",
    email=config.require("email"),
    password=config.require_secret("password"),
    max_jobs=2,
)
"""


@pytest.mark.timeout(180)
def test_an_email_change_on_one_resource_deletes_the_old_account_before_creating_the_new(
    tmp_path: Path, emulator: UseapiEmulator
) -> None:
    """The provider's replace (same resource, new email) as the real engine carries it out."""
    cli = CliProject(tmp_path / "one", emulator, program=ONE_ACCOUNT_PROGRAM)
    try:
        cli.init(**{"pixverse-accounts:email": OPS})
        cli.run("config", "set", "--secret", "password", stdin=PASSWORDS[OPS])
        cli.up()
        cli.set_config({"pixverse-accounts:email": RENDER})
        emulator.reset_calls()
        planned = cli.preview()
        assert planned.preview_summary()["replaced"] == ["the-account"]
        assert emulator.calls() == []
        replaced = cli.up()
        assert replaced.summary()["replaced"] == ["the-account"]
        assert requests_made(emulator) == [SCHEDULER, ("DELETE", OPS), ("POST", RENDER)]
        assert sorted(emulator.accounts) == [RENDER]
    finally:
        cli.cleanup()
