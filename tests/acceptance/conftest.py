"""The fixture every real-engine test starts from: a throwaway project with its own stack,
file backend and PULUMI_HOME, pointed at the test's emulator, destroyed afterwards even when
the test failed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli_support import CliProject
from useapi_emulator import UseapiEmulator


@pytest.fixture
def project(tmp_path: Path, emulator: UseapiEmulator) -> Iterator[CliProject]:
    cli = CliProject(tmp_path / "project", emulator)
    cli.init()
    yield cli
    cli.cleanup()
