"""The deploy pipeline's policy, read from .github/workflows/deploy.yml.

actionlint checks that the file is a valid workflow; these tests check what it must mean: a pull
request can never cancel a deploy, a fork's pull request gets a notice instead of a failing
preview, OIDC is granted only where AWS credentials are fetched, the test job builds the CLI, and
a deploy that was cut off is recovered before the next `up` (or by hand), judged by the job's own
timeout.
"""

from __future__ import annotations

import re
import subprocess
from typing import Any

import pytest

from provider.host.concurrency import DEPLOY_PARALLEL
from provider.tools.stack_locks import DEFAULT_MAX_RUN
from tests.support.helpers import PROJECT_ROOT
from tests.support.workflow_support import DEPLOY_WORKFLOW, load_workflow, steps_using

pytestmark = pytest.mark.timeout(10)

SAME_REPO = "github.event.pull_request.head.repo.full_name == github.repository"
FORK = "github.event.pull_request.head.repo.full_name != github.repository"
NOT_A_PR = "github.event_name != 'pull_request'"


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    return load_workflow(DEPLOY_WORKFLOW)


def reads_secrets(job: dict[str, Any]) -> bool:
    return re.search(r"\$\{\{[^}]*\bsecrets\.", str(job)) is not None


def job_if(job: dict[str, Any]) -> str:
    return " ".join(str(job.get("if", "")).split())


def render(template: str, values: dict[str, str]) -> str:
    """Evaluate a `${{ ... }}` template with the given value for each expression it uses."""

    def value(match: re.Match[str]) -> str:
        expression = match.group(1).strip()
        assert expression in values, f"unexpected expression in {template!r}: {expression}"
        return values[expression]

    return re.sub(r"\$\{\{(.*?)\}\}", value, template)


STACK = "vars.PULUMI_STACK || 'prod'"
PR_NUMBER = "github.event.pull_request.number"


def test_no_workflow_level_concurrency_group(workflow: dict[str, Any]) -> None:
    """One group for the whole workflow queues PR runs with deploys: a newer pending run then
    replaces (cancels) a pending deploy."""
    assert "concurrency" not in workflow


def test_deploy_job_is_queued_per_stack_and_never_cancelled(workflow: dict[str, Any]) -> None:
    concurrency = workflow["jobs"]["deploy"]["concurrency"]
    assert concurrency["cancel-in-progress"] is False
    prod = render(concurrency["group"], {STACK: "prod"})
    staging = render(concurrency["group"], {STACK: "staging"})
    assert prod != staging, "the deploy group must be keyed by the stack"


def test_preview_group_is_per_pull_request_and_never_a_deploy_group(
    workflow: dict[str, Any],
) -> None:
    deploy_group = workflow["jobs"]["deploy"]["concurrency"]["group"]
    preview_group = workflow["jobs"]["preview"]["concurrency"]["group"]
    previews = {render(preview_group, {STACK: "prod", PR_NUMBER: str(n)}) for n in (1, 2, 3)}
    assert len(previews) == 3, "each pull request needs its own preview group"
    deploys = {render(deploy_group, {STACK: stack}) for stack in ("prod", "1", "2", "3")}
    assert not previews & deploys, f"a preview shares a group with a deploy: {previews & deploys}"


def test_jobs_that_read_secrets_on_pull_requests_skip_forks(workflow: dict[str, Any]) -> None:
    for name, job in workflow["jobs"].items():
        condition = job_if(job)
        if reads_secrets(job) and NOT_A_PR not in condition:
            assert SAME_REPO in condition, f"job {name} reads secrets on a fork's pull request"


def test_fork_pull_requests_get_a_notice_instead_of_a_preview(workflow: dict[str, Any]) -> None:
    assert SAME_REPO in job_if(workflow["jobs"]["preview"])
    notices = [
        name
        for name, job in workflow["jobs"].items()
        if FORK in job_if(job)
        and any("::notice" in str(step.get("run", "")) for step in job.get("steps", []))
    ]
    assert notices, "no job tells a fork's pull request that its preview was skipped"
    for name in notices:
        assert not reads_secrets(workflow["jobs"][name])


