"""Before an account is deleted, let the jobs running on it finish.

useapi.net's docs do not say what becomes of a job whose account configuration is deleted
under it; the owner of a fleet does not want to find out from a customer. So a delete first
asks `GET /scheduler/available` (one call answers for the whole fleet) and, while the account
has jobs executing, asks again every `useapi:drainPollInterval` seconds, up to
`useapi:drainTimeout` seconds in all. Past that the delete fails, naming the account and its
jobs, before any DELETE is sent: the account stays on useapi.net and in the stack's state, and
the next `pulumi up` or `destroy` tries again. `drainTimeout` 0 means "do not wait": busy
fails at once, idle deletes.

A call that cannot tell (useapi.net failing, an answer that cannot be the API's) fails the
delete the same way: not knowing is not the same as nothing running.

Deletes in flight together share their looks: the provider hands `wait_for_jobs` a `look`
that joins the `GET /scheduler/available` already in flight, if there is one, and sends one
otherwise (`single_flight`). A look never takes an answer that was already complete when it
asked, so the answer a delete goes by was still being fetched when it asked: a job started just
before that can be missed by at most one round trip more than with a GET of its own. What it
saves: a `destroy` of N accounts makes about N + N / parallelism calls instead of 2N.

The wait runs in the engine's call, so it holds one of the provider host's workers (the host
has one for every step the engine runs at once). The look, the clock and the sleep are
arguments, so the timing rules are tested without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from .settings import DRAIN_TIMEOUT
from .useapi.answers import UseapiError

if TYPE_CHECKING:
    from .useapi.scheduler import Job, Scheduler

# A message names this many jobs, then counts the rest.
JOBS_NAMED = 5


class JobsStillRunning(UseapiError):
    """The account still runs jobs after the wait; it was not deleted."""

    def __init__(self, message: str, *, email: str, running: int, jobs: list[str]) -> None:
        super().__init__(message, email=email)
        self.running = running
        self.jobs = jobs


def _job_text(job: Job) -> str:
    text = job.id or "a job"
    details = [part for part in (job.type, f"running {job.elapsed}" if job.elapsed else "") if part]
    return f"{text} ({', '.join(details)})" if details else text


def _still_running(email: str, running: int, jobs: list[Job], waited: float) -> JobsStillRunning:
    named = [_job_text(job) for job in jobs[:JOBS_NAMED]]
    if len(jobs) > JOBS_NAMED:
        named.append(f"and {len(jobs) - JOBS_NAMED} more")
    listed = f": {'; '.join(named)}" if named else ""
    how_long = (
        f"`{DRAIN_TIMEOUT.key}` is 0 (no wait)"
        if waited <= 0
        else f"after waiting {waited:g}s (`{DRAIN_TIMEOUT.key}`)"
    )
    return JobsStillRunning(
        f"not deleting {email}: {running} job(s) still running on it, {how_long}{listed}. "
        f"The account stays on useapi.net and in the stack's state. Let the jobs finish and run "
        f"the command again, or raise `{DRAIN_TIMEOUT.key}` ({DRAIN_TIMEOUT.env})",
        email=email,
        running=running,
        jobs=[job.id for job in jobs if job.id],
    )


def wait_for_jobs(
    look: Callable[[], Scheduler],
    email: str,
    *,
    timeout: float,
    interval: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Return once nothing runs on the account (the number of looks it took); raise
    JobsStillRunning past `timeout`, or a UseapiError when the jobs cannot be read. `look`:
    the running jobs, as `GET /scheduler/available` answers now (`UseapiClient.get_scheduler`,
    shared or not)."""
    deadline = clock() + timeout
    calls = 0
    while True:
        calls += 1
        try:
            answer = look()
        except UseapiError as exc:
            raise UseapiError(
                f"{exc}; {email} was not deleted: its running jobs could not be checked",
                status=exc.status,
                api_error=exc.api_error,
                email=email,
            ) from None
        running = answer.executing(email)
        if running == 0:
            return calls
        left = deadline - clock()
        if left <= 0:
            raise _still_running(email, running, answer.jobs_of(email), timeout)
        sleep(min(interval, left))
