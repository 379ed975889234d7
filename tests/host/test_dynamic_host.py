"""The project's provider host (`provider/host/dynamic_host.py`) is the SDK's host with one
number changed: it answers every call exactly as `python -m pulumi.dynamic` does, and serves
as many calls at once as the engine sends instead of four. Its plugin script starts it with the
virtualenv the engine names. How wide it is follows the engine's parallelism
(`provider/host/concurrency.py`)."""

from __future__ import annotations

import subprocess
import time
from concurrent import futures
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from harness import SDK_HOST, ProviderHost, ProviderHostError
from provider.host import concurrency
from provider.host.dynamic_host import widened
from tests.conftest import HostFactory, stack_config
from tests.support.helpers import PROJECT_ROOT, account_inputs, clean_env
from useapi_emulator import UseapiEmulator

PLUGIN = PROJECT_ROOT / "provider" / "host" / "plugin" / "pulumi-resource-pulumi-python"
AT_ONCE = 24  # what a pipeline's `--parallel 24` sends
LATENCY = 0.5


def _create_at_once(host: ProviderHost, emails: list[str]) -> float:
    """Check and create every account at once, as the engine's steps do; the seconds it took."""

    def create(email: str) -> None:
        checked = host.check(email, {}, account_inputs(email=email))
        host.create(email, checked.inputs)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(emails)) as pool:
        list(pool.map(create, emails))
    return time.monotonic() - started


@pytest.mark.parametrize(
    ("module", "served_at_once"), [("project", AT_ONCE), (SDK_HOST, 4)], ids=["ours", "sdk"]
)
def test_the_host_serves_as_many_calls_at_once_as_the_engine_sends(
    emulator: UseapiEmulator, start_host: HostFactory, module: str, served_at_once: int
) -> None:
    """Ours: 24 creates in about one latency, all 24 at the API at once. The SDK's host, the
    same way: four at once, six latencies (what the project's host exists to remove)."""
    kwargs = {} if module == "project" else {"module": module}
    host = start_host(stack_config(emulator), **kwargs)
    emulator.latency = LATENCY
    emails = [f"wide{i:02d}@example.com" for i in range(AT_ONCE)]

    took = _create_at_once(host, emails)

    assert emulator.peak_admitted == served_at_once
    rounds = AT_ONCE // served_at_once
    assert rounds * LATENCY <= took < (rounds + 2) * LATENCY, took
    assert sorted(emulator.accounts) == emails


def _lifecycle(host: ProviderHost, emulator: UseapiEmulator) -> list[Any]:
    """Every kind of call the engine makes, failures included, and what the host answered."""
    answers: list[Any] = [("plugin info", host.plugin_info())]
    email = "same@example.com"
    bad = host.check(email, {}, account_inputs(email="not-an-email", max_jobs=9))
    answers.append(("check failures", bad.failures))
    checked = host.check(email, {}, account_inputs(email=email))
    answers.append(("check", checked.inputs))
    id_, outs = host.create(email, checked.inputs)
    outs["jwt"].pop("ExpireTime")  # the session's expiry is the emulator's clock's
    outs["jwt"].pop("ExpireTimeUTC")
    answers.append(("create", id_, outs))
    changed = host.check(email, checked.inputs, account_inputs(email=email, max_jobs=5)).inputs
    answers.append(("diff", host.diff(id_, email, outs, changed)))
    updated = host.update(id_, email, outs, changed)
    answers.append(("update", updated["maxJobs"], sorted(updated)))
    read = host.read(id_, email, updated, changed)
    answers.append(("read", read.id, read.outputs["maxJobs"], sorted(read.inputs or {})))
    emulator.reject_login(email)
    with pytest.raises(ProviderHostError) as failed:
        host.update(id_, email, updated, changed)
    # The error text (the exception and its traceback, as the engine shows it), minus the
    # emulator's port.
    answers.append(("failure", failed.value.code, failed.value.details.split(emulator.base_url)))
    host.delete(id_, email, read.outputs)
    answers.append(("read gone", host.read(id_, email, read.outputs).id))
    host.cancel()
    answers.append(("after cancel", host.check(email, {}, account_inputs(email=email)).failures))
    return answers


