"""Run a Pulumi Python program in this process, with the SDK's mock monitor as the engine.

The SDK's language host runs `__main__.py` inside `run_in_stack`, talking to the engine's
resource monitor over gRPC. Here the same `run_in_stack` runs the same file, but the monitor
is the SDK's `MockMonitor`, whose `new_resource` hands every registration to a handler (the
offline deployment, which routes it to the real provider host). This subclass also keeps what
the plain mock drops: which inputs were secret, `additional_secret_outputs`, the stack's
outputs (`RegisterResourceOutputs` on the Stack), and the program's warnings.

One program run per process: the SDK's runtime state is process-global.
"""

from __future__ import annotations

import asyncio
import runpy
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pulumi.errors import RunError
from pulumi.output import Unknown
from pulumi.runtime import config as runtime_config
from pulumi.runtime import mocks, rpc, settings
from pulumi.runtime.proto import engine_pb2
from pulumi.runtime.stack import run_in_stack

STACK_TYPE = "pulumi:pulumi:Stack"
SECRET_MARK = "[secret]"
UNKNOWN_MARK = "[unknown]"


@dataclass(frozen=True)
class ResourceRequest:
    """One resource the program declared, with secrets unwrapped and remembered by key."""

    type: str
    name: str
    inputs: dict[str, Any]
    secret_keys: frozenset[str]


Handler = Callable[[ResourceRequest], tuple[str, dict[str, Any]]]


@dataclass
class ProgramResult:
    outputs: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


class ProgramError(Exception):
    """The program failed; the message is what the CLI would print as the error."""


def unwrap_secrets(value: Any) -> Any:
    """Plain data from deserialised properties: secret envelopes removed at every depth."""
    value = rpc.unwrap_rpc_secret(value)
    if isinstance(value, Mapping):
        return {key: unwrap_secrets(item) for key, item in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(item) for item in value]
    return value


def mask_secrets(value: Any) -> Any:
    """Stack outputs for display and state: a secret output shows as `[secret]`, a value
    only known after `up` (in preview) as `[unknown]`."""
    if rpc.is_rpc_secret(value):
        return SECRET_MARK
    if isinstance(value, Unknown) or value == rpc.UNKNOWN:
        return UNKNOWN_MARK
    if isinstance(value, Mapping):
        return {key: mask_secrets(item) for key, item in value.items()}
    if isinstance(value, list):
        return [mask_secrets(item) for item in value]
    return value


def _plain_number(value: Any) -> Any:
    """The wire carries numbers as doubles; show whole numbers as ints, as the CLI does."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {key: _plain_number(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain_number(item) for item in value]
    return value


class _Mocks(mocks.Mocks):
    def __init__(self, handler: Handler, monitor_ref: Callable[[], _Monitor]) -> None:
        self._handler = handler
        self._monitor = monitor_ref

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        secret_keys = {key for key, value in args.inputs.items() if rpc.is_rpc_secret(value)}
        secret_keys |= self._monitor().additional_secrets(args.typ, args.name)
        request = ResourceRequest(
            type=args.typ,
            name=args.name,
            inputs={key: unwrap_secrets(value) for key, value in args.inputs.items()},
            secret_keys=frozenset(secret_keys),
        )
        id_, outputs = self._handler(request)
        # Hand secret outputs back to the program as secrets, as the engine does.
        return id_, {
            key: rpc.wrap_rpc_secret(value) if key in secret_keys else value
            for key, value in outputs.items()
        }

    def call(self, args: mocks.MockCallArgs) -> tuple[dict[Any, Any], None]:
        raise ProgramError(f"the offline runner does not support invokes ({args.token})")


class _Monitor(mocks.MockMonitor):
    def __init__(self, mocks_: mocks.Mocks) -> None:
        super().__init__(mocks_)
        self._lock = threading.Lock()
        self._additional: dict[tuple[str, str], set[str]] = {}
        self.stack_outputs: dict[str, Any] = {}
        self._loops: list[asyncio.AbstractEventLoop] = []

    def _thread_loop(self) -> None:
        """The mock monitor runs in executor threads and makes each one an event loop; make
        them here, so they can be closed at the end instead of complaining when collected."""
        try:
            asyncio.get_event_loop()
        except RuntimeError:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            with self._lock:
                self._loops.append(loop)

    def close_loops(self) -> None:
        with self._lock:
            loops, self._loops = self._loops, []
        for loop in loops:
            loop.close()

    def additional_secrets(self, type_: str, name: str) -> set[str]:
        with self._lock:
            return set(self._additional.get((type_, name), set()))

    def RegisterResource(self, request: Any) -> Any:  # the gRPC method's name
        self._thread_loop()
        with self._lock:
            self._additional[(request.type, request.name)] = set(request.additionalSecretOutputs)
        return super().RegisterResource(request)  # type: ignore[no-untyped-call]

    def RegisterResourceOutputs(self, request: Any) -> Any:  # the gRPC method's name
        self._thread_loop()
        if f"::{STACK_TYPE}::" in request.urn:
            outputs = rpc.deserialize_properties(request.outputs, keep_unknowns=True)
            self.stack_outputs = _plain_number(mask_secrets(outputs))
        return super().RegisterResourceOutputs(request)  # type: ignore[no-untyped-call]


class _Engine:
    """Receives `pulumi.log` calls: warnings and errors are printed and kept."""

    def __init__(self, result: ProgramResult) -> None:
        self._result = result

    def Log(self, request: Any) -> None:  # the gRPC method's name
        if request.severity == engine_pb2.WARNING:
            self._result.warnings.append(request.message)
            print(f"warning: {request.message}", flush=True)
        elif request.severity == engine_pb2.ERROR:
            print(f"error: {request.message}", flush=True)


def _cancel_pending(loop: asyncio.AbstractEventLoop) -> None:
    """A program that failed (an exception raised inside an apply) leaves RPC tasks behind;
    cancel them, so closing the loop does not print "Task was destroyed but it is pending"
    with the error repeated."""
    pending = asyncio.all_tasks(loop)
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))


def run_program(
    main: Path,
    *,
    project: str,
    stack: str,
    config: Mapping[str, str],
    secret_keys: list[str],
    handler: Handler,
    preview: bool,
) -> ProgramResult:
    """Run `main` as the language host would; raise ProgramError with the program's error."""
    result = ProgramResult()
    monitor: _Monitor | None = None

    def current_monitor() -> _Monitor:
        assert monitor is not None
        return monitor

    monitor = _Monitor(_Mocks(handler, current_monitor))
    features = set(monitor.GetDeploymentInfo(None).supportedFeatures)  # type: ignore[no-untyped-call]
    settings.configure(
        mocks.MockSettings(  # type: ignore[no-untyped-call]
            monitor=monitor,
            monitor_features=features,
            engine=_Engine(result),
            project=project,
            stack=stack,
            dry_run=preview,
            organization="organization",
            callbacks=None,
            root_directory=str(main.parent),
        )
    )
    runtime_config.set_all_config(dict(config), list(secret_keys))
    sys.path.insert(0, str(main.parent))

    def program() -> None:
        runpy.run_path(str(main), run_name="__main__")

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(run_in_stack(program))
    except RunError as exc:
        raise ProgramError(str(exc)) from None
    except ProgramError:
        raise
    except Exception as exc:
        raise ProgramError(f"{type(exc).__name__}: {exc}") from exc
    finally:
        _cancel_pending(loop)
        loop.close()
        monitor.close_loops()
    result.outputs = monitor.stack_outputs
    return result
