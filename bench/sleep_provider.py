"""A provider that makes no HTTP call: its create only waits as long as one API call.

Run through the same SDK host with the same parallelism, it measures what the host, gRPC
and this machine cost on their own, so the benchmark can tell our provider's overhead from
the floor any Python dynamic provider has here. Loaded by reference (`bench.sleep_provider`)
from the project directory, like the real provider.
"""

from __future__ import annotations

import os
import time
from typing import Any

from pulumi.dynamic import CheckResult, CreateResult, ResourceProvider

SLEEP_ENV = "BENCH_SLEEP_SECONDS"


class SleepProvider(ResourceProvider):
    serialize_as_secret_always = False

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        return CheckResult({k: v for k, v in news.items() if k != "__provider"}, [])

    def create(self, props: dict[str, Any]) -> CreateResult:
        time.sleep(float(os.environ.get(SLEEP_ENV, "0.1")))
        outs = {k: v for k, v in props.items() if k != "__provider"}
        return CreateResult(str(props["email"]), outs)
