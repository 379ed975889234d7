"""Remove exactly the stack locks the recovery judged stale: never another one.

`pulumi cancel` cannot do that on a self-managed backend: it lists the stack's lock folder and
deletes every lock in it (`CancelCurrentUpdate`, pkg/backend/diy/backend.go), so a run that
took its lock between the recovery's judgement and the cancel (the next queued pipeline run, a
person's `up`, a second recovery's refresh) would lose its lock, and two runs would write one
state. Each lock here is one object named by the URL the CLI printed, and only that object is
removed, after checking that it is still the lock that was judged (same user, host, pid, time):

- `file://`: the lock file (and the `.attrs` file fileblob writes beside it). Deleting a file is
  atomic: when two recoveries remove the same stale lock, exactly one succeeds, and the other
  learns that someone was first.
- `s3://`: the lock object, deleted only while unchanged (`If-Match` its ETag). A delete on S3 is
  idempotent, so two recoveries would both "succeed"; to make exactly one of them the one that
  clears it, each first writes a record under the stack's prefix only if none exists
  (`If-None-Match: *`, which S3 and S3-compatible stores such as versitygw evaluate atomically):
  `<prefix>/.pixverse-recover/cleared-locks/<the lock's path>.json`, holding the judged lock, who
  cleared it, when and why (user and host names, pids, times: nothing secret). The record stays,
  as the trail of every lock a recovery cleared; a record whose writer died before the delete
  (older than `CLAIM_TIMEOUT`, its lock still there) is taken over by the next recovery.
- Anything else (Pulumi Cloud, `gs://`, `azblob://`, an s3:// URL with a parameter this client
  cannot reproduce): `CannotRemoveOne`, and the recovery says that only `pulumi cancel` is left
  and does it with `--force` only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .s3_backend import S3Error, S3Location, S3Objects, UnsupportedS3Url
from .stack_locks import StackLock, lock_file

LOCKS_DIR = ".pulumi/locks/"
RECORDS_DIR = ".pixverse-recover/cleared-locks/"
# A recovery writes its record, then deletes the lock within a second: a record this old whose
# lock is still there was left by a recovery that died in between.
CLAIM_TIMEOUT = timedelta(minutes=2)


class CannotRemoveOne(RuntimeError):
    """This backend's locks cannot be removed one by one here; the message says why."""


@dataclass(frozen=True)
class Clearer:
    """Who removes the lock: written into the record on an object store."""

    user: str
    host: str
    pid: int
    at: datetime


@dataclass(frozen=True)
class Removal:
    removed: bool  # this recovery removed it
    note: str  # what happened, for the output


def removable_one_by_one(url: str) -> str | None:
    """None when the lock at `url` can be removed alone here, else why not."""
    scheme = urlsplit(url).scheme
    if scheme == "file":
        return None
    if scheme == "s3":
        try:
            S3Location.parse(url)
        except UnsupportedS3Url as exc:
            return f"its s3:// URL has {exc}, which this recovery does not read as the CLI does"
        return None
    return f"the recovery has no client for {scheme}:// storage"


def remove_stale_lock(
    lock: StackLock, clearer: Clearer, reason: str, environ: Mapping[str, str]
) -> Removal:
    """Remove `lock` if it is still the one judged; say who was first if it is not."""
    why_not = removable_one_by_one(lock.url)
    if why_not is not None:
        raise CannotRemoveOne(why_not)
    path = lock_file(lock.url)
    if path is not None:
        return _remove_file(lock, path)
    return _remove_object(lock, clearer, reason, environ)


def _same_lock(raw: bytes, lock: StackLock) -> bool:
    """The stored lock is the judged one (the CLI prints its time to the second)."""
    try:
        data = json.loads(raw)
        stamp = datetime.fromisoformat(str(data["timestamp"]).replace("Z", "+00:00"))
    except (ValueError, KeyError, TypeError):
        return False
    return (
        data.get("pid") == lock.pid
        and data.get("hostname") == lock.host
        and data.get("username") == lock.user
        and abs(stamp - lock.created) < timedelta(seconds=1)
    )


def _remove_file(lock: StackLock, path: Path) -> Removal:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Removal(False, "already gone: someone removed it after it was judged")
    if not _same_lock(raw, lock):
        return Removal(False, "it changed after it was judged: left alone")
    try:
        path.unlink()
    except FileNotFoundError:
        return Removal(False, "already gone: someone removed it after it was judged")
    path.with_name(path.name + ".attrs").unlink(missing_ok=True)
    return Removal(True, "removed (that file only)")


def record_key(lock_key: str) -> str:
    """Where the record of clearing the lock at `lock_key` is kept."""
    at = lock_key.rfind(LOCKS_DIR)
    if at < 0:
        raise CannotRemoveOne(f"{lock_key} is not under {LOCKS_DIR}")
    return lock_key[:at] + RECORDS_DIR + lock_key[at + len(LOCKS_DIR) :]


def _record(lock: StackLock, clearer: Clearer, reason: str) -> bytes:
    return json.dumps(
        {
            "lock": {
                "url": lock.url,
                "user": lock.user,
                "host": lock.host,
                "pid": lock.pid,
                "created": lock.created.astimezone(UTC).isoformat(),
            },
            "clearedBy": {
                "user": clearer.user,
                "host": clearer.host,
                "pid": clearer.pid,
                "at": clearer.at.astimezone(UTC).isoformat(),
            },
            "reason": reason,
        },
        indent=2,
    ).encode()


def _who(raw: bytes) -> tuple[str, datetime | None]:
    try:
        data: Any = json.loads(raw)
        by = data["clearedBy"]
        return f"{by['user']}@{by['host']} (pid {by['pid']})", datetime.fromisoformat(by["at"])
    except (ValueError, KeyError, TypeError):
        return "an unreadable record", None


def _remove_object(
    lock: StackLock, clearer: Clearer, reason: str, environ: Mapping[str, str]
) -> Removal:
    where = S3Location.parse(lock.url)
    key = record_key(where.key)
    try:
        objects = S3Objects(where, environ)
    except Exception as exc:  # boto3 missing, or a profile that does not exist
        raise CannotRemoveOne(f"no S3 client: {type(exc).__name__}: {exc}") from None
    try:
        stored = objects.get(where.key)
        if stored is None:
            return Removal(False, "already gone: someone removed it after it was judged")
        if not _same_lock(stored.body, lock):
            return Removal(False, "it changed after it was judged: left alone")
        body = _record(lock, clearer, reason)
        if not objects.create(key, body):
            earlier = objects.get(key)
            who, at = _who(earlier.body) if earlier is not None else ("someone", None)
            late = at is not None and clearer.at - at > CLAIM_TIMEOUT
            if not (late and earlier is not None and objects.create(key, body, earlier.etag)):
                return Removal(False, f"{who} is clearing it (s3://{where.bucket}/{key})")
        if not objects.delete_if_unchanged(where.key, stored.etag):
            return Removal(False, "gone or changed just before the delete: left alone")
        return Removal(True, f"removed (that object only; record: s3://{where.bucket}/{key})")
    except S3Error as exc:
        raise CannotRemoveOne(str(exc)) from None
    finally:
        objects.close()
