"""The part of the engine a provider host watches: the gRPC health service on 127.0.0.1.

The engine serves `grpc.health.v1.Health` next to its host services (`rpcutil.ServeWithOptions`
registers it on every Pulumi gRPC server); a provider host started with this server's address
as its first argument watches it exactly as it watches a real engine. `answer_after` makes it
slow (a busy or stopped engine: the connection is accepted, the answer comes late),
`health=False` leaves the service out (an engine that answers UNIMPLEMENTED), and `stop()`
closes the port as a killed engine's does. Every probe's arrival time is kept in `probes`.
"""

from __future__ import annotations

import threading
import time
from concurrent import futures
from typing import Any

import grpc

SERVING = b"\x08\x01"  # HealthCheckResponse{status: SERVING}, as the engine answers


class FakeEngine:
    def __init__(self, answer_after: float = 0.0, health: bool = True) -> None:
        self.answer_after = answer_after
        self.health = health
        self.probes: list[float] = []
        self._lock = threading.Lock()
        self._server: grpc.Server | None = None
        self.port = 0

    def _check(self, _request: bytes, _context: Any) -> bytes:
        with self._lock:
            self.probes.append(time.monotonic())
        if self.answer_after:
            time.sleep(self.answer_after)
        return SERVING

    def start(self) -> FakeEngine:
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        if self.health:
            handler = grpc.unary_unary_rpc_method_handler(self._check)
            server.add_generic_rpc_handlers(
                (grpc.method_handlers_generic_handler("grpc.health.v1.Health", {"Check": handler}),)
            )
        self.port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        self._server = server
        return self

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def probes_between(self, start: float, end: float) -> int:
        with self._lock:
            return sum(1 for t in self.probes if start <= t <= end)

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(grace=None).wait(5)
            self._server = None

    def __enter__(self) -> FakeEngine:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
