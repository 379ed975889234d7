"""The tools' way of running the pulumi CLI: a person's Ctrl-C (or a pipeline's cancel) reaches
the CLI exactly once, as the signal it handles, and no run outlives its deadline.

The "CLI" here is a small script that reports the signals it gets: what is under test is the
hand-over, not the CLI (tests/acceptance/test_interrupted_deploys.py runs the real one).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from provider.tools.pulumi_cli import PulumiCli, PulumiCliError

pytestmark = pytest.mark.timeout(30)

REPORTER = """#!{python}
import os, signal, sys, time
got = []
signal.signal(signal.SIGINT, lambda s, f: got.append(s))
signal.signal(signal.SIGTERM, lambda s, f: got.append(s))
print("session", os.getsid(0), flush=True)
deadline = time.monotonic() + {wait}
while time.monotonic() < deadline and not got:
    time.sleep(0.01)
time.sleep(0.2)  # a second signal, if one were sent, would arrive meanwhile
print("signals", *got, "args", *sys.argv[1:], flush=True)
sys.exit(0 if got else 3)
"""


def reporter(tmp_path: Path, wait: float) -> str:
    script = tmp_path / "pulumi"
    script.write_text(REPORTER.format(python=sys.executable, wait=wait))
    script.chmod(0o755)
    return str(script)


def signal_me_later(sig: signal.Signals, after: float) -> threading.Timer:
    timer = threading.Timer(after, os.kill, (os.getpid(), sig))
    timer.start()
    return timer


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_to_the_tool_reaches_the_cli_once_and_is_reported(
    tmp_path: Path, sig: signal.Signals
) -> None:
    cli = PulumiCli(tmp_path, {"PATH": os.environ.get("PATH", "")}, reporter(tmp_path, wait=10))
    previous = signal.getsignal(sig)
    timer = signal_me_later(sig, after=0.5)
    try:
        run = cli.run("refresh", "--yes")
    finally:
        timer.cancel()
    assert signal.getsignal(sig) is previous, "the tool's own handler is restored afterwards"
    assert run.returncode == 0, run.text
    assert f"signals {int(sig)} args refresh --yes --non-interactive" in run.stdout
    assert cli.interrupted == sig
    session = int(run.stdout.split()[1])
    assert session != os.getsid(0), "the CLI runs in a session of its own"


def test_a_cli_past_its_deadline_is_cancelled_then_stopped(tmp_path: Path) -> None:
    cli = PulumiCli(tmp_path, {}, reporter(tmp_path, wait=10), timeout=0.5)
    start = time.monotonic()
    with pytest.raises(PulumiCliError, match=r"did not finish within 0.5 s") as caught:
        cli.run("up")
    assert time.monotonic() - start < 5
    assert f"signals {int(signal.SIGINT)}" in str(caught.value), "SIGINT first: a graceful cancel"


def test_a_missing_cli_says_how_to_get_one(tmp_path: Path) -> None:
    cli = PulumiCli(tmp_path, {}, str(tmp_path / "no-such-pulumi"))
    with pytest.raises(PulumiCliError, match="make cli"):
        cli.run("version")
