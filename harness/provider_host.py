"""Drive the provider host as the engine does: the project's (`python -m
provider.host.dynamic_host`, the SDK's host with a wider thread pool, which the engine starts
through the plugin folder Pulumi.yaml declares) or the SDK's own (`python -m pulumi.dynamic`).

The Pulumi CLI is the only thing missing to run the provider for real, so this plays the
engine's side of the `ResourceProvider` gRPC protocol: start the host in the project
directory, read the port it prints, Configure it with the stack config (string values,
namespaced keys), then Check/Diff/Create/Update/Read/Delete with properties serialised by
the SDK's own `rpc` module and `__provider` pickled by `serialize_provider`. Secrets are sent
as plain values, because the host answers Configure with `acceptSecrets: false`.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

PROVIDER_KEY = "__provider"
# The host the engine starts for this project's dynamic resources, and the SDK's own.
PROJECT_HOST = "provider.host.dynamic_host"
SDK_HOST = "pulumi.dynamic"
START_TIMEOUT = 30.0
CALL_TIMEOUT = 120.0
STOP_TIMEOUT = 5.0


class ProviderHostError(Exception):
    """The host answered a call with an error (the provider raised); `details` is what the
    engine would show the user: the exception text and usually its traceback."""

    def __init__(self, method: str, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{method} failed ({code.name}): {details}")
        self.method = method
        self.code = code
        self.details = details


@dataclass(frozen=True)
class CheckOutcome:
    inputs: dict[str, Any]
    failures: list[tuple[str, str]]


@dataclass(frozen=True)
class DiffOutcome:
    changes: str  # "DIFF_SOME", "DIFF_NONE" or "DIFF_UNKNOWN"
    replaces: list[str]
    delete_before_replace: bool

    @property
    def has_changes(self) -> bool:
        return self.changes != "DIFF_NONE"


@dataclass(frozen=True)
class ReadOutcome:
    id: str
    outputs: dict[str, Any]
    inputs: dict[str, Any] | None


def to_struct(props: Mapping[str, Any]) -> struct_pb2.Struct:
    """Serialise with the SDK, so numbers become doubles exactly as on the engine's wire."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(rpc.serialize_properties(dict(props), {}))
    finally:
        loop.close()


def from_struct(struct: struct_pb2.Struct) -> dict[str, Any]:
    return dict(rpc.deserialize_properties(struct, keep_unknowns=True))


def _urn(name: str, type_: str) -> str:
    return f"urn:pulumi:stack::pixverse-accounts::{type_}::{name}"