def evaluate(condition: str, contexts: dict[str, str]) -> bool:
    """A job's `if:` evaluated for the given context values (==, !=, &&, ||, parentheses)."""
    python = re.sub(
        r"[a-z_]+(?:\.[\w-]+)+", lambda m: repr(contexts.get(m.group(0), "")), condition
    )
    python = python.replace("&&", " and ").replace("||", " or ")
    return bool(eval(python, {"__builtins__": {}}))  # noqa: S307 - a literal comparison only


@pytest.mark.parametrize(
    ("head", "actor", "opted_in", "expected"),
    [
        ("me/repo", "someone", "", "preview"),
        ("fork/repo", "someone", "", "preview-fork"),
        ("me/repo", "dependabot[bot]", "", "preview-dependabot"),
        ("me/repo", "dependabot[bot]", "true", "preview"),
        ("me/repo", "someone", "true", "preview"),  # a person's push to Dependabot's branch
    ],
)
def test_every_pull_request_gets_a_preview_or_a_notice_saying_why(
    workflow: dict[str, Any], head: str, actor: str, opted_in: str, expected: str
) -> None:
    """A run Dependabot starts has only Dependabot's secrets: it previews only where the
    maintainers stored the deploy secrets there too (PREVIEW_DEPENDABOT), else it says so."""
    contexts = {
        "github.event_name": "pull_request",
        "github.event.pull_request.head.repo.full_name": head,
        "github.repository": "me/repo",
        "github.actor": actor,
        "vars.PREVIEW_DEPENDABOT": opted_in,
    }
    candidates = ("preview", "preview-fork", "preview-dependabot")
    runs = [n for n in candidates if evaluate(job_if(workflow["jobs"][n]), contexts)]
    assert runs == [expected]


def test_oidc_token_only_where_aws_credentials_are_fetched(workflow: dict[str, Any]) -> None:
    assert "id-token" not in workflow.get("permissions", {})
    aws = 0
    for name, job in workflow["jobs"].items():
        fetches = any(steps_using(job, "aws-actions/configure-aws-credentials"))
        grants = job.get("permissions", {}).get("id-token") == "write"
        assert fetches == grants, f"job {name}: id-token: write iff it fetches AWS credentials"
        aws += fetches
    assert aws >= 2, "preview and deploy both need the object-store credentials"


def test_test_job_builds_the_cli_with_go_and_caches_its_modules(workflow: dict[str, Any]) -> None:
    steps = workflow["jobs"]["test"]["steps"]
    setup_go = next(
        (i for i, step in enumerate(steps) if "actions/setup-go" in step.get("uses", "")), None
    )
    assert setup_go is not None, "the test job sets up no Go: `make cli` cannot build the CLI"
    go = steps[setup_go]["with"]
    assert str(go["go-version"]) == "1.26"
    assert (PROJECT_ROOT / go["cache-dependency-path"]).is_file()
    runs = [str(step.get("run", "")) for step in steps]
    make_cli = [i for i, run in enumerate(runs) if re.search(r"\bmake\b.*\bcli\b", run)]
    make_test = [i for i, run in enumerate(runs) if re.search(r"\bmake test\b", run)]
    assert make_cli and make_test, f"the test job must run `make cli` and `make test`: {runs}"
    assert setup_go < make_cli[0] < make_test[0], "order: setup-go, make cli, make test"
    assert any(re.search(r"\bmake\b.*\bactionlint\b", run) for run in runs[: make_test[0]])


def deploy_steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return list(workflow["jobs"]["deploy"]["steps"])


def step_index(steps: list[dict[str, Any]], found: Any, what: str) -> int:
    index = next((i for i, step in enumerate(steps) if found(step)), None)
    assert index is not None, f"the deploy job has no step that {what}"
    return index


def is_recover(step: dict[str, Any]) -> bool:
    return "python -m provider.recover" in str(step.get("run", ""))


def is_up(step: dict[str, Any]) -> bool:
    return bool(step.get("with", {}).get("command") == "up")


