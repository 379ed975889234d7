"""No provider host outlives its engine, and watching the engine costs nothing per call.

The SDK's host started with an engine address (its first argument, as the plugin script passes
it) against a stand-in that serves only the engine's health service (tests/support/fake_engine):
the host ends about a second after that port closes, never while it is open (answering,
answering late, or without a health service), and the watcher's traffic does not grow with the
number of calls. The real CLI's side (SIGKILL, then no host left) is in
tests/acceptance/test_interrupted_deploys.py.
"""

from __future__ import annotations

import statistics
import sys
import time
import types
from collections.abc import Iterator

import pytest

from harness import ProviderHost
from provider.host import engine_watch
from provider.host.engine_watch import (
    EXIT_STATUS,
    GONE_AFTER,
    PROBE_INTERVAL,
    GoneDetector,
    engine_address,
)
from tests.conftest import HostFactory, stack_config
from tests.support.fake_engine import FakeEngine
from tests.support.helpers import account_inputs
from useapi_emulator import UseapiEmulator

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def engines() -> Iterator[list[FakeEngine]]:
    started: list[FakeEngine] = []
    yield started
    for engine in started:
        engine.stop()


def start_engine(engines: list[FakeEngine], **kwargs: object) -> FakeEngine:
    engine = FakeEngine(**kwargs).start()  # type: ignore[arg-type]
    engines.append(engine)
    return engine


def host_main() -> types.ModuleType:
    module = types.ModuleType("__main__")
    module.__spec__ = types.SimpleNamespace(name="pulumi.dynamic.__main__")  # type: ignore[assignment]
    return module


def wait_for_exit(host: ProviderHost, within: float) -> float | None:
    """Seconds until the host ended, or None if it still runs after `within` seconds."""
    start = time.monotonic()
    while time.monotonic() - start < within:
        if host.returncode is not None:
            return time.monotonic() - start
        time.sleep(0.05)
    return None


def test_the_rule_is_only_refusals_for_the_whole_grace_period() -> None:
    detector = GoneDetector(gone_after=1.0)
    assert not detector.observe(refused=True, now=10.0)
    assert not detector.observe(refused=True, now=10.9)
    assert not detector.observe(refused=False, now=11.0)  # one answer starts the count again
    assert not detector.observe(refused=True, now=11.5)
    assert not detector.observe(refused=True, now=12.4)
    assert detector.observe(refused=True, now=12.5)


def test_only_the_dynamic_provider_host_with_an_address_is_watched() -> None:
    main = host_main()
    assert engine_address(["__main__.py", "127.0.0.1:40123"], main) == "127.0.0.1:40123"
    assert engine_address(["__main__.py"], main) is None  # the harness without an engine
    assert engine_address(["__main__.py", "-q"], main) is None
    assert engine_address(["__main__.py", "127.0.0.1:0"], main) is None
    pytest_main = types.ModuleType("__main__")
    pytest_main.__spec__ = types.SimpleNamespace(name="pytest.__main__")  # type: ignore[assignment]
    assert engine_address(["pytest", "127.0.0.1:40123"], pytest_main) is None
    # This very process (pytest) never starts a watcher, whatever configure is called with.
    assert engine_address(sys.argv, sys.modules["__main__"]) is None


def test_watch_engine_starts_one_watcher_per_process_and_ends_through_end(
    engines: list[FakeEngine], monkeypatch: pytest.MonkeyPatch
) -> None:
    """In-process, with `end` recorded instead of exiting: one thread however often it is
    called, and `end` once the port is closed."""
    monkeypatch.setattr(engine_watch, "_watching", None)
    engine = start_engine(engines)
    ended: list[str] = []
    argv = ["__main__.py", engine.address]
    first = engine_watch.watch_engine(argv, host_main(), ended.append, interval=0.05)
    for _ in range(1000):
        assert engine_watch.watch_engine(argv, host_main(), ended.append, interval=0.05) == first
    time.sleep(0.3)
    assert ended == [] and len(engine.probes) >= 3
    engine.stop()
    deadline = time.monotonic() + GONE_AFTER + 3
    while not ended and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ended == [engine.address]


