"""The provider host of this project's dynamic resources: the SDK's own, with a wider thread pool.

Why it exists: the SDK's host (`python -m pulumi.dynamic`, `pulumi/dynamic/__main__.py`) serves
the engine from `grpc.server(futures.ThreadPoolExecutor(max_workers=4), ...)`, and nothing
configures that 4. The engine sends up to `--parallel` calls at once (8 on a 2-CPU runner by
default), and every call of ours waits on useapi.net, so four calls at once were the ceiling of
every `up`, `refresh` and `destroy`, whatever the engine allowed.

What it reuses: all of it. `main()` runs the installed SDK's `pulumi.dynamic.__main__` exactly
as `python -m pulumi.dynamic` does (with `runpy`, as the module `__main__`, the engine's address
still the first argument): its `DynamicResourceProviderServicer` (Configure, Check, Diff,
Create, Read, Update, Delete, Cancel, the cache of unpickled `__provider`s), its gRPC options,
its port line and its `main()`, unedited. One number differs: the `grpc.server` that `main()`
calls gets a pool of `concurrency.host_workers()` threads instead of four.

Who starts it: the engine, through `provider/host/plugin/pulumi-resource-pulumi-python`, the
folder `Pulumi.yaml` declares as this project's `pulumi-python` provider plugin
(`plugins: providers:`). The CLI takes a project's own plugin before one on PATH or the one
bundled beside it (`getPluginInfoAndPath`, Pulumi's sdk/go/common/workspace/plugins.go; every
CLI since 3.37, so every one this project supports, 3.139 and newer).
"""

from __future__ import annotations

import runpy
from collections.abc import Callable
from concurrent import futures
from typing import Any

import grpc

from .concurrency import host_workers

SDK_HOST = "pulumi.dynamic"  # `python -m pulumi.dynamic` runs its `__main__`


def widened(server: Callable[..., Any], workers: int) -> Callable[..., Any]:
    """`grpc.server`, serving from a pool of `workers` threads whatever pool it is handed."""

    def server_with_wider_pool(thread_pool: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(thread_pool, futures.ThreadPoolExecutor):
            thread_pool.shutdown(wait=False)  # the SDK's pool of four, before it made a thread
            thread_pool = futures.ThreadPoolExecutor(max_workers=workers)
        return server(thread_pool, *args, **kwargs)

    return server_with_wider_pool


def main() -> None:
    grpc.server = widened(grpc.server, host_workers())
    runpy.run_module(SDK_HOST, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
