"""What the recovery does with a file backend's checkpoint that does not load.

The real CLI's side (a torn `.attrs` makes `pulumi stack export` fail with "failed to load
checkpoint: EOF", and `make recover` repairs it and converges) is in
tests/acceptance/test_interrupted_deploys.py; here, each case of what the folder can hold.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

import pytest

from provider.tools.checkpoint_repair import checkpoint_files, repair_checkpoint

pytestmark = pytest.mark.timeout(10)

CHECKPOINT = {"version": 3, "checkpoint": {"stack": "organization/pixverse-accounts/prod"}}
ATTRS = {"user.content_type": "text/plain; charset=utf-8", "md5": "x"}


def backend(tmp_path: Path, data: bytes, attrs: bytes, bak: bytes | None = None) -> Path:
    folder = tmp_path / ".pulumi" / "stacks" / "pixverse-accounts"
    folder.mkdir(parents=True)
    (folder / "prod.json").write_bytes(data)
    (folder / "prod.json.attrs").write_bytes(attrs)
    if bak is not None:
        (folder / "prod.json.bak").write_bytes(bak)
        (folder / "prod.json.bak.attrs").write_bytes(b"")
    return folder


def test_the_stacks_checkpoint_is_found_in_the_project_folder(tmp_path: Path) -> None:
    folder = backend(tmp_path, json.dumps(CHECKPOINT).encode(), json.dumps(ATTRS).encode())
    url = tmp_path.as_uri()
    assert checkpoint_files(url, "pixverse-accounts", "prod") == [folder / "prod.json"]
    assert checkpoint_files(url, "pixverse-accounts", "organization/pixverse-accounts/prod") == [
        folder / "prod.json"
    ]
    assert checkpoint_files("s3://bucket/prefix", "pixverse-accounts", "prod") == []


def test_a_torn_attributes_file_beside_a_whole_checkpoint_is_removed_and_nothing_else(
    tmp_path: Path,
) -> None:
    data = json.dumps(CHECKPOINT).encode()
    folder = backend(tmp_path, data, b"", bak=data)

    repair = repair_checkpoint([folder / "prod.json"])

    assert repair.commands == []
    assert [line.split(" was torn")[0] for line in repair.repaired] == [
        "prod.json.attrs",
        "prod.json.bak.attrs",
    ]
    assert sorted(p.name for p in folder.iterdir()) == ["prod.json", "prod.json.bak"]
    assert (folder / "prod.json").read_bytes() == data


def test_a_whole_attributes_file_is_left_alone(tmp_path: Path) -> None:
    folder = backend(tmp_path, json.dumps(CHECKPOINT).encode(), json.dumps(ATTRS).encode())
    assert repair_checkpoint([folder / "prod.json"]).repaired == []
    assert (folder / "prod.json.attrs").exists()


def test_a_checkpoint_that_does_not_load_is_not_touched_and_the_commands_restore_the_bak(
    tmp_path: Path,
) -> None:
    """A kill cannot cause this (the rename is atomic): a person looks, and the commands put
    the previous save back."""
    previous = json.dumps(CHECKPOINT).encode()
    folder = backend(tmp_path, b'{"version": 3, "checkp', json.dumps(ATTRS).encode(), previous)

    repair = repair_checkpoint([folder / "prod.json"])

    assert (folder / "prod.json").read_bytes() == b'{"version": 3, "checkp'
    assert len(repair.commands) == 3
    for command in repair.commands:  # pasted into a shell, as the recovery prints them
        subprocess.run(shlex.split(command), check=True, timeout=10)
    assert (folder / "prod.json").read_bytes() == previous
    assert (folder / "prod.json.unloadable").read_bytes() == b'{"version": 3, "checkp'
    assert not (folder / "prod.json.attrs").exists()
