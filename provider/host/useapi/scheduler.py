"""`GET /pixverse/scheduler/available`, read tolerantly: the jobs running through the API and,
per configured account, how many of them it is executing.

One call answers for the whole fleet. The docs' model makes every field optional, and the rule
the delete follows is theirs: an answer that does not list the account, or lists it without
`executing`, means nothing is running on it. The job list is used only to *name* the jobs in
a message: its ids carry the account's email in the docs' samples
(`user:<id>-pixverse:<email>-video:<id>`), but that is a sample, not a promised format, so it
never decides whether an account is busy. Older pages of the docs call a job's id `video_id`;
both spellings are read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .answers import UseapiError, _malformed_field, _optional_text, _optional_whole

WHERE = "the scheduler's answer"
JOB_ID_KEYS = ("id", "video_id")


@dataclass(frozen=True)
class Job:
    """One job running through the API, as far as the answer tells."""

    id: str | None = None
    type: str | None = None
    started: str | None = None
    elapsed: str | None = None

    def names(self, email: str) -> bool:
        """Whether the job's id names this account (`…-pixverse:<email>-…`)."""
        return self.id is not None and f"pixverse:{email}-".casefold() in self.id.casefold()


@dataclass(frozen=True)
class AccountLoad:
    """One account's entry in `available`: configured maxJobs, executing, free slots."""

    email: str
    max_jobs: int | None = None
    executing: int | None = None
    available: int | None = None


@dataclass(frozen=True)
class Scheduler:
    """The whole answer: the running jobs and each listed account's load."""

    jobs: tuple[Job, ...] = ()
    accounts: dict[str, AccountLoad] = field(default_factory=dict)

    def load_of(self, email: str) -> AccountLoad | None:
        """The account's entry (an email differing only in case still matches: useapi.net
        might echo it as typed when it was configured)."""
        found = self.accounts.get(email)
        if found is not None:
            return found
        folded = email.casefold()
        return next((a for e, a in self.accounts.items() if e.casefold() == folded), None)

    def executing(self, email: str) -> int:
        """Jobs running on the account; 0 when it is not listed or its count is missing."""
        load = self.load_of(email)
        return max(0, load.executing or 0) if load is not None else 0

    def jobs_of(self, email: str) -> list[Job]:
        """The running jobs whose id names the account (to name them; see the module doc)."""
        return [job for job in self.jobs if job.names(email)]


def _list(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _malformed_field(WHERE, key, "a list", value)
    return value


def _object(item: Any, key: str) -> Mapping[str, Any]:
    if not isinstance(item, dict):
        raise _malformed_field(WHERE, f"{key}[]", "an object", item)
    return item


def _job(item: Any) -> Job:
    data = _object(item, "executing")
    job_id = next(
        (text for key in JOB_ID_KEYS if (text := _optional_text(data, key, WHERE)) is not None),
        None,
    )
    return Job(
        id=job_id,
        type=_optional_text(data, "type", WHERE),
        started=_optional_text(data, "started", WHERE),
        elapsed=_optional_text(data, "elapsed", WHERE),
    )


def parse_scheduler(data: Any) -> Scheduler:
    """Typed answer; only a wrong shape or type is an error. An entry without an email names
    no account and is skipped; an account listed twice keeps its busiest entry."""
    if not isinstance(data, dict):
        raise UseapiError(f"expected the scheduler object, got {type(data).__name__}")
    jobs = tuple(_job(item) for item in _list(data, "executing"))
    accounts: dict[str, AccountLoad] = {}
    for item in _list(data, "available"):
        entry = _object(item, "available")
        email = _optional_text(entry, "email", WHERE)
        if email is None:
            continue
        load = AccountLoad(
            email=email,
            max_jobs=_optional_whole(entry, "maxJobs", WHERE),
            executing=_optional_whole(entry, "executing", WHERE),
            available=_optional_whole(entry, "available", WHERE),
        )
        before = accounts.get(email)
        if before is None or (load.executing or 0) > (before.executing or 0):
            accounts[email] = load
    return Scheduler(jobs=jobs, accounts=accounts)
