"""The pipelines run what the README promises: the daily drift check (refresh-preview that
must show no changes, then the per-account names) and the fleet report in both job summaries."""

from __future__ import annotations

from typing import Any

import yaml

from .helpers import PROJECT_ROOT

WORKFLOWS = PROJECT_ROOT / ".github" / "workflows"


def steps(name: str) -> list[dict[str, Any]]:
    workflow = yaml.safe_load((WORKFLOWS / name).read_text())
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def runs(name: str) -> str:
    return "\n".join(str(step.get("run", "")) for step in steps(name))


def test_drift_runs_daily_and_on_demand() -> None:
    workflow = yaml.safe_load((WORKFLOWS / "drift.yml").read_text())
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as a boolean
    assert triggers["schedule"][0]["cron"].split()[2:] == ["*", "*", "*"]
    assert "workflow_dispatch" in triggers


def test_drift_fails_on_the_preview_or_on_a_named_account() -> None:
    commands = runs("drift.yml")
    assert "pulumi preview --refresh --expect-no-changes" in commands
    assert "python -m provider.drift --stack" in commands
    failing = next(s for s in steps("drift.yml") if s.get("name") == "Fail when the fleet drifted")
    assert "steps.preview.outcome == 'failure'" in failing["if"]
    assert "steps.accounts.outcome == 'failure'" in failing["if"]


def test_both_workflows_append_the_fleet_report_to_the_job_summary() -> None:
    for name in ("drift.yml", "deploy.yml"):
        commands = runs(name)
        assert "python -m provider.report" in commands
        assert '>> "$GITHUB_STEP_SUMMARY"' in commands
