"""The emulator in a process of its own: `python -m useapi_emulator ...` started, its base URL
read from the first line it prints, and stopped (terminate, then kill) however the caller ends.

The demo runs it this way so that its accounts outlive one command (`--state`), the benchmark
so that serving requests does not share a GIL with the code that drives the CLI. The token goes
in the environment, never on the command line, where the process list would show it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from .__main__ import TOKEN_ENV

START_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0


def _base_url(process: subprocess.Popen[str]) -> str:
    """The URL the emulator prints first; a reader thread, so a silent process cannot hang us."""
    stdout = process.stdout
    assert stdout is not None
    first: list[str] = []
    reader = threading.Thread(target=lambda: first.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(START_TIMEOUT)
    if not first or not first[0].startswith("http"):
        raise RuntimeError("the useapi.net emulator did not start (no base URL printed)")
    return first[0].strip()


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)
    if process.stdout is not None:
        process.stdout.close()


@contextmanager
def emulator_process(
    args: Sequence[str], *, token: str, cwd: Path
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """The running emulator and its base URL; it is stopped when the block ends."""
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "useapi_emulator", *args],
        cwd=cwd,
        env={**os.environ, TOKEN_ENV: token},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        yield process, _base_url(process)
    finally:
        stop(process)
