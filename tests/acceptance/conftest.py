"""Real-engine tests need the pulumi CLI. Where Go exists `make test` builds it first, so a
missing CLI there is a failure (run `make cli`), never a silent skip; only a machine with
neither Go nor a `pulumi` on PATH skips them, and says so."""

from __future__ import annotations

import shutil

import pytest

from tests.support.cli_support import PULUMI, SKIP_REASON


@pytest.fixture(autouse=True)
def _require_cli() -> None:
    if PULUMI is not None:
        return
    if shutil.which("go") is not None:
        pytest.fail("Go is here but the pulumi CLI is not built: run `make cli` (or `make test`)")
    pytest.skip(SKIP_REASON)