class ProviderHost:
    """One provider host process and a gRPC stub to it. Use as a context manager (or call
    stop()) so the process is ended even when the caller fails."""

    def __init__(
        self,
        cwd: str | Path,
        env: Mapping[str, str] | None = None,
        python: str = sys.executable,
        type_token: str = "pulumi-python:dynamic/pixverse:PixVerseAccount",
        engine_address: str | None = None,
        module: str = PROJECT_HOST,
    ) -> None:
        """`engine_address`: passed as the host's first argument, as the engine passes its own
        (the host then watches it); without it the host runs unwatched, as tests and the bench
        want when nothing plays the engine's health service. `module`: the host to run
        (`SDK_HOST` for the SDK's own, four calls at once)."""
        self.cwd = Path(cwd)
        self.module = module
        self.engine_address = engine_address
        self.env = dict(os.environ if env is None else env)
        self.python = python
        self.type_token = type_token
        self._process: subprocess.Popen[bytes] | None = None
        self._channel: grpc.Channel | None = None
        self._stub: provider_pb2_grpc.ResourceProviderStub | None = None
        self._stdout: list[bytes] = []
        self._stderr: list[bytes] = []
        self._readers: list[threading.Thread] = []
        self.port: int | None = None

    # -- process --------------------------------------------------------------------------

    def start(self) -> ProviderHost:
        self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [self.python, "-u", "-m", self.module, *filter(None, [self.engine_address])],
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        port_line = threading.Event()
        assert self._process.stdout is not None and self._process.stderr is not None
        self._readers = [
            threading.Thread(
                target=self._drain,
                args=(self._process.stdout, self._stdout, port_line),
                daemon=True,
            ),
            threading.Thread(
                target=self._drain, args=(self._process.stderr, self._stderr, None), daemon=True
            ),
        ]
        for reader in self._readers:
            reader.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not port_line.wait(0.05):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"provider host did not print its port within {START_TIMEOUT:g}s; "
                    f"stderr: {self.stderr[-2000:]}"
                )
        self.port = int(self._stdout[0].split(b"\n", 1)[0])
        self._channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        grpc.channel_ready_future(self._channel).result(timeout=START_TIMEOUT)
        self._stub = provider_pb2_grpc.ResourceProviderStub(self._channel)
        return self

    @staticmethod
    def _drain(stream: Any, sink: list[bytes], first_line: threading.Event | None) -> None:
        for line in iter(stream.readline, b""):
            sink.append(line)
            if first_line is not None:
                first_line.set()
        stream.close()

    def stop(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT)
        for reader in self._readers:
            reader.join(timeout=STOP_TIMEOUT)

    def __enter__(self) -> ProviderHost:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def stdout(self) -> str:
        return b"".join(self._stdout).decode(errors="replace")

    @property
    def stderr(self) -> str:
        return b"".join(self._stderr).decode(errors="replace")

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def returncode(self) -> int | None:
        """The host's exit status once it has ended (None while it runs)."""
        return self._process.poll() if self._process else None

    # -- calls ------------------------------------------------------------------------------

    def _call(self, method: str, request: Any) -> Any:
        assert self._stub is not None, "provider host not started"
        try:
            return getattr(self._stub, method)(request, timeout=CALL_TIMEOUT)
        except grpc.RpcError as exc:
            raise ProviderHostError(method, exc.code(), exc.details() or "") from None

    def urn(self, name: str) -> str:
        return _urn(name, self.type_token)

    def configure(self, config: Mapping[str, str]) -> bool:
        """The stack config, as the engine sends it: namespaced keys, string values. Returns
        whether the host accepts secrets (the SDK's host answers no: it gets plain values)."""
        response = self._call(
            "Configure",
            provider_pb2.ConfigureRequest(
                variables=dict(config), args=to_struct(config), acceptSecrets=True
            ),
        )
        return bool(response.acceptSecrets)

    def plugin_info(self) -> str:
        """The version the host reports for itself."""
        return str(self._call("GetPluginInfo", empty_pb2.Empty()).version)

    def cancel(self) -> None:
        """What the engine sends on a graceful cancel (the SDK's host answers and does nothing)."""
        self._call("Cancel", empty_pb2.Empty())

    def check(self, name: str, olds: Mapping[str, Any], news: Mapping[str, Any]) -> CheckOutcome:
        response = self._call(
            "Check",
            provider_pb2.CheckRequest(
                urn=self.urn(name), olds=to_struct(olds), news=to_struct(news)
            ),
        )
        failures = [(f.property, f.reason) for f in response.failures]
        return CheckOutcome(from_struct(response.inputs), failures)

    def diff(
        self, id_: str, name: str, olds: Mapping[str, Any], news: Mapping[str, Any]
    ) -> DiffOutcome:
        response = self._call(
            "Diff",
            provider_pb2.DiffRequest(
                id=id_, urn=self.urn(name), olds=to_struct(olds), news=to_struct(news)
            ),
        )
        return DiffOutcome(
            changes=provider_pb2.DiffResponse.DiffChanges.Name(response.changes),
            replaces=list(response.replaces),
            delete_before_replace=response.deleteBeforeReplace,
        )

    def create(self, name: str, props: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        response = self._call(
            "Create", provider_pb2.CreateRequest(urn=self.urn(name), properties=to_struct(props))
        )
        return response.id, from_struct(response.properties)

    def update(
        self, id_: str, name: str, olds: Mapping[str, Any], news: Mapping[str, Any]
    ) -> dict[str, Any]:
        response = self._call(
            "Update",
            provider_pb2.UpdateRequest(
                id=id_, urn=self.urn(name), olds=to_struct(olds), news=to_struct(news)
            ),
        )
        return from_struct(response.properties)

    def read(
        self,
        id_: str,
        name: str,
        props: Mapping[str, Any],
        inputs: Mapping[str, Any] | None = None,
    ) -> ReadOutcome:
        response = self._call(
            "Read",
            provider_pb2.ReadRequest(
                id=id_,
                urn=self.urn(name),
                properties=to_struct(props),
                inputs=to_struct(inputs or {}),
            ),
        )
        new_inputs = from_struct(response.inputs) if response.HasField("inputs") else None
        return ReadOutcome(response.id, from_struct(response.properties), new_inputs)

    def delete(self, id_: str, name: str, props: Mapping[str, Any]) -> None:
        self._call(
            "Delete",
            provider_pb2.DeleteRequest(id=id_, urn=self.urn(name), properties=to_struct(props)),
        )
