"""One Pulumi version everywhere: the CLI `make cli` builds, the SDK, and the deploy pipeline's CLI.

A CLI newer or older than the SDK it drives is how "works locally, fails in the pipeline" starts;
and the provider needs 3.139.0 or newer (older CLIs keep `useapi:*` config from dynamic providers).
"""

from __future__ import annotations

import re

import pytest

from tests.support.helpers import PROJECT_ROOT
from tests.support.workflow_support import load_workflow, steps_using, workflow_files

pytestmark = pytest.mark.timeout(10)

MINIMUM_CLI = (3, 139, 0)


def makefile_pulumi_version() -> str:
    text = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    found: list[str] = re.findall(r"^PULUMI_VERSION\s*:?=\s*(\S+)\s*$", text, re.MULTILINE)
    assert len(found) == 1, f"Makefile: expected one PULUMI_VERSION line, found {found}"
    return found[0]


def requirements_pulumi_pin() -> str:
    text = (PROJECT_ROOT / "requirements.txt").read_text(encoding="utf-8")
    found: list[str] = re.findall(r"^pulumi==([^\s#;]+)", text, re.MULTILINE)
    assert len(found) == 1, f"requirements.txt: expected one exact `pulumi==` pin, found {found}"
    return found[0]


def workflow_pulumi_versions() -> dict[str, str]:
    """Every `pulumi-version:` in .github/workflows, keyed by file:line."""
    versions: dict[str, str] = {}
    for path in workflow_files():
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            match = re.match(r"\s*pulumi-version:\s*[\"']?([^\"'\s#]+)", line)
            if match:
                versions[f"{path.name}:{lineno}"] = match.group(1)
    return versions


def test_makefile_requirements_and_workflows_pin_one_pulumi_version() -> None:
    cli = makefile_pulumi_version()
    pins = {"Makefile PULUMI_VERSION": cli, "requirements.txt": requirements_pulumi_pin()}
    workflows = workflow_pulumi_versions()
    assert workflows, "no `pulumi-version:` in .github/workflows: the pipeline's CLI is unpinned"
    pins.update(workflows)
    assert set(pins.values()) == {cli}, f"Pulumi versions differ: {pins}"


def test_every_pulumi_action_step_pins_the_cli() -> None:
    """A step without `pulumi-version` installs whatever is newest ("^3"): not the tested CLI."""
    steps = 0
    for path in workflow_files():
        for name, job in load_workflow(path)["jobs"].items():
            for step in steps_using(job, "pulumi/actions"):
                steps += 1
                assert "pulumi-version" in step.get("with", {}), (
                    f"{path.name} job {name}: pulumi/actions step without pulumi-version"
                )
    assert steps, "no pulumi/actions step found: did the workflow move?"


def test_pinned_cli_is_new_enough_for_namespaced_provider_config() -> None:
    version = tuple(int(part) for part in makefile_pulumi_version().split("."))
    assert version >= MINIMUM_CLI
