"""The program's optional stack settings under Pulumi's own mocks: a bad
`pixverse-accounts:minCredits` fails the program naming the key before any resource is
registered (so before any API call), as a bad `jwtWarnDays` does; a good one changes nothing
the program declares (the drift check and the fleet report are what read it)."""

from __future__ import annotations

import json
import runpy
from collections.abc import Iterator
from typing import Any

import pulumi
import pytest
from pulumi.runtime.settings import get_root_resource

from tests.support.helpers import PASSWORD_SENTINEL, PROJECT_ROOT
from tests.support.mock_support import RecordingMonitor, install_recording_mocks

PROGRAM = PROJECT_ROOT / "__main__.py"
OPS = "ops@example.com"


@pytest.fixture
def monitor() -> Iterator[RecordingMonitor]:
    recording = install_recording_mocks()
    yield recording
    pulumi.runtime.set_all_config({}, [])


def _configure(**settings: str) -> None:
    config = {
        "pixverse-accounts:accounts": json.dumps({OPS: {"maxJobs": 3}}),
        "pixverse-accounts:passwords": json.dumps({OPS: PASSWORD_SENTINEL}),
        **{f"pixverse-accounts:{key}": value for key, value in settings.items()},
    }
    pulumi.runtime.set_all_config(config, ["pixverse-accounts:passwords"])


@pytest.mark.parametrize(
    ("key", "value"), [("minCredits", "-5"), ("minCredits", "1.5"), ("jwtWarnDays", "soon")]
)
def test_a_bad_optional_setting_fails_the_program_naming_it_before_any_resource(
    monitor: RecordingMonitor, key: str, value: str
) -> None:
    _configure(**{key: value})
    with pytest.raises(pulumi.RunError, match=f"pixverse-accounts:{key}"):
        runpy.run_path(str(PROGRAM), run_name="__main__")
    assert monitor.requests == []


@pulumi.runtime.test
def test_a_good_min_credits_changes_nothing_the_program_declares(monitor: RecordingMonitor) -> Any:
    _configure(minCredits="500")
    runpy.run_path(str(PROGRAM), run_name="__main__")
    stack = get_root_resource()
    assert stack is not None
    outputs: dict[str, Any] = dict(getattr(stack, "outputs", {}))

    def verify(accounts: Any) -> None:
        assert list(accounts) == [OPS]
        names = [r.name for r in monitor.requests if r.type != "pulumi:pulumi:Stack"]
        assert names == [OPS]

    return pulumi.Output.from_input(outputs["accounts"]).apply(verify)
