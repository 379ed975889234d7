"""The pipelines run what docs/drift.md and docs/report.md promise: the daily drift check
(refresh-preview that must show no changes, then the per-account names) and the fleet report in
both job summaries."""

from __future__ import annotations

from typing import Any

from tests.support.workflow_support import WORKFLOWS_DIR, load_workflow


def steps(name: str) -> list[dict[str, Any]]:
    workflow = load_workflow(WORKFLOWS_DIR / name)
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def runs(name: str) -> str:
    return "\n".join(str(step.get("run", "")) for step in steps(name))


def test_drift_runs_daily_and_on_demand() -> None:
    triggers = load_workflow(WORKFLOWS_DIR / "drift.yml")["on"]
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


def test_the_drift_check_never_shares_the_deploy_queue() -> None:
    """GitHub keeps one pending run per concurrency group: a check queued in the deploy's group
    would displace a pending deploy."""
    drift = load_workflow(WORKFLOWS_DIR / "drift.yml")
    deploy = load_workflow(WORKFLOWS_DIR / "deploy.yml")
    groups = [drift.get("concurrency"), *(j.get("concurrency") for j in drift["jobs"].values())]
    drift_groups = {g["group"] for g in groups if g}
    deploy_group = deploy["jobs"]["deploy"]["concurrency"]["group"]
    assert drift_groups and deploy_group not in drift_groups


def test_both_job_summaries_get_the_live_report_with_the_token_it_reads_with() -> None:
    for name in ("drift.yml", "deploy.yml"):
        workflow = load_workflow(WORKFLOWS_DIR / name)
        (step,) = [s for s in steps(name) if "python -m provider.report" in str(s.get("run", ""))]
        assert '--stack "$PULUMI_STACK"' in step["run"], name
        env = {**workflow.get("env", {}), **step.get("env", {})}
        assert env.get("USEAPI_TOKEN") == "${{ secrets.USEAPI_TOKEN }}", name
