"""A stack's update locks, and whether the run that holds one can still be alive.

Self-managed backends (file://, s3://, gs://, azblob://) lock a stack with one file per running
update, `.pulumi/locks/organization/<project>/<stack>/<uuid>.json`, holding the user, host,
pid and start time of the CLI that wrote it; the CLI deletes it when it ends, unless it is
killed first. Locks never expire, and every command that writes state refuses to start while
one exists, listing them:

    error: the stack is currently locked by 1 lock(s). Either wait for ... `pulumi cancel`.
      file:///.../<uuid>.json?no_tmp_dir=true: created by root@vm (pid 3027) at 2026-12-01T22:14:48Z

(`diyBackend.checkForLock`, pkg/backend/diy/lock.go). That listing is read here, so the same
code serves every self-managed backend without its own storage client. Pulumi Cloud keeps its
lock on the service and says only "[409] Conflict: Another update is currently in progress.",
with no owner to judge.

Stale or alive, the rule (`judge`):
- A lock written on this host is stale exactly when its pid is not a running pulumi process
  that started before the lock: not running, or running something else, or started later (the
  pid was reused). A running pulumi with that pid is alive, however old the lock.
- A lock written on another host cannot be checked there. It is stale when it is older than the
  longest a deploy can run, `max_run` (the deploy job's `timeout-minutes`: GitHub kills a job
  at its timeout, so no run of the pipeline lives longer) plus `CLOCK_SKEW` for the two hosts'
  clocks. Younger, it may still be running, and only a person who knows that run is gone
  (cancelled, runner lost: the Actions page says) may break it, with `--force`.
- Pulumi Cloud's lock has no owner: it is never judged stale; `--force` breaks it.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

LOCKED = "the stack is currently locked by"
CLOUD_CONFLICT = "another update is currently in progress"
CLOCK_SKEW = timedelta(minutes=5)
# The deploy job's timeout-minutes in .github/workflows/deploy.yml (tests/repo keeps them equal).
DEFAULT_MAX_RUN = timedelta(minutes=30)
# A pid that started within this much after the lock's time may still be the lock's writer (the
# lock is written a moment after the CLI starts; /proc start times are coarse).
START_TOLERANCE = timedelta(seconds=2)
_LOCK_LINE = re.compile(
    r"^\s*(?P<url>\S+): created by (?P<owner>.*) \(pid (?P<pid>-?\d+)\) at (?P<time>\S+)\s*$"
)


@dataclass(frozen=True)
class StackLock:
    url: str  # where the lock file is, as the CLI names it
    user: str
    host: str
    pid: int
    created: datetime

    def describe(self, now: datetime) -> str:
        return (
            f"{self.user}@{self.host}, pid {self.pid}, since "
            f"{self.created.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC "
            f"({_age(now - self.created)} ago)"
        )


@dataclass(frozen=True)
class LockFailure:
    """A command refused to start because the stack is locked."""

    locks: list[StackLock]
    cloud: bool = False  # Pulumi Cloud's update in progress: no owner to judge
    unreadable: list[str] | None = None  # lock lines that could not be parsed


def parse_lock_failure(text: str) -> LockFailure | None:
    """The locks a failed command listed, or None when it did not fail for a lock."""
    if CLOUD_CONFLICT in text.lower():
        return LockFailure(locks=[], cloud=True)
    at = text.find(LOCKED)
    if at < 0:
        return None
    locks: list[StackLock] = []
    unreadable: list[str] = []
    for line in text[at:].splitlines()[1:]:
        if not line.startswith((" ", "\t")):
            break
        lock = _parse_lock_line(line)
        if lock is None:
            unreadable.append(line.strip())
        else:
            locks.append(lock)
    return LockFailure(locks=locks, unreadable=unreadable or None)


def _parse_lock_line(line: str) -> StackLock | None:
    match = _LOCK_LINE.match(line)
    if match is None:
        return None
    user, at, host = match["owner"].rpartition("@")
    try:
        created = datetime.fromisoformat(match["time"].replace("Z", "+00:00"))
    except ValueError:
        return None
    if not at or created.tzinfo is None:
        return None
    return StackLock(match["url"], user, host, int(match["pid"]), created)


@dataclass(frozen=True)
class ProcessInfo:
    running: bool
    started: datetime | None = None  # None where the system does not say
    command: str | None = None


def local_process(pid: int) -> ProcessInfo:
    """What this host knows about `pid`: from /proc where there is one, else only whether a
    process with that pid exists (which then counts as the lock's writer: the safe side)."""
    if pid <= 0:
        return ProcessInfo(running=False)
    proc = Path("/proc") / str(pid)
    try:
        stat = (proc / "stat").read_text()
        command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        fields = stat.rsplit(")", 1)[1].split()  # from field 3 on: the name may hold spaces
        if fields[0] in ("Z", "X"):  # a zombie (or dying): it holds nothing any more
            return ProcessInfo(running=False)
        ticks = int(fields[19])  # field 22: the start time, in clock ticks after boot
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        booted = datetime.now(UTC) - timedelta(seconds=uptime)
        started = booted + timedelta(seconds=ticks / os.sysconf("SC_CLK_TCK"))
        return ProcessInfo(running=True, started=started, command=command)
    except (OSError, ValueError, IndexError):
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return ProcessInfo(running=False)
    except PermissionError:
        return ProcessInfo(running=True)  # it exists, owned by someone else
    return ProcessInfo(running=True)


@dataclass(frozen=True)
class Verdict:
    stale: bool
    reason: str


def judge(
    lock: StackLock,
    now: datetime,
    max_run: timedelta = DEFAULT_MAX_RUN,
    hostname: str | None = None,
    process: Callable[[int], ProcessInfo] = local_process,
    force: bool = False,
    skew: timedelta = CLOCK_SKEW,
) -> Verdict:
    """Whether the run that wrote `lock` can still be alive (see the module's rule).

    `force` is a person's word that the run is gone: it settles what this host cannot check
    (a young lock from another host), never a pulumi that is running here."""
    here = socket.gethostname() if hostname is None else hostname
    if lock.host == here:
        info = process(lock.pid)
        if not info.running:
            return Verdict(True, f"pid {lock.pid} is not running on this host ({here})")
        if info.command is not None and "pulumi" not in info.command:
            return Verdict(True, f"pid {lock.pid} on this host is now another program (reused)")
        if info.started is not None and info.started > lock.created + START_TOLERANCE:
            return Verdict(True, f"pid {lock.pid} on this host started after the lock (reused)")
        return Verdict(False, f"pulumi (pid {lock.pid}) is still running on this host")
    age = now - lock.created
    bound = max_run + skew
    if age > bound:
        return Verdict(
            True,
            f"written on {lock.host} {_age(age)} ago: longer than any deploy runs "
            f"({_age(max_run)}, the deploy job's timeout, plus {_age(skew)} for clocks)",
        )
    if force:
        return Verdict(True, f"written on {lock.host} {_age(age)} ago; --force: its run is gone")
    return Verdict(
        False,
        f"written on {lock.host} {_age(max(age, timedelta(0)))} ago, within the "
        f"{_age(bound)} a deploy may still be running; this host cannot see that process",
    )


def lock_file(url: str) -> Path | None:
    """The lock's own file, for a file:// backend (None for object stores)."""
    parts = urlsplit(url)
    if parts.scheme != "file":
        return None
    return Path(unquote(parts.path))


def _age(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 2 * 3600:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"
