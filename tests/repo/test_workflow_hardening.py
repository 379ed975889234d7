"""The pipelines run only what was reviewed and keep no credential they do not need.

The deploy and drift jobs hold the useapi.net token, the stack's passphrase and an AWS role:
an action referenced by a movable tag runs whatever its tag points to that day. zizmor
(`make lint`, offline) audits the workflows; these tests hold what it does not check (the
release beside each SHA, one pin per action, the permission table) and show that zizmor, as
`make lint` runs it, fails on an unpinned action.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.helpers import PROJECT_ROOT
from tests.support.workflow_support import load_workflow, workflow_files

pytestmark = pytest.mark.timeout(30)

USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?P<rest>.*)$")
# `owner/repo[/path]@<40 hex>  # v1.2.3`: the form Dependabot updates, SHA and comment together.
PINNED = re.compile(r"(?P<action>[\w.-]+/[\w.-]+(?:/[\w./-]+)?)@(?P<sha>[0-9a-f]{40})")
RELEASE = re.compile(r"  # (?P<release>v\d+\.\d+\.\d+)")

# What each job's GITHUB_TOKEN and OIDC may do. A new job or grant is a reviewed line here.
PERMISSIONS: dict[tuple[str, str], dict[str, str]] = {
    ("deploy.yml", "test"): {"contents": "read"},
    # the preview comment; OIDC credentials for an s3:// backend
    ("deploy.yml", "preview"): {
        "contents": "read",
        "pull-requests": "write",
        "id-token": "write",
    },
    ("deploy.yml", "preview-fork"): {},  # prints a notice
    ("deploy.yml", "preview-dependabot"): {},  # prints a notice
    ("deploy.yml", "deploy"): {"contents": "read", "id-token": "write"},
    ("drift.yml", "drift"): {"contents": "read", "id-token": "write"},
}

ZIZMOR = Path(sys.executable).with_name("zizmor")


def steps() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path.name, name, step)
        for path in workflow_files()
        for name, job in load_workflow(path)["jobs"].items()
        for step in job.get("steps", [])
    ]


def test_every_action_is_pinned_to_a_commit_with_its_release_beside_it() -> None:
    releases: dict[str, set[tuple[str, str]]] = {}
    for path in workflow_files():
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            uses = USES.match(line)
            if not uses:
                continue
            where = f"{path.name}:{lineno}"
            pinned = PINNED.fullmatch(uses["ref"])
            release = RELEASE.fullmatch(uses["rest"])
            assert pinned, f"{where}: {uses['ref']} is not pinned to a full commit SHA"
            assert release, f"{where}: write the release beside the SHA: `@<sha>  # v1.2.3`"
            releases.setdefault(pinned["action"], set()).add((pinned["sha"], release["release"]))
    assert len(releases) >= 5, f"fewer actions than the workflows use: {sorted(releases)}"
    split = {action: pins for action, pins in releases.items() if len(pins) > 1}
    assert not split, f"one action, several pins (update them together): {split}"


def test_no_checkout_leaves_the_token_for_later_steps() -> None:
    """`actions/checkout` writes the job's token into .git/config unless told not to; no job
    pushes, so none needs it there."""
    checkouts = [s for s in steps() if str(s[2].get("uses", "")).startswith("actions/checkout@")]
    assert checkouts
    for workflow, job, step in checkouts:
        assert step.get("with", {}).get("persist-credentials") is False, f"{workflow} {job}"
    pushes = [(w, j) for w, j, s in steps() if re.search(r"\bgit\s+push\b", str(s.get("run", "")))]
    assert not pushes, f"a job pushes: give only it the token, and contents: write: {pushes}"


def test_no_expression_is_expanded_inside_a_run_script() -> None:
    """`${{ }}` in a script is pasted into it before the shell runs: a value that holds shell
    syntax runs as code. Values reach scripts through `env:` instead."""
    expanded = [(w, j, s.get("name", s["run"])) for w, j, s in steps() if "${{" in s.get("run", "")]
    assert not expanded, f"pass these through env: {expanded}"


def test_each_job_gets_the_least_permissions_it_needs() -> None:
    effective: dict[tuple[str, str], dict[str, str]] = {}
    for path in workflow_files():
        workflow = load_workflow(path)
        assert "permissions" in workflow, f"{path.name}: no workflow permissions (repo default)"
        for name, job in workflow["jobs"].items():
            effective[(path.name, name)] = job.get("permissions", workflow["permissions"])
    assert effective == PERMISSIONS


def zizmor(github: Path) -> tuple[int, list[str]]:
    """zizmor as `make lint` runs it, offline: its exit code and the audits that found."""
    assert ZIZMOR.exists(), "zizmor is not in the venv: make venv (requirements-dev.lock.txt)"
    done = subprocess.run(
        [str(ZIZMOR), "--offline", "--no-progress", "--format", "json", str(github)],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    return done.returncode, sorted({finding["ident"] for finding in json.loads(done.stdout)})


@pytest.mark.parametrize(
    ("old", "new", "audit"),
    [
        (r"(uses: actions/checkout@)[0-9a-f]{40}  # (v[\d.]+)", r"\1\2", "unpinned-uses"),
        (r"\n\s+with:\n\s+persist-credentials: false[^\n]*", "", "artipacked"),
    ],
)
def test_zizmor_fails_on_an_unpinned_action_or_a_kept_token(
    tmp_path: Path, old: str, new: str, audit: str
) -> None:
    """The same workflows pass, then fail once one checkout is referenced by its tag (or keeps
    its token): the check in `make lint` can fail."""
    github = tmp_path / ".github"
    shutil.copytree(PROJECT_ROOT / ".github", github)
    assert zizmor(github) == (0, [])
    deploy = github / "workflows" / "deploy.yml"
    text, count = re.subn(old, new, deploy.read_text(encoding="utf-8"), count=1)
    assert count == 1, f"deploy.yml has no {old!r}: update this test"
    deploy.write_text(text, encoding="utf-8")
    code, found = zizmor(github)
    assert code != 0 and audit in found, (code, found)


def test_dependabot_proposes_updates_for_the_actions_and_the_locks() -> None:
    config = yaml.safe_load((PROJECT_ROOT / ".github" / "dependabot.yml").read_text("utf-8"))
    updates = {(u["package-ecosystem"], u["directory"]): u for u in config["updates"]}
    assert set(updates) == {("github-actions", "/"), ("pip", "/")}
    for update in updates.values():
        assert update["cooldown"]["default-days"] >= 7, "a fresh release waits a week"
    # A range a person wrote stays as it is while the new release fits it; the lock moves.
    assert updates[("pip", "/")]["versioning-strategy"] == "increase-if-necessary"
    # Dependabot's pip support reads the files named requirements*.txt: a lock named
    # otherwise would never be updated, and its pull requests would fail the lock check.
    locks = sorted(p.name for p in PROJECT_ROOT.glob("requirements*.lock*"))
    assert locks == ["requirements-dev.lock.txt", "requirements.lock.txt"]