def test_every_deploy_recovers_a_cut_off_run_before_up(workflow: dict[str, Any]) -> None:
    """A lock and pending operations left by a run that cannot be alive are cleared before
    `up` (which would stop at the lock); a lock that may be alive fails the step."""
    steps = deploy_steps(workflow)
    install = step_index(
        steps,
        lambda s: (
            str(s.get("uses", "")).startswith("pulumi/actions") and "command" not in s["with"]
        ),
        "installs the pinned CLI without running a command",
    )
    recover = step_index(steps, is_recover, "runs python -m provider.recover")
    up = step_index(steps, is_up, "runs pulumi up")
    assert install < recover < up
    step = steps[recover]
    run = " ".join(str(step["run"]).split())
    # `exec`: the runner's SIGINT on cancel reaches Python, which hands it to the CLI.
    assert run.startswith('exec venv/bin/python -m provider.recover --stack "$PULUMI_STACK"')
    assert "--no-plan" in run, "up prints the plan right after: no preview of its own"
    assert "if" not in step and "continue-on-error" not in step, "a live lock must fail the job"
    env = step["env"]
    assert env["PULUMI_BACKEND_URL"] == steps[up]["with"]["cloud-url"], "the same backend as up"
    for secret in ("USEAPI_TOKEN", "PULUMI_CONFIG_PASSPHRASE", "PULUMI_ACCESS_TOKEN"):
        assert env[secret] == steps[up]["env"][secret]


def test_a_lock_is_judged_by_the_deploy_jobs_own_timeout(workflow: dict[str, Any]) -> None:
    """provider.recover treats another host's lock as stale once it is older than any deploy
    can run: the job's timeout-minutes, passed as --max-run-minutes (and the tool's default)."""
    job = workflow["jobs"]["deploy"]
    timeout = job["timeout-minutes"]
    run = str(deploy_steps(workflow)[step_index(deploy_steps(workflow), is_recover, "")]["run"])
    match = re.search(r"--max-run-minutes (\d+)", run)
    assert match is not None and int(match.group(1)) == timeout
    assert DEFAULT_MAX_RUN.total_seconds() == timeout * 60


def test_a_person_can_start_the_recovery_by_hand(workflow: dict[str, Any]) -> None:
    inputs = workflow["on"]["workflow_dispatch"]["inputs"]
    for name in ("recover_only", "force_unlock"):
        assert inputs[name]["type"] == "boolean" and inputs[name]["default"] is False
    steps = deploy_steps(workflow)
    recover = steps[step_index(steps, is_recover, "")]
    # The box reaches the shell through env (no `${{ }}` in a script): empty unless ticked.
    assert recover["env"]["FORCE_UNLOCK"] == "${{ inputs.force_unlock && 'yes' || '' }}"
    args = str(recover["run"]).replace("exec ", "printf '%s\\n' ", 1)
    for value, forced in (("", False), ("yes", True)):
        shell = subprocess.run(
            ["bash", "-c", args],
            env={"FORCE_UNLOCK": value, "PULUMI_STACK": "prod"},
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
        assert ("--force" in shell.stdout.split()) is forced, f"FORCE_UNLOCK={value!r}"
    up = steps[step_index(steps, is_up, "")]
    assert "!inputs.recover_only" in str(up.get("if", ""))
    assert job_if(workflow["jobs"]["deploy"]) == f"{NOT_A_PR} && github.ref == 'refs/heads/main'"


def test_a_cancelled_deploy_gives_the_cli_time_to_release_its_lock(
    workflow: dict[str, Any],
) -> None:
    """On cancel the pulumi action hands the CLI one SIGTERM and exits; the runner kills what
    is left when the job ends. A step that runs only on cancel waits for the CLI first."""
    steps = deploy_steps(workflow)
    wait = step_index(
        steps, lambda s: str(s.get("if", "")) == "cancelled()", "runs only when cancelled"
    )
    assert wait > step_index(steps, is_up, "")
    assert "pgrep -x pulumi" in steps[wait]["run"]
    report = step_index(steps, lambda s: "provider.report" in str(s.get("run", "")), "reports")
    assert wait < report


def test_the_deploy_runs_at_the_parallelism_the_benchmark_chose(workflow: dict[str, Any]) -> None:
    """`PULUMI_PARALLEL` on the `up` step: the CLI reads it, and so does the provider host (a
    `--parallel` flag would never reach the host)."""
    (up,) = [step for step in steps_using(workflow["jobs"]["deploy"], "pulumi/actions") if
             step.get("with", {}).get("command") == "up"]  # fmt: skip
    assert up["env"]["PULUMI_PARALLEL"] == str(DEPLOY_PARALLEL)
    assert "parallel" not in up["with"]