def test_the_host_answers_every_call_as_the_sdks_own_host_does(
    emulator: UseapiEmulator, start_host: HostFactory
) -> None:
    hosts = {"ours": start_host(), "sdk": start_host(module=SDK_HOST)}
    answers = {}
    for name, host in hosts.items():
        emulator.rejected_logins.clear()
        accepts_secrets = host.configure(stack_config(emulator))
        answers[name] = [("configure", accepts_secrets), *_lifecycle(host, emulator)]
    assert answers["ours"] == answers["sdk"]
    text = str(answers["ours"])
    assert "Traceback" in text and "('configure', False)" in text  # the failure's whole text


def test_the_plugin_script_starts_the_host_with_the_virtualenv_the_engine_names(
    tmp_path: Path,
) -> None:
    """As the engine runs it: in the project directory, PULUMI_RUNTIME_VIRTUALENV relative to
    it, and the engine's address as the first argument (the host watches that address)."""
    env = clean_env(PULUMI_RUNTIME_VIRTUALENV="venv")
    env.pop("PULUMI_PYTHON_CMD", None)
    with subprocess.Popen(
        [str(PLUGIN)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as plugin:
        try:
            port = plugin.stdout.readline() if plugin.stdout else ""
            assert port.strip().isdigit(), plugin.stderr.read() if plugin.stderr else ""
            command = Path(f"/proc/{plugin.pid}/cmdline").read_bytes().split(b"\0")
            # `exec`: the process the engine started is the host itself, in the virtualenv.
            assert command[0] == str(PROJECT_ROOT / "venv" / "bin" / "python").encode()
            assert command[1:4] == [b"-u", b"-m", b"provider.host.dynamic_host"]
        finally:
            plugin.terminate()
            plugin.wait(timeout=10)

    missing = subprocess.run(
        [str(PLUGIN)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert missing.returncode == 1
    assert f"names {tmp_path}/venv, which is not a virtualenv: run 'make venv'" in missing.stderr


# -- the width: the engine's parallelism -------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "cpus", "width"),
    [
        ({}, 2, 64),  # 4 x 2 CPUs = 8: an explicit --parallel up to 63 still fits
        ({}, 32, 129),  # 4 x 32 CPUs = 128 steps, plus the engine's Check
        ({"PULUMI_PARALLEL": "100"}, 2, 101),
        ({"PULUMI_PARALLEL": "2147483647"}, 2, 256),  # "unbounded": capped
        ({"PULUMI_PARALLEL": "lots"}, 4, 64),  # not a number: the CLI ignores it too
        ({"PULUMI_PARALLEL": "0"}, 20, 81),
    ],
)
def test_the_host_is_as_wide_as_the_engines_parallelism(
    environ: dict[str, str], cpus: int, width: int
) -> None:
    assert concurrency.host_workers(environ, cpus) == width


def test_widened_hands_grpc_a_wider_pool_and_leaves_anything_else_alone() -> None:
    seen: list[Any] = []

    def server(thread_pool: Any, *args: Any, **kwargs: Any) -> str:
        seen.append((thread_pool, args, kwargs))
        return "server"

    sdks = futures.ThreadPoolExecutor(max_workers=4)
    assert widened(server, 40)(sdks, options=[("o", 1)]) == "server"
    pool, args, kwargs = seen[-1]
    assert isinstance(pool, futures.ThreadPoolExecutor) and pool._max_workers == 40
    assert (args, kwargs) == ((), {"options": [("o", 1)]})
    with pytest.raises(RuntimeError):  # the SDK's pool of four is shut down, never used
        sdks.submit(print)
    pool.shutdown()

    other = object()
    widened(server, 40)(other)
    assert seen[-1][0] is other


def test_the_pipelines_parallelism_fits_the_host_even_as_a_flag() -> None:
    """`--parallel 32` never reaches the host, which is wide enough for it anyway."""
    assert concurrency.host_workers({}, 1) > concurrency.DEPLOY_PARALLEL
