"""The engine serves the project's dynamic resources from the project's host, through the real
CLI: `Pulumi.yaml` declares its plugin folder, which the CLI takes before the SDK's plugin that
`make cli` put first on PATH. So `up` and `destroy` run as many API calls at once as
`--parallel` allows (the SDK's host: four), and a `destroy` shares its looks at the running jobs.

And state written by every earlier release (the three forms `__provider` was pickled in) still
previews no change and calls nobody, and refreshes and destroys through the project's host.
"""

from __future__ import annotations

import base64
import json
import pickletools
from typing import Any

import pytest

from tests.support.cli_support import ACCOUNT_TYPE, TOOLS_BIN, CliProject
from tests.support.helpers import SERIALIZED_PROVIDER
from useapi_emulator import UseapiEmulator

pytestmark = pytest.mark.cli

N = 16
PARALLEL = "16"
LATENCY = 0.5
SCHEDULER_PATH = "/v2/pixverse/scheduler/available"


@pytest.mark.timeout(240)
def test_up_and_destroy_run_as_many_calls_at_once_as_the_engines_parallelism(
    project: CliProject, emulator: UseapiEmulator
) -> None:
    assert (TOOLS_BIN / "pulumi-resource-pulumi-python").exists()  # the SDK's, first on PATH
    fleet = {f"wide{i:02d}@example.com": 2 for i in range(N)}
    project.seed(fleet)
    emulator.latency = LATENCY

    created = project.up("--parallel", PARALLEL)

    assert created.summary()["created"] == sorted(fleet)
    # The SDK's host would have served four at once, whatever --parallel said.
    assert emulator.peak_admitted >= 12, emulator.peak_admitted

    emulator.reset_calls()
    gone = project.destroy("--parallel", PARALLEL)

    assert gone.summary()["deleted"] == sorted(fleet) and emulator.accounts == {}
    assert sorted(str(call.email) for call in emulator.calls("DELETE")) == sorted(fleet)
    looks = [call for call in emulator.calls("GET") if call.path == SCHEDULER_PATH]
    assert 1 <= len(looks) <= 3, len(looks)  # 16 deletes in flight together: about one look


# -- state written by earlier releases -------------------------------------------------------


# Releases before the package was laid out by where code runs: the class by its old module.
LAYOUT_PICKLE = (
    "gASVPwAAAAAAAACMGXByb3ZpZGVyLmFjY291bnRfcHJvdmlkZXKU"
    "jBdQaXhWZXJzZUFjY291bnRQcm92aWRlcpSTlCmBlH2UYi4="
)
# Releases before `__reduce__`: the class by its public name, a new object and an empty state.
STATE_DICT_PICKLE = base64.b64encode(
    b"\x80\x04"  # PROTO 4
    b"\x8c\x08provider\x94\x8c\x17PixVerseAccountProvider\x94\x93\x94"  # the class
    b")\x81\x94"  # NEWOBJ with no arguments
    b"}\x94b."  # BUILD with an empty state dict
).decode()
RELEASES = {  # account → the `__provider` its state holds
    "layout@example.com": LAYOUT_PICKLE,
    "statedict@example.com": STATE_DICT_PICKLE,
    "current@example.com": SERIALIZED_PROVIDER,
}


def _as_written_by_earlier_releases(deployment: dict[str, Any]) -> dict[str, Any]:
    for resource in deployment["resources"]:
        if resource["type"] == ACCOUNT_TYPE:
            pickled = RELEASES[resource["id"]]
            for props in ("inputs", "outputs"):
                resource[props]["__provider"] = pickled
    return deployment


@pytest.mark.timeout(240)
def test_state_of_every_earlier_release_previews_no_change_and_refreshes_and_destroys(
    project: CliProject, emulator: UseapiEmulator
) -> None:
    assert len(set(RELEASES.values())) == 3
    ops = [op.name for op, _, _ in pickletools.genops(base64.b64decode(STATE_DICT_PICKLE))]
    assert ops[-4:] == ["EMPTY_DICT", "MEMOIZE", "BUILD", "STOP"]
    project.seed(dict.fromkeys(RELEASES, 3))
    project.up()
    outputs = project.outputs()
    exported = project.exported()
    exported["deployment"] = _as_written_by_earlier_releases(exported["deployment"])
    project.run("stack", "import", stdin=json.dumps(exported))
    emulator.reset_calls()

    project.preview("--expect-no-changes")
    again = project.up("--expect-no-changes")

    assert again.summary()["unchanged"] == sorted(RELEASES)
    assert emulator.calls() == []
    assert project.outputs() == outputs

    # The project's host unpickles each form to read and delete with.
    project.run("stack", "import", stdin=json.dumps(exported))
    project.refresh("--expect-no-changes")
    assert [(call.method, call.path) for call in emulator.calls()] == [
        ("GET", "/v2/pixverse/accounts")
    ]
    held = {
        r["id"]: r["outputs"]["__provider"]
        for r in project.exported()["deployment"]["resources"]
        if r["type"] == ACCOUNT_TYPE
    }
    assert held == RELEASES  # refresh kept what each resource carried
    gone = project.destroy()
    assert gone.summary()["deleted"] == sorted(RELEASES)
    assert emulator.accounts == {}
