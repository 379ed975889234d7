"""Cut real `pulumi up` runs off and check what they leave: processes, locks, state, useapi.net.

`DeployLab` wraps a `CliProject` (its own file backend, the emulator) with what the interrupted-
deploy tests need: a fresh fleet per try (new emails, so a try also deletes the previous try's
accounts), an `up` started in a session of its own so that a signal reaches the CLI alone (as
the runner's and execa's do), kill points timed from the emulator's arrivals and changes, the
processes of the project (the CLI's plugins run in process groups of their own, so killing the
CLI's group is not enough: every process whose working directory is the project is found in
/proc), and the convergence check every test ends with.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness import PROJECT_HOST, SDK_HOST
from provider.tools.pulumi_cli import PulumiCli
from provider.tools.recovery import Recovery
from provider.tools.stack_file import StackFile
from tests.support.cli_support import ACCOUNT_TYPE, ACCOUNTS_KEY, CliProject, CliResult
from tests.support.helpers import PASSWORD_SENTINEL
from useapi_emulator import UseapiEmulator

PASSWORDS_KEY = "pixverse-accounts:passwords"
LATENCY = 0.3  # seconds per request while a run is being cut off
FLEET_SIZE = 5
# The engine sends four steps at a time, so the fleet's POSTs go in two waves (four, then one)
# and a kill can fall between them ("mid-fleet"); the host would serve the five at once.
WAVE = "4"
# How many tries ran, per test and kill point, for the terminal summary (tests/conftest.py).
# `as_host`: a command run as on another machine: a UTS namespace of its own (unshare(1), root or
# an unprivileged user namespace) whose host name is set before the command is exec'd, so the
# pulumi CLI's os.Hostname(), and the lock it writes, say that machine (the pid stays the
# command's: unshare and the shell exec it).
_AS_HOST = 'hostname "$0" && exec "$@"'
TRIES: dict[str, Counter[str]] = {}


def _namespace_prefix() -> list[str] | None:
    """How this machine gives a command a host name of its own, if it can."""
    for prefix in (["unshare", "--uts"], ["unshare", "--user", "--map-root-user", "--uts"]):
        try:
            probe = subprocess.run(
                [*prefix, "sh", "-c", _AS_HOST, "pixverse-probe", "hostname"],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if probe.returncode == 0 and probe.stdout.strip() == "pixverse-probe":
            return prefix
    return None


NAMESPACE_PREFIX = _namespace_prefix()
NO_NAMESPACE = "this machine cannot give a command a host name of its own (unshare --uts)"


def as_host(host: str, command: list[str]) -> list[str]:
    """`command`, run as on a machine named `host` (its pid is the command's own)."""
    assert NAMESPACE_PREFIX is not None, NO_NAMESPACE
    return [*NAMESPACE_PREFIX, "sh", "-c", _AS_HOST, host, *command]


@dataclass(frozen=True)
class Fleet:
    accounts: dict[str, int]  # email → maxJobs
    passwords: dict[str, str]


def make_fleet(tag: str, size: int = FLEET_SIZE) -> Fleet:
    accounts = {f"{tag}-{i}@example.com": (i + len(tag)) % 8 + 1 for i in range(size)}
    return Fleet(accounts, {email: f"{PASSWORD_SENTINEL}-{email}" for email in accounts})


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Seconds until `condition` held; fails the test after `timeout`."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.005)
    return time.monotonic() - start


def budgeted(
    name: str, points: list[str], seconds: float, at_least: int | None = None
) -> Iterator[str]:
    """Kill points in turn from a random one, `at_least` tries (default: each point once),
    then more while `seconds` last. PIXVERSE_INTERRUPT_SECONDS sets a longer budget for a soak,
    and then every point runs at least once. The counts land in TRIES for the run's summary."""
    soak = os.environ.get("PIXVERSE_INTERRUPT_SECONDS")
    budget = float(soak or seconds)
    minimum = len(points) if soak or at_least is None else at_least
    counts = TRIES.setdefault(name, Counter())
    offset = random.randrange(len(points))  # noqa: S311 - which point first, not a secret
    start = time.monotonic()
    done = 0
    while done < minimum or time.monotonic() - start < budget:
        point = points[(offset + done) % len(points)]
        done += 1
        counts[point] += 1
        yield point


def take_tries() -> dict[str, dict[str, int]]:
    """The tries counted since the last call (one test's), for its report: the summary is
    written by the process that collects the reports, which under xdist is not this one."""
    taken = {name: dict(counts) for name, counts in TRIES.items() if counts}
    TRIES.clear()
    return taken


@dataclass
class RunningUp:
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")


class DeployLab:
    def __init__(self, cli: CliProject, emulator: UseapiEmulator) -> None:
        self.cli = cli
        self.emulator = emulator
        self.runs = 0
        cli.env["PULUMI_PARALLEL"] = WAVE

    # -- the inventory ----------------------------------------------------------------------

    def declare(self, fleet: Fleet) -> None:
        """The stack file holds exactly `fleet`: its inventory, and its passwords (encrypted by
        the CLI, all in one call)."""
        data = yaml.safe_load(self.cli.stack_file.read_text()) or {}
        config = data.setdefault("config", {})
        config[ACCOUNTS_KEY] = {email: {"maxJobs": jobs} for email, jobs in fleet.accounts.items()}
        config.pop(PASSWORDS_KEY, None)
        self.cli.stack_file.write_text(yaml.safe_dump(data, sort_keys=False))
        pairs = []
        for email, password in fleet.passwords.items():
            pairs += ["--secret", f'{PASSWORDS_KEY}["{email}"]={password}']
        self.cli.run("config", "set-all", "--path", *pairs)

    # -- runs -------------------------------------------------------------------------------

    def start_up(self, host: str | None = None) -> RunningUp:
        """`pulumi up` in a session of its own: a signal sent to it reaches the CLI only.
        `host`: run it as on another machine of that name (`as_host`)."""
        self.runs += 1
        log = self.cli.root.parent / f"up-{self.runs}.log"
        command = [self.cli.pulumi, "up", "--yes", "--skip-preview", "--non-interactive"]
        with log.open("wb") as sink:
            process = subprocess.Popen(
                as_host(host, command) if host else command,
                cwd=self.cli.root,
                env=self.cli.env,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return RunningUp(process, log)

    def applied_posts(self) -> int:
        return len(self.emulator.calls("POST"))

    def wait_for_kill_point(self, point: str, size: int) -> None:
        """Block until the run is at `point`, then a random moment into it."""
        emulator = self.emulator
        if point == "before-first-post":
            wait_until(lambda: emulator.arrived("POST") > 0, 60, "the first POST to arrive")
            time.sleep(random.uniform(0, LATENCY * 0.6))  # noqa: S311 - a kill time, not a secret
        elif point == "mid-fleet":
            wait_until(lambda: self.applied_posts() > 0, 60, "the first POST to be applied")
            time.sleep(random.uniform(0, LATENCY * 0.3))  # noqa: S311
        elif point == "post-in-flight":
            # A POST the emulator holds unanswered: the engine wrote its pending create before
            # it called the provider, so a kill now leaves at least one, whatever the timing.
            wait_until(
                lambda: emulator.arrived("POST") > self.applied_posts(), 60, "a POST in flight"
            )
        elif point == "after-last-post":
            wait_until(lambda: self.applied_posts() >= size, 60, "the last POST to be applied")
            time.sleep(random.uniform(0, 0.05))  # noqa: S311
        else:
            raise ValueError(point)

    def recover(
        self, plan: bool = False, heard: Callable[[str], None] | None = None
    ) -> tuple[int, str]:
        """The documented recovery (`make recover`'s code), in this process: exit status and
        everything it printed. Without its closing preview unless `plan` (a second saved);
        `heard` is handed each line as it is printed."""
        lines: list[str] = []

        def out(line: str) -> None:
            lines.append(line)
            if heard is not None:
                heard(line)

        recovery = Recovery(
            project_dir=self.cli.root,
            stack=self.cli.stack,
            cli=PulumiCli(self.cli.root, self.cli.env, executable=self.cli.pulumi),
            environ=self.cli.env,
            plan=plan,
            out=out,
        )
        code = recovery.run(StackFile.load(self.cli.stack_file))
        text = "\n".join(lines)
        self.cli.transcript.append(text)
        return code, text

    def make_recover(
        self, *settings: str, host: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """`make recover STACK=<stack> [settings]` in the project, exactly as a person types it
        (on another machine of that name with `host`)."""
        command = self.make_recover_command(*settings)
        done = subprocess.run(
            as_host(host, command) if host else command,
            cwd=self.cli.root,
            env=self.cli.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        self.cli.transcript += [done.stdout, done.stderr]
        return done

    def make_recover_command(self, *settings: str) -> list[str]:
        """The command line, with the project's Makefile linked into the test's project."""
        for name in ("Makefile", "requirements.txt", "requirements-dev.txt"):
            link = self.cli.root / name
            if not link.exists():
                link.symlink_to(Path(__file__).resolve().parents[2] / name)
        # -o: never rebuild the shared virtualenv from a test (the recipe is what runs).
        return [
            "make",
            "-o",
            "venv/.installed",
            "--no-print-directory",
            "recover",
            f"STACK={self.cli.stack}",
            *settings,
        ]

    # -- processes --------------------------------------------------------------------------

    def processes(self) -> dict[int, str]:
        return self.cli.processes()

    def provider_hosts(self) -> list[int]:
        hosts = (PROJECT_HOST, SDK_HOST)
        return [
            pid
            for pid, command in self.processes().items()
            if any(f"-m {host}" in command for host in hosts)
        ]

    def sweep(self) -> list[str]:
        """Kill what still works in the project (after a SIGKILL: the language host, which
        checks its engine only every five minutes, as Pulumi's own does)."""
        return self.cli.cleanup()

    # -- what is left -----------------------------------------------------------------------

    def lock_files(self) -> list[str]:
        """Every lock in the backend (files on file://, objects on s3://)."""
        return self.cli.backend.locks()

    def deployment(self, show_secrets: bool = False) -> dict[str, Any]:
        args = ["stack", "export", *(["--show-secrets"] if show_secrets else [])]
        result: dict[str, Any] = json.loads(self.cli.run(*args).stdout)["deployment"]
        return result

    def pending(self) -> list[tuple[str, str]]:
        """The pending operations in the backend's checkpoint file, read directly (what the
        CLI reads; cheaper than a `stack export` for a check between steps)."""
        data = json.loads(self.cli.checkpoint())
        latest = data["checkpoint"].get("latest") or {}
        return [
            (op["type"], str(op["resource"]["urn"]).rsplit("::", 1)[-1])
            for op in latest.get("pending_operations") or []
        ]

    def assert_converged(self, fleet: Fleet) -> CliResult:
        """useapi.net and the state hold exactly `fleet` (maxJobs and passwords), nothing is
        pending or locked, and `preview --expect-no-changes` passes."""
        stored = {a.email: (a.max_jobs, a.password) for a in self.emulator.stored()}
        want = {email: (jobs, fleet.passwords[email]) for email, jobs in fleet.accounts.items()}
        assert stored == want, f"useapi.net holds {sorted(stored)}, want {sorted(want)}"
        deployment = self.deployment(show_secrets=True)
        accounts = [r for r in deployment.get("resources") or [] if r["type"] == ACCOUNT_TYPE]
        in_state = {}
        for resource in accounts:
            outputs = resource["outputs"]
            assert not resource.get("pendingReplacement") and not resource.get("delete")
            password = outputs["password"]
            if isinstance(password, dict):  # a secret: {"4dabf18193072939515e22adb298388d": ...}
                password = password.get("plaintext", password)
                password = json.loads(password) if isinstance(password, str) else password
            in_state[resource["id"]] = (outputs["maxJobs"], password)
        assert len(accounts) == len(in_state), "an account is in state twice"
        assert in_state == want, f"state holds {sorted(in_state)}, want {sorted(want)}"
        assert not deployment.get("pending_operations"), deployment.get("pending_operations")
        assert self.lock_files() == []
        return self.cli.preview("--expect-no-changes")