def test_the_host_ends_about_a_second_after_its_engine_is_gone(
    emulator: UseapiEmulator, start_host: HostFactory, engines: list[FakeEngine]
) -> None:
    engine = start_engine(engines)
    host = start_host(stack_config(emulator), engine_address=engine.address)
    host.create("ops@example.com", account_inputs())  # the provider is loaded and configured
    assert host.returncode is None
    engine.stop()
    ended_after = wait_for_exit(host, within=GONE_AFTER + 5)
    assert ended_after is not None, "the host outlived its engine"
    assert ended_after <= GONE_AFTER + 2 * PROBE_INTERVAL + 1.5, ended_after
    assert host.returncode == EXIT_STATUS
    assert "the engine at" in host.stderr and "is gone" in host.stderr
    print(f"host ended {ended_after:.2f}s after its engine")


def test_the_host_never_ends_while_its_engine_lives_however_it_answers(
    emulator: UseapiEmulator, start_host: HostFactory, engines: list[FakeEngine]
) -> None:
    """Answering, answering later than a probe waits (busy or SIGSTOPped), or answering
    UNIMPLEMENTED: each is an engine that is there. Held well past the time a gone engine
    takes, with the watcher seen probing each one."""
    prompt = start_engine(engines)
    late = start_engine(engines, answer_after=engine_watch.PROBE_TIMEOUT + 1)
    bare = start_engine(engines, health=False)
    hosts = {
        name: start_host(stack_config(emulator), engine_address=engine.address)
        for name, engine in (("prompt", prompt), ("late", late), ("bare", bare))
    }
    for name, host in hosts.items():
        host.check(name, {}, account_inputs(email=f"{name}@example.com"))
    started = time.monotonic()
    held = GONE_AFTER + engine_watch.PROBE_TIMEOUT + 2.5
    while time.monotonic() - started < held:
        assert {n: h.returncode for n, h in hosts.items()} == dict.fromkeys(hosts)
        time.sleep(0.1)
    assert len(prompt.probes) >= 4, "the watcher did not probe: this test proves nothing"
    assert len(late.probes) >= 2
    for name, host in hosts.items():
        host.check(name, {}, account_inputs(email=f"{name}@example.com"))  # still serving


def test_watching_costs_nothing_per_call(
    emulator: UseapiEmulator, start_host: HostFactory, engines: list[FakeEngine]
) -> None:
    """The watcher's probes follow the clock, not the calls, and a call takes as long in a
    watched host as in an unwatched one (medians over interleaved rounds)."""
    engine = start_engine(engines)
    watched = start_host(stack_config(emulator), engine_address=engine.address)
    unwatched = start_host(stack_config(emulator))
    props = account_inputs()
    timings: dict[str, list[float]] = {"watched": [], "unwatched": []}
    burst_start = time.monotonic()
    for _ in range(6):
        for name, host in (("watched", watched), ("unwatched", unwatched)):
            for _ in range(50):
                start = time.perf_counter()
                host.check("ops@example.com", {}, props)
                timings[name].append(time.perf_counter() - start)
    burst_end = time.monotonic()
    calls = len(timings["watched"])
    probes = engine.probes_between(burst_start, burst_end)
    # Every half second, whatever the number of calls (300 calls take about a second).
    expected = (burst_end - burst_start) * 2
    assert probes <= expected + 2, f"{probes} probes for {calls} calls in {expected:.1f} intervals"
    medians = {name: statistics.median(values) * 1000 for name, values in timings.items()}
    print(f"median ms per Check: {medians}; {probes} probes during {calls} watched calls")
    assert medians["watched"] <= medians["unwatched"] * 1.25 + 0.3, medians
    assert watched.returncode is None
