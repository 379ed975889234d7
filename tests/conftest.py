"""Fixtures: a useapi.net emulator on 127.0.0.1 and provider hosts, always stopped."""

from __future__ import annotations

import shutil
import sys
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from harness import PROJECT_HOST, ProviderHost
from provider.host.settings import ProviderSettings
from provider.host.useapi.client import UseapiClient
from tests.support.cli_support import PULUMI, SKIP_REASON
from tests.support.helpers import PROJECT_ROOT, TOKEN_SENTINEL, clean_env
from tests.support.object_store import SKIP_REASON as S3_SKIP_REASON
from tests.support.object_store import VERSITYGW, ObjectStore
from useapi_emulator import UseapiEmulator

# Short budgets keep failing tests fast; individual tests override them through config.
TEST_TIMEOUT = "5"
TEST_MAX_RETRIES = "2"


@pytest.fixture
def emulator() -> Iterator[UseapiEmulator]:
    with UseapiEmulator(token=TOKEN_SENTINEL) as emu:
        yield emu


def stack_config(emu: UseapiEmulator, **overrides: str) -> dict[str, str]:
    """Stack config as the engine hands it to Configure: namespaced keys, string values."""
    config = {
        "useapi:token": emu.token,
        "useapi:baseUrl": emu.base_url,
        "useapi:timeout": TEST_TIMEOUT,
        "useapi:maxRetries": TEST_MAX_RETRIES,
    }
    config.update(overrides)
    return {k: v for k, v in config.items() if v != ""}


HostFactory = Callable[..., ProviderHost]
ClientFactory = Callable[..., UseapiClient]


@pytest.fixture
def make_client(emulator: UseapiEmulator) -> Iterator[ClientFactory]:
    """Clients for the emulator with short budgets; every one is closed at teardown."""
    clients: list[UseapiClient] = []

    def make(
        timeout: float = 1.0, max_retries: int = 3, base_url: str | None = None
    ) -> UseapiClient:
        client = UseapiClient(
            ProviderSettings(
                token=emulator.token,
                base_url=base_url or emulator.base_url,
                timeout=timeout,
                max_retries=max_retries,
            )
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def start_host() -> Iterator[HostFactory]:
    """Start provider hosts in the project directory (the project's own, unless `module` names
    another, `harness.SDK_HOST`); every one is stopped at teardown."""
    hosts: list[ProviderHost] = []

    def start(
        config: dict[str, str] | None = None,
        env: dict[str, str] | None = None,
        engine_address: str | None = None,
        module: str = PROJECT_HOST,
    ) -> ProviderHost:
        host = ProviderHost(
            PROJECT_ROOT,
            env=clean_env() if env is None else env,
            engine_address=engine_address,
            module=module,
        )
        hosts.append(host)
        host.start()
        if config is not None:
            host.configure(config)
        return host

    yield start
    for host in hosts:
        host.stop()


@pytest.fixture
def provider_host(emulator: UseapiEmulator, start_host: HostFactory) -> ProviderHost:
    """A host configured for the emulator, as `pulumi up` would start it."""
    return start_host(stack_config(emulator))


@pytest.fixture(autouse=True)
def _require_cli(request: pytest.FixtureRequest) -> None:
    """Tests marked `cli` drive the real pulumi CLI. Where Go exists `make test` builds it
    first, so a missing CLI there is a failure (run `make cli`), never a silent skip; only a
    machine with neither Go nor a `pulumi` on PATH skips them, and says so."""
    if request.node.get_closest_marker("s3") is not None and VERSITYGW is None:
        if shutil.which("go") is not None:
            pytest.fail(
                "Go is here but versitygw is not built: run `make versitygw` (or `make test`)"
            )
        pytest.skip(S3_SKIP_REASON)
    if request.node.get_closest_marker("cli") is None or PULUMI is not None:
        return
    if shutil.which("go") is not None:
        pytest.fail("Go is here but the pulumi CLI is not built: run `make cli` (or `make test`)")
    pytest.skip(SKIP_REASON)


@pytest.fixture(scope="session")
def object_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObjectStore]:
    """One versitygw per test worker on a free loopback port, over folders of its own; each
    test takes a bucket of its own (`bucket`). Stopped when the worker ends, whatever failed."""
    if VERSITYGW is None:
        pytest.skip(S3_SKIP_REASON)
    with ObjectStore(tmp_path_factory.mktemp("versitygw")) as store:
        yield store


@pytest.fixture
def bucket(object_store: ObjectStore) -> str:
    """A new, empty bucket for the test."""
    name = f"state-{uuid.uuid4().hex[:12]}"
    object_store.create_bucket(name)
    return name


TRIES_PROPERTY = "interrupt_tries"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Carry the tries an interrupted-deploy test ran in its report (xdist sends reports, not
    module state, to the process that writes the summary)."""
    outcome: Any = yield
    report = outcome.get_result()
    module = sys.modules.get("tests.support.interrupt_support")
    if report.when == "call" and module is not None:
        tries = module.take_tries()
        if tries:
            report.user_properties.append((TRIES_PROPERTY, tries))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """How many tries each interrupted-deploy test ran (tests/acceptance/
    test_interrupted_deploys.py loops its kill points for as long as its budget lasts)."""
    totals: dict[str, Counter[str]] = {}
    for reports in terminalreporter.stats.values():
        for report in reports:
            for key, value in getattr(report, "user_properties", ()):
                if key == TRIES_PROPERTY:
                    for name, counts in value.items():
                        totals.setdefault(name, Counter()).update(counts)
    lines = [
        f"{name}: {sum(counts.values())} tries ("
        + ", ".join(f"{point} x{n}" for point, n in sorted(counts.items()))
        + ")"
        for name, counts in sorted(totals.items())
    ]
    if lines:
        terminalreporter.write_sep("-", "interrupted deploys")
        for line in lines:
            terminalreporter.write_line(line)
