"""Run the benchmark: print a table, write `bench/results.json`, draw `bench/results.png`.

Two sections, each against an emulator with per-request latency (useapi.net is a remote API:
its round trip, not our CPU, is what a fleet-sized apply waits for). The provider-host section:
- create N accounts through the provider host vs. a sequential `requests` loop of the same
  N POSTs, for each N of the sweep (the plot), and
- for the main N: a no-op `up` (Check + Diff of each), a refresh with the account list
  (after) and with one GET per account (before), the pickled `__provider`'s size and the
  host process's peak memory.
Each operation gets a fresh host process, as each `pulumi` command starts its own.

The real-engine section (`real_engine`, where the CLI is built): `pulumi up`, `preview`,
`refresh` and `destroy` of N accounts at each latency, at the CLI's default parallelism and at
the deploy pipeline's, each beside the floor program (the SDK's own host) in the same run and
beside the model of the limit; then the fleet options, and the parallelism against a throttled
API (`throttling`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pulumi.dynamic.dynamic import serialize_provider

from harness import ProviderHost
from provider.host.account_cache import SWITCH_ENV
from provider.host.concurrency import host_workers
from useapi_emulator import UseapiEmulator

from . import fleet_options, machine, real_engine, throttling, workload
from .cli_project import find_pulumi
from .sleep_provider import SLEEP_ENV, SleepProvider
from .workload import Measured

PROJECT_ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
# The project's host: as many calls at once as the engine sends (provider/host/concurrency.py).
HOST_WORKERS = host_workers()
CREATE_TARGET = 0.30
REFRESH_TARGET_CALLS = 2
PICKLE_TARGET_BYTES = 1024
BENCH_TOKEN = "bench-useapi-token"  # the emulator's; never a real one
# A point whose floor (four calls at once) takes longer than this per command runs
# --engine-long-repeat times: 1 s x 200 is 50 s a command, nearly 6 minutes a repetition.
LONG_FLOOR_SECONDS = 30.0
THROTTLE_N, THROTTLE_LATENCY = 50, 1.0


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--n", type=int, default=50, help="accounts in the main run (50)")
    parser.add_argument(
        "--sweep",
        type=lambda text: [int(part) for part in text.split(",") if part],
        default=[10, 50, 200],
        help="comma-separated N for the create plot (10,50,200)",
    )
    parser.add_argument(
        "--latency", type=float, default=0.1, help="seconds the emulator adds to each request"
    )
    parser.add_argument(
        "--parallel", type=int, default=16, help="calls the engine keeps in flight (16)"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of the main N's create; medians count (3)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run (N=20, sweep 10,20); writes nothing unless --out is given",
    )
    parser.add_argument(
        "--engine-n",
        type=lambda text: [int(part) for part in text.split(",") if part],
        default=[50, 200],
        help="comma-separated N for the real-engine section (50,200)",
    )
    parser.add_argument(
        "--engine-latency",
        type=lambda text: [float(part) for part in text.split(",") if part],
        default=[0.1, 1.0],
        help="comma-separated seconds per request for the real-engine section (0.1,1)",
    )
    parser.add_argument(
        "--engine-repeat",
        type=int,
        default=3,
        help="interleaved runs of each real-engine command; medians count (3)",
    )
    parser.add_argument(
        "--engine-long-repeat",
        type=int,
        default=1,
        help=f"runs of a point whose floor takes over {LONG_FLOOR_SECONDS:g} s a command "
        "(1 s x 200: 50 s); 1",
    )
    parser.add_argument(
        "--fleet-options-repeat",
        type=int,
        default=3,
        help="runs of each fleet option at 0.1 s x 200; 0 skips them (3)",
    )
    parser.add_argument(
        "--throttle-repeat",
        type=int,
        default=3,
        help="runs of the parallelism against a throttled API; 0 skips them (3)",
    )
    parser.add_argument(
        "--throttle-admitted",
        type=int,
        default=8,
        help="requests the throttled emulator serves at once (8)",
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--no-engine", action="store_true", help="skip the real-engine section")
    which.add_argument(
        "--engine-only",
        action="store_true",
        help="only the real-engine section (the results file keeps the other one)",
    )
    parser.add_argument("--out", type=Path, help="results file (bench/results.json)")
    parser.add_argument("--plot", type=Path, help="plot file (bench/results.png)")
    parser.add_argument("--no-plot", action="store_true", help="do not draw the plot")
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when a target is missed (timings are noisy)"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.sweep, args.repeat = 20, [10, 20], 1
        args.engine_n, args.engine_latency, args.engine_repeat = [5], [0.1], 1
        args.fleet_options_repeat, args.throttle_repeat = 0, 0
        args.no_plot = args.no_plot or args.plot is None
    elif args.out is None:
        args.out = HERE / "results.json"
    if args.plot is None:
        args.plot = HERE / "results.png"
    return args


def _host_env(cache: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("USEAPI_")}
    env.pop(SWITCH_ENV, None)
    if not cache:
        env[SWITCH_ENV] = "off"
    return env


class Hosts:
    """Starts configured provider hosts and records what each cost to start and at its peak."""

    def __init__(self, emulator: UseapiEmulator) -> None:
        self.emulator = emulator
        self.startup_seconds: list[float] = []

    @contextmanager
    def start(
        self, cache: bool = True, extra_env: dict[str, str] | None = None
    ) -> Iterator[ProviderHost]:
        started = time.perf_counter()
        host = ProviderHost(PROJECT_ROOT, env={**_host_env(cache), **(extra_env or {})})
        try:
            host.start()
            # The stack config as the engine sends it; timeout and retries at their defaults.
            host.configure(
                {"useapi:token": self.emulator.token, "useapi:baseUrl": self.emulator.base_url}
            )
            self.startup_seconds.append(time.perf_counter() - started)
            yield host
        finally:
            host.stop()


def _usage(host: ProviderHost) -> dict[str, Any]:
    assert host.pid is not None
    peak = machine.peak_rss_kib(host.pid)
    cpu = machine.cpu_seconds(host.pid)
    return {
        "peak_rss_mib": round(peak / 1024, 1) if peak is not None else None,
        "cpu_seconds": round(cpu, 3) if cpu is not None else None,
    }


def _create_point(
    hosts: Hosts, emulator: UseapiEmulator, n: int, parallel: int, repeat: int
) -> tuple[dict[str, Any], list[workload.Deployed]]:
    """Baseline then ours for N accounts, each on an emulator holding none, `repeat` times;
    the medians count (a shared 2-CPU machine is noisy), every sample is kept."""
    baselines: list[Measured] = []
    ours_runs: list[tuple[Measured, dict[str, Any]]] = []
    deployed: list[workload.Deployed] = []
    for _ in range(repeat):
        emulator.accounts.clear()
        baselines.append(workload.baseline_create(emulator, workload.emails(n, "base")))
        emulator.accounts.clear()
        with hosts.start() as host:
            ours, deployed = workload.host_create(host, emulator, workload.emails(n), parallel)
            ours_runs.append((ours, _usage(host)))
    baseline = _median(baselines)
    ours, usage = ours_runs[[run for run, _ in ours_runs].index(_median([r for r, _ in ours_runs]))]
    floor = math.ceil(n / min(parallel, HOST_WORKERS)) * emulator.latency
    point = {
        "n": n,
        "baseline": {**baseline.to_json(), "samples_s": _samples(baselines)},
        "ours": {
            **ours.to_json(),
            "samples_s": _samples([run for run, _ in ours_runs]),
            "host": usage,
        },
        "ratio": round(ours.seconds / baseline.seconds, 3),
        "floor_ratio": round(floor / baseline.seconds, 3),
    }
    return point, deployed


def _host_floor(
    hosts: Hosts, emulator: UseapiEmulator, n: int, parallel: int, repeat: int
) -> Measured:
    """The same create through the same host with a provider that only sleeps the latency:
    what the SDK host, gRPC and this machine cost before our provider does anything."""
    provider = serialize_provider(SleepProvider())
    env = {SLEEP_ENV: str(emulator.latency)}
    runs: list[Measured] = []
    for _ in range(repeat):
        with hosts.start(extra_env=env) as host:
            runs.append(
                workload.host_create(host, emulator, workload.emails(n), parallel, provider)[0]
            )
    return _median(runs)


def _median(runs: list[Measured]) -> Measured:
    """The run with the median time (the lower middle one for an even count)."""
    return sorted(runs, key=lambda run: run.seconds)[(len(runs) - 1) // 2]


def _samples(runs: list[Measured]) -> list[float]:
    return [round(run.seconds, 4) for run in runs]


def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {
        # Load from other processes on the machine skews timings; it is recorded with them.
        "machine": {**machine.describe(), "loadavg_1m_start": round(os.getloadavg()[0], 2)},
        "settings": {
            "n": args.n,
            "sweep": sorted(set(args.sweep) | {args.n}),
            "latency_s": args.latency,
            "engine_parallel": args.parallel,
            "repeat": args.repeat,
            "host_workers": HOST_WORKERS,
        },
    }
    with UseapiEmulator(token=BENCH_TOKEN) as emulator:
        emulator.latency = args.latency
        hosts = Hosts(emulator)
        results["emulator_8_concurrent_gets_s"] = round(workload.emulator_parallelism(emulator), 3)
        sweep: list[dict[str, Any]] = []
        fleet: list[workload.Deployed] = []
        for n in results["settings"]["sweep"]:
            repeat = args.repeat if n == args.n else 1
            point, deployed = _create_point(hosts, emulator, n, args.parallel, repeat)
            sweep.append(point)
            if n == args.n:
                floor = _host_floor(hosts, emulator, n, args.parallel, repeat)
                point["sleep_provider"] = {
                    "seconds": round(floor.seconds, 4),
                    "ratio": round(floor.seconds / point["baseline"]["seconds"], 3),
                }
                results["create"] = point
                fleet = deployed
        results["sweep"] = sweep

        # The main N's fleet is what the emulator holds now only if it was the last point.
        emulator.accounts.clear()
        with hosts.start() as host:
            workload.host_create(host, emulator, [item.email for item in fleet], args.parallel)
        with hosts.start() as host:
            noop = workload.host_noop(host, emulator, fleet, args.parallel)
            results["noop"] = {**noop.to_json(), "host": _usage(host)}
        refresh: dict[str, Any] = {}
        for label, cache in (("before", False), ("after", True)):
            with hosts.start(cache=cache) as host:
                measured = workload.host_refresh(host, emulator, fleet, args.parallel)
                refresh[label] = {**measured.to_json(), "host": _usage(host)}
        results["refresh"] = refresh

    results["machine"]["loadavg_1m_end"] = round(os.getloadavg()[0], 2)
    provider = fleet[0].outputs["__provider"]
    results["provider_pickle"] = {
        "base64_chars": len(provider),
        "bytes": len(provider.encode()),
        "target_bytes": PICKLE_TARGET_BYTES,
    }
    results["host"] = {
        "startup_median_s": round(statistics.median(hosts.startup_seconds), 3),
        "peak_rss_mib_max": max(
            point["ours"]["host"]["peak_rss_mib"] or 0 for point in results["sweep"]
        ),
    }
    return results


def _row(cells: Sequence[object], widths: Sequence[int]) -> str:
    return "  ".join(
        str(cell).ljust(width) if i == 0 else str(cell).rjust(width)
        for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
    )


def table(results: dict[str, Any]) -> str:
    """The human-readable summary (the README records one)."""
    n = results["settings"]["n"]
    create, noop, refresh = results["create"], results["noop"], results["refresh"]
    widths = (34, 5, 9, 6, 6, 40)
    pickle = results["provider_pickle"]
    lines = [
        _row(("operation", "N", "time s", "HTTP", "conns", "notes"), widths),
        _row(
            (
                "create: sequential requests loop",
                n,
                create["baseline"]["seconds"],
                create["baseline"]["http_calls"],
                create["baseline"]["connections_opened"],
                "what a user would write",
            ),
            widths,
        ),
        _row(
            (
                "create: through the provider host",
                n,
                create["ours"]["seconds"],
                create["ours"]["http_calls"],
                create["ours"]["connections_opened"],
                f"{create['ratio']:.3f} x baseline (target <= {CREATE_TARGET}, "
                f"floor {create['floor_ratio']:.3f})",
            ),
            widths,
        ),
        _row(
            (
                "create: host, provider that sleeps",
                n,
                create["sleep_provider"]["seconds"],
                0,
                0,
                f"{create['sleep_provider']['ratio']:.3f} x baseline: the host's own floor",
            ),
            widths,
        ),
        _row(
            (
                "no-op up: check + diff",
                n,
                noop["seconds"],
                noop["http_calls"],
                noop["connections_opened"],
                f"{noop['per_resource_ms']} ms/resource; first pair "
                f"{noop['first_check_plus_diff_ms']} ms",
            ),
            widths,
        ),
        _row(
            (
                "refresh before: GET per account",
                n,
                refresh["before"]["seconds"],
                refresh["before"]["http_calls"],
                refresh["before"]["connections_opened"],
                f"{SWITCH_ENV}=off",
            ),
            widths,
        ),
        _row(
            (
                "refresh after: one account list",
                n,
                refresh["after"]["seconds"],
                refresh["after"]["http_calls"],
                refresh["after"]["connections_opened"],
                f"target <= {REFRESH_TARGET_CALLS} calls",
            ),
            widths,
        ),
        "",
        f"pickled __provider: {pickle['bytes']} bytes in state (target <= {PICKLE_TARGET_BYTES})",
        f"host peak RSS (VmHWM): {results['host']['peak_rss_mib_max']} MiB at most; "
        f"host start + configure: {results['host']['startup_median_s']} s (median)",
        f"emulator latency {results['settings']['latency_s']} s per request; 8 concurrent GETs "
        f"took {results['emulator_8_concurrent_gets_s']} s (served in parallel)",
        f"machine: {results['machine']['nproc']} CPUs, {results['machine']['cpu_model']}; "
        f"1-min load {results['machine']['loadavg_1m_start']} at start, "
        f"{results['machine']['loadavg_1m_end']} at end",
        "",
        _row(("create sweep", "N", "base s", "ours s", "ratio", "host peak RSS MiB"), widths),
    ]
    for point in results["sweep"]:
        lines.append(
            _row(
                (
                    "",
                    point["n"],
                    point["baseline"]["seconds"],
                    point["ours"]["seconds"],
                    point["ratio"],
                    point["ours"]["host"]["peak_rss_mib"],
                ),
                widths,
            )
        )
    return "\n".join(lines)


def _host_missed(results: dict[str, Any]) -> list[str]:
    return [
        what
        for what, ok in (
            ("create ratio", results["create"]["ratio"] <= CREATE_TARGET),
            ("no-op HTTP calls", results["noop"]["http_calls"] == 0),
            ("refresh HTTP calls", results["refresh"]["after"]["http_calls"] <= 2),
            ("__provider size", results["provider_pickle"]["bytes"] <= PICKLE_TARGET_BYTES),
        )
        if not ok
    ]


def _engine(args: argparse.Namespace) -> dict[str, Any] | None:
    """The real-engine section, or None (and why) where no CLI is built."""
    pulumi = find_pulumi()
    if pulumi is None:
        print("real-engine section skipped: no pulumi CLI (`make cli` builds it; needs Go)")
        return None
    points = [
        real_engine.Point(
            latency,
            n,
            args.engine_long_repeat
            if latency * n / real_engine.SDK_HOST_WORKERS > LONG_FLOOR_SECONDS
            else args.engine_repeat,
        )
        for latency in args.engine_latency
        for n in args.engine_n
    ]
    print(
        "real-engine section: "
        + ", ".join(f"{p.latency:g} s x {p.n} ({p.repeat} runs)" for p in points)
        + ", each at the CLI's default parallelism and the pipeline's, interleaved"
    )
    started = {
        **machine.describe(pulumi),
        "loadavg_1m_start": round(os.getloadavg()[0], 2),
        # Who else used the CPUs as it started: the ratios hold up under load, the times less.
        "load_at_start": machine.load_snapshot(),
    }
    throttling = {
        "n": THROTTLE_N,
        "latency": THROTTLE_LATENCY,
        "admitted": args.throttle_admitted,
        "repeat": args.throttle_repeat,
    }
    section = real_engine.Section(
        pulumi,
        options_repeat=args.fleet_options_repeat,
        options_at=(args.latency, max(args.engine_n)),
        throttling=throttling,
    ).run(points)
    section["machine"] = {
        **started,
        "loadavg_1m_end": round(os.getloadavg()[0], 2),
        "load_at_end": machine.load_snapshot(),
    }
    return section


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    results: dict[str, Any] = {}
    failed: list[str] = []
    if args.engine_only:
        # Re-record the real-engine figures only: the provider-host ones stay as they were.
        if args.out is not None and args.out.exists():
            results = json.loads(args.out.read_text())
    else:
        results = run(args)
        print(table(results))
        failed += _host_missed(results)
    if not args.no_engine:
        section = _engine(args)
        if section is not None:
            results["engine"] = section
            print("\n" + real_engine.table(section))
            if "fleet_options" in section:
                print("\n" + fleet_options.table(section["fleet_options"]))
            if "throttling" in section:
                print("\n" + throttling.table(section["throttling"]))
            failed += real_engine.missed(section)
    if args.out is not None:
        args.out.write_text(json.dumps(results, indent=2) + "\n")
        print(f"\nwrote {args.out}")
    if not args.no_plot:
        from .plot import draw  # matplotlib is a dev dependency, loaded only when drawing

        draw(results, args.plot)
        print(f"wrote {args.plot}")
    if failed:
        print(f"\nmissed targets: {', '.join(failed)}")
    return 1 if failed and args.strict else 0
