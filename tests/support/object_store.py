"""A real S3 server for the shared-backend tests: versitygw (Versity's S3 gateway, Go, Apache-2.0)
serving S3 over a folder, built by `make versitygw` into `.tools/bin`.

Read from its v1.8.0 source (`cmd/versitygw/main.go`, `cmd/internal/gwcli/posix.go`,
`embedgw/embedgw.go`) before running it: it listens on `--port` (default `:7070`, every
interface: here always `127.0.0.1:<free port>`); with no admin port its admin API shares that
port and needs the root keys; no web UI, website, pprof, event or log webhook, IAM backend or
debug log unless asked; the root keys come from `ROOT_ACCESS_KEY_ID`/`ROOT_SECRET_ACCESS_KEY`;
and nearly every flag also reads a `VGW_*` variable (some `LOGFILE`, `WEBHOOK`). So it is started
with an environment of its own holding only PATH and the two keys: nothing a developer exported
turns a feature on. `posix --sidecar META DATA` keeps each bucket as a folder of DATA and the
objects' metadata (ETags, content types) as files under META, with no extended attributes
needed. Both folders are the test's own, under pytest's temporary directory.

`ObjectStore` is a context manager: the server is stopped (SIGTERM, then SIGKILL) when the block
ends, a failing test included. The CLI reaches it with the URL form a team uses for an
S3-compatible store, `s3://bucket/prefix?endpoint=http://127.0.0.1:PORT&use_path_style=true&
region=us-east-1`, and the root keys as `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from tests.support.helpers import PROJECT_ROOT

VERSITYGW_BIN = PROJECT_ROOT / ".tools" / "bin" / "versitygw"
ACCESS_KEY = "pixverse-test-root"
SECRET_KEY = "pixverse-test-root-secret-9d1e"  # a local test server's key, on loopback only
REGION = "us-east-1"
START_TIMEOUT = 20.0


def find_versitygw() -> str | None:
    """The one `make versitygw` built, else one on PATH."""
    if VERSITYGW_BIN.exists():
        return str(VERSITYGW_BIN)
    return shutil.which("versitygw")


VERSITYGW = find_versitygw()
SKIP_REASON = (
    "versitygw (the S3 server of the shared-backend tests) is not here: run `make versitygw` "
    "(needs Go; `make test` does it where Go exists)"
)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def aws_env() -> dict[str, str]:
    """What the CLI and the tools need to reach the server, and nothing of the developer's
    own AWS setup (profiles, shared files, the instance metadata service)."""
    return {
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def without_aws(env: dict[str, str]) -> dict[str, str]:
    return {key: value for key, value in env.items() if not key.startswith("AWS_")}


class ObjectStore:
    """versitygw on 127.0.0.1, its data and metadata in folders under `root`."""

    def __init__(self, root: Path) -> None:
        assert VERSITYGW is not None, SKIP_REASON
        self.root = root
        self.data = root / "data"
        self.meta = root / "meta"
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.log = root / "versitygw.log"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def backend_url(self, bucket: str, prefix: str) -> str:
        """The backend URL a team writes for an S3-compatible store (docs/pipeline.md,
        "S3-compatible stores")."""
        return (
            f"s3://{bucket}/{prefix}?endpoint={self.endpoint}&use_path_style=true&region={REGION}"
        )

    def start(self) -> ObjectStore:
        self.data.mkdir(parents=True, exist_ok=True)
        self.meta.mkdir(parents=True, exist_ok=True)
        for _attempt in range(3):  # a free port can be taken between the probe and the bind
            self.port = _free_port()
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "ROOT_ACCESS_KEY_ID": ACCESS_KEY,
                "ROOT_SECRET_ACCESS_KEY": SECRET_KEY,
            }
            with self.log.open("ab") as sink:
                self.process = subprocess.Popen(
                    [
                        str(VERSITYGW),
                        "--port",
                        f"127.0.0.1:{self.port}",
                        "--region",
                        REGION,
                        "--quiet",
                        "posix",
                        "--sidecar",
                        str(self.meta),
                        str(self.data),
                    ],
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            if self._wait_ready():
                return self
            self.stop()
        raise RuntimeError(f"versitygw did not start:\n{self.log.read_text(errors='replace')}")

    def _wait_ready(self) -> bool:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return True
            except OSError:
                time.sleep(0.05)
        return False

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def __enter__(self) -> ObjectStore:
        return self.start()

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- the S3 side, through boto3 (the client `make recover` uses) -----------------------

    def client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            config=Config(
                s3={"addressing_style": "path"},
                connect_timeout=10,
                read_timeout=10,
                retries={"max_attempts": 2},
            ),
        )

    def create_bucket(self, name: str) -> None:
        client = self.client()
        try:
            client.create_bucket(Bucket=name)
        finally:
            client.close()

    def objects(self, bucket: str, prefix: str = "") -> dict[str, bytes]:
        """Every object under `prefix`, read through S3 (list, then get each)."""
        client = self.client()
        found: dict[str, bytes] = {}
        try:
            pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for page in pages:
                for entry in page.get("Contents") or []:
                    body = client.get_object(Bucket=bucket, Key=entry["Key"])["Body"].read()
                    found[entry["Key"]] = body
        finally:
            client.close()
        return found

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        client = self.client()
        try:
            pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            return sorted(e["Key"] for page in pages for e in page.get("Contents") or [])
        finally:
            client.close()

    def files_on_disk(self) -> dict[Path, bytes]:
        """Every file the server wrote, data and metadata alike (what a backup of the bucket's
        disk would hold)."""
        return {
            path: path.read_bytes()
            for folder in (self.data, self.meta)
            for path in sorted(folder.rglob("*"))
            if path.is_file()
        }


class S3Backend:
    """One prefix of a bucket of the server as a project's backend (`CliProject(backend=)`)."""

    def __init__(self, store: ObjectStore, bucket: str, prefix: str = "pixverse") -> None:
        self.store = store
        self.bucket = bucket
        self.prefix = prefix
        self.url = store.backend_url(bucket, prefix)

    def env(self) -> dict[str, str]:
        return aws_env()

    def locks(self) -> list[str]:
        return [
            key
            for key in self.store.keys(self.bucket, f"{self.prefix}/.pulumi/locks/")
            if key.endswith(".json")
        ]

    def read(self, name: str) -> bytes:
        client = self.store.client()
        try:
            key = f"{self.prefix}/{name}"
            body: bytes = client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            return body
        finally:
            client.close()

    def everything(self) -> str:
        """Every object of the bucket, read through S3, and every file the server keeps on its
        disk (data and metadata), as text."""
        texts = [
            body.decode("utf-8", "replace") for body in self.store.objects(self.bucket).values()
        ]
        texts += [raw.decode("utf-8", "replace") for raw in self.store.files_on_disk().values()]
        return "\n".join(texts)
