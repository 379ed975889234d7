"""The recovery removes exactly the locks it judged stale, never one a run took since.

`pulumi cancel` would not: on a self-managed backend it lists the stack's lock folder when it
runs and deletes every lock it finds (pkg/backend/diy/backend.go, CancelCurrentUpdate). Two
recoveries that judged the same dead run's lock stale: the first removes it and starts its
refresh, which takes a new lock; the second, a moment later, would cancel that live lock. The
tests below set up exactly that moment with the real CLI, on a file:// backend and on an s3://
one served by versitygw: a live `pulumi up` holds its lock, and the recovery is handed the
judgement of a stale lock that someone has removed since. It must leave the live lock alone.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from provider.tools.lock_removal import (
    Clearer,
    record_key,
    removable_one_by_one,
    remove_stale_lock,
)
from provider.tools.pulumi_cli import PulumiCli
from provider.tools.recovery import Recovery
from provider.tools.s3_backend import S3Location, UnsupportedS3Url
from provider.tools.stack_locks import StackLock, parse_lock_failure
from tests.support.cli_support import PULUMI, SKIP_REASON, CliProject
from tests.support.interrupt_support import DeployLab, make_fleet, wait_until
from tests.support.object_store import ObjectStore, S3Backend, aws_env
from useapi_emulator import UseapiEmulator

pytestmark = pytest.mark.timeout(60)

NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
CLEARER = Clearer("ann", "laptop", 4242, NOW)
LOCKS = ".pulumi/locks/organization/pixverse-accounts/prod"


def test_the_lock_url_the_cli_prints_for_an_s3_compatible_store_is_read_as_the_cli_reads_it() -> (
    None
):
    printed = (
        "s3://state/pixverse/.pulumi/locks/organization/pixverse-accounts/prod/1c.json"
        "?endpoint=http%3A%2F%2F127.0.0.1%3A44415&region=us-east-1"
        "&request_checksum_calculation=when_required&use_path_style=true"
    )
    where = S3Location.parse(printed)
    assert (where.bucket, where.key) == (
        "state",
        "pixverse/.pulumi/locks/organization/pixverse-accounts/prod/1c.json",
    )
    assert where.endpoint == "http://127.0.0.1:44415" and where.region == "us-east-1"
    assert where.client_config == {
        "request_checksum_calculation": "when_required",
        "s3": {"addressing_style": "path"},
    }


def test_the_legacy_parameters_the_cli_still_accepts_mean_what_they_meant() -> None:
    legacy = S3Location.parse(
        "s3://b/k.json?endpoint=minio:9000&disableSSL=true&s3ForcePathStyle=true"
    )
    assert legacy.endpoint == "http://minio:9000" and legacy.path_style
    secure = S3Location.parse("s3://b/k.json?endpoint=minio:9000&profile=ops&awssdk=v2")
    assert secure.endpoint == "https://minio:9000" and secure.profile == "ops"
    encrypted = S3Location.parse("s3://b/k.json?ssetype=aws:kms&kmskeyid=alias/x")
    assert encrypted.put_extra == {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "alias/x"}


@pytest.mark.parametrize(
    "url",
    [
        "s3://b/k.json?role=arn:aws:iam::1:role/deploy",  # assumes a role: not reproduced here
        "s3://b/k.json?hostname_immutable=true",
        "s3://b/k.json?use_path_style=maybe",
        "s3://b/k.json?some_future_option=1",
    ],
)
def test_an_s3_url_with_anything_else_is_refused_rather_than_guessed_at(url: str) -> None:
    with pytest.raises(UnsupportedS3Url):
        S3Location.parse(url)
    assert removable_one_by_one(url) is not None


def test_only_object_stores_it_has_a_client_for_and_files_are_removed_one_by_one() -> None:
    assert removable_one_by_one("file:///x/.pulumi/locks/a.json?no_tmp_dir=true") is None
    assert removable_one_by_one("s3://b/p/.pulumi/locks/a.json?region=eu-west-1") is None
    for url in ("gs://b/p/.pulumi/locks/a.json", "azblob://c/.pulumi/locks/a.json"):
        assert "no client" in str(removable_one_by_one(url))
    assert (
        record_key("p/.pulumi/locks/o/pr/st/u.json")
        == "p/.pixverse-recover/cleared-locks/o/pr/st/u.json"
    )
    assert (
        record_key(".pulumi/locks/o/pr/st/u.json")
        == ".pixverse-recover/cleared-locks/o/pr/st/u.json"
    )


def write_lock(folder: Path, name: str, pid: int, host: str, at: datetime) -> Path:
    """The file the CLI writes (pkg/backend/diy/lock.go), for the file-level rules only."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    stamp = at.isoformat().replace("+00:00", "Z")
    path.write_text(
        json.dumps({"pid": pid, "username": "runner", "hostname": host, "timestamp": stamp})
    )
    path.with_name(name + ".attrs").write_text("{}")
    return path


def test_on_a_file_backend_only_the_judged_file_goes_and_only_while_it_is_the_judged_lock(
    tmp_path: Path,
) -> None:
    folder = tmp_path / LOCKS
    judged = write_lock(folder, "a.json", 77, "fv-az1", NOW - timedelta(hours=2))
    other = write_lock(folder, "b.json", 78, "fv-az2", NOW - timedelta(hours=2))
    lock = StackLock(
        f"{judged.as_uri()}?no_tmp_dir=true", "runner", "fv-az1", 77, NOW - timedelta(hours=2)
    )

    first = remove_stale_lock(lock, CLEARER, "old", {})
    second = remove_stale_lock(lock, CLEARER, "old", {})

    assert first.removed and not second.removed
    assert "already gone: someone removed it after it was judged" in second.note
    assert sorted(p.name for p in folder.iterdir()) == ["b.json", "b.json.attrs"]
    changed = StackLock(f"{other.as_uri()}", "runner", "fv-az2", 999, NOW - timedelta(hours=2))
    assert not remove_stale_lock(changed, CLEARER, "old", {}).removed
    assert other.exists(), "a lock that is not the one judged (another pid) is left alone"


@pytest.mark.s3
def test_on_s3_exactly_one_of_two_recoveries_clears_a_lock_and_the_record_says_who(
    object_store: ObjectStore, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two recoveries remove the same stale lock: the one whose record is written first (an
    If-None-Match write, atomic on the server) deletes it; the other is told who is at it. A
    record left by a recovery that died before its delete is taken over once it is old."""
    for name, value in aws_env().items():
        monkeypatch.setenv(name, value)
    backend = S3Backend(object_store, bucket)
    client = object_store.client()
    key = f"pixverse/{LOCKS}/dead.json"
    created = NOW - timedelta(hours=2)
    body = {
        "pid": 77,
        "username": "runner",
        "hostname": "fv-az1",
        "timestamp": "2026-12-01T01:00:00Z",
    }
    client.put_object(Bucket=bucket, Key=key, Body=json.dumps(body).encode())
    client.put_object(Bucket=bucket, Key=f"pixverse/{LOCKS}/live.json", Body=b"{}")
    url = f"{backend.url.split('?')[0]}/{LOCKS}/dead.json?{backend.url.split('?')[1]}"
    lock = StackLock(url, "runner", "fv-az1", 77, created)
    other = Clearer("bob", "ci-9", 99, NOW)

    won = remove_stale_lock(lock, CLEARER, "older than any deploy runs", {})
    client.put_object(Bucket=bucket, Key=key, Body=json.dumps(body).encode())  # as if not yet gone
    lost = remove_stale_lock(lock, other, "older than any deploy runs", {})

    assert won.removed and "record: s3://" in won.note
    assert not lost.removed and "ann@laptop (pid 4242) is clearing it" in lost.note
    kept = json.loads(
        backend.read(f".pixverse-recover/cleared-locks/{LOCKS.split('locks/')[1]}/dead.json")
    )
    assert kept["clearedBy"] == {
        "user": "ann",
        "host": "laptop",
        "pid": 4242,
        "at": NOW.isoformat(),
    }
    assert kept["lock"]["host"] == "fv-az1" and kept["reason"] == "older than any deploy runs"
    late = Clearer("bob", "ci-9", 99, NOW + timedelta(minutes=10))
    taken_over = remove_stale_lock(lock, late, "older than any deploy runs", {})
    assert taken_over.removed, "the first recovery died between its record and its delete"
    assert backend.locks() == [f"pixverse/{LOCKS}/live.json"]
    client.close()


@pytest.fixture(params=["file", "s3"])
def held(
    request: pytest.FixtureRequest, tmp_path: Path, emulator: UseapiEmulator
) -> Iterator[tuple[DeployLab, str]]:
    """A stack on each kind of backend whose lock a live `pulumi up` holds (slow useapi.net)."""
    backend = None
    if request.param == "s3":
        store = request.getfixturevalue("object_store")
        backend = S3Backend(store, request.getfixturevalue("bucket"))
    lab = DeployLab(CliProject(tmp_path / "project", emulator, backend=backend), emulator)
    try:
        lab.cli.init()
        lab.declare(make_fleet("live", size=2))
        emulator.latency = 3.0
        run = lab.start_up()
        wait_until(lambda: lab.lock_files() != [], 30, "the live run's lock")
        (live,) = lab.lock_files()
        yield lab, live
        emulator.latency = 0.0
        assert run.process.wait(timeout=60) == 0, run.output()
        assert "problem deleting the lock" not in run.output(), "its lock was taken from it"
    finally:
        lab.sweep()


@pytest.mark.cli
@pytest.mark.skipif(PULUMI is None, reason=SKIP_REASON)
@pytest.mark.timeout(90)
def test_a_lock_a_run_took_after_the_judgement_is_never_removed(
    held: tuple[DeployLab, str],
) -> None:
    """The recovery judged a dead run's lock stale; before it removes it, another recovery
    removed it and started its refresh, or a person's `up` started: that run's lock stays."""
    lab, live = held
    dead = live.rsplit("/", 1)[0] + "/00000000-dead-run.json"
    backend = lab.cli.backend
    if isinstance(backend, S3Backend):
        dead_url = f"s3://{backend.bucket}/{dead}?{backend.url.split('?', 1)[1]}"
    else:
        dead_url = f"{Path(dead).as_uri()}?no_tmp_dir=true"
    text = (
        "error: the stack is currently locked by 1 lock(s). Either wait for the other "
        "process(es) to end or delete the lock file with `pulumi cancel`.\n"
        f"  {dead_url}: created by runner@fv-az1 (pid 77) at 2026-12-01T01:00:00Z\n"
    )
    failure = parse_lock_failure(text)
    assert failure is not None and len(failure.locks) == 1
    out: list[str] = []
    recovery = Recovery(
        project_dir=lab.cli.root,
        stack=lab.cli.stack,
        cli=PulumiCli(lab.cli.root, lab.cli.env, executable=lab.cli.pulumi),
        environ=lab.cli.env,
        out=out.append,
    )

    assert not recovery._break_stale_locks(failure)

    said = "\n".join(out)
    assert "stale: written on fv-az1" in said
    assert "already gone: someone removed it after it was judged" in said
    assert "Nothing else was changed here" in said
    assert lab.lock_files() == [live], "the live run's lock must stay"
