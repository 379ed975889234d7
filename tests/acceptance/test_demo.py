"""`make up` / `make destroy` as a newcomer runs them: the launcher starts the emulator with a
state file, runs the demo stack (offline engine here), and stops the emulator every time."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.stack_support import env_without_pulumi_settings, link_project
from useapi_emulator import UseapiEmulator

RUN_TIMEOUT = 90


def demo(
    project: Path, operation: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The launcher as `make <operation>` runs it: offline unless an `env` (from `fake_pulumi`)
    puts a `pulumi` on PATH."""
    offline = ["--offline"] if env is None else []
    return subprocess.run(
        [sys.executable, "-m", "localengine.demo", operation, *offline],
        cwd=project,
        env=env_without_pulumi_settings() if env is None else env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return link_project(tmp_path / "project")


def assert_emulator_stopped(output: str) -> None:
    """The launcher prints the emulator's URL; once it has returned, nothing listens there."""
    match = re.search(r"useapi.net emulator: http://127\.0\.0\.1:(\d+)/v2", output)
    assert match, output
    with socket.socket() as probe:
        probe.settimeout(2)
        assert probe.connect_ex(("127.0.0.1", int(match.group(1)))) != 0


def test_make_up_twice_then_destroy(project: Path) -> None:
    first = demo(project, "up")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "+ 3 created" in first.stdout
    assert "totalMaxJobs: 10" in first.stdout

    second = demo(project, "up")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "3 unchanged" in second.stdout
    assert "(no changes)" in second.stdout

    # The emulator kept the accounts between its two lives, without any secret.
    saved = json.loads((project / ".demo" / "emulator.json").read_text())
    assert sorted(a["email"] for a in saved["accounts"]) == [
        "batch@example.com",
        "ops@example.com",
        "render@example.com",
    ]
    passwords = json.loads((project / ".demo" / "secret-config.json").read_text())
    for password in passwords["pixverse-accounts:passwords"].values():
        assert password not in (project / ".demo" / "emulator.json").read_text()
        assert password not in first.stdout + second.stdout
    assert os.stat(project / ".demo" / "secret-config.json").st_mode & 0o077 == 0

    destroyed = demo(project, "destroy")
    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
    assert "- 3 deleted" in destroyed.stdout
    assert json.loads((project / ".demo" / "emulator.json").read_text())["accounts"] == []

    for run in (first, second, destroyed):
        assert_emulator_stopped(run.stdout)


def test_a_failing_stack_still_stops_the_emulator(project: Path) -> None:
    stack_file = project / "stacks" / "Pulumi.demo.yaml"
    stack_file.write_text(stack_file.read_text().replace("maxJobs: 3", "maxJobs: 9"))

    failed = demo(project, "up")

    assert failed.returncode != 0
    assert "ops@example.com: maxJobs must be an integer from 1 to 8, got 9" in failed.stderr
    assert_emulator_stopped(failed.stdout)
    assert not (project / ".demo" / "emulator.json").exists(), "nothing reached the emulator"


def test_without_the_cli_the_launcher_says_how_to_install_it(project: Path) -> None:
    env = env_without_pulumi_settings()
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if not (Path(p) / "pulumi").exists()
    )
    completed = subprocess.run(
        [sys.executable, "-m", "localengine.demo", "preview"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "pulumi CLI is not here" in completed.stdout
    assert "make cli" in completed.stdout
    assert "+ 3 to create" in completed.stdout


def test_the_emulator_state_file_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "emulator.json"
    with UseapiEmulator(token="t", state_path=state) as first:
        first.handle(
            "POST",
            "/v2/pixverse/accounts/ops@example.com",
            True,
            {"email": "ops@example.com", "password": "pw-x", "maxJobs": 4},
        )
        expiry = first.accounts["ops@example.com"].expire_time
    assert "pw-x" not in state.read_text()

    with UseapiEmulator(token="t", state_path=state) as second:
        status, body = second.handle("GET", "/v2/pixverse/accounts/ops@example.com", True, None)
        assert status == 200
        assert body["maxJobs"] == 4
        assert body["jwt"]["ExpireTime"] == expiry
        second.handle("DELETE", "/v2/pixverse/accounts/ops@example.com", True, None)
    assert json.loads(state.read_text())["accounts"] == []


FAKE_PULUMI = """#!{python}
# Stands in for the pulumi CLI (absent here): records each call, answers success.
import json, os, sys
record = {{
    "argv": sys.argv[1:],
    "stdin": "" if sys.stdin.isatty() else sys.stdin.read(),
    "backend": os.environ.get("PULUMI_BACKEND_URL"),
    "passphrase": os.environ.get("PULUMI_CONFIG_PASSPHRASE"),
    "base_url": os.environ.get("USEAPI_BASE_URL", ""),
}}
with open({log!r}, "a") as log:
    log.write(json.dumps(record) + "\\n")
"""


def fake_pulumi(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """An environment whose PATH starts with the stand-in `pulumi`, and the log of its calls."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "pulumi-calls.jsonl"
    fake = bin_dir / "pulumi"
    fake.write_text(FAKE_PULUMI.format(python=sys.executable, log=str(log)))
    fake.chmod(0o755)
    env = env_without_pulumi_settings()
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return env, log


def test_with_the_cli_the_launcher_uses_the_file_backend_and_sets_secrets_on_stdin(
    project: Path, tmp_path: Path
) -> None:
    """The CLI path's commands, recorded by a stand-in `pulumi` (the real one is not installed
    here; tests/test_cli.py drives the real one where it is)."""
    env, log = fake_pulumi(tmp_path)
    env["PULUMI_BACKEND_URL"] = "https://api.pulumi.example/my-real-org"  # must be ignored
    env["PULUMI_CONFIG_PASSPHRASE"] = "my-real-passphrase"  # must be ignored

    completed = demo(project, "up", env)

    assert completed.returncode == 0, completed.stdout + completed.stderr
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    argvs = [call["argv"] for call in calls]
    working = str(project / ".demo" / "Pulumi.demo.yaml")
    assert argvs[0] == ["stack", "select", "--create", "demo"]
    emails = ["batch@example.com", "ops@example.com", "render@example.com"]
    target = ["--stack", "demo", "--config-file", working]
    assert argvs[1:4] == [
        ["config", "set", "--secret", "--path", f'passwords["{email}"]', *target]
        for email in emails
    ]
    assert argvs[4] == ["up", "--yes", "--skip-preview", "--non-interactive", *target]
    passwords = json.loads((project / ".demo" / "secret-config.json").read_text())[
        "pixverse-accounts:passwords"
    ]
    assert [call["stdin"] for call in calls[1:4]] == [passwords[email] for email in emails]
    for call in calls:
        assert call["backend"] == (project / ".pulumi-state").resolve().as_uri()
        assert call["passphrase"] == "pixverse-demo-passphrase"
        assert call["base_url"].startswith("http://127.0.0.1:")
        for password in passwords.values():
            assert password not in " ".join(call["argv"])
    assert_emulator_stopped(completed.stdout)
