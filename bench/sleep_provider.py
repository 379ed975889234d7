"""A provider that makes no HTTP call: each call that costs ours one API round trip only
waits as long as one.

Run through the same SDK host (and, in `floor_program`, the same engine) with the same
parallelism, it measures what the host, gRPC, the engine and this machine cost on their own, so
the benchmark can tell our provider's overhead from the floor any Python dynamic provider has
here. Its outputs have the shape of ours (the inputs plus a `jwt` block), so the engine stores
and sends as much per resource. Loaded by reference (`bench.sleep_provider`) from the project
directory, like the real provider.

Create, update and delete sleep one latency (ours makes one POST or DELETE); check and diff
are pure (so are ours); read returns state at once, the least any refresh can cost (ours makes
one list call for the whole refresh, which the benchmark shows beside it).
"""

from __future__ import annotations

import os
import time
from typing import Any

from pulumi.dynamic import (
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)

SLEEP_ENV = "BENCH_SLEEP_SECONDS"
INPUTS = ("email", "password", "maxJobs", "token")
SESSION_SECONDS = 30 * 24 * 3600


def _sleep() -> None:
    time.sleep(float(os.environ.get(SLEEP_ENV, "0.1")))


def _outputs(props: dict[str, Any]) -> dict[str, Any]:
    """The inputs and a session block as large as the API's."""
    outs = {k: v for k, v in props.items() if k != "__provider"}
    expires = int(time.time()) + SESSION_SECONDS
    outs["jwt"] = {
        "AccountId": 100000,
        "ExpireTime": expires,
        "ExpireTimeUTC": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(expires)),
        "Username": str(props.get("email", "")).split("@", 1)[0],
    }
    return outs


class SleepProvider(ResourceProvider):
    serialize_as_secret_always = False

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        return CheckResult({k: v for k, v in news.items() if k != "__provider"}, [])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [prop for prop in INPUTS if olds.get(prop) != news.get(prop)]
        return DiffResult(changes=bool(changed), replaces=[], stables=[])

    def create(self, props: dict[str, Any]) -> CreateResult:
        _sleep()
        return CreateResult(str(props["email"]), _outputs(props))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        _sleep()
        return UpdateResult(_outputs(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        outs = {k: v for k, v in props.items() if k != "__provider"}
        inputs = {k: outs[k] for k in INPUTS if outs.get(k) is not None}
        return ReadResult(id_, outs, inputs)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        _sleep()
