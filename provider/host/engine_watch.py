"""End the provider host soon after its engine is gone, as Pulumi's own providers do.

The plugin script starts the provider host (`python -u -m provider.host.dynamic_host <engine
address>`, which runs the SDK's `pulumi.dynamic.__main__`; with the SDK's own plugin,
`python -u -m pulumi.dynamic <engine address>`) in a process group of its own, and the SDK's
host then serves until something kills it. A CLI that ends normally, or
on one SIGINT/SIGTERM, closes its plugins; a CLI that is SIGKILLed (a runner that vanished, a
job killed at its timeout) does not, and the host would live on for ever, still starting the
calls the engine had queued in its thread pool. Pulumi's Go providers watch their engine
through the gRPC health service every engine serves (`rpcutil.Healthcheck`, started from
`provider.Main` with the address that is their first argument); this module does the same for
our host, every half second instead of every five minutes, so that a host ends about a second
after its engine.

When is the engine gone? Only when its address refuses the connection (gRPC `UNAVAILABLE`) on
every probe for `GONE_AFTER` seconds. On 127.0.0.1 a refusal is definitive: nothing listens on
the engine's port any more. Everything else counts as alive, so the watcher can never end a
host whose engine still runs: an answer (any status), an unimplemented health service (Go's
rule too), a probe that times out because the engine is busy or stopped (SIGSTOP, a debugger:
the kernel still accepts the connection).

What ending costs: the host exits at once (`os._exit`), cutting what is in flight, because
nothing can record its result any more: the engine that would have is gone. A cut POST either
landed or not, a cut DELETE too; POST is an upsert and DELETE tolerates 404, so
`make recover` and the next `pulumi up` converge either way.

What watching costs: one daemon thread and one tiny RPC per `PROBE_INTERVAL`, and nothing per
provider call. `watch_engine()` is called from `configure` (once per provider object) and only
does anything the first time, and only in a process whose `__main__` is the SDK's host module
with a `<host:port>` argument (either way of starting it): never in a test run, the program, or
a command.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

# The SDK's host module, run as `python -m pulumi.dynamic` or by `dynamic_host` (runpy with
# alter_sys): either way `sys.modules["__main__"]` has this spec name.
HOST_MAIN = "pulumi.dynamic.__main__"
HEALTH_CHECK = "/grpc.health.v1.Health/Check"
PROBE_INTERVAL = 0.5  # seconds between probes
PROBE_TIMEOUT = 1.0  # a probe that gets no answer in time means "busy", never "gone"
GONE_AFTER = 1.0  # seconds of nothing but refusals before the host ends
EXIT_STATUS = 70  # EX_SOFTWARE: not a signal, not a provider failure

_lock = threading.Lock()
_watching: str | None = None


def engine_address(argv: Sequence[str], main_module: ModuleType | None) -> str | None:
    """The engine's `host:port` when this process is the SDK's dynamic provider host, else None.

    Anything else (pytest, the program, a command, a host started without an argument by the
    test harness) is left alone: the first argument only means "engine" in the host.
    """
    spec = getattr(main_module, "__spec__", None)
    if spec is None or spec.name != HOST_MAIN or len(argv) < 2:
        return None
    host, colon, port = argv[1].rpartition(":")
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    return argv[1]


class GoneDetector:
    """The rule, apart from the network: gone after `gone_after` seconds of only refusals."""

    def __init__(self, gone_after: float = GONE_AFTER) -> None:
        self.gone_after = gone_after
        self._first_refusal: float | None = None

    def observe(self, refused: bool, now: float) -> bool:
        """Record one probe; True once the engine has refused for long enough."""
        if not refused:
            self._first_refusal = None
            return False
        if self._first_refusal is None:
            self._first_refusal = now
        return now - self._first_refusal >= self.gone_after


def _health_probe(address: str) -> Callable[[], bool]:
    """A function that probes the engine's health service once: True when it refused."""
    import grpc  # already loaded by the host: it serves gRPC itself

    channel = grpc.insecure_channel(address)
    # Raw bytes both ways: an empty HealthCheckRequest is b"", and the answer is not read (any
    # answer means alive), so no health-service stubs are needed.
    check = channel.unary_unary(HEALTH_CHECK)

    def refused() -> bool:
        try:
            check(b"", timeout=PROBE_TIMEOUT)
        except grpc.RpcError as exc:
            code: Any = exc.code()  # a grpc.RpcError raised by a call is also a grpc.Call
            return bool(code == grpc.StatusCode.UNAVAILABLE)
        return False

    return refused


def _end_host(address: str) -> None:
    message = f"pulumi.dynamic host: the engine at {address} is gone; exiting\n"
    with contextlib.suppress(OSError):  # stderr went to the engine, which is gone
        os.write(2, message.encode())
    os._exit(EXIT_STATUS)


def _watch(
    address: str,
    refused: Callable[[], bool],
    end: Callable[[str], None],
    interval: float,
    detector: GoneDetector,
) -> None:
    while True:
        if detector.observe(refused(), time.monotonic()):
            end(address)
            return
        time.sleep(interval)


def watch_engine(
    argv: Sequence[str] | None = None,
    main_module: ModuleType | None = None,
    end: Callable[[str], None] = _end_host,
    interval: float = PROBE_INTERVAL,
) -> str | None:
    """Start watching the engine (once per process); returns the address watched, if any."""
    global _watching
    if _watching is not None:
        return _watching
    address = engine_address(
        sys.argv if argv is None else argv,
        sys.modules.get("__main__") if main_module is None else main_module,
    )
    if address is None:
        return None
    with _lock:
        if _watching is None:
            thread = threading.Thread(
                target=_watch,
                args=(address, _health_probe(address), end, interval, GoneDetector()),
                name="engine-watch",
                daemon=True,
            )
            thread.start()
            _watching = address
    return _watching
