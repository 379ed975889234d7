"""The repository's GitHub Actions workflows as data, for the tests that hold them to policy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from tests.support.helpers import PROJECT_ROOT

WORKFLOWS_DIR = PROJECT_ROOT / ".github" / "workflows"
DEPLOY_WORKFLOW = WORKFLOWS_DIR / "deploy.yml"


def workflow_files() -> list[Path]:
    return sorted([*WORKFLOWS_DIR.glob("*.yml"), *WORKFLOWS_DIR.glob("*.yaml")])


def load_workflow(path: Path) -> dict[str, Any]:
    """The workflow as a dict. YAML 1.1 reads the key `on` as True; put it back under "on"."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path.name}: not a mapping"
    if True in data:
        data["on"] = data.pop(True)
    return data


def steps_using(job: dict[str, Any], action: str) -> Iterator[dict[str, Any]]:
    """The job's steps whose `uses:` is `action` at any version."""
    for step in job.get("steps", []):
        if str(step.get("uses", "")).split("@", 1)[0] == action:
            yield step
