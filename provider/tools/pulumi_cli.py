"""The pulumi CLI as the tools run it: in the project directory, on whatever backend the
environment selects (`PULUMI_BACKEND_URL`, else `pulumi login`), with a deadline, and with a
person's Ctrl-C (or a pipeline's cancel) handed on to it.

The CLI runs in a process group of its own, so a Ctrl-C typed at the terminal reaches only the
tool, which forwards each SIGINT or SIGTERM it gets to the CLI exactly once. One signal is the
CLI's graceful cancel (in-flight provider calls finish, the lock is released); a second one
stops it at once, as it would if typed at the CLI itself. Without the forwarding, a CLI under
a shell or a Python process that gets the signal would never see it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

DEFAULT_TIMEOUT = 600.0  # a refresh of a large fleet against a slow API; never unbounded
# After a deadline: SIGINT (graceful), then this long before SIGKILL.
GRACE = 15.0


class PulumiCliError(RuntimeError):
    """The CLI could not be run, ran out of time, or was interrupted."""


@dataclass(frozen=True)
class CliRun:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def text(self) -> str:
        return self.stdout + self.stderr

    def tail(self, lines: int = 15) -> str:
        """The last lines the CLI printed (its error is at the end)."""
        kept = [line for line in self.text.strip().splitlines() if line.strip()]
        return "\n".join(kept[-lines:])


class PulumiCli:
    def __init__(
        self,
        cwd: Path,
        environ: Mapping[str, str],
        executable: str = "pulumi",
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.cwd = cwd
        self.env = dict(environ)
        # No network call of the CLI's own before the work; `--non-interactive` on every run
        # (below): a tool waiting for an answer nobody gives is a hung pipeline.
        self.env.setdefault("PULUMI_SKIP_UPDATE_CHECK", "true")
        self.executable = executable
        self.timeout = timeout
        self.interrupted: int | None = None  # the signal a person sent, once one came

    def run(self, *args: str, timeout: float | None = None) -> CliRun:
        command = (self.executable, *args, "--non-interactive")
        try:
            process = subprocess.Popen(  # noqa: S603 - the pulumi CLI with our own arguments
                command,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,
            )
        except OSError as exc:
            raise PulumiCliError(
                f"cannot run {self.executable}: {exc.strerror or exc}; install the pulumi CLI "
                "(`make cli` builds the tested one into .tools/bin) or put it on PATH"
            ) from None
        deadline = self.timeout if timeout is None else timeout
        with self._forwarding(process):
            try:
                stdout, stderr = process.communicate(timeout=deadline)
            except subprocess.TimeoutExpired:
                stdout, stderr = self._stop(process)
                raise PulumiCliError(
                    f"`pulumi {' '.join(args)}` did not finish within {deadline:g} s and was "
                    f"stopped; its last output:\n{CliRun(command, -1, stdout, stderr).tail()}"
                ) from None
        return CliRun(tuple(args), process.returncode, stdout, stderr)

    @staticmethod
    def _stop(process: subprocess.Popen[str]) -> tuple[str, str]:
        process.send_signal(signal.SIGINT)
        try:
            return process.communicate(timeout=GRACE)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.communicate(timeout=GRACE)

    @contextlib.contextmanager
    def _forwarding(self, process: subprocess.Popen[str]) -> Iterator[None]:
        """Hand SIGINT and SIGTERM on to the CLI while it runs (main thread only: Python
        delivers signals there)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def forward(signum: int, _frame: FrameType | None) -> None:
            self.interrupted = signum
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signum)

        previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
