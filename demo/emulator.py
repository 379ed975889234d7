"""The bundled useapi.net emulator as a background process for one demo command.

It keeps its accounts in `.demo/emulator.json`, so they survive between runs as they would on
useapi.net and "run it twice, see zero changes" means something; it is stopped when the
command ends, whatever happens (a `finally`, not a shell trap).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .secrets import DEMO_DIR

START_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0


@contextmanager
def emulator(root: Path, token: str) -> Iterator[str]:
    """The emulator in the background; yields its base URL and always stops it."""
    env = dict(os.environ, USEAPI_EMULATOR_TOKEN=token)
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [
            sys.executable,
            "-m",
            "useapi_emulator",
            "--state",
            str(root / DEMO_DIR / "emulator.json"),
        ],
        cwd=root,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        first_line: list[str] = []
        stdout = process.stdout
        assert stdout is not None
        reader = threading.Thread(target=lambda: first_line.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(START_TIMEOUT)
        if not first_line or not first_line[0].startswith("http"):
            raise RuntimeError("the useapi.net emulator did not start (no base URL printed)")
        base_url = first_line[0].strip()
        print(f"useapi.net emulator: {base_url} (state: {DEMO_DIR}/emulator.json)", flush=True)
        yield base_url
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT)
        if process.stdout is not None:
            process.stdout.close()
