"""How many calls the provider host runs at once: one number for the width of its gRPC thread
pool (`dynamic_host`) and of its HTTP connection pool (`useapi.client`).

The engine runs up to `--parallel` steps at once: `PULUMI_PARALLEL` when set, else 4 x the CPUs
(`defaultParallel` in Pulumi's `pkg/cmd/pulumi/operations/up.go`), and beside them the Check
calls of its step generator, one at a time. Each of those is one provider call, and each call
of ours holds a worker (and, while it talks to useapi.net, one HTTP connection) until it ends.
So the host is as wide as the engine's parallelism plus that one Check, as far as the host can
know it: the `--parallel` flag never reaches a plugin (the environment does), so the width
never drops below `MIN_WORKERS`, enough for any `--parallel` this project is run at
(docs/performance.md: 8 to 32). Threads and connections are made only when calls arrive, so
width that is not used costs nothing. `MAX_WORKERS` caps what an unbounded `PULUMI_PARALLEL`
would ask for.

`DEPLOY_PARALLEL` is the parallelism the deploy pipeline and `make up` run at, chosen from the
benchmark (bench/README.md, "Past four calls at once"); the workflow sets the same number
(tests/repo/test_deploy_workflow.py keeps the two equal).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

PARALLEL_ENV = "PULUMI_PARALLEL"
CPU_FACTOR = 4  # the CLI's default --parallel is 4 x the CPUs
SERIAL_CALLS = 1  # the engine's Check, one at a time beside the steps
MIN_WORKERS = 64
MAX_WORKERS = 256
DEPLOY_PARALLEL = 32


def available_cpus() -> int:
    """The CPUs this process may use, as Go's GOMAXPROCS counts them (affinity, not the box)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def engine_parallelism(environ: Mapping[str, str], cpus: int) -> int:
    """The steps the engine runs at once unless `--parallel` says otherwise."""
    raw = environ.get(PARALLEL_ENV, "").strip()
    if raw.isdigit() and int(raw) > 0:
        return int(raw)
    return CPU_FACTOR * cpus


def host_workers(environ: Mapping[str, str] | None = None, cpus: int | None = None) -> int:
    """The width of the host: what the engine sends at once, within MIN_WORKERS..MAX_WORKERS."""
    wanted = engine_parallelism(
        os.environ if environ is None else environ, cpus or available_cpus()
    )
    return max(MIN_WORKERS, min(MAX_WORKERS, wanted + SERIAL_CALLS))
