"""The useapi.net emulator in a process of its own, for the real-engine benchmark.

Why its own process: in the benchmark's process it would share one GIL with the code that
drives the CLI, and every request it serves would steal time from whatever that process does;
in the engine's processes it cannot live at all. On its own it costs only CPU time, which the
benchmark records (`cpu_seconds`), so a reader can see it is not what limits the run.

It counts calls through its request log (one line per request, no bodies), since its in-memory
record lives in the other process.
"""

from __future__ import annotations

import subprocess
import tempfile
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType

import requests

from useapi_emulator.process import emulator_process
from useapi_emulator.server import THROTTLED_MARK

from . import machine


class EmulatorProcess:
    """`python -m useapi_emulator --latency L` started on a free port; `with` stops it.
    `admit_at_once`: throttled, K requests served at once and 429 (Retry-After) beyond."""

    def __init__(
        self,
        latency: float,
        token: str,
        cwd: Path,
        admit_at_once: int | None = None,
        retry_after: int = 1,
    ) -> None:
        self.latency = latency
        self.admit_at_once = admit_at_once
        self.retry_after = retry_after
        self.token = token
        self._cwd = cwd
        self._dir = tempfile.TemporaryDirectory(prefix="bench-emulator-")
        self.request_log = Path(self._dir.name) / "requests.log"
        self.request_log.touch()
        self._process: subprocess.Popen[str] | None = None
        self._stack = ExitStack()
        self.base_url = ""

    def __enter__(self) -> EmulatorProcess:
        args = ["--latency", str(self.latency), "--request-log", str(self.request_log)]
        if self.admit_at_once is not None:
            args += ["--admit-at-once", str(self.admit_at_once)]
            args += ["--retry-after", str(self.retry_after)]
        try:
            running = self._stack.enter_context(
                emulator_process(args, token=self.token, cwd=self._cwd)
            )
        except BaseException:
            self.__exit__(None, None, None)
            raise
        self._process, self.base_url = running
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self._stack.close()
        self._dir.cleanup()

    @property
    def pid(self) -> int:
        assert self._process is not None, "emulator not started"
        return self._process.pid

    def _lines(self) -> list[str]:
        return self.request_log.read_text(encoding="utf-8").splitlines()

    def calls(self) -> list[str]:
        """Every request handled so far, as `METHOD path` lines, in the order they arrived."""
        return [line for line in self._lines() if not line.startswith(THROTTLED_MARK)]

    def throttled(self) -> int:
        """Requests answered 429 so far, unhandled (throttled mode)."""
        return sum(1 for line in self._lines() if line.startswith(THROTTLED_MARK))

    def cpu_seconds(self) -> float:
        return machine.cpu_seconds(self.pid) or 0.0

    def account_count(self) -> int:
        """How many accounts the emulator holds (one list call, which the log also counts)."""
        response = requests.get(
            f"{self.base_url}/pixverse/accounts",
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
        )
        if response.status_code == 404:  # the docs' answer for "no accounts configured"
            return 0
        response.raise_for_status()
        return len(response.json())
