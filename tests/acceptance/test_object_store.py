"""The S3 server the shared-backend tests run (tests/support/object_store.py): listening on
loopback only, whatever the developer's environment says, and gone when its block ends."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from tests.support.object_store import ObjectStore

pytestmark = [pytest.mark.s3, pytest.mark.timeout(60)]


def listening(pid: int) -> list[str]:
    """The local address of every TCP socket `pid` listens on, from /proc."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                address, port = fields[1].split(":")
                if table == "tcp":
                    host = socket.inet_ntop(socket.AF_INET, bytes.fromhex(address)[::-1])
                else:
                    host = f"v6:{address}"
                found.append(f"{host}:{int(port, 16)}")
    return found


def test_it_listens_on_loopback_alone_and_ignores_the_callers_versitygw_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What a developer may have exported for their own versitygw: every interface, a web UI.
    monkeypatch.setenv("VGW_PORT", "0.0.0.0:0")
    monkeypatch.setenv("VGW_WEBUI_PORT", "0.0.0.0:0")
    monkeypatch.setenv("VGW_WEBUI_NO_TLS", "true")
    monkeypatch.setenv("VGW_ADMIN_PORT", "0.0.0.0:0")
    with ObjectStore(tmp_path / "store") as store:
        assert store.process is not None
        pid, port = store.process.pid, store.port
        assert listening(pid) == [f"127.0.0.1:{port}"]
        bucket = "loopback-check"
        store.create_bucket(bucket)
        assert (store.data / bucket).is_dir()
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass
