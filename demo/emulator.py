"""The bundled useapi.net emulator as a background process for one demo command.

It keeps its accounts in `.demo/emulator.json`, so they survive between runs as they would on
useapi.net and "run it twice, see zero changes" means something; it is stopped when the
command ends, whatever happens (a `finally`, not a shell trap).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from useapi_emulator.process import emulator_process

from .secrets import DEMO_DIR


@contextmanager
def emulator(root: Path, token: str) -> Iterator[str]:
    """The emulator in the background; yields its base URL and always stops it."""
    state = root / DEMO_DIR / "emulator.json"
    with emulator_process(["--state", str(state)], token=token, cwd=root) as (_, base_url):
        print(f"useapi.net emulator: {base_url} (state: {DEMO_DIR}/emulator.json)", flush=True)
        yield base_url
