"""`make up` runs at the deploy pipeline's parallelism, unless the caller's shell chose one."""

from __future__ import annotations

from pathlib import Path

import pytest

from demo.__main__ import demo_env
from provider.host.concurrency import DEPLOY_PARALLEL

pytestmark = pytest.mark.timeout(10)


def test_make_up_runs_at_the_pipelines_parallelism(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("PULUMI_PARALLEL", raising=False)
    assert demo_env(tmp_path, "http://x", "t")["PULUMI_PARALLEL"] == str(DEPLOY_PARALLEL)


def test_a_parallelism_the_caller_chose_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PULUMI_PARALLEL", "4")
    assert demo_env(tmp_path, "http://x", "t")["PULUMI_PARALLEL"] == "4"
